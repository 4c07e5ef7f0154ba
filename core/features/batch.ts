/**
 * Batch evaluator of feature recipes (issue #5 item 1). DuckDB cleans the inputs,
 * evaluates the row predicates and sorts the rows by (group, time, rowid); they
 * stream out one DuckDB chunk at a time and the feature kernel (kernel.ts, the
 * same code the live stream runs) computes lags, diffs, rolling statistics and
 * EWMs row by row. DuckDB window functions did this before: at 10M rows their
 * query, which sorted the wide output, took 4.6× as long as the narrow sorted one,
 * and the whole pass halved; one kernel also makes batch and live features equal.
 * The dataset is never held in JS memory: at most one output chunk is.
 */
import type { DuckDBConnection, DuckDBDataChunk, DuckDBResult } from '@duckdb/node-api';
import { WorkbenchError } from '../api/errors.ts';
import type { DatasetInfo } from '../data/api.ts';
import { getDataset } from '../data/catalog.ts';
import { orderSettled, storedOrder } from '../data/order.ts';
import { isNumericType } from '../data/roles.ts';
import type { Matrix } from '../models/detector.ts';
import { toPlain, type Plain } from '../workspace/values.ts';
import { firstLine, ident, lit, type Workspace } from '../workspace/workspace.ts';
import {
  compileFinish,
  featureNames,
  finishRow,
  MAX_CATEGORIES,
  planFeatures,
  resolveColumns,
  validateRecipe,
  type CategorySet,
  type FeatureRecipe,
  type FittedRecipe,
  type NumericFeature,
} from './recipe.ts';
import { inlineKernel, KernelThread, type ChunkFeatures } from './kernel-thread.ts';

export type { FeatureRecipe, FittedRecipe } from './recipe.ts';

export interface FitRecipeOptions {
  /** SQL predicate over the dataset's columns selecting the training rows; default every row. */
  trainFilter?: string;
  /** How the fitted recipe records trainFilter (default: trainFilter itself), for a predicate whose SQL is machine-made. */
  trainFilterShown?: string;
  /**
   * SQL joined to the dataset for the predicates, e.g. `LEFT JOIN lookup l ON l.k = "device"`.
   * It must keep exactly one row per dataset row, and its column names must not clash with the dataset's.
   */
  join?: string;
  /** Cancels the fit (CANCELLED). */
  signal?: AbortSignal;
}

export interface StreamFeaturesOptions {
  /**
   * SQL predicate selecting the rows to emit. Applied after the windows, so an
   * emitted row's features still see its group's earlier rows that the filter leaves out.
   */
  filter?: string;
  /** Most rows per chunk; default 16,384. */
  chunkRows?: number;
  /** Raw columns to carry along (label, time, device, …): numeric types as numbers, everything else as text. */
  includeColumns?: string[];
  /** Stops the stream with CANCELLED, interrupting DuckDB mid-query. */
  signal?: AbortSignal;
  /**
   * SQL predicates over the dataset's columns evaluated for every emitted row
   * (NULL counts as false), returned per chunk in FeatureChunk.flags in this order.
   * One pass can then serve several row sets (e.g. the training sample and the test rows).
   */
  flags?: string[];
  /** SQL expressions over the dataset's columns cast to DOUBLE per emitted row (NULL → NaN), returned in FeatureChunk.numbers. */
  numbers?: string[];
  /**
   * SQL joined to the dataset for the predicates, e.g. `LEFT JOIN lookup l ON l.k = "device"`.
   * It must keep exactly one row per dataset row, and its column names must not clash with the dataset's.
   */
  join?: string;
}

/** A block of feature rows in (group, time) order. */
export interface FeatureChunk {
  /** Rows in this chunk (≤ chunkRows); dropped rows are not among them. */
  rows: number;
  /** rows × featureNames, row-major; fill and standardization already applied. */
  matrix: Matrix;
  /** includeColumns values per row, keyed by column name; null where the value is NULL. */
  extra: Record<string, (number | string | null)[]>;
  /** DuckDB rowid of each row: stable while the dataset is not rewritten, for joining results back. */
  rowIndex: Float64Array;
  /** Rows left out since the previous chunk because a feature was missing (fill 'drop'). */
  dropped: number;
  /** One 0/1 array per StreamFeaturesOptions.flags predicate, aligned with the rows. */
  flags: Uint8Array[];
  /** One array per StreamFeaturesOptions.numbers expression, aligned with the rows. */
  numbers: Float64Array[];
}

const DEFAULT_CHUNK_ROWS = 16_384;

function cancelled(): WorkbenchError {
  return new WorkbenchError('CANCELLED', 'feature computation was cancelled');
}

/** A user predicate as a strict boolean: NULL counts as false, and a number or 0/1 label column works too. */
function keepSql(pred: string | null): string {
  return pred === null ? 'true' : `coalesce(CAST((${pred}) AS BOOLEAN), false)`;
}

/** Reject multi-statement input and anything DuckDB cannot bind as a predicate over the table. */
async function checkPredicate(ws: Workspace, dataset: string, pred: string, what: string, join?: string): Promise<void> {
  if (typeof pred !== 'string' || pred.trim() === '') throw new WorkbenchError('INVALID_ARGUMENT', `${what} must be a non-empty SQL predicate`);
  if (pred.includes(';')) throw new WorkbenchError('INVALID_ARGUMENT', `${what} must be a single SQL expression (no ';')`);
  try {
    await ws.query(`SELECT ${keepSql(pred)} AS k FROM ${source(dataset, join)} LIMIT 0`);
  } catch (err) {
    throw new WorkbenchError('INVALID_ARGUMENT', `${what} is not a valid SQL predicate over dataset '${dataset}': ${firstLine((err as Error).message)}`, {
      dataset,
    });
  }
}

/** The dataset, with the optional join of the predicates' lookup tables. */
function source(dataset: string, join: string | undefined): string {
  return join ? `${ident(dataset)} ${join}` : ident(dataset);
}

/** What one raw pass computes; see rawChunks. */
interface RawQuery {
  dataset: string;
  columns: FittedRecipe['columns'];
  sensors: string[];
  centers: number[];
  /** Numeric features to produce, raw (unfilled, unscaled). */
  features: NumericFeature[];
  /** Predicate marking rows of interest; null = every row. */
  keep: string | null;
  categories: CategorySet[];
  extras: { name: string; numeric: boolean }[];
  /** Per-row predicates returned as RawChunk.flags. */
  flags: string[];
  /**
   * Indexes into flags: rows matching none of them only advance their group's history in the
   * kernel, and their features are NaN (at 10M rows, most training rows of a sampled preparation).
   * Undefined: the rows of interest (keep) need features.
   */
  needFlags?: number[];
  /** Per-row numeric expressions returned as RawChunk.numbers. */
  numbers?: string[];
  join?: string;
  /**
   * Disjoint ranges of the first group column, in sort order, together covering every row
   * (see groupPartitions); null = one query over every row.
   */
  parts?: string[] | null;
  /** FitPassOptions.sortKeys. */
  sortKeys?: Record<string, string>;
  /**
   * The dataset is stored in the pass's order (data/order.ts storedOrder) and the query keeps it
   * (no join, no window): stream it as stored, without ORDER BY; rowids must then ascend.
   */
  inOrder?: boolean;
  /** Run the kernel in a worker thread (a large pass: partitioned, or streamed as stored). */
  threaded?: boolean;
}

/**
 * One DuckDB chunk of raw features; NaN marks a missing value. Its arrays are reused for the
 * next chunk: a consumer copies what it keeps before asking for the next one.
 */
interface RawChunk {
  n: number;
  rid: Float64Array;
  /** 1 = row of interest; null when every row is. */
  keep: Uint8Array | null;
  /** n × features.length, row-major, in RawQuery.features order; NaN for rows that need none (RawQuery.needFlags). */
  feats: Float64Array;
  /** Category index per categorical (−1 = none). */
  cats: Float64Array[];
  extras: (number | string | null)[][];
  /** Aligned with RawQuery.flags; 1 = the predicate holds. */
  flags: Uint8Array[];
  /** Aligned with RawQuery.numbers; NaN = NULL. */
  numbers: Float64Array[];
}

/** The input CTE `b`: typed, cleaned inputs (`__s` sensor, `__c` category index, `__y` flags, `__z` numbers, `__x` extras). */
function baseSql(
  q: { dataset: string; columns: FittedRecipe['columns']; sensors: string[]; keep: string | null; categories: CategorySet[]; extras: { name: string; numeric: boolean }[]; flags?: string[]; numbers?: string[]; join?: string; sortKeys?: Record<string, string> },
  where: string | null = null,
): string {
  const sel = [`${ident(q.dataset)}.rowid AS __rid`, ...q.columns.groups.map((g, i) => `${ident(g)} AS __g${i}`), `${ident(q.columns.time)} AS __t`];
  q.columns.groups.forEach((g, i) => q.sortKeys?.[g] !== undefined && sel.push(`${q.sortKeys[g]} AS __k${i}`));
  q.sensors.forEach((s, j) => {
    const v = `CAST(${ident(s)} AS DOUBLE)`;
    // Non-finite readings count as missing, like NULL, in both evaluators.
    sel.push(`CASE WHEN isfinite(${v}) THEN ${v} END AS __s${j}`);
  });
  q.categories.forEach((c, i) => {
    const v = `CAST(${ident(c.column)} AS VARCHAR)`;
    const whens = c.values.map((val, k) => `WHEN ${v} = ${lit(val)} THEN ${k}`).join(' ');
    sel.push(`CAST(CASE WHEN ${v} IS NULL THEN -1 ${whens} ELSE ${c.other ? c.values.length : -1} END AS DOUBLE) AS __c${i}`);
  });
  sel.push(`${keepSql(q.keep)} AS __keep`);
  (q.flags ?? []).forEach((f, i) => sel.push(`${keepSql(f)} AS __y${i}`));
  (q.numbers ?? []).forEach((e, i) => sel.push(`CAST((${e}) AS DOUBLE) AS __z${i}`));
  q.extras.forEach((e, i) => sel.push(`CAST(${ident(e.name)} AS ${e.numeric ? 'DOUBLE' : 'VARCHAR'}) AS __x${i}`));
  return `b AS (SELECT ${sel.join(', ')} FROM ${source(q.dataset, q.join)}${where === null ? '' : ` WHERE ${where}`})`;
}

/**
 * The streaming query of a raw pass and the positions of its output columns: every row of
 * the groups holding a row of interest, sorted by (group, time, rowid), with the sensor readings (features are computed in JS,
 * kernel.ts), the keep and flag predicates packed as bits of one column, and a number that
 * tells where a group starts: the group's code when a sort key codes its one group column, else
 * 53 bits of the group's hash. Fewer columns matter: reading a column of a chunk is a native call
 * that costs more than its copy, and DuckDB makes each one.
 */
function rawSql(q: RawQuery, part: string | null = null): { sql: string; layout: { sensors: number; group: number; cats: number; extras: number; bits: number; numbers: number[] } } {
  const groups = q.columns.groups.length;
  const gcols = Array.from({ length: groups }, (_, i) => `__g${i}`);
  const outer = ['CAST(__rid AS DOUBLE)'];
  let pos = 1;
  // Bit 0: keep; bit 1 + k: flag k (bit k without a keep predicate).
  const bitsPos = q.keep !== null || q.flags.length ? pos++ : -1;
  if (bitsPos >= 0) {
    if (q.flags.length > 30) throw new WorkbenchError('INVALID_ARGUMENT', 'at most 30 row flags in one pass');
    const shift = q.keep === null ? 0 : 1;
    outer.push(`CAST(${[...(q.keep === null ? [] : ['CAST(__keep AS INTEGER)']), ...q.flags.map((_, i) => `CAST(__y${i} AS INTEGER) * ${2 ** (i + shift)}`)].join(' + ')} AS DOUBLE)`);
  }
  const groupPos = groups ? pos++ : -1;
  // One group column coded by a sort key (an ENUM's codes, prepare.ts): the code itself, NULL as −1
  // (no text hashed, and a number asking for the code is not streamed again: .scratch-perf/passcost.mts).
  // Otherwise the hash's top 53 bits, which fit a DOUBLE exactly; neighbouring groups in the sort share them with odds of 2^-53.
  const groupKey = groups === 1 ? q.sortKeys?.[q.columns.groups[0]!] : undefined;
  if (groupKey !== undefined) outer.push(`coalesce(CAST(__k0 AS DOUBLE), -1)`);
  else if (groups) outer.push(`CAST(hash(${gcols.join(', ')}) >> 11 AS DOUBLE)`);
  const sensorPos = pos;
  q.sensors.forEach((_, j) => {
    // NaN instead of NULL: vectors without a validity mask read several times faster.
    outer.push(`coalesce(__s${j}, CAST('NaN' AS DOUBLE))`);
    pos++;
  });
  const catPos = pos;
  q.categories.forEach((_, i) => {
    outer.push(`__c${i}`);
    pos++;
  });
  const extraPos = pos;
  q.extras.forEach((_, i) => {
    outer.push(`__x${i}`);
    pos++;
  });
  // A number that is the literal NULL (no such column) is not streamed: it reads as NaN (−1). One
  // that is the group's code reads the group column, its −1 as NaN (−2).
  const numPos = (q.numbers ?? []).map((e, i) => {
    if (/^\s*NULL\s*$/i.test(e)) return -1;
    if (groupKey !== undefined && e === groupKey) return -2;
    outer.push(`coalesce(__z${i}, CAST('NaN' AS DOUBLE))`);
    return pos++;
  });
  // Rows outside the rows of interest still feed their group's lags and windows: stream whole groups.
  const from = q.keep === null ? 'b' : `(SELECT *, bool_or(__keep) OVER (${groups ? `PARTITION BY ${gcols.join(', ')}` : ''}) AS __gkeep FROM b) WHERE __gkeep`;
  const sql = `WITH ${baseSql(q, part)}
SELECT ${outer.join(', ')} FROM ${from}${q.inOrder ? '' : ` ORDER BY ${[...q.columns.groups.map((g, i) => (q.sortKeys?.[g] !== undefined ? `__k${i}` : `__g${i}`)), '__t', '__rid'].join(', ')}`}`;
  return { sql, layout: { sensors: sensorPos, group: groupPos, cats: catPos, extras: extraPos, bits: bitsPos, numbers: numPos } };
}

const ALL_VALID = 0xffffffffffffffffn;
function readDoubles(chunk: DuckDBDataChunk, col: number, n: number): Float64Array {
  const v = chunk.getColumnVector(col);
  // A DOUBLE vector without NULLs (the feature queries turn NULL into NaN) is taken in one go; its
  // typed view is not in the package's public typings, so it is checked before use.
  const raw = v as unknown as { items?: unknown; validity?: { data?: unknown } };
  const mask = raw.validity?.data;
  if (raw.items instanceof Float64Array && raw.items.length >= n && (mask === null || mask instanceof BigUint64Array)) {
    // The vector's items are already a copy (the bindings copy every buffer they hand to JS).
    const out = raw.items.length === n ? raw.items : raw.items.subarray(0, n);
    if (mask) {
      // Validity: one bit per row, 1 = valid; words of all ones (the usual case) are skipped.
      for (let w = 0; w * 64 < n; w++) {
        const word = mask[w]!;
        if (word === ALL_VALID) continue;
        for (let b = 0; b < 64 && w * 64 + b < n; b++) if (((word >> BigInt(b)) & 1n) === 0n) out[w * 64 + b] = NaN;
      }
    }
    return out;
  }
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const x = v.getItem(i);
    out[i] = typeof x === 'number' ? x : NaN;
  }
  return out;
}

/** Values of a column as plain JS values; with `only`, just the rows where only[i] === 1 (others null). */
function readPlain(chunk: DuckDBDataChunk, col: number, n: number, only: ArrayLike<number> | null = null): (number | string | null)[] {
  const v = chunk.getColumnVector(col);
  const out = new Array<number | string | null>(n).fill(null);
  for (let i = 0; i < n; i++) {
    if (only && only[i] !== 1) continue;
    const x = v.getItem(i);
    out[i] = x === null ? null : typeof x === 'number' || typeof x === 'string' ? x : String(x);
  }
  return out;
}

function wrapDuckError(err: unknown, dataset: string, signal: AbortSignal | undefined): WorkbenchError {
  if (signal?.aborted) return cancelled();
  if (err instanceof WorkbenchError) return err;
  return new WorkbenchError('MODEL_FAILED', `feature query on dataset '${dataset}' failed: ${firstLine(err instanceof Error ? err.message : String(err))}`, { dataset });
}

/** Chunks a partitioned pass keeps in flight to its kernel thread (~130k rows): enough to ride out DuckDB's slower chunks while a part sorts. */
const KERNEL_DEPTH = 64;

/**
 * Run a raw pass, yielding one RawChunk per DuckDB chunk in (group, time, rowid) order, its
 * features computed row by row by the feature kernel. DuckDB makes the next chunk (on its own
 * thread) while the kernel works on this one. With q.parts, each part is its own query on its
 * own connection, and the next part's query starts when this one's rows start to flow: DuckDB
 * sorts it on its threads while the kernel works, rather than sorting every row before the
 * first one reaches the kernel. A partitioned pass also runs the kernel in a worker thread
 * (kernel-thread.ts): this thread reads the chunks and the caller routes the rows meanwhile.
 */
async function* rawChunks(ws: Workspace, q: RawQuery, signal?: AbortSignal): AsyncGenerator<RawChunk> {
  const built = (q.parts?.length ? q.parts : [null]).map((part) => rawSql(q, part));
  const { layout } = built[0]!;
  const S = q.sensors.length;
  const shift = q.keep === null ? 0 : 1;
  if (signal?.aborted) throw cancelled();
  // Inline, the features of one chunk at a time (their buffer is reused); threaded, up to KERNEL_DEPTH in flight.
  const threaded = q.threaded === true && q.features.length > 0;
  let lastRid = -1;
  /** A pass streamed as stored relies on DuckDB keeping the table's order: checked, never assumed. */
  const checkOrder = (rid: Float64Array, n: number): void => {
    for (let i = 0; i < n; i++) {
      if (!(rid[i]! > lastRid)) throw new WorkbenchError('INTERNAL', `rows of dataset '${q.dataset}' arrived out of their stored order (rowid ${rid[i]} after ${lastRid}); the feature pass stopped rather than compute features across mixed rows`, { dataset: q.dataset });
      lastRid = rid[i]!;
    }
  };
  const depth = threaded ? KERNEL_DEPTH : 1;
  const kernel: ChunkFeatures = threaded ? new KernelThread(q.features, q.centers, S, depth) : inlineKernel(q.features, q.centers, S);
  let nans = new Float64Array(0);
  const inflight: { n: number; feats: Promise<Float64Array>; rest: Omit<RawChunk, 'n' | 'feats'> }[] = [];
  const open = new Set<DuckDBConnection>();
  const onAbort = (): void => open.forEach((c) => c.interrupt());
  signal?.addEventListener('abort', onAbort);
  const start = async (sql: string): Promise<{ con: DuckDBConnection; result: DuckDBResult }> => {
    const con = await ws.connect();
    open.add(con);
    if (signal?.aborted) con.interrupt();
    const result = await con.stream(sql).catch((err: unknown) => {
      throw wrapDuckError(err, q.dataset, signal);
    });
    return { con, result };
  };
  let pending: Promise<DuckDBDataChunk | null> | null = null;
  let next: Promise<{ con: DuckDBConnection; result: DuckDBResult }> | null = null;
  const fetch = (result: { fetchChunk(): Promise<DuckDBDataChunk | null> }): Promise<DuckDBDataChunk | null> =>
    result.fetchChunk().catch((err: unknown) => {
      throw wrapDuckError(err, q.dataset, signal);
    });
  /** A group column of codes (−1 = NULL) as numbers (NaN = NULL), copied: the kernel thread takes the column. */
  const codesOf = (gid: Float64Array, n: number): Float64Array => {
    const out = new Float64Array(n);
    for (let i = 0; i < n; i++) out[i] = gid[i] === -1 ? NaN : gid[i]!;
    return out;
  };
  /** Everything of a chunk but its features (`gid`: its group column, read already). */
  const rest = (chunk: DuckDBDataChunk, n: number, gid: Float64Array | null): Omit<RawChunk, 'n' | 'feats'> => {
    const keep = q.keep === null ? null : new Uint8Array(n);
    const flags = q.flags.map(() => new Uint8Array(n));
    if (layout.bits >= 0) {
      const bits = readDoubles(chunk, layout.bits, n);
      for (let i = 0; i < n; i++) {
        const b = bits[i]!;
        if (keep) keep[i] = b & 1;
        for (let j = 0; j < flags.length; j++) flags[j]![i] = (b >> (j + shift)) & 1;
      }
    }
    return {
      rid: readDoubles(chunk, 0, n),
      keep,
      cats: q.categories.map((_, i) => readDoubles(chunk, layout.cats + i, n)),
      // Text extras cost a string per value: read them for rows of interest only.
      extras: q.extras.map((_, i) => readPlain(chunk, layout.extras + i, n, keep)),
      flags,
      numbers: layout.numbers.map((col) => (col === -1 ? nans.subarray(0, n) : col === -2 ? codesOf(gid!, n) : readDoubles(chunk, col, n))),
    };
  };
  /** Which rows of a chunk need their features (a copy: the kernel thread takes it); null = all. */
  const needOf = (c: Omit<RawChunk, 'n' | 'feats'>, n: number): Uint8Array | null => {
    if (q.needFlags === undefined) return c.keep?.slice() ?? null;
    const need = new Uint8Array(n);
    for (const j of q.needFlags) {
      const f = c.flags[j]!;
      for (let i = 0; i < n; i++) need[i] |= f[i]!;
    }
    return need;
  };
  /** Yield the chunks in flight, oldest first, until at most `left` remain. */
  async function* drain(left: number): AsyncGenerator<RawChunk> {
    while (inflight.length > left) {
      const c = inflight.shift()!;
      const feats = await c.feats;
      yield { n: c.n, feats, ...c.rest };
      kernel.recycle(feats);
      if (signal?.aborted) throw cancelled();
    }
  }
  try {
    next = start(built[0]!.sql);
    for (let part = 0; part < built.length; part++) {
      const { con, result } = await next!;
      next = part + 1 < built.length ? start(built[part + 1]!.sql) : null;
      // Its failure surfaces when it is awaited; until then it must not count as unhandled.
      next?.catch(() => undefined);
      pending = fetch(result);
      for (;;) {
        if (signal?.aborted) throw cancelled();
        const chunk = await pending;
        pending = null;
        if (!chunk || chunk.rowCount === 0) break;
        pending = fetch(result);
        const n = chunk.rowCount;
        if (n > nans.length) nans = new Float64Array(n).fill(NaN);
        const readings = Array.from({ length: S }, (_, s) => readDoubles(chunk, layout.sensors + s, n));
        const gid = layout.group >= 0 ? readDoubles(chunk, layout.group, n) : null;
        const other = rest(chunk, n, gid);
        if (q.inOrder) checkOrder(other.rid, n);
        const feats = kernel.features(n, readings, gid, needOf(other, n));
        feats.catch(() => undefined);
        inflight.push({ n, feats, rest: other });
        yield* drain(depth - 1);
      }
      open.delete(con);
      con.closeSync();
    }
    yield* drain(0);
  } finally {
    signal?.removeEventListener('abort', onAbort);
    // A chunk still being made must finish before its connection closes; a part not yet read is abandoned.
    if (pending) await pending.catch(() => undefined);
    if (next) {
      open.forEach((c) => c.interrupt());
      await next.catch(() => undefined);
    }
    open.forEach((c) => c.closeSync());
    await kernel.close();
  }
}

/**
 * Rows per part of a partitioned raw pass (rawChunks): at 10M rows, 5 parts. Measured there
 * (the 16-trial sweep's preparation): the first rows reached the kernel after 0.8 s rather
 * than 3.8 s, and the pass took 13.6–14.8 s rather than 14.3–15.7 s; the later parts' sorts
 * compete with the kernel for the cores. Tests lower it to split small datasets.
 */
export const RAW_PASS = { partRows: 2_000_000 };
/** Group column types whose values survive a round trip through their text form (the part bounds are written as literals). */
const PARTABLE = /^(VARCHAR|TINYINT|SMALLINT|INTEGER|BIGINT|UTINYINT|USMALLINT|UINTEGER|UBIGINT|DATE|TIMESTAMP)$/i;

/**
 * Split a raw pass over `total` rows into parts of about RAW_PASS.partRows rows by ranges of the
 * group column, in the pass' sort order (NULLs, sorted last, in the last part), so parts
 * streamed one after another give exactly the rows of the single sorted query. Null when
 * the pass is small, the column has one value, or its type is not one of PARTABLE.
 */
export async function groupPartitions(ws: Workspace, info: DatasetInfo, column: string, total: number): Promise<string[] | null> {
  const parts = Math.min(8, Math.round(total / RAW_PASS.partRows));
  const type = info.columns.find((c) => c.name === column)?.type ?? '';
  if (parts < 2 || !PARTABLE.test(type)) return null;
  const g = ident(column);
  // The first value of each part: a group's rows all go to the part its first row falls in.
  const firsts = await ws.query(
    `WITH g AS (SELECT ${g} AS v, count(*) AS n FROM ${ident(info.name)} WHERE ${g} IS NOT NULL GROUP BY 1),
     c AS (SELECT v, sum(n) OVER (ORDER BY v) - n AS before FROM g)
     SELECT floor(before * ${parts} / ${total})::INTEGER AS part, CAST(min(v) AS VARCHAR) AS first FROM c GROUP BY 1 ORDER BY 1`,
  );
  const bounds = firsts.slice(1).map((r) => `CAST(${lit(String(r.first))} AS ${type})`);
  if (bounds.length === 0) return null;
  return [...bounds, null].map((hi, i) => {
    const lo = i > 0 ? `${g} >= ${bounds[i - 1]}` : null;
    if (hi === null) return `(${lo} OR ${g} IS NULL)`;
    return lo ? `(${lo} AND ${g} < ${hi})` : `${g} < ${hi}`;
  });
}

/** First row of a query run on its own connection, so a long aggregate can be interrupted by `signal`. */
async function queryRow(ws: Workspace, sql: string, dataset: string, signal: AbortSignal | undefined): Promise<Record<string, Plain>> {
  if (signal?.aborted) throw cancelled();
  const con = await ws.connect();
  const onAbort = (): void => con.interrupt();
  signal?.addEventListener('abort', onAbort);
  try {
    const reader = await con.runAndReadAll(sql);
    const names = reader.deduplicatedColumnNames();
    const row = reader.getRows()[0] ?? [];
    return Object.fromEntries(names.map((n, i) => [n, toPlain(row[i])]));
  } catch (err) {
    throw wrapDuckError(err, dataset, signal);
  } finally {
    signal?.removeEventListener('abort', onAbort);
    con.closeSync();
  }
}

/** Per-feature training summary: over non-missing values (fill mean/drop) or zero-filled values (fill zero). */
interface FeatureSummary {
  count: number;
  avg: number | null;
  varPop: number | null;
}

/** Rows of one streamed chunk of a fit pass (see FitPassOptions.onRows), columnar. */
export interface FitPassRows {
  n: number;
  /** Width of a finished row: numeric features plus one-hot blocks (featureNames.length of the fitted recipe). */
  cols: number;
  /** Numeric features per row (copyRaw writes this many). */
  numeric: number;
  /** Categoricals per row (copyCats writes this many). */
  categoricals: number;
  rid: Float64Array;
  /** 1 = the row is a training row (matches trainFilter). */
  train: Uint8Array;
  /** 1 = the recipe is fitted on the row: a training row in fitSample (every training row without one). */
  fit: Uint8Array;
  /** Aligned with FitPassOptions.flags. */
  flags: Uint8Array[];
  /** Aligned with FitPassOptions.numbers; NaN = NULL. */
  numbers: Float64Array[];
  /** includeColumns values by name, for rows matching trainFilter or a flag (null elsewhere). */
  extra: Record<string, (number | string | null)[]>;
  /** Raw numeric features (NaN = missing), n × numeric, row-major; all NaN for a row matching neither `fit` nor a flag. */
  feats: Float64Array;
  /** Category index of row i per categorical (−1 = none) into out[offset…]. */
  copyCats(i: number, out: Int32Array, offset: number): void;
}

export interface FitPassOptions extends FitRecipeOptions {
  /** More row predicates: rows matching one are streamed to onRows too (the fit ignores them). */
  flags?: string[];
  /**
   * SQL predicate narrowing the training rows the recipe is fitted on (centers, categories, fill
   * values, scaler), e.g. a seeded sample when a model trains on a sample of them. The other
   * training rows still stream, to give later rows their history, but their features are not
   * computed: at 10M rows that was most of the feature kernel's work in a sampled preparation.
   */
  fitSample?: string;
  numbers?: string[];
  includeColumns?: string[];
  /** Receives every chunk of the pass (rows in group, time order), raw features unfinished; its arrays are reused after the call. */
  onRows?: (rows: FitPassRows) => void;
  /**
   * Per group column, an SQL expression over the source to sort its rows by instead of the
   * column's values, e.g. an integer code assigned in the values' order (an ENUM's, prepare.ts):
   * it must order the groups exactly as the values do (NULL last). Streaming 10M rows sorted by
   * such a code took 2.8–3.0 s, by the text trip id 3.6–5.9 s (DuckDB alone, measured).
   */
  sortKeys?: Record<string, string>;
}

/**
 * Fit a recipe on a dataset's training rows: categories, per-sensor centers,
 * fill values and the scaler all come from rows matching `trainFilter`. The
 * features of training rows are computed over every row (a row's history may
 * predate the training split; it never includes later rows). One streamed pass
 * over the window query feeds the training moments, accumulated in JS in the
 * stream's (group, time, rowid) order, so the same data always fits to the same
 * bits (DuckDB's parallel float aggregates do not promise that).
 * Throws DATASET_NOT_FOUND, INVALID_ARGUMENT (recipe, filter, empty split),
 * MODEL_FAILED (no usable training rows), CANCELLED.
 */
export async function fitRecipe(ws: Workspace, dataset: string, recipe: FeatureRecipe, opts: FitRecipeOptions = {}): Promise<FittedRecipe> {
  return fitPass(ws, dataset, recipe, opts);
}

/**
 * fitRecipe that also hands every streamed row (training rows and rows matching
 * `flags`) to `onRows`, so one pass can both fit a recipe and collect the rows to
 * finish with it (see core/models/prepare.ts).
 */
export async function fitPass(ws: Workspace, dataset: string, recipe: FeatureRecipe, opts: FitPassOptions = {}): Promise<FittedRecipe> {
  // Rowids change when a pending sort swaps the sorted rows in: not in the middle of a pass.
  await orderSettled(ws, dataset);
  const info = await getDataset(ws, dataset);
  validateRecipe(recipe, info);
  const columns = resolveColumns(recipe, info);
  const keep = opts.trainFilter ?? null;
  const join = opts.join;
  if (keep !== null) await checkPredicate(ws, dataset, keep, 'trainFilter', join);
  const flags = opts.flags ?? [];
  for (const f of flags) await checkPredicate(ws, dataset, f, 'flag', join);
  const sample = opts.fitSample ?? null;
  if (sample !== null) await checkPredicate(ws, dataset, sample, 'fitSample', join);
  const byName = new Map(info.columns.map((c) => [c.name, c]));
  const extras = (opts.includeColumns ?? []).map((name) => {
    const c = byName.get(name);
    if (!c) throw new WorkbenchError('INVALID_ARGUMENT', `includeColumns names column '${name}' which dataset '${dataset}' does not have`, { dataset, column: name });
    return { name, numeric: isNumericType(c.type) };
  });
  const signal = opts.signal;
  const table = source(dataset, join);
  const keepCond = keepSql(keep);
  // The rows the recipe is fitted on: the training rows, or the sample of them.
  const fitCond = sample === null ? keepCond : `${keepCond} AND ${keepSql(sample)}`;
  const warnings: string[] = [];

  // Stream the training rows and the flagged ones; the first flag marks training rows, then (with
  // a sample) the rows fitted on. Rows of neither the fit nor a flag only carry history.
  const fitFlags = sample === null ? [keep ?? 'true'] : [keep ?? 'true', fitCond];
  /** The flag of the rows fitted on; it and the later flags are the rows whose features are read. */
  const fitFlag = fitFlags.length - 1;
  const allFlags = [...fitFlags, ...flags];
  const anyFlag = keep === null ? null : [keep, ...flags].map((f) => `(${f})`).join(' OR ');
  const sensorVals = recipe.sensors.map((s) => `CASE WHEN isfinite(CAST(${ident(s)} AS DOUBLE)) THEN CAST(${ident(s)} AS DOUBLE) END`);
  // The same scan counts the rows no predicate selects: when there are none, the pass need not
  // look for groups without a row of interest (a window over every row, ~40% of its query at 10M rows).
  const head = await queryRow(
    ws,
    `SELECT count(*) AS total, count(*) FILTER (WHERE ${keepCond}) AS ntrain, count(*) FILTER (WHERE ${fitCond}) AS n, ${anyFlag === null ? '0' : `count(*) FILTER (WHERE NOT ${keepSql(anyFlag)})`} AS outside${sensorVals.map((v, j) => `, avg(${v}) FILTER (WHERE ${fitCond}) AS c${j}`).join('')} FROM ${table}`,
    dataset,
    signal,
  );
  const trainRows = Number(head.n ?? 0);
  if (trainRows === 0) {
    const what = Number(head.ntrain ?? 0) > 0 ? `fitSample selects none of the ${Number(head.ntrain)} training rows of dataset '${dataset}'` : keep === null ? `dataset '${dataset}' has no rows` : `trainFilter selects no rows of dataset '${dataset}'`;
    throw new WorkbenchError('INVALID_ARGUMENT', what, { dataset });
  }
  // Centers only make rolling sums better conditioned; rounding them keeps them independent of
  // the order DuckDB's threads added the values in.
  const centers = recipe.sensors.map((_, j) => {
    const c = head[`c${j}`];
    return typeof c === 'number' && Number.isFinite(c) ? Number(c.toPrecision(6)) : 0;
  });
  if (signal?.aborted) throw cancelled();

  const categories: CategorySet[] = [];
  for (const column of recipe.categoricals) {
    const rows = await ws.query(
      `SELECT CAST(${ident(column)} AS VARCHAR) AS v, count(*) AS n FROM ${table} WHERE ${fitCond} AND ${ident(column)} IS NOT NULL
       GROUP BY 1 ORDER BY n DESC, v LIMIT ${MAX_CATEGORIES + 1}`,
    );
    if (rows.length === 0) warnings.push(`categorical '${column}' has no values in the training rows; its one-hot block is empty`);
    categories.push({ column, values: rows.slice(0, MAX_CATEGORIES).map((r) => String(r.v)), other: rows.length > MAX_CATEGORIES });
  }

  const plan = planFeatures(recipe);
  const fill = recipe.fill;
  // With no row outside every predicate, every row is of interest: no keep predicate, no group filter.
  const rawKeep = Number(head.outside ?? 1) === 0 ? null : anyFlag;
  const total = Number(head.total ?? 0);
  // A dataset stored in the pass's order streams as stored; another is sorted by DuckDB, in parts when large.
  const stored = join ? null : await storedOrder(ws, dataset);
  const inOrder = rawKeep === null && stored !== null && stored.join('\u0000') === [...columns.groups, columns.time].join('\u0000');
  const parts = !inOrder && columns.groups.length ? await groupPartitions(ws, info, columns.groups[0]!, total) : null;
  const q: RawQuery = {
    dataset,
    columns,
    sensors: recipe.sensors,
    centers,
    features: plan,
    keep: rawKeep,
    categories,
    extras,
    flags: allFlags,
    // With neither a trainFilter nor a sample, every row's features feed the fit.
    needFlags: keep === null && sample === null ? undefined : allFlags.map((_, i) => i).slice(fitFlag),
    numbers: opts.numbers ?? [],
    join,
    parts,
    sortKeys: opts.sortKeys,
    inOrder,
    threaded: (parts?.length ?? 0) > 1 || (inOrder && total > RAW_PASS.partRows),
  };
  const k = plan.length;
  // Welford moments per feature, accumulated in stream order.
  const mn = new Float64Array(k);
  const mMean = new Float64Array(k);
  const mM2 = new Float64Array(k);
  const add = (f: number, x: number): void => {
    const n = ++mn[f]!;
    const d = x - mMean[f]!;
    const mean = mMean[f]! + d / n;
    mMean[f] = mean;
    mM2[f] = mM2[f]! + d * (x - mean);
  };
  const width = k + categories.reduce((a, c) => a + c.values.length + (c.other ? 1 : 0), 0);
  let used = 0;
  for await (const c of rawChunks(ws, q, signal)) {
    const isFit = c.flags[fitFlag]!;
    const feats = c.feats;
    for (let i = 0; i < c.n; i++) {
      if (isFit[i] !== 1) continue;
      const o = i * k;
      if (fill === 'drop') {
        let missing = false;
        for (let f = 0; f < k && !missing; f++) missing = Number.isNaN(feats[o + f]!);
        if (missing) continue;
      }
      used++;
      for (let f = 0; f < k; f++) {
        const x = feats[o + f]!;
        if (x === x) add(f, x);
        else if (fill === 'zero') add(f, 0);
      }
    }
    if (opts.onRows) {
      const extra: FitPassRows['extra'] = {};
      extras.forEach((e, j) => (extra[e.name] = c.extras[j]!));
      opts.onRows({
        n: c.n,
        cols: width,
        numeric: k,
        categoricals: categories.length,
        rid: c.rid,
        train: c.flags[0]!,
        fit: isFit,
        flags: c.flags.slice(fitFlag + 1),
        numbers: c.numbers,
        extra,
        feats,
        copyCats: (i, out, offset) => {
          for (let j = 0; j < c.cats.length; j++) out[offset + j] = c.cats[j]![i]!;
        },
      });
    }
  }
  const dropped = trainRows - used;
  if (fill === 'drop' && used === 0) {
    throw new WorkbenchError('MODEL_FAILED', `every training row of dataset '${dataset}' has a missing feature, so fill 'drop' leaves nothing; use fill 'mean' or 'zero', or shorter windows`, { dataset });
  }
  const summaries: FeatureSummary[] = plan.map((_, f) => ({ count: mn[f]!, avg: mn[f] ? mMean[f]! : null, varPop: mn[f] ? mM2[f]! / mn[f]! : null }));

  const fillValues = fill === 'drop' ? null : plan.map((f, i) => {
    if (fill === 'zero') return 0;
    const s = summaries[i]!;
    if (s.count === 0 || s.avg === null) {
      warnings.push(`feature '${f.name}' has no values in the training rows; filled with 0`);
      return 0;
    }
    return s.avg;
  });

  let scaler: FittedRecipe['scaler'] = null;
  if (recipe.standardize) {
    const mean: number[] = [];
    const std: number[] = [];
    const constant: string[] = [];
    plan.forEach((f, i) => {
      const s = summaries[i]!;
      let mu: number;
      let variance: number;
      if (fill === 'mean') {
        mu = fillValues![i]!;
        // Filled entries sit at the mean: they add rows but no squared deviation.
        variance = s.count > 0 && s.varPop !== null ? (s.varPop * s.count) / used : 0;
      } else {
        mu = s.avg ?? 0;
        variance = s.varPop ?? 0;
      }
      const sd = Math.sqrt(Math.max(0, variance));
      // Rounding leaves a constant column with a std of a few ulps of its sensor's magnitude, not
      // exactly 0 (e.g. the EWM deviation of a constant sensor); dividing by it would blow noise up to unit scale.
      const scale = Math.max(Math.abs(mu), Math.abs(centers[f.sensor]!));
      if (used < 2 || !(sd > 1e-10 * scale) || !Number.isFinite(sd)) {
        constant.push(f.name);
        mean.push(mu);
        std.push(1);
      } else {
        mean.push(mu);
        std.push(sd);
      }
    });
    if (constant.length) warnings.push(`constant in the training rows (scaled by 1, not by their std): ${constant.join(', ')}`);
    scaler = { mean, std, constant };
  }

  const fitted: FittedRecipe = {
    version: 1,
    dataset,
    recipe: structuredClone(recipe),
    columns,
    featureNames: [],
    numericCount: plan.length,
    centers,
    categories,
    fillValues,
    scaler,
    training: {
      filter: sample === null ? (opts.trainFilterShown ?? keep) : `${opts.trainFilterShown ?? keep ?? 'true'} AND ${sample}`,
      rows: trainRows,
      dropped,
      ...(sample === null ? {} : { sampledFrom: Number(head.ntrain) }),
    },
    warnings,
  };
  fitted.featureNames = featureNames(fitted);
  return fitted;
}

/** A fitted recipe applies to any dataset that has its columns with usable types. */
function checkFittedAgainst(fitted: FittedRecipe, info: DatasetInfo): void {
  if (!fitted || fitted.version !== 1 || !fitted.recipe || !Array.isArray(fitted.featureNames)) {
    throw new WorkbenchError('INVALID_ARGUMENT', 'not a fitted feature recipe (expected version 1 with recipe and featureNames)');
  }
  if (fitted.numericCount !== planFeatures(fitted.recipe).length || featureNames(fitted).join('\n') !== fitted.featureNames.join('\n')) {
    throw new WorkbenchError('INVALID_ARGUMENT', 'fitted recipe is inconsistent: its featureNames do not match its recipe and categories');
  }
  const byName = new Map(info.columns.map((c) => [c.name, c]));
  const need = [fitted.columns.time, ...fitted.columns.groups, ...fitted.recipe.sensors, ...fitted.recipe.categoricals];
  for (const name of need) {
    if (!byName.has(name)) {
      throw new WorkbenchError('INVALID_ARGUMENT', `fitted recipe needs column '${name}' which dataset '${info.name}' does not have`, { dataset: info.name, column: name });
    }
  }
  for (const s of fitted.recipe.sensors) {
    const t = byName.get(s)!.type;
    if (!isNumericType(t)) throw new WorkbenchError('INVALID_ARGUMENT', `column '${s}' is ${t}; sensors must be numeric`, { dataset: info.name, column: s });
  }
}

/**
 * Stream the features of a dataset under a fitted recipe, in chunks of at most
 * `chunkRows` rows ordered by group, then time, then rowid. Each chunk's matrix
 * has the fitted featureNames as columns. Only the current chunk lives in JS;
 * a dedicated DuckDB connection is held until the generator finishes or is
 * returned early (break out of the loop to release it).
 * Throws DATASET_NOT_FOUND, INVALID_ARGUMENT (options, missing columns),
 * MODEL_FAILED (query failure), CANCELLED.
 */
export async function* streamFeatures(ws: Workspace, dataset: string, fitted: FittedRecipe, opts: StreamFeaturesOptions = {}): AsyncGenerator<FeatureChunk> {
  await orderSettled(ws, dataset);
  const info = await getDataset(ws, dataset);
  checkFittedAgainst(fitted, info);
  const chunkRows = opts.chunkRows ?? DEFAULT_CHUNK_ROWS;
  if (!Number.isInteger(chunkRows) || chunkRows < 1) throw new WorkbenchError('INVALID_ARGUMENT', `chunkRows ${String(chunkRows)} must be a positive whole number`);
  const byName = new Map(info.columns.map((c) => [c.name, c]));
  const includes = opts.includeColumns ?? [];
  const extras = includes.map((name) => {
    const c = byName.get(name);
    if (!c) throw new WorkbenchError('INVALID_ARGUMENT', `includeColumns names column '${name}' which dataset '${dataset}' does not have`, { dataset, column: name });
    return { name, numeric: isNumericType(c.type) };
  });
  if (new Set(includes).size !== includes.length) throw new WorkbenchError('INVALID_ARGUMENT', 'includeColumns lists a column twice');
  const keep = opts.filter ?? null;
  if (keep !== null) await checkPredicate(ws, dataset, keep, 'filter', opts.join);
  const flagSql = opts.flags ?? [];
  for (const f of flagSql) await checkPredicate(ws, dataset, f, 'flag', opts.join);

  const plan = planFeatures(fitted.recipe);
  const fin = compileFinish(fitted);
  const cols = fin.cols;
  const q: RawQuery = {
    dataset,
    columns: fitted.columns,
    sensors: fitted.recipe.sensors,
    centers: fitted.centers,
    features: plan,
    keep,
    categories: fitted.categories,
    extras,
    flags: flagSql,
    numbers: opts.numbers ?? [],
    join: opts.join,
  };

  // Buffers grow by doubling up to chunkRows, so a generous chunkRows costs nothing on a small dataset.
  const initial = Math.min(chunkRows, 4096);
  let capacity = initial;
  let data = new Float64Array(capacity * cols);
  let rowIndex = new Float64Array(capacity);
  let extraCols = extras.map((): (number | string | null)[] => []);
  let flagCols = flagSql.map(() => new Uint8Array(capacity));
  const numSql = opts.numbers ?? [];
  let numCols = numSql.map(() => new Float64Array(capacity));
  let rows = 0;
  let dropped = 0;
  const grow = (): void => {
    capacity = Math.min(chunkRows, capacity * 2);
    const d = new Float64Array(capacity * cols);
    d.set(data);
    data = d;
    const r = new Float64Array(capacity);
    r.set(rowIndex);
    rowIndex = r;
    flagCols = flagCols.map((f) => {
      const g = new Uint8Array(capacity);
      g.set(f);
      return g;
    });
    numCols = numCols.map((f) => {
      const g = new Float64Array(capacity);
      g.set(f);
      return g;
    });
  };
  const flush = (): FeatureChunk => {
    const extra: FeatureChunk['extra'] = {};
    extras.forEach((e, k) => (extra[e.name] = extraCols[k]!));
    const full = rows === capacity;
    const out: FeatureChunk = {
      rows,
      matrix: { rows, cols, data: full ? data : data.slice(0, rows * cols), columns: fitted.featureNames.slice() },
      extra,
      rowIndex: full ? rowIndex : rowIndex.slice(0, rows),
      dropped,
      flags: flagCols.map((f) => (full ? f : f.slice(0, rows))),
      numbers: numCols.map((f) => (full ? f : f.slice(0, rows))),
    };
    capacity = initial;
    data = new Float64Array(capacity * cols);
    rowIndex = new Float64Array(capacity);
    extraCols = extras.map(() => []);
    flagCols = flagSql.map(() => new Uint8Array(capacity));
    numCols = numSql.map(() => new Float64Array(capacity));
    rows = 0;
    dropped = 0;
    return out;
  };

  const cats = new Float64Array(fitted.categories.length);
  for await (const c of rawChunks(ws, q, opts.signal)) {
    for (let i = 0; i < c.n; i++) {
      if (c.keep && c.keep[i] !== 1) continue;
      for (let k = 0; k < cats.length; k++) cats[k] = c.cats[k]![i]!;
      if (rows === capacity) grow();
      // A dropped row is written too and then overwritten by the next one.
      if (finishRow(fin, c.feats, cats, data, rows * cols, i * fin.numeric)) {
        dropped++;
        continue;
      }
      rowIndex[rows] = c.rid[i]!;
      for (let k = 0; k < flagCols.length; k++) flagCols[k]![rows] = c.flags[k]![i]!;
      for (let k = 0; k < numCols.length; k++) numCols[k]![rows] = c.numbers[k]![i]!;
      for (let k = 0; k < extras.length; k++) extraCols[k]!.push(c.extras[k]![i]!);
      rows++;
      if (rows === chunkRows) {
        yield flush();
        if (opts.signal?.aborted) throw cancelled();
      }
    }
  }
  if (rows > 0 || dropped > 0) yield flush();
}
