/**
 * Input checks and small helpers shared by the detectors. Kept apart from the
 * interface file so that `detector.ts` stays a pure contract.
 */
import type { Contribution, FitOptions, Matrix, ParamValue, DetectorParamSpec } from './detector.ts';

/** Throws unless `m` is a well-formed matrix with at least one row and one column. */
export function assertFittable(kind: string, m: Matrix): void {
  assertShape(kind, m);
  if (m.rows === 0) throw new Error(`${kind}: cannot fit on 0 rows (the training matrix is empty)`);
  if (m.cols === 0) throw new Error(`${kind}: cannot fit on 0 feature columns`);
}

/** Throws when `data.length` or `columns.length` disagree with `rows`/`cols`. */
export function assertShape(kind: string, m: Matrix): void {
  if (!Number.isInteger(m.rows) || !Number.isInteger(m.cols) || m.rows < 0 || m.cols < 0) {
    throw new Error(`${kind}: matrix rows/cols must be non-negative integers (got ${m.rows} x ${m.cols})`);
  }
  if (m.data.length !== m.rows * m.cols) {
    throw new Error(`${kind}: matrix data has ${m.data.length} values, expected rows*cols = ${m.rows * m.cols}`);
  }
  if (m.columns.length !== m.cols) {
    throw new Error(`${kind}: matrix has ${m.cols} columns but ${m.columns.length} column names`);
  }
}

/**
 * Throws naming the first column holding NaN or ±Infinity. Detectors never guess
 * how to treat missing values: callers impute or drop them first.
 */
export function assertFinite(kind: string, m: Matrix): void {
  const { data, cols } = m;
  for (let i = 0; i < data.length; i++) {
    const v = data[i];
    // `v - v` is 0 for finite values and NaN for NaN/±Infinity: one test covers both.
    if (v - v !== 0) {
      const row = Math.floor(i / cols), col = i % cols;
      throw new Error(
        `${kind}: column "${m.columns[col]}" has a non-finite value (${v}) at row ${row}; ` +
          'handle missing or infinite values before fitting or scoring',
      );
    }
  }
}

/** Checks a single live row against the model's columns (length and finiteness). */
export function assertRow(kind: string, columns: string[], row: ArrayLike<number>): void {
  if (row.length !== columns.length) {
    throw new Error(`${kind}: row has ${row.length} values, the model expects ${columns.length} (${columns.join(', ')})`);
  }
  for (let j = 0; j < row.length; j++) {
    const v = row[j];
    if (v - v !== 0) {
      throw new Error(`${kind}: column "${columns[j]}" has a non-finite value (${v}); handle missing values first`);
    }
  }
}

/**
 * Checks a matrix to be scored: same feature count and, where names are given,
 * the same order as in training (a silent reorder would give meaningless scores).
 */
export function assertScorable(kind: string, columns: string[], m: Matrix): void {
  assertShape(kind, m);
  if (m.cols !== columns.length) {
    throw new Error(`${kind}: matrix has ${m.cols} columns, the model was fitted on ${columns.length} (${columns.join(', ')})`);
  }
  for (let j = 0; j < columns.length; j++) {
    if (m.columns[j] !== columns[j]) {
      throw new Error(`${kind}: column ${j} is "${m.columns[j]}" but the model was fitted with "${columns[j]}" there`);
    }
  }
  assertFinite(kind, m);
}

/** Throws the signal's reason (an AbortError by default) when fitting was cancelled. */
export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) {
    throw signal.reason instanceof Error ? signal.reason : new DOMException('Fit aborted', 'AbortError');
  }
}

/**
 * Returns a function that yields to the event loop at most every `budgetMs`, so an
 * abort can be noticed without paying a macrotask per tree.
 */
export function makeYielder(budgetMs = 15): () => Promise<void> {
  let last = performance.now();
  return async () => {
    const now = performance.now();
    if (now - last < budgetMs) return;
    await new Promise<void>((resolve) => setTimeout(resolve, 0));
    last = performance.now();
  };
}

/** Reads a numeric param with its spec's default, checking type and range. */
export function numParam(kind: string, specs: DetectorParamSpec[], opts: FitOptions, name: string): number {
  const spec = specs.find((s) => s.name === name);
  if (!spec) throw new Error(`${kind}: unknown param "${name}"`);
  const raw: ParamValue = opts.params[name] ?? spec.default;
  if (typeof raw !== 'number' || !Number.isFinite(raw)) {
    throw new Error(`${kind}: param "${name}" must be a finite number (got ${JSON.stringify(raw)})`);
  }
  if (spec.type === 'int' && !Number.isInteger(raw)) {
    throw new Error(`${kind}: param "${name}" must be an integer (got ${raw})`);
  }
  if ((spec.min !== undefined && raw < spec.min) || (spec.max !== undefined && raw > spec.max)) {
    throw new Error(`${kind}: param "${name}" must be in [${spec.min ?? '-inf'}, ${spec.max ?? 'inf'}] (got ${raw})`);
  }
  return raw;
}

/** Reads a boolean param with its spec's default. */
export function boolParam(kind: string, specs: DetectorParamSpec[], opts: FitOptions, name: string): boolean {
  const spec = specs.find((s) => s.name === name);
  if (!spec) throw new Error(`${kind}: unknown param "${name}"`);
  const raw: ParamValue = opts.params[name] ?? spec.default;
  if (typeof raw !== 'boolean') throw new Error(`${kind}: param "${name}" must be a boolean (got ${JSON.stringify(raw)})`);
  return raw;
}

/** Reads an enum param with its spec's default, checking it is one of the options. */
export function enumParam(kind: string, specs: DetectorParamSpec[], opts: FitOptions, name: string): string {
  const spec = specs.find((s) => s.name === name);
  if (!spec) throw new Error(`${kind}: unknown param "${name}"`);
  const raw: ParamValue = opts.params[name] ?? spec.default;
  if (typeof raw !== 'string' || !(spec.options ?? []).includes(raw)) {
    throw new Error(`${kind}: param "${name}" must be one of ${(spec.options ?? []).join(', ')} (got ${JSON.stringify(raw)})`);
  }
  return raw;
}

/** Sorts by weight descending (stable, so ties keep column order) and keeps `top`. */
export function rankContributions(items: Contribution[], top: number | undefined): Contribution[] {
  items.sort((a, b) => b.weight - a.weight);
  return top === undefined ? items : items.slice(0, Math.max(0, top));
}

/** Checks that a JSON model is of the expected kind and version before reading its state. */
export function assertJsonKind(kind: string, json: { kind: string; version: number }): void {
  if (json.kind !== kind) throw new Error(`${kind}: cannot load a model of kind "${json.kind}"`);
  if (json.version !== 1) throw new Error(`${kind}: unsupported model version ${String(json.version)}`);
}

/**
 * k-th smallest value (0-based) of `a[0..n)`, reordering `a` in place
 * (Hoare quickselect with median-of-three pivots; O(n) expected).
 */
export function selectInPlace(a: Float64Array, k: number, n = a.length): number {
  let lo = 0, hi = n - 1;
  while (hi > lo) {
    const mid = (lo + hi) >>> 1;
    // Median of three guards against sorted inputs (sensor data often is).
    let x = a[lo], y = a[mid], z = a[hi];
    if (x > y) { const t = x; x = y; y = t; }
    if (y > z) { y = z; if (x > y) y = x; }
    const pivot = y;
    let i = lo, j = hi;
    while (i <= j) {
      while (a[i] < pivot) i++;
      while (a[j] > pivot) j--;
      if (i <= j) {
        const t = a[i]; a[i] = a[j]; a[j] = t;
        i++; j--;
      }
    }
    if (k <= j) hi = j;
    else if (k >= i) lo = i;
    else return a[k];
  }
  return a[k];
}

/**
 * Quantile with linear interpolation between order statistics (numpy's default,
 * "type 7"). Reorders `a` in place.
 */
export function quantileInPlace(a: Float64Array, q: number, n = a.length): number {
  if (n === 0) return NaN;
  const h = (n - 1) * q;
  const lo = Math.floor(h);
  const vLo = selectInPlace(a, lo, n);
  if (lo + 1 >= n || h === lo) return vLo;
  // After selection everything right of `lo` is >= a[lo]; the next order statistic is their minimum.
  let vHi = Infinity;
  for (let i = lo + 1; i < n; i++) if (a[i] < vHi) vHi = a[i];
  return vLo + (h - lo) * (vHi - vLo);
}
