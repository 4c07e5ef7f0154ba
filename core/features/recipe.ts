/**
 * Feature recipes (issue #5 item 1): a declarative, JSON-serializable description
 * of the features a detector sees, plus the fitted form both evaluators share.
 * The batch path (batch.ts, DuckDB window functions) and the incremental path
 * (online.ts, per-group state) implement the same semantics, documented here.
 *
 * Semantics, per group (see `groupBy`) in time order, ties broken by storage order:
 * - A sensor value that is NULL or not finite is *missing*.
 * - Every derived feature of row t looks only at rows strictly before t (plus
 *   the current value for raw, diff and ewm deviation): no look-ahead.
 * - Windows count rows, not values: "previous N rows" may hold fewer than N
 *   non-missing values, and missing values are skipped inside a window the way
 *   SQL aggregates skip NULL.
 * - A missing feature value is then filled (or its row dropped) by `fill`, and
 *   numeric features are standardized with statistics of the training rows.
 */
import { WorkbenchError } from '../api/errors.ts';
import type { ColumnInfo, DatasetInfo } from '../data/api.ts';
import { defaultGroupRole, isNumericType } from '../data/roles.ts';

/** Window statistic; `std` is the sample std (n − 1), missing with fewer than 2 values. */
export type RollingStat = 'mean' | 'std' | 'min' | 'max';
/** Series the windows run over: the device role column, the trip role column, both, or the whole dataset as one series. */
export type GroupBy = 'device' | 'trip' | 'device+trip' | 'none';
/** What replaces a missing numeric feature; see FeatureRecipe.fill. */
export type FillRule = 'mean' | 'zero' | 'drop';

/** Statistics over the previous `window` rows, EXCLUDING the current row. */
export interface RollingSpec {
  /** Number of previous rows, 1..10,000. */
  window: number;
  /** `mean`, `std` (sample std, missing with fewer than 2 values), `min`, `max`; each at most once. */
  stats: RollingStat[];
}

/** Exponentially weighted mean of the previous rows (adjust=false), α = 2/(span+1). */
export interface EwmSpec {
  /** Span ≥ 1 (any real number); α = 2/(span+1) ∈ (0, 1]. */
  span: number;
  /** Also emit x_t − ewm (the deviation of the current value from the mean of the past). */
  deviation: boolean;
}

/** A recipe as the user writes it; plain JSON. */
export interface FeatureRecipe {
  version: 1;
  /** Numeric columns to derive features from, in output order. */
  sensors: string[];
  /** Partition for every window: the dataset's device and/or trip role columns, or one global series. */
  groupBy: GroupBy;
  /** Emit the current value of each sensor (`temperature`). */
  includeRaw: boolean;
  /** x_{t−k} (`temperature__lag1`); k in 1..10,000. Missing before k rows of history. */
  lags: number[];
  /** x_t − x_{t−k} (`temperature__diff1`); missing if either value is. */
  diffs: number[];
  /** `temperature__roll10_mean` etc.; see RollingSpec. */
  rolling: RollingSpec[];
  /**
   * `temperature__ewm10` (and `temperature__ewm10_dev`): y ← α·x + (1−α)·y over
   * the non-missing values, seeded with the first one; row t sees y before x_t is
   * folded in, so it is missing on a group's first value.
   */
  ewm: EwmSpec[];
  /** Text, boolean or integer columns to one-hot (`model_id=M-A`); categories come from the training rows. */
  categoricals: string[];
  /**
   * Missing numeric features: `mean` = the feature's training mean, `zero` = 0,
   * `drop` = the row is left out of the output and counted.
   */
  fill: FillRule;
  /** Scale numeric features to (x − mean)/std with training statistics; one-hot columns stay 0/1. */
  standardize: boolean;
}

/** One numeric feature and how to compute it; `sensor` indexes `recipe.sensors`. */
export type NumericFeature =
  | { name: string; kind: 'raw'; sensor: number }
  | { name: string; kind: 'lag'; sensor: number; k: number }
  | { name: string; kind: 'diff'; sensor: number; k: number }
  | { name: string; kind: 'roll'; sensor: number; window: number; stat: RollingStat }
  | { name: string; kind: 'ewm'; sensor: number; span: number }
  | { name: string; kind: 'ewmdev'; sensor: number; span: number };

/** One-hot categories of one categorical column, fixed at fit time. */
export interface CategorySet {
  column: string;
  /** At most MAX_CATEGORIES values, most frequent first (ties by value). */
  values: string[];
  /** True when training had more distinct values: a `column=__other__` column catches every other non-null value. */
  other: boolean;
}

/** A recipe fitted on a dataset's training rows: everything both evaluators need, as plain JSON. */
export interface FittedRecipe {
  version: 1;
  /** Dataset it was fitted on (it applies to any dataset with the same columns). */
  dataset: string;
  recipe: FeatureRecipe;
  /** Columns the roles resolved to at fit time; later role edits do not change a fitted recipe. */
  columns: { time: string; groups: string[]; label: string | null };
  /** Output columns in order: numeric features first, then one-hot columns. */
  featureNames: string[];
  /** How many leading entries of featureNames are numeric (fill and standardization apply to these). */
  numericCount: number;
  /**
   * Per sensor, the training mean subtracted before rolling mean/std are summed
   * (then added back): it keeps both evaluators' rounding far below the 1e-9
   * agreement bar for sensors with a large offset (e.g. 1e6 ± 0.01).
   */
  centers: number[];
  categories: CategorySet[];
  /** Fill value per numeric feature; null when fill is 'drop'. */
  fillValues: number[] | null;
  /** Training mean and population std per numeric feature (after fill); null without standardization. */
  scaler: { mean: number[]; std: number[]; constant: string[] } | null;
  training: {
    /** The SQL predicate that selected the training rows; null = every row. */
    filter: string | null;
    /** Training rows, before drops. */
    rows: number;
    /** Training rows dropped for a missing feature (fill 'drop'). */
    dropped: number;
    /**
     * When the recipe was fitted on a sample of the training rows (the model's training sample
     * draws from it, prepare.ts), how many training rows there were; `filter` then includes the
     * sample's predicate and `rows` counts the sample.
     */
    sampledFrom?: number;
  };
  /** Human-readable notes, e.g. constant features or categoricals without training values. */
  warnings: string[];
}

/** Largest lag, diff or rolling window: bounds per-group state in the live path. */
export const MAX_WINDOW = 10_000;
/** One-hot columns per categorical before the rest share an `__other__` column. */
export const MAX_CATEGORIES = 50;
/** Name suffix of the catch-all one-hot column. */
export const OTHER_CATEGORY = '__other__';

const STATS: readonly RollingStat[] = ['mean', 'std', 'min', 'max'];
const GROUP_BYS: readonly GroupBy[] = ['device', 'trip', 'device+trip', 'none'];
const FILLS: readonly FillRule[] = ['mean', 'zero', 'drop'];
const RECIPE_KEYS = new Set(['version', 'sensors', 'groupBy', 'includeRaw', 'lags', 'diffs', 'rolling', 'ewm', 'categoricals', 'fill', 'standardize']);
const INTEGER_TYPE = /^(TINYINT|SMALLINT|INTEGER|BIGINT|HUGEINT|UTINYINT|USMALLINT|UINTEGER|UBIGINT|UHUGEINT)$/i;

function bad(message: string, details?: Record<string, unknown>): WorkbenchError {
  return new WorkbenchError('INVALID_ARGUMENT', message, details);
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function quoteList(xs: readonly string[]): string {
  return xs.map((x) => `'${x}'`).join(', ');
}

function checkBoolean(v: unknown, what: string): void {
  if (typeof v !== 'boolean') throw bad(`${what} must be true or false`);
}

function checkStringList(v: unknown, what: string, item: string): string[] {
  if (!Array.isArray(v) || v.some((x) => typeof x !== 'string')) throw bad(`recipe.${what} must be an array of column names`);
  const seen = new Set<string>();
  for (const x of v as string[]) {
    if (seen.has(x)) throw bad(`${item} '${x}' is listed twice`);
    seen.add(x);
  }
  return v as string[];
}

function checkSteps(v: unknown, what: 'lags' | 'diffs', item: string): number[] {
  if (!Array.isArray(v)) throw bad(`recipe.${what} must be an array of whole numbers`);
  const seen = new Set<number>();
  for (const k of v as unknown[]) {
    if (typeof k !== 'number' || !Number.isInteger(k) || k < 1 || k > MAX_WINDOW) throw bad(`${item} ${String(k)} must be a whole number from 1 to ${MAX_WINDOW}`);
    if (seen.has(k)) throw bad(`${item} ${k} is listed twice`);
    seen.add(k);
  }
  return v as number[];
}

/** Shape checks only: types, ranges, duplicates. */
function checkShape(recipe: unknown): asserts recipe is FeatureRecipe {
  if (!isRecord(recipe)) throw bad('recipe must be an object');
  for (const key of Object.keys(recipe)) {
    if (!RECIPE_KEYS.has(key)) throw bad(`recipe has unknown field '${key}'`);
  }
  for (const key of RECIPE_KEYS) {
    if (!(key in recipe)) throw bad(`recipe is missing the field '${key}'`);
  }
  if (recipe.version !== 1) throw bad(`recipe version must be 1 (got ${JSON.stringify(recipe.version)})`);
  checkStringList(recipe.sensors, 'sensors', 'sensor');
  if (typeof recipe.groupBy !== 'string' || !GROUP_BYS.includes(recipe.groupBy as GroupBy)) {
    throw bad(`recipe.groupBy must be one of ${quoteList(GROUP_BYS)} (got ${JSON.stringify(recipe.groupBy)})`);
  }
  checkBoolean(recipe.includeRaw, 'recipe.includeRaw');
  checkSteps(recipe.lags, 'lags', 'lag');
  checkSteps(recipe.diffs, 'diffs', 'diff');
  if (!Array.isArray(recipe.rolling)) throw bad('recipe.rolling must be an array of { window, stats }');
  const windows = new Set<number>();
  for (const r of recipe.rolling as unknown[]) {
    if (!isRecord(r)) throw bad('recipe.rolling must be an array of { window, stats }');
    const w = r.window;
    if (typeof w !== 'number' || !Number.isInteger(w) || w < 1 || w > MAX_WINDOW) throw bad(`rolling window ${String(w)} must be a whole number from 1 to ${MAX_WINDOW}`);
    if (windows.has(w)) throw bad(`rolling window ${w} is listed twice; list all its stats in one entry`);
    windows.add(w);
    if (!Array.isArray(r.stats) || r.stats.length === 0) throw bad(`rolling window ${w} has no stats; choose from ${quoteList(STATS)}`);
    const stats = new Set<string>();
    for (const s of r.stats as unknown[]) {
      if (typeof s !== 'string' || !STATS.includes(s as RollingStat)) throw bad(`rolling stat ${JSON.stringify(s)} is not one of ${quoteList(STATS)}`);
      if (stats.has(s)) throw bad(`rolling stat '${s}' is listed twice for window ${w}`);
      stats.add(s);
    }
  }
  if (!Array.isArray(recipe.ewm)) throw bad('recipe.ewm must be an array of { span, deviation }');
  const spans = new Set<number>();
  for (const e of recipe.ewm as unknown[]) {
    if (!isRecord(e)) throw bad('recipe.ewm must be an array of { span, deviation }');
    const s = e.span;
    if (typeof s !== 'number' || !Number.isFinite(s) || s < 1 || s > 1e6) throw bad(`ewm span ${String(s)} must be a number from 1 to 1000000`);
    if (spans.has(s)) throw bad(`ewm span ${s} is listed twice`);
    spans.add(s);
    checkBoolean(e.deviation, `ewm span ${s} deviation`);
  }
  checkStringList(recipe.categoricals, 'categoricals', 'categorical');
  if (typeof recipe.fill !== 'string' || !FILLS.includes(recipe.fill as FillRule)) {
    throw bad(`recipe.fill must be 'mean', 'zero' or 'drop' (got ${JSON.stringify(recipe.fill)})`);
  }
  checkBoolean(recipe.standardize, 'recipe.standardize');
}

function roleColumn(dataset: DatasetInfo, role: 'time' | 'device' | 'trip' | 'label'): ColumnInfo | undefined {
  return dataset.columns.find((c) => c.role === role);
}

/**
 * The time, group and label columns a recipe uses on a dataset, from the
 * dataset's roles. Throws INVALID_ARGUMENT when a role the recipe needs is unset.
 */
export function resolveColumns(recipe: FeatureRecipe, dataset: DatasetInfo): FittedRecipe['columns'] {
  const time = roleColumn(dataset, 'time');
  if (!time) throw bad(`dataset '${dataset.name}' has no column with role 'time'; features need a time order`, { dataset: dataset.name });
  const roles: ('device' | 'trip')[] = recipe.groupBy === 'none' ? [] : recipe.groupBy === 'device+trip' ? ['device', 'trip'] : [recipe.groupBy];
  const groups = roles.map((role) => {
    const c = roleColumn(dataset, role);
    if (!c) throw bad(`groupBy '${recipe.groupBy}' needs a column with role '${role}', and dataset '${dataset.name}' has none`, { dataset: dataset.name });
    return c.name;
  });
  return { time: time.name, groups, label: roleColumn(dataset, 'label')?.name ?? null };
}

/**
 * Check a recipe against a dataset. Throws INVALID_ARGUMENT naming the first
 * problem: shape (types, ranges, duplicates), unknown or unsuitable columns,
 * roles the grouping needs, a recipe that yields no features.
 */
export function validateRecipe(recipe: unknown, dataset: DatasetInfo): asserts recipe is FeatureRecipe {
  checkShape(recipe);
  const byName = new Map(dataset.columns.map((c) => [c.name, c]));
  const column = (name: string): ColumnInfo => {
    const c = byName.get(name);
    if (!c) throw bad(`recipe names column '${name}' which dataset '${dataset.name}' does not have`, { dataset: dataset.name, column: name });
    if (c.role === 'label') throw bad(`column '${name}' is the label of dataset '${dataset.name}'; a feature made from it would leak the answer`, { column: name });
    return c;
  };
  for (const name of recipe.sensors) {
    const c = column(name);
    if (!isNumericType(c.type)) throw bad(`column '${name}' is ${c.type}; sensors must be numeric`, { column: name });
  }
  for (const name of recipe.categoricals) {
    const c = column(name);
    if (!/^(VARCHAR|BOOLEAN|ENUM.*)$/i.test(c.type) && !INTEGER_TYPE.test(c.type)) {
      throw bad(`column '${name}' is ${c.type}; categoricals must be text, boolean or integer`, { column: name });
    }
  }
  resolveColumns(recipe, dataset);
  const perSensor = planFeatures(recipe);
  if (recipe.sensors.length > 0 && perSensor.length === 0) {
    throw bad('recipe lists sensors but no feature of them: set includeRaw or add lags, diffs, rolling or ewm');
  }
  if (perSensor.length === 0 && recipe.categoricals.length === 0) {
    throw bad('recipe produces no features: add sensors (with includeRaw, lags, diffs, rolling or ewm) or categoricals');
  }
  const seen = new Set<string>();
  for (const f of perSensor) {
    if (seen.has(f.name)) throw bad(`feature name '${f.name}' would be produced twice; rename a column`);
    seen.add(f.name);
  }
}

/**
 * A sensible starting recipe: every sensor-role column, grouped by trip when the
 * dataset has a trip role (else device, else one series), lag 1, diff 1, rolling
 * mean/std over 10 rows, ewm span 10 with deviation, mean fill, standardized.
 */
export function defaultRecipe(dataset: DatasetInfo): FeatureRecipe {
  return {
    version: 1,
    sensors: dataset.columns.filter((c) => c.role === 'sensor').map((c) => c.name),
    groupBy: defaultGroupRole(dataset.columns) ?? 'none',
    includeRaw: true,
    lags: [1],
    diffs: [1],
    rolling: [{ window: 10, stats: ['mean', 'std'] }],
    ewm: [{ span: 10, deviation: true }],
    categoricals: [],
    fill: 'mean',
    standardize: true,
  };
}

/**
 * The numeric features of a recipe in output order: per sensor, raw, lags,
 * diffs, rolling (per window, stats in the order given), ewm (level, then
 * deviation). Assumes a recipe that passed validateRecipe's shape checks.
 */
export function planFeatures(recipe: FeatureRecipe): NumericFeature[] {
  const out: NumericFeature[] = [];
  recipe.sensors.forEach((s, sensor) => {
    if (recipe.includeRaw) out.push({ name: s, kind: 'raw', sensor });
    for (const k of recipe.lags) out.push({ name: `${s}__lag${k}`, kind: 'lag', sensor, k });
    for (const k of recipe.diffs) out.push({ name: `${s}__diff${k}`, kind: 'diff', sensor, k });
    for (const r of recipe.rolling) {
      for (const stat of r.stats) out.push({ name: `${s}__roll${r.window}_${stat}`, kind: 'roll', sensor, window: r.window, stat });
    }
    for (const e of recipe.ewm) {
      out.push({ name: `${s}__ewm${e.span}`, kind: 'ewm', sensor, span: e.span });
      if (e.deviation) out.push({ name: `${s}__ewm${e.span}_dev`, kind: 'ewmdev', sensor, span: e.span });
    }
  });
  return out;
}

/** One-hot column names of a category set: `column=value`, then `column=__other__` when capped. */
export function categoryNames(set: CategorySet): string[] {
  const names = set.values.map((v) => `${set.column}=${v}`);
  if (set.other) names.push(`${set.column}=${OTHER_CATEGORY}`);
  return names;
}

/** Output column names of a fitted recipe, in matrix column order (numeric features, then one-hots). */
export function featureNames(fitted: Pick<FittedRecipe, 'recipe' | 'categories'>): string[] {
  return [...planFeatures(fitted.recipe).map((f) => f.name), ...fitted.categories.flatMap(categoryNames)];
}

/** Smoothing factor of an EWM span. */
export function ewmAlpha(span: number): number {
  return 2 / (span + 1);
}

/**
 * Fold one value into an EWM state (NaN = no value yet). Missing values leave
 * the state alone. Both evaluators call this, so their EWMs agree bit for bit.
 */
export function ewmFold(state: number, x: number, alpha: number): number {
  if (Number.isNaN(x)) return state;
  if (Number.isNaN(state)) return x;
  return alpha * x + (1 - alpha) * state;
}

/** The fitted recipe in the typed-array form the per-row finisher wants. */
export interface CompiledFinish {
  numeric: number;
  cols: number;
  fill: Float64Array | null;
  mean: Float64Array | null;
  std: Float64Array | null;
  /** Column offset and width of each categorical's one-hot block. */
  catOffset: Int32Array;
  catWidth: Int32Array;
}

/** Typed-array form of a fitted recipe's fill, scaler and one-hot layout, for finishRow. */
export function compileFinish(fitted: FittedRecipe): CompiledFinish {
  const catOffset = new Int32Array(fitted.categories.length);
  const catWidth = new Int32Array(fitted.categories.length);
  let off = fitted.numericCount;
  fitted.categories.forEach((c, i) => {
    catOffset[i] = off;
    catWidth[i] = c.values.length + (c.other ? 1 : 0);
    off += catWidth[i]!;
  });
  return {
    numeric: fitted.numericCount,
    cols: fitted.featureNames.length,
    fill: fitted.fillValues ? Float64Array.from(fitted.fillValues) : null,
    mean: fitted.scaler ? Float64Array.from(fitted.scaler.mean) : null,
    std: fitted.scaler ? Float64Array.from(fitted.scaler.std) : null,
    catOffset,
    catWidth,
  };
}

/**
 * Fill, standardize and one-hot one row into `out` at `offset`. `raw` holds the
 * numeric features (NaN = missing); `cats` the category index per categorical
 * (−1 = none); `rawOffset` where they start in `raw` (in place when raw is out
 * and the offsets are equal). Returns true when fill is 'drop' and a feature is missing; the
 * row is still written, with NaN where values are missing. Shared by both
 * evaluators so their arithmetic is identical.
 */
export function finishRow(c: CompiledFinish, raw: Float64Array, cats: ArrayLike<number>, out: Float64Array, offset: number, rawOffset = 0): boolean {
  let dropped = false;
  for (let f = 0; f < c.numeric; f++) {
    let v = raw[rawOffset + f]!;
    if (Number.isNaN(v)) {
      if (c.fill === null) {
        dropped = true;
        out[offset + f] = NaN;
        continue;
      }
      v = c.fill[f]!;
    }
    out[offset + f] = c.mean === null ? v : (v - c.mean[f]!) / c.std![f]!;
  }
  for (let i = 0; i < c.catOffset.length; i++) {
    const o = offset + c.catOffset[i]!;
    out.fill(0, o, o + c.catWidth[i]!);
    const k = cats[i]!;
    if (k >= 0) out[o + k] = 1;
  }
  return dropped;
}
