/**
 * The numeric features of one row from its group's recent rows: raw values, lags, diffs,
 * rolling mean/std/min/max and EWM level/deviation. One implementation serves the batch
 * pass (rows streamed in (group, time, rowid) order, batch.ts) and the live stream (one
 * event at a time, online.ts), so both give the very same numbers.
 *
 * A rolling statistic folds its window oldest row first, on values centered on the
 * training mean (a plain sum for the mean, Welford's update for the std): O(window) per
 * row, and no running sum that would drift over millions of rows.
 */
import { ewmAlpha, ewmFold, type NumericFeature } from './recipe.ts';

/** One group's recent history. */
export interface KernelGroup {
  /** Rows seen in this group. */
  rows: number;
  /** Next ring slot to write. */
  head: number;
  /** Sensor-major ring buffers: ring[s * history + slot]; NaN = missing. */
  ring: Float64Array;
  /** Per (sensor, span) EWM state; NaN before the first reading. */
  ewm: Float64Array;
}

interface RollSpec {
  sensor: number;
  window: number;
  mean: number;
  std: number;
  min: number;
  max: number;
}

export interface FeatureKernel {
  /** Rows of history kept per sensor (the longest lag, diff or window). */
  readonly history: number;
  /** EWM states per group. */
  readonly ewmStates: number;
  newGroup(): KernelGroup;
  /** Forget a group's history (a new group starts in the same object). */
  reset(g: KernelGroup): void;
  /** Sensor s's value k rows back (1 = previous row); NaN when missing or before the group's start. */
  back(g: KernelGroup, s: number, k: number): number;
  /**
   * The features of a row whose sensor readings are `x` (NaN = missing), into `raw` at their
   * plan index; then fold the row into `g`.
   */
  step(g: KernelGroup, x: Float64Array, raw: Float64Array): void;
}

/** A kernel for a feature plan (planFeatures) over `sensors` sensors with the recipe's fitted centers. */
export function createKernel(plan: readonly NumericFeature[], centers: ArrayLike<number>, sensors: number): FeatureKernel {
  const S = sensors;
  const center = Float64Array.from(centers);
  let H = 0;
  for (const f of plan) {
    if (f.kind === 'lag' || f.kind === 'diff') H = Math.max(H, f.k);
    else if (f.kind === 'roll') H = Math.max(H, f.window);
  }
  const raws: { feat: number; sensor: number }[] = [];
  const lags: { feat: number; sensor: number; k: number }[] = [];
  const diffs: { feat: number; sensor: number; k: number }[] = [];
  const rolls: RollSpec[] = [];
  const ewms: { level: number; dev: number; sensor: number; alpha: number }[] = [];
  plan.forEach((f, i) => {
    switch (f.kind) {
      case 'raw':
        raws.push({ feat: i, sensor: f.sensor });
        break;
      case 'lag':
        lags.push({ feat: i, sensor: f.sensor, k: f.k });
        break;
      case 'diff':
        diffs.push({ feat: i, sensor: f.sensor, k: f.k });
        break;
      case 'roll': {
        let r = rolls.find((x) => x.sensor === f.sensor && x.window === f.window);
        if (!r) {
          r = { sensor: f.sensor, window: f.window, mean: -1, std: -1, min: -1, max: -1 };
          rolls.push(r);
        }
        r[f.stat] = i;
        break;
      }
      case 'ewm':
      case 'ewmdev': {
        // One state per (sensor, span): the level and the deviation features read it.
        const alpha = ewmAlpha(f.span);
        let e = ewms.find((x) => x.sensor === f.sensor && x.alpha === alpha);
        if (!e) {
          e = { level: -1, dev: -1, sensor: f.sensor, alpha };
          ewms.push(e);
        }
        if (f.kind === 'ewm') e.level = i;
        else e.dev = i;
        break;
      }
    }
  });

  const back = (g: KernelGroup, s: number, k: number): number => {
    if (k > g.rows || k > H) return NaN;
    return g.ring[s * H + ((g.head - k + H) % H)]!;
  };

  return {
    history: H,
    ewmStates: ewms.length,
    newGroup: () => ({ rows: 0, head: 0, ring: new Float64Array(S * H).fill(NaN), ewm: new Float64Array(ewms.length).fill(NaN) }),
    reset(g) {
      g.rows = 0;
      g.head = 0;
      g.ewm.fill(NaN);
    },
    back,
    step(g, x, raw) {
      for (let j = 0; j < raws.length; j++) raw[raws[j]!.feat] = x[raws[j]!.sensor]!;
      for (let j = 0; j < lags.length; j++) {
        const l = lags[j]!;
        raw[l.feat] = back(g, l.sensor, l.k);
      }
      for (let j = 0; j < diffs.length; j++) {
        const d = diffs[j]!;
        raw[d.feat] = x[d.sensor]! - back(g, d.sensor, d.k);
      }
      for (let j = 0; j < rolls.length; j++) {
        const r = rolls[j]!;
        const c = center[r.sensor]!;
        const m = Math.min(r.window, g.rows);
        const base = r.sensor * H;
        let n = 0;
        let sum = 0;
        let mean = 0;
        let m2 = 0;
        let lo = Infinity;
        let hi = -Infinity;
        // Oldest first, as DuckDB folds a window frame: ring slots head − m … head − 1.
        let slot = g.head - m;
        if (slot < 0) slot += H;
        for (let k = m; k >= 1; k--) {
          const v = g.ring[base + slot]!;
          if (++slot === H) slot = 0;
          if (v !== v) continue;
          const d = v - c;
          n++;
          sum += d;
          const next = mean + (d - mean) / n;
          m2 += (d - next) * (d - mean);
          mean = next;
          if (v < lo) lo = v;
          if (v > hi) hi = v;
        }
        if (r.mean >= 0) raw[r.mean] = n > 0 ? c + sum / n : NaN;
        if (r.std >= 0) raw[r.std] = n > 1 ? Math.sqrt(m2 / (n - 1)) : NaN;
        if (r.min >= 0) raw[r.min] = n > 0 ? lo : NaN;
        if (r.max >= 0) raw[r.max] = n > 0 ? hi : NaN;
      }
      for (let k = 0; k < ewms.length; k++) {
        const e = ewms[k]!;
        const y = g.ewm[k]!;
        const v = x[e.sensor]!;
        if (e.level >= 0) raw[e.level] = y;
        if (e.dev >= 0) raw[e.dev] = v - y;
        g.ewm[k] = ewmFold(y, v, e.alpha);
      }
      if (H > 0) {
        for (let s = 0; s < S; s++) g.ring[s * H + g.head] = x[s]!;
        g.head = (g.head + 1) % H;
      }
      g.rows++;
    },
  };
}
