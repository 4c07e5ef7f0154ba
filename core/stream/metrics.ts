/**
 * Live figures of a subscription: windowed rates and latency quantiles for the
 * status and the UI, and the cumulative counters and histogram Prometheus
 * scrapes from `fleetlens stream --metrics-port`. Constant memory: per-second
 * slots in rings, log-spaced latency buckets (±2.5% quantile resolution).
 */
import type { StreamStatus } from './api.ts';

const SLOTS = 16;
/** Latency buckets for quantiles: bucket i holds [1.05^i, 1.05^(i+1)) ms; i = 0 also holds < 1 ms. */
const GROWTH = 1.05;
const QBUCKETS = 330;
const LOG_GROWTH = Math.log(GROWTH);

function bucketOf(ms: number): number {
  if (!(ms > 1)) return 0;
  return Math.min(QBUCKETS - 1, Math.floor(Math.log(ms) / LOG_GROWTH));
}

/** Counts per second over the last SLOTS seconds. */
class SecondRing {
  private readonly sec = new Float64Array(SLOTS).fill(-1);
  private readonly val = new Float64Array(SLOTS);

  add(n: number, nowSec: number): void {
    const i = nowSec % SLOTS;
    if (this.sec[i] !== nowSec) {
      this.sec[i] = nowSec;
      this.val[i] = 0;
    }
    this.val[i]! += n;
  }

  /** Sum over the `window` whole seconds before `nowSec` (the current partial second excluded). */
  sum(window: number, nowSec: number): number {
    let s = 0;
    for (let k = 1; k <= window; k++) {
      const t = nowSec - k;
      const i = ((t % SLOTS) + SLOTS) % SLOTS;
      if (this.sec[i] === t) s += this.val[i]!;
    }
    return s;
  }
}

/** Windowed rates and quantiles, fed as events are stored. */
export class LiveWindow {
  private readonly received = new SecondRing();
  private readonly scored = new SecondRing();
  private readonly anomalies = new SecondRing();
  private readonly slotSec = new Float64Array(SLOTS).fill(-1);
  private readonly hist = new Uint32Array(SLOTS * QBUCKETS);

  /** Events taken from the hub. */
  addReceived(n: number, nowMs = Date.now()): void {
    this.received.add(n, Math.floor(nowMs / 1000));
  }

  /** One scored and stored event: its end-to-end latency and whether it was anomalous. */
  addScored(latencyMs: number, anomaly: boolean, nowMs = Date.now()): void {
    const s = Math.floor(nowMs / 1000);
    this.scored.add(1, s);
    if (anomaly) this.anomalies.add(1, s);
    const i = s % SLOTS;
    if (this.slotSec[i] !== s) {
      this.slotSec[i] = s;
      this.hist.fill(0, i * QBUCKETS, (i + 1) * QBUCKETS);
    }
    this.hist[i * QBUCKETS + bucketOf(latencyMs)]!++;
  }

  /** Received events per second over the last `window` seconds. */
  rate(window = 5, nowMs = Date.now()): number {
    return this.received.sum(window, Math.floor(nowMs / 1000)) / window;
  }

  /** Share of anomalous scored events over the last `window` seconds; null without any. */
  anomalyRate(window = 10, nowMs = Date.now()): number | null {
    const s = Math.floor(nowMs / 1000);
    const n = this.scored.sum(window, s);
    return n === 0 ? null : this.anomalies.sum(window, s) / n;
  }

  /** Latency quantile (ms, bucket midpoint) over the last `window` seconds including the current one; null without events. */
  quantile(q: number, window = 10, nowMs = Date.now()): number | null {
    const s = Math.floor(nowMs / 1000);
    const merged = new Float64Array(QBUCKETS);
    let total = 0;
    for (let k = 0; k < window && k < SLOTS; k++) {
      const t = s - k;
      const i = ((t % SLOTS) + SLOTS) % SLOTS;
      if (this.slotSec[i] !== t) continue;
      for (let b = 0; b < QBUCKETS; b++) {
        const c = this.hist[i * QBUCKETS + b]!;
        merged[b]! += c;
        total += c;
      }
    }
    if (total === 0) return null;
    const target = q * total;
    let acc = 0;
    for (let b = 0; b < QBUCKETS; b++) {
      acc += merged[b]!;
      if (acc >= target) return b === 0 ? 1 : Math.sqrt(GROWTH ** b * GROWTH ** (b + 1));
    }
    return GROWTH ** QBUCKETS;
  }
}

/** Prometheus histogram bucket bounds for end-to-end latency, ms. */
export const LATENCY_BOUNDS_MS = [5, 10, 25, 50, 75, 100, 150, 200, 300, 500, 750, 1000, 2500, 5000, 10_000, 30_000, 60_000];

/** Cumulative latency histogram in Prometheus form (seconds). */
export class LatencyHistogram {
  readonly counts = new Float64Array(LATENCY_BOUNDS_MS.length + 1);
  sumMs = 0;
  count = 0;

  observe(ms: number): void {
    let i = 0;
    while (i < LATENCY_BOUNDS_MS.length && ms > LATENCY_BOUNDS_MS[i]!) i++;
    this.counts[i]!++;
    this.sumMs += ms;
    this.count++;
  }
}

function esc(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

/**
 * Prometheus text exposition (format 0.0.4) of one subscription: counters of events, stored,
 * dead-lettered, duplicates, alarms and ignored uncaught errors; gauges of backlog per
 * partition, events per second and anomaly rate; the end-to-end latency histogram.
 */
export function prometheusText(status: StreamStatus, hist: LatencyHistogram, extra: { uncaught: number } = { uncaught: 0 }): string {
  const base = `hub="${esc(status.eventHubName)}",consumer_group="${esc(status.consumerGroup)}"`;
  const lines: string[] = [];
  const metric = (name: string, type: 'counter' | 'gauge', help: string, samples: [string, number][]): void => {
    lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
    for (const [labels, v] of samples) lines.push(`${name}{${base}${labels ? ',' + labels : ''}} ${Number.isFinite(v) ? v : 'NaN'}`);
  };
  metric('fleetlens_stream_events_total', 'counter', 'Events received from the hub.', [['', status.counts.received]]);
  metric('fleetlens_stream_stored_total', 'counter', 'Scored events stored.', [['', status.counts.stored]]);
  metric('fleetlens_stream_dead_lettered_total', 'counter', 'Events (or records) sent to the dead-letter table.', [['', status.counts.deadLettered]]);
  metric('fleetlens_stream_duplicates_total', 'counter', 'Events skipped as duplicates of stored ones.', [['', status.counts.duplicates]]);
  metric('fleetlens_stream_alarms_total', 'counter', 'Alarms raised.', [['', status.counts.alarms]]);
  metric('fleetlens_stream_uncaught_errors_total', 'counter', 'Uncaught errors ignored by the crash guard.', [['', extra.uncaught]]);
  metric(
    'fleetlens_stream_backlog_events',
    'gauge',
    'Events in the hub not yet processed, per partition (NaN when unknown).',
    status.partitions.map((p) => [`partition="${esc(p.partitionId)}"`, p.backlog ?? NaN]),
  );
  metric('fleetlens_stream_events_per_second', 'gauge', 'Events received per second over the last 5 s.', [['', status.eventsPerSecond]]);
  metric('fleetlens_stream_anomaly_rate', 'gauge', 'Share of anomalous events over the last 10 s.', [['', status.anomalyRate ?? NaN]]);
  const name = 'fleetlens_stream_latency_seconds';
  lines.push(`# HELP ${name} End-to-end latency, enqueued in the hub to scored and stored.`, `# TYPE ${name} histogram`);
  let acc = 0;
  LATENCY_BOUNDS_MS.forEach((b, i) => {
    acc += hist.counts[i]!;
    lines.push(`${name}_bucket{${base},le="${b / 1000}"} ${acc}`);
  });
  acc += hist.counts[LATENCY_BOUNDS_MS.length]!;
  lines.push(`${name}_bucket{${base},le="+Inf"} ${acc}`, `${name}_sum{${base}} ${hist.sumMs / 1000}`, `${name}_count{${base}} ${hist.count}`);
  return lines.join('\n') + '\n';
}
