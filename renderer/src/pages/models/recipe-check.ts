/**
 * Recipe checks for the JSON view, as the user types. They mirror the rules of
 * core/features/recipe.ts validateRecipe (the renderer may not import core at
 * run time, STYLE.md §5.1); the engine still validates on Train and its message
 * is shown if it disagrees.
 */
import type { DatasetInfo } from '../../../../core/data/api.ts';
import type { FeatureRecipe } from '../../../../core/features/recipe.ts';

const KEYS = ['version', 'sensors', 'groupBy', 'includeRaw', 'lags', 'diffs', 'rolling', 'ewm', 'categoricals', 'fill', 'standardize'];
const STATS = ['mean', 'std', 'min', 'max'];
const NUMERIC = /^(TINYINT|SMALLINT|INTEGER|BIGINT|HUGEINT|UTINYINT|USMALLINT|UINTEGER|UBIGINT|UHUGEINT|FLOAT|DOUBLE|REAL|DECIMAL.*)$/i;
const CATEGORICAL = /^(VARCHAR|BOOLEAN|ENUM.*|TINYINT|SMALLINT|INTEGER|BIGINT|HUGEINT|UTINYINT|USMALLINT|UINTEGER|UBIGINT|UHUGEINT)$/i;

export type RecipeParse = { ok: true; recipe: FeatureRecipe } | { ok: false; message: string; line: number | null; column: number | null };

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Line and column (1-based) of a character offset. */
function lineCol(text: string, offset: number): { line: number; column: number } {
  const before = text.slice(0, offset).split('\n');
  return { line: before.length, column: before[before.length - 1]!.length + 1 };
}

/** JSON.parse's error with a line and column, whatever the engine's message format. */
function jsonError(text: string, err: unknown): RecipeParse {
  const msg = err instanceof Error ? err.message : String(err);
  const pos = /position (\d+)/.exec(msg);
  const lc = /line (\d+) column (\d+)/.exec(msg);
  // The location is shown separately, so drop V8's " at position N (line L column C)" tail.
  const bare = `JSON: ${msg.replace(/\s*(in JSON )?at position \d+/, '').replace(/\s*\(line \d+ column \d+\)/, '')}`;
  if (lc) return { ok: false, message: bare, line: Number(lc[1]), column: Number(lc[2]) };
  if (pos) {
    const at = lineCol(text, Number(pos[1]));
    return { ok: false, message: bare, line: at.line, column: at.column };
  }
  return { ok: false, message: bare, line: null, column: null };
}

function fail(message: string): RecipeParse {
  return { ok: false, message, line: null, column: null };
}

function steps(v: unknown, what: string): string | null {
  if (!Array.isArray(v)) return `recipe.${what} must be an array of whole numbers`;
  const seen = new Set<number>();
  for (const k of v as unknown[]) {
    if (typeof k !== 'number' || !Number.isInteger(k) || k < 1 || k > 10_000) return `${what.slice(0, -1)} ${String(k)} must be a whole number from 1 to 10000`;
    if (seen.has(k)) return `${what.slice(0, -1)} ${k} is listed twice`;
    seen.add(k);
  }
  return null;
}

/** Parse and check recipe JSON against a dataset; the first problem wins, as in the engine. */
export function parseRecipe(text: string, dataset: DatasetInfo | null): RecipeParse {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (err) {
    return jsonError(text, err);
  }
  if (!isRecord(v)) return fail('recipe must be an object');
  for (const k of Object.keys(v)) if (!KEYS.includes(k)) return fail(`recipe has unknown field '${k}'`);
  for (const k of KEYS) if (!(k in v)) return fail(`recipe is missing the field '${k}'`);
  if (v.version !== 1) return fail(`recipe version must be 1 (got ${JSON.stringify(v.version)})`);
  for (const list of ['sensors', 'categoricals'] as const) {
    const xs = v[list];
    if (!Array.isArray(xs) || xs.some((x) => typeof x !== 'string')) return fail(`recipe.${list} must be an array of column names`);
    if (new Set(xs).size !== xs.length) return fail(`recipe.${list} lists a column twice`);
  }
  if (!['device', 'trip', 'device+trip', 'none'].includes(String(v.groupBy))) return fail(`recipe.groupBy must be one of 'device', 'trip', 'device+trip', 'none' (got ${JSON.stringify(v.groupBy)})`);
  for (const b of ['includeRaw', 'standardize'] as const) if (typeof v[b] !== 'boolean') return fail(`recipe.${b} must be true or false`);
  const s = steps(v.lags, 'lags') ?? steps(v.diffs, 'diffs');
  if (s) return fail(s);
  if (!Array.isArray(v.rolling)) return fail('recipe.rolling must be an array of { window, stats }');
  const windows = new Set<number>();
  for (const r of v.rolling as unknown[]) {
    if (!isRecord(r)) return fail('recipe.rolling must be an array of { window, stats }');
    const w = r.window;
    if (typeof w !== 'number' || !Number.isInteger(w) || w < 1 || w > 10_000) return fail(`rolling window ${String(w)} must be a whole number from 1 to 10000`);
    if (windows.has(w)) return fail(`rolling window ${w} is listed twice; list all its stats in one entry`);
    windows.add(w);
    if (!Array.isArray(r.stats) || r.stats.length === 0) return fail(`rolling window ${w} has no stats; choose from 'mean', 'std', 'min', 'max'`);
    for (const st of r.stats as unknown[]) if (typeof st !== 'string' || !STATS.includes(st)) return fail(`rolling stat ${JSON.stringify(st)} is not one of 'mean', 'std', 'min', 'max'`);
    if (new Set(r.stats).size !== r.stats.length) return fail(`a rolling stat is listed twice for window ${w}`);
  }
  if (!Array.isArray(v.ewm)) return fail('recipe.ewm must be an array of { span, deviation }');
  const spans = new Set<number>();
  for (const e of v.ewm as unknown[]) {
    if (!isRecord(e)) return fail('recipe.ewm must be an array of { span, deviation }');
    if (typeof e.span !== 'number' || !Number.isFinite(e.span) || e.span < 1 || e.span > 1e6) return fail(`ewm span ${String(e.span)} must be a number from 1 to 1000000`);
    if (spans.has(e.span)) return fail(`ewm span ${e.span} is listed twice`);
    spans.add(e.span);
    if (typeof e.deviation !== 'boolean') return fail(`ewm span ${e.span} deviation must be true or false`);
  }
  if (!['mean', 'zero', 'drop'].includes(String(v.fill))) return fail(`recipe.fill must be 'mean', 'zero' or 'drop' (got ${JSON.stringify(v.fill)})`);
  const recipe = v as unknown as FeatureRecipe;
  if (dataset) {
    const byName = new Map(dataset.columns.map((c) => [c.name, c]));
    for (const name of [...recipe.sensors, ...recipe.categoricals]) {
      const c = byName.get(name);
      if (!c) return fail(`recipe names column '${name}' which dataset '${dataset.name}' does not have`);
      if (c.role === 'label') return fail(`column '${name}' is the label of dataset '${dataset.name}'; a feature made from it would leak the answer`);
    }
    for (const name of recipe.sensors) {
      const t = byName.get(name)!.type;
      if (!NUMERIC.test(t)) return fail(`column '${name}' is ${t}; sensors must be numeric`);
    }
    for (const name of recipe.categoricals) {
      const t = byName.get(name)!.type;
      if (!CATEGORICAL.test(t)) return fail(`column '${name}' is ${t}; categoricals must be text, boolean or integer`);
    }
    const need = recipe.groupBy === 'none' ? [] : recipe.groupBy === 'device+trip' ? ['device', 'trip'] : [recipe.groupBy];
    for (const role of need) {
      if (!dataset.columns.some((c) => c.role === role)) return fail(`groupBy '${recipe.groupBy}' needs a column with role '${role}', and dataset '${dataset.name}' has none`);
    }
  }
  const perSensor = (recipe.includeRaw ? 1 : 0) + recipe.lags.length + recipe.diffs.length + recipe.rolling.reduce((a, r) => a + r.stats.length, 0) + recipe.ewm.reduce((a, e) => a + (e.deviation ? 2 : 1), 0);
  if (recipe.sensors.length > 0 && perSensor === 0) return fail('recipe lists sensors but no feature of them: set includeRaw or add lags, diffs, rolling or ewm');
  if (recipe.sensors.length === 0 && recipe.categoricals.length === 0) return fail('recipe produces no features: add sensors (with includeRaw, lags, diffs, rolling or ewm) or categoricals');
  return { ok: true, recipe };
}

/** How many features a recipe yields (numeric only; one-hot columns depend on the data). */
export function numericFeatureCount(r: FeatureRecipe): number {
  const perSensor = (r.includeRaw ? 1 : 0) + r.lags.length + r.diffs.length + r.rolling.reduce((a, x) => a + x.stats.length, 0) + r.ewm.reduce((a, e) => a + (e.deviation ? 2 : 1), 0);
  return perSensor * r.sensors.length;
}

/** "1, 5, 10" → [1, 5, 10]; null when any item is not a whole number. */
export function parseIntList(text: string): number[] | null {
  const items = text.split(/[,\s]+/).filter(Boolean);
  const out: number[] = [];
  for (const it of items) {
    const n = Number(it);
    if (!Number.isInteger(n)) return null;
    out.push(n);
  }
  return out;
}
