import { exploreHash } from '../explore/explore-route.ts';

/**
 * Hashes the Models and Experiments pages link to. `#/runs/<id>` is not one of
 * route.ts's pages, so App reads it with runIdFromHash before the page switch.
 */

/** `#/runs/<id>`: one run's page. */
export function runHash(runId: string): string {
  return `#/runs/${encodeURIComponent(runId)}`;
}

/** The run id of a `#/runs/<id>` hash, else null. */
export function runIdFromHash(hash: string): string | null {
  const m = /^#\/runs\/([^/?#]+)/.exec(hash);
  if (!m) return null;
  try {
    return decodeURIComponent(m[1]!);
  } catch {
    return m[1]!;
  }
}

/** `#/experiments/<name>/<tab>[/<ids>]`. */
export function experimentsHash(experiment: string | null, tab?: string, extra?: string): string {
  const parts = ['#/experiments'];
  if (experiment !== null) parts.push(encodeURIComponent(experiment));
  if (experiment !== null && tab) parts.push(tab);
  if (experiment !== null && tab && extra) parts.push(encodeURIComponent(extra));
  return parts.join('/');
}

/** Context either side of an anomaly when it opens in Explore: 30 min on a timestamp axis, 50 units (cycles) otherwise. */
const CONTEXT = { temporal: 30 * 60_000, numeric: 50 };

/**
 * The Explore trip view of an anomaly's trip, in Explore's own hash
 * (explore-route.ts: `#/explore/<dataset>/view/<trip|device>/<device>/<trip>`).
 * That hash has no time window yet, so the window around `t` rides as two
 * extra segments `/<from>/<to>` (epoch ms or axis units), which Explore's
 * parser ignores today and can adopt to zoom to the moment.
 */
export function exploreHashAt(a: { dataset: string; device: string | null; trip: string | null; t: number | null; temporal: boolean }): string {
  if (!a.device && !a.trip) return exploreHash(a.dataset, 'overview');
  const base = exploreHash(a.dataset, 'view', { scope: a.trip ? 'trip' : 'device', device: a.device, trip: a.trip });
  if (a.t === null || !Number.isFinite(a.t)) return base;
  const span = a.temporal ? CONTEXT.temporal : CONTEXT.numeric;
  return `${base}/${a.t - span}/${a.t + span}`;
}
