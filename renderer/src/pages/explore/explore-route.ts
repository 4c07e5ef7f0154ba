/**
 * Explore's part of the hash: `#/explore/<dataset>/<tab>` and, for the trip
 * view, `#/explore/<dataset>/view/<trip|device>/<device>/<trip>[/<from>/<to>]`
 * (the optional zoom window on the time axis: epoch ms or raw axis units), so
 * a reload, or a link from the Models and Live pages, comes back to the same
 * chart at the same zoom.
 */
import { routeHash } from '../../route.ts';

export const EXPLORE_TABS = ['overview', 'trips', 'view', 'distributions', 'profile', 'sql'] as const;
export type ExploreTab = (typeof EXPLORE_TABS)[number];

export const TAB_LABELS: Record<ExploreTab, string> = {
  overview: 'Overview',
  trips: 'Trips',
  view: 'Trip view',
  distributions: 'Distributions',
  profile: 'Profile',
  sql: 'SQL',
};

/** What the trip view charts: one trip, or one device across all its trips. */
export interface ChartTarget {
  scope: 'trip' | 'device';
  device: string | null;
  /** Kept in device scope too, so toggling back returns to the same trip. */
  trip: string | null;
}

export interface ExploreRoute {
  dataset: string | null;
  tab: ExploreTab;
  target: ChartTarget | null;
  /** Zoom window of the trip view; null for the whole extent. */
  window: [number, number] | null;
}

/** Stands for "no value" in a path segment (the router drops empty segments). */
const NONE = '~';

export function parseExploreRoute(rest: string[]): ExploreRoute {
  const dataset = rest[0] ?? null;
  const tab: ExploreTab = (EXPLORE_TABS as readonly string[]).includes(rest[1] ?? '') ? (rest[1] as ExploreTab) : 'overview';
  let target: ChartTarget | null = null;
  let window: [number, number] | null = null;
  if (tab === 'view' && (rest[2] === 'trip' || rest[2] === 'device')) {
    const device = rest[3] === undefined || rest[3] === NONE ? null : rest[3];
    const trip = rest[4] === undefined || rest[4] === NONE ? null : rest[4];
    if (device !== null || trip !== null) target = { scope: rest[2] === 'trip' && trip !== null ? 'trip' : 'device', device, trip };
    const from = Number(rest[5]);
    const to = Number(rest[6]);
    if (target && rest[5] !== undefined && rest[6] !== undefined && Number.isFinite(from) && Number.isFinite(to) && from !== to) window = from < to ? [from, to] : [to, from];
  }
  return { dataset, tab, target, window };
}

/** A time-axis value for the address: whole epoch ms, or eight significant digits of a raw axis (cycles, seconds). */
function axisText(v: number): string {
  return Math.abs(v) >= 1e6 ? String(Math.round(v)) : String(Number(v.toPrecision(8)));
}

/** A window as the address will carry it (so state and address compare equal). */
export function addressWindow(w: [number, number]): [number, number] {
  return [Number(axisText(w[0])), Number(axisText(w[1]))];
}

export function exploreHash(dataset: string, tab: ExploreTab = 'overview', target?: ChartTarget | null, window?: [number, number] | null): string {
  if (tab === 'view' && target) {
    const parts = [target.scope, target.device ?? NONE, target.trip ?? NONE];
    if (window) parts.push(axisText(window[0]), axisText(window[1]));
    return routeHash('explore', dataset, 'view', ...parts);
  }
  return routeHash('explore', dataset, tab);
}
