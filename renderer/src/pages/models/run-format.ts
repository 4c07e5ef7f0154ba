/** Display helpers for runs shared by the Models, Run and Experiments pages. */
import type { RunInfo } from '../../../../core/experiments/api.ts';

/** Metrics shown first (in this order) wherever a run's metrics are listed. */
export const KEY_METRICS = ['roc_auc', 'pr_auc', 'f1', 'precision', 'recall', 'best_f1', 'false_alarm_rate', 'alert_rate', 'lead_time_mean', 'devices_alarmed'];

/** Metrics where lower is better (for highlighting the best run). */
export const LOWER_IS_BETTER = new Set(['false_alarm_rate', 'missed_alarm_rate', 'alert_rate']);

const LABELS: Record<string, string> = {
  roc_auc: 'ROC AUC',
  pr_auc: 'PR AUC',
  f1: 'F1',
  precision: 'Precision',
  recall: 'Recall',
  best_f1: 'Best F1',
  false_alarm_rate: 'False alarm rate',
  missed_alarm_rate: 'Missed alarm rate',
  alert_rate: 'Alert rate',
  lead_time_mean: 'Mean lead time',
  devices_alarmed: 'Devices alarmed',
  threshold: 'Threshold',
  train_rows: 'Train rows',
  test_rows: 'Test rows',
  features: 'Features',
  positives: 'Positives',
};

export function metricLabel(name: string): string {
  // A sweep parent records its best child's value of the optimized metric as best_<metric>.
  if (!(name in LABELS) && name.startsWith('best_') && name.slice(5) in LABELS) return `Best trial's ${LABELS[name.slice(5)]}`;
  return LABELS[name] ?? name;
}

/** A metric value: counts as integers, everything else with 4 significant digits. */
export function formatMetric(v: number | undefined | null): string {
  if (v === undefined || v === null || Number.isNaN(v)) return '—';
  if (!Number.isFinite(v)) return v > 0 ? '∞' : '−∞';
  if ((Number.isInteger(v) && Math.abs(v) >= 1) || (Math.abs(v) >= 1000 && Math.abs(v) < 1e12)) return v.toLocaleString('en-US', { maximumFractionDigits: 0 });
  const a = Math.abs(v);
  if (a !== 0 && (a < 1e-3 || a >= 1e6)) return v.toExponential(2);
  return String(Number(v.toPrecision(4)));
}

/** A lead time in minutes as minutes, hours or days, whichever reads best. */
export function formatMinutes(min: number): string {
  if (!Number.isFinite(min)) return '—';
  if (Math.abs(min) < 120) return `${Math.round(min)} min`;
  if (Math.abs(min) < 48 * 60) return `${(min / 60).toFixed(1)} h`;
  return `${(min / 1440).toFixed(1)} d`;
}

/** A parameter value as text. */
export function formatParam(v: string | number | boolean | undefined): string {
  if (v === undefined) return '—';
  if (typeof v === 'number') return formatMetric(v);
  return String(v);
}

/**
 * A metric of a run for tables: plain runs have it directly, repeat/sweep/per-group
 * parents carry `<name>_mean` and `<name>_std` over their children.
 */
export function metricOf(run: RunInfo, name: string): { value: number; std: number | null } | null {
  const v = run.metrics[name];
  if (typeof v === 'number') return { value: v, std: null };
  const m = run.metrics[`${name}_mean`];
  if (typeof m === 'number') return { value: m, std: run.metrics[`${name}_std`] ?? null };
  return null;
}

/** A run's time axis is a timestamp when its fingerprint says so (epoch ms on the wire). */
export function isTemporal(run: RunInfo): boolean {
  const t = run.fingerprint?.columns.find((c) => c.role === 'time');
  return t ? /TIMESTAMP|DATE/i.test(t.type) : false;
}

/** A metric's value and (for parents) its spread as text; lead times on a timestamp axis (minutes) as min/h/d. */
export function metricParts(run: RunInfo, name: string): { value: string; std: string | null } {
  const m = metricOf(run, name);
  if (!m) return { value: '—', std: null };
  const minutes = name === 'lead_time_mean' && isTemporal(run);
  const value = minutes ? formatMinutes(m.value) : formatMetric(m.value);
  if (m.std === null) return { value, std: null };
  // Two significant digits are all a spread over a handful of seeds can support.
  return { value, std: !Number.isFinite(m.std) ? '—' : minutes ? formatMinutes(m.std) : String(Number(m.std.toPrecision(2))) };
}

/** "0.84 ± 0.01" or "0.84". */
export function formatMetricOf(run: RunInfo, name: string): string {
  const p = metricParts(run, name);
  return p.std === null ? p.value : `${p.value} ± ${p.std}`;
}

/** Base metric names (a parent's `x_mean`/`x_std` pair counts as `x`) across runs, key metrics first. */
export function metricNames(runs: Iterable<RunInfo>): string[] {
  const names = new Set<string>();
  for (const r of runs) {
    for (const k of Object.keys(r.metrics)) {
      if (k === 'children' || k === 'children_finished') continue;
      const base = k.replace(/_(mean|std)$/, '');
      // lead_time_mean is a plain metric: only strip the suffix when its partner exists.
      names.add(base !== k && `${base}_mean` in r.metrics && `${base}_std` in r.metrics ? base : k);
    }
  }
  const key = KEY_METRICS.filter((k) => names.has(k));
  return [...key, ...[...names].filter((n) => !KEY_METRICS.includes(n)).sort()];
}

/** What kind of parent a run is, from its params; null for a plain run. */
export function parentKind(run: RunInfo): 'repeat' | 'sweep' | 'per-group' | null {
  if ('repeats' in run.params) return 'repeat';
  if ('sweep.mode' in run.params) return 'sweep';
  if ('group.column' in run.params) return 'per-group';
  return null;
}

export function statusClass(status: RunInfo['status']): string {
  return `status status-${status}`;
}
