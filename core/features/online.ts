/**
 * Incremental evaluator of fitted feature recipes (issue #5 item 1): one event
 * at a time, per-group state, for the live stream. It reproduces the batch
 * evaluator (batch.ts) exactly: both compute the numeric features with the same
 * kernel (kernel.ts), and fill and standardization with the same code.
 */
import { WorkbenchError } from '../api/errors.ts';
import { compileFinish, finishRow, planFeatures, type FittedRecipe } from './recipe.ts';
import { createKernel, type KernelGroup } from './kernel.ts';

/** A raw reading: column name → value. Numbers may arrive as numeric strings. */
export type OnlineEvent = Record<string, number | string | boolean | null | undefined>;

export interface OnlineResult {
  /**
   * The row's features in fitted featureNames order, filled and standardized.
   * When `dropped`, missing entries are NaN and the row should be skipped.
   */
  features: Float64Array;
  /** True when fill is 'drop' and a feature is missing (the batch path leaves such rows out). */
  dropped: boolean;
  /** The event's group: JSON array of its group column values as text (null for missing), e.g. `["dev-0001"]`; `[]` without grouping. */
  group: string;
}

/** Serialized state: plain JSON (NaN stored as null). */
export interface OnlineState {
  version: 1;
  /** Fingerprint of the fitted recipe the state belongs to. */
  recipe: string;
  groups: {
    key: string;
    /** Events seen in this group. */
    rows: number;
    /** Per sensor, the last min(rows, history length) values, oldest first. */
    history: (number | null)[][];
    /** Per (sensor, span) EWM state, in recipe order. */
    ewm: (number | null)[];
  }[];
}

export interface OnlineFeaturizer {
  /**
   * Featurize one event and fold it into its group's state. Events of one group
   * must arrive in time order; groups may interleave freely.
   */
  push(event: OnlineEvent): OnlineResult;
  /**
   * `push`, writing the features into `out` from `offset` (featureNames order) instead of a new
   * array; returns whether the row is dropped. `group`, when given, must be the event's group key
   * as `push` would compute it (OnlineResult.group); it saves computing it again.
   */
  pushInto(event: OnlineEvent, out: Float64Array, offset: number, group?: string): boolean;
  /** Number of features per row. */
  readonly width: number;
  /** Snapshot of every group's state, JSON-serializable. */
  state(): OnlineState;
  /** Replace all state with a snapshot from state() of a featurizer with the same fitted recipe. */
  restore(s: unknown): void;
}

function fingerprint(fitted: FittedRecipe): string {
  // FNV-1a over what determines the state's meaning.
  const text = JSON.stringify([fitted.recipe, fitted.columns, fitted.centers]);
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h.toString(16).padStart(8, '0');
}

/** A sensor reading as a number; NULL, blanks, non-numeric text and non-finite numbers are missing (NaN). */
function reading(v: number | string | boolean | null | undefined): number {
  if (typeof v === 'number') return Number.isFinite(v) ? v : NaN;
  if (typeof v === 'string') {
    const t = v.trim();
    if (t === '') return NaN;
    const x = Number(t);
    return Number.isFinite(x) ? x : NaN;
  }
  return NaN;
}

function toJsonNumber(x: number): number | null {
  return Number.isNaN(x) ? null : x;
}

/**
 * Create an incremental featurizer for a fitted recipe. Its output for an
 * event equals the batch output for the same row when each group's events are
 * pushed in (time, rowid) order.
 */
export function createOnlineFeaturizer(fitted: FittedRecipe): OnlineFeaturizer {
  const recipe = fitted.recipe;
  const plan = planFeatures(recipe);
  const fin = compileFinish(fitted);
  const sensors = recipe.sensors;
  const S = sensors.length;
  const kernel = createKernel(plan, fitted.centers, S);
  const H = kernel.history;
  const print = fingerprint(fitted);
  const catIndex = fitted.categories.map((c) => new Map(c.values.map((v, k) => [v, k])));
  const catOther = fitted.categories.map((c) => (c.other ? c.values.length : -1));

  let groups = new Map<string, KernelGroup>();
  const back = kernel.back;

  const x = new Float64Array(S);
  const raw = new Float64Array(plan.length);
  const cats = new Float64Array(fitted.categories.length);

  const groupKey = (event: OnlineEvent): string =>
    JSON.stringify(
      fitted.columns.groups.map((c) => {
        const v = event[c];
        return v === null || v === undefined ? null : String(v);
      }),
    );

  function push(event: OnlineEvent): OnlineResult {
    const key = groupKey(event);
    const features = new Float64Array(fin.cols);
    const dropped = pushInto(event, features, 0, key);
    return { features, dropped, group: key };
  }

  function pushInto(event: OnlineEvent, out: Float64Array, offset: number, group?: string): boolean {
    const key = group ?? groupKey(event);
    let g = groups.get(key);
    if (!g) {
      g = kernel.newGroup();
      groups.set(key, g);
    }
    for (let s = 0; s < S; s++) x[s] = reading(event[sensors[s]!]);
    kernel.step(g, x, raw, 0);
    fitted.categories.forEach((c, i) => {
      const v = event[c.column];
      cats[i] = v === null || v === undefined ? -1 : (catIndex[i]!.get(String(v)) ?? catOther[i]!);
    });
    return finishRow(fin, raw, cats, out, offset);
  }

  function state(): OnlineState {
    const out: OnlineState = { version: 1, recipe: print, groups: [] };
    for (const [key, g] of groups) {
      const len = Math.min(g.rows, H);
      const history = sensors.map((_, s) => {
        const h: (number | null)[] = [];
        for (let k = len; k >= 1; k--) h.push(toJsonNumber(back(g, s, k)));
        return h;
      });
      out.groups.push({ key, rows: g.rows, history, ewm: Array.from(g.ewm, toJsonNumber) });
    }
    return out;
  }

  function restore(s: unknown): void {
    const invalid = (why: string): WorkbenchError => new WorkbenchError('INVALID_ARGUMENT', `cannot restore featurizer state: ${why}`);
    if (typeof s !== 'object' || s === null) throw invalid('not an object');
    const st = s as Partial<OnlineState>;
    if (st.version !== 1 || !Array.isArray(st.groups)) throw invalid('expected version 1 with a groups array');
    if (st.recipe !== print) throw invalid('it was saved under a different fitted recipe');
    const next = new Map<string, KernelGroup>();
    const num = (v: unknown): number => (v === null ? NaN : typeof v === 'number' ? v : NaN);
    for (const e of st.groups) {
      if (typeof e?.key !== 'string' || !Number.isInteger(e.rows) || e.rows < 0 || !Array.isArray(e.history) || !Array.isArray(e.ewm)) {
        throw invalid('a group entry is malformed');
      }
      const len = Math.min(e.rows, H);
      if (e.history.length !== S || e.history.some((h) => !Array.isArray(h) || h.length !== len) || e.ewm.length !== kernel.ewmStates) {
        throw invalid(`group ${e.key} does not match the recipe's sensors, windows or ewm spans`);
      }
      const g = kernel.newGroup();
      g.rows = e.rows;
      for (let si = 0; si < S; si++) {
        const h = e.history[si]!;
        for (let j = 0; j < len; j++) g.ring[si * H + j] = num(h[j]);
      }
      g.head = H > 0 ? len % H : 0;
      e.ewm.forEach((v, k) => (g.ewm[k] = num(v)));
      next.set(e.key, g);
    }
    groups = next;
  }

  return { push, pushInto, width: fin.cols, state, restore };
}
