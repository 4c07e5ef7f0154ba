/**
 * The numeric features of one row from its group's recent rows: raw values, lags, diffs,
 * rolling mean/std/min/max and EWM level/deviation. One implementation serves the batch
 * pass (rows streamed in (group, time, rowid) order, batch.ts) and the live stream (one
 * event at a time, online.ts), so both give the very same numbers.
 *
 * A rolling statistic folds its window oldest row first, on values centered on the
 * training mean (a plain sum for the mean, Welford's update for the std), and never keeps
 * a running sum that would drift over millions of rows. Windows up to LONG_WINDOW rows are
 * folded row by row (DuckDB's arithmetic for short frames). Longer windows are cut into
 * blocks of ~√window rows aligned on the row's position in its group: the blocks' own
 * folds are cached while they stay in the window and merged oldest first (Chan's update
 * for the variance), so a row costs O(√window), and the result depends only on the window's
 * values and positions, never on what was cached: a restored state continues exactly.
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
  /** Per long rolling window: folds of whole blocks (a cache, not state: recomputable from the ring). */
  blocks: BlockCache[];
}

/** Rolling windows longer than this are folded by blocks. */
export const LONG_WINDOW = 32;

/** Folds of the blocks of one long window, slot = block index mod size. */
interface BlockCache {
  id: Int32Array;
  n: Float64Array;
  sum: Float64Array;
  mean: Float64Array;
  m2: Float64Array;
  lo: Float64Array;
  hi: Float64Array;
}

/** A fold of rows (count, plain sum, Welford mean and M2, min, max) over centered values. */
interface Fold {
  n: number;
  sum: number;
  mean: number;
  m2: number;
  lo: number;
  hi: number;
}

interface RollSpec {
  sensor: number;
  window: number;
  /** Block size for a long window (0: folded row by row); its cache is blocks[cache] of the group. */
  block: number;
  cache: number;
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
   * The features of a row whose sensor readings are `x` (NaN = missing), into `out` at
   * `offset` + their plan index; then fold the row into `g`.
   */
  step(g: KernelGroup, x: Float64Array, out: Float64Array, offset: number): void;
  /**
   * Fold a row into `g` without its features: what step does after writing them, so later rows'
   * features are the same bits either way (a row's features depend on the rows before it, never on
   * whether theirs were computed).
   */
  advance(g: KernelGroup, x: Float64Array): void;
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
  let longCount = 0;
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
          const long = f.window > LONG_WINDOW;
          r = { sensor: f.sensor, window: f.window, block: long ? Math.ceil(Math.sqrt(f.window)) : 0, cache: long ? longCount++ : -1, mean: -1, std: -1, min: -1, max: -1 };
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

  const longs = rolls.filter((r) => r.block > 0);
  const newCache = (r: RollSpec): BlockCache => {
    const slots = Math.ceil(r.window / r.block) + 2;
    return { id: new Int32Array(slots).fill(-1), n: new Float64Array(slots), sum: new Float64Array(slots), mean: new Float64Array(slots), m2: new Float64Array(slots), lo: new Float64Array(slots), hi: new Float64Array(slots) };
  };
  const acc: Fold = { n: 0, sum: 0, mean: 0, m2: 0, lo: Infinity, hi: -Infinity };
  const part: Fold = { n: 0, sum: 0, mean: 0, m2: 0, lo: Infinity, hi: -Infinity };
  const setFold = (f: Fold, n: number, sum: number, mean: number, m2: number, lo: number, hi: number): void => {
    f.n = n;
    f.sum = sum;
    f.mean = mean;
    f.m2 = m2;
    f.lo = lo;
    f.hi = hi;
  };
  const clear = (f: Fold): void => setFold(f, 0, 0, 0, 0, Infinity, -Infinity);
  /** Fold the group's rows a … b (positions in the group, inclusive, within the history) of sensor s into f. */
  const foldRows = (g: KernelGroup, s: number, a: number, b: number, c: number, f: Fold): void => {
    let slot = g.head - (g.rows - a);
    if (slot < 0) slot += H;
    const ring = g.ring;
    const base = s * H;
    let { n, sum, mean, m2, lo, hi } = f;
    for (let p = a; p <= b; p++) {
      const v = ring[base + slot]!;
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
    setFold(f, n, sum, mean, m2, lo, hi);
  };
  /** Merge fold b into a (b's rows come after a's): plain sums add, Chan's update for mean and M2. */
  const merge = (a: Fold, n: number, sum: number, mean: number, m2: number, lo: number, hi: number): void => {
    if (n === 0) return;
    // Into an empty fold, a copy: Chan's update would round the mean (mean·n/n).
    if (a.n === 0) return setFold(a, n, sum, mean, m2, lo, hi);
    const total = a.n + n;
    const delta = mean - a.mean;
    a.mean += (delta * n) / total;
    a.m2 += m2 + (delta * delta * a.n * n) / total;
    a.n = total;
    a.sum += sum;
    if (lo < a.lo) a.lo = lo;
    if (hi > a.hi) a.hi = hi;
  };
  /**
   * The fold of the current row's window (the rows before it, at most r.window): a short window row by
   * row, oldest first (DuckDB's order for a frame); a long one by blocks.
   */
  const windowFold = (g: KernelGroup, r: RollSpec, c: number): Fold => {
    clear(acc);
    const end = g.rows - 1;
    const start = Math.max(0, g.rows - r.window);
    if (end < start) return acc;
    const B = r.block;
    if (B === 0) {
      foldRows(g, r.sensor, start, end, c, acc);
      return acc;
    }
    const firstFull = Math.ceil(start / B);
    const lastFull = Math.floor((end + 1) / B) - 1;
    if (firstFull > lastFull) {
      foldRows(g, r.sensor, start, end, c, acc);
      return acc;
    }
    if (start < firstFull * B) {
      clear(part);
      foldRows(g, r.sensor, start, firstFull * B - 1, c, part);
      merge(acc, part.n, part.sum, part.mean, part.m2, part.lo, part.hi);
    }
    const cache = g.blocks[r.cache]!;
    const slots = cache.id.length;
    for (let b = firstFull; b <= lastFull; b++) {
      const k = b % slots;
      if (cache.id[k] !== b) {
        clear(part);
        foldRows(g, r.sensor, b * B, b * B + B - 1, c, part);
        cache.id[k] = b;
        cache.n[k] = part.n;
        cache.sum[k] = part.sum;
        cache.mean[k] = part.mean;
        cache.m2[k] = part.m2;
        cache.lo[k] = part.lo;
        cache.hi[k] = part.hi;
      }
      merge(acc, cache.n[k]!, cache.sum[k]!, cache.mean[k]!, cache.m2[k]!, cache.lo[k]!, cache.hi[k]!);
    }
    if (end >= (lastFull + 1) * B) {
      clear(part);
      foldRows(g, r.sensor, (lastFull + 1) * B, end, c, part);
      merge(acc, part.n, part.sum, part.mean, part.m2, part.lo, part.hi);
    }
    return acc;
  };

  const advance = (g: KernelGroup, x: Float64Array): void => {
    for (let k = 0; k < ewms.length; k++) {
      const e = ewms[k]!;
      g.ewm[k] = ewmFold(g.ewm[k]!, x[e.sensor]!, e.alpha);
    }
    if (H > 0) {
      for (let s = 0; s < S; s++) g.ring[s * H + g.head] = x[s]!;
      g.head = (g.head + 1) % H;
    }
    g.rows++;
  };

  const back = (g: KernelGroup, s: number, k: number): number => {
    if (k > g.rows || k > H) return NaN;
    return g.ring[s * H + ((g.head - k + H) % H)]!;
  };

  return {
    history: H,
    ewmStates: ewms.length,
    newGroup: () => ({ rows: 0, head: 0, ring: new Float64Array(S * H).fill(NaN), ewm: new Float64Array(ewms.length).fill(NaN), blocks: longs.map(newCache) }),
    reset(g) {
      g.rows = 0;
      g.head = 0;
      g.ewm.fill(NaN);
      for (const c of g.blocks) c.id.fill(-1);
    },
    back,
    step(g, x, out, o) {
      for (let j = 0; j < raws.length; j++) out[o + raws[j]!.feat] = x[raws[j]!.sensor]!;
      for (let j = 0; j < lags.length; j++) {
        const l = lags[j]!;
        out[o + l.feat] = back(g, l.sensor, l.k);
      }
      for (let j = 0; j < diffs.length; j++) {
        const d = diffs[j]!;
        out[o + d.feat] = x[d.sensor]! - back(g, d.sensor, d.k);
      }
      for (let j = 0; j < rolls.length; j++) {
        const r = rolls[j]!;
        const c = center[r.sensor]!;
        const w = windowFold(g, r, c);
        if (r.mean >= 0) out[o + r.mean] = w.n > 0 ? c + w.sum / w.n : NaN;
        if (r.std >= 0) out[o + r.std] = w.n > 1 ? Math.sqrt(w.m2 / (w.n - 1)) : NaN;
        if (r.min >= 0) out[o + r.min] = w.n > 0 ? w.lo : NaN;
        if (r.max >= 0) out[o + r.max] = w.n > 0 ? w.hi : NaN;
      }
      for (let k = 0; k < ewms.length; k++) {
        const e = ewms[k]!;
        const y = g.ewm[k]!;
        if (e.level >= 0) out[o + e.level] = y;
        if (e.dev >= 0) out[o + e.dev] = x[e.sensor]! - y;
      }
      advance(g, x);
    },
    advance,
  };
}

/**
 * The kernel over chunks of rows streamed in (group, time, rowid) order, one group's history
 * carried across chunks: `run` writes the features of a chunk's n rows (readings per sensor,
 * group hash per row, null = one group) into `out`, row-major. Rows whose `need` is 0 only
 * advance their group's history; their features are written as NaN (null `need`: every row's
 * features). The batch pass runs it inline or in a worker thread (kernel-thread.ts); either way
 * the same bits.
 */
export function createChunkKernel(
  plan: readonly NumericFeature[],
  centers: ArrayLike<number>,
  sensors: number,
): (n: number, readings: Float64Array[], gid: Float64Array | null, need: Uint8Array | null, out: Float64Array) => void {
  const kernel = createKernel(plan, centers, sensors);
  const group = kernel.newGroup();
  const F = plan.length;
  const x = new Float64Array(sensors);
  let groupId = NaN;
  return (n, readings, gid, need, out) => {
    for (let i = 0; i < n; i++) {
      // Rows arrive sorted by group: a new group starts a fresh history.
      if (gid && gid[i] !== groupId) {
        groupId = gid[i]!;
        kernel.reset(group);
      }
      for (let s = 0; s < sensors; s++) x[s] = readings[s]![i]!;
      if (need === null || need[i] === 1) kernel.step(group, x, out, i * F);
      else {
        out.fill(NaN, i * F, (i + 1) * F);
        kernel.advance(group, x);
      }
    }
  };
}
