/**
 * Data preparation of a training run (issue #5), shared by the trials of a
 * sweep (issue #6). Steps: materialize the split, fit the feature recipe on the
 * training rows, then ONE feature pass that routes every row to the training
 * sample, the validation slice or the test rows (per-row flags computed by
 * DuckDB, so the predicates stay SQL). The arrays live in shared memory: the
 * trials, in model workers, read them without copies.
 *
 * The training sample: above maxTrainRows, DuckDB first marks a seeded hash
 * sample a little larger than needed, then a seeded reservoir trims it to exactly
 * maxTrainRows. Same data seed, same rows (the data seed is the run's seed unless
 * set apart: repeats fix it). The recipe (centers, categories, fill values, scaler)
 * is fitted on the hash sample, the rows the model's sample is drawn from, not on
 * every training row: the other training rows only pass their readings through the
 * feature kernel, for later rows' history, and their features are never computed
 * (at 10M rows, 7M of them: most of the kernel's work in a preparation).
 *
 * PreparedCache shares one preparation between runs whose data inputs are equal
 * (dataset, recipe, split, filter, data seed, …): a sweep over detector parameters
 * prepares its data once, a sweep over window sizes once per window.
 */
import { randomUUID } from 'node:crypto';
import { WorkbenchError } from '../api/errors.ts';
import { isTemporalType } from '../data/roles.ts';
import { datasetContext, type DatasetContext } from '../explore/context.ts';
import { fitPass, streamFeatures, type FitPassRows } from '../features/batch.ts';
import { compileFinish, finishRow } from '../features/recipe.ts';
import type { FittedRecipe } from '../features/recipe.ts';
import { createRng } from '../util/rng.ts';
import { giveShared, takeShared } from '../util/shared-buffers.ts';
import { ident, type Workspace } from '../workspace/workspace.ts';
import type { Matrix } from './detector.ts';
import type { NormalizedTrainRequest } from './train.ts';
import type { TestRows } from './trial.ts';
import { dropOrphanValues, dropUnusedRows, holdRows, writeRowsTable, writeRunScores } from '../experiments/scores.ts';

export interface PreparedData {
  fitted: FittedRecipe;
  /** Training sample (≤ maxTrainRows rows). */
  train: Matrix;
  /** Validation slice for a best-F1 threshold; labels NULL → 0. */
  validation: { matrix: Matrix; labels: Uint8Array } | null;
  test: TestRows;
  /**
   * Workspace table (schema fleetlens) of the test rows' identities (rid, device, trip, t, label)
   * that runs' scores align with (experiments/scores.ts). Written while the first trial runs:
   * wait for `rowsReady` before reading it.
   */
  rows: string;
  rowsReady: Promise<void>;
  /** Lets the rows table go once no run's scores read it. */
  releaseRows: () => void;
}

/** Inputs that decide a preparation: runs with equal keys can share it. */
export function prepareKey(r: NormalizedTrainRequest): string {
  return JSON.stringify({
    dataset: r.dataset,
    recipe: r.recipe,
    label: r.label,
    split: r.split,
    normalOnly: r.normalOnly,
    validation: r.threshold.kind === 'best-f1',
    evalDataset: r.evalDataset,
    failure: r.leadTime.failureColumn,
    dataSeed: r.dataSeed,
    maxTrainRows: r.maxTrainRows,
    filter: r.filter,
  });
}

// Shared so that trials in model workers read them in place; kept after the preparation for the next one (shared-buffers.ts).
function sharedF64(n: number): Float64Array {
  return new Float64Array(takeShared(Math.max(1, n) * 8), 0, n);
}
function sharedI32(n: number): Int32Array {
  return new Int32Array(takeShared(Math.max(1, n) * 4), 0, n);
}

function cancelled(): WorkbenchError {
  return new WorkbenchError('CANCELLED', 'the run was cancelled');
}

/**
 * Device and trip names coded by DuckDB: an ENUM type per column, its values the column's
 * distinct names in order, so rows carry integer codes and the names cross into JS once
 * (decoding a string per row was the largest single cost of a preparation). A cast rather
 * than a join: a join's output does not keep the table's order, a projection does, which
 * lets a pass stream a dataset stored in its order without sorting it (batch.ts).
 */
interface NameCodes {
  /** Numeric expressions of the device and trip codes (NULL → NaN). */
  exprs: [device: string, trip: string];
  /** The ENUM types made, to drop afterwards. */
  types: string[];
  /** Names by code, for device and trip; a NULL or absent column maps to ''. */
  load(): Promise<[string[], string[]]>;
  /** Code expressions by column, for the columns whose codes order their rows as their values do (text columns). */
  sortKeys: Record<string, string>;
}

async function nameCodes(ws: Workspace, ctx: DatasetContext, id: string): Promise<NameCodes> {
  const types: (string | null)[] = [];
  const exprs: string[] = [];
  const sortKeys: Record<string, string> = {};
  for (const [tag, col] of [['dev', ctx.device], ['trip', ctx.trip]] as const) {
    // An ENUM needs at least one value: a column with none codes every row NULL.
    if (!col || (await ws.query(`SELECT 1 FROM ${ctx.table} WHERE ${ident(col)} IS NOT NULL LIMIT 1`)).length === 0) {
      types.push(null);
      exprs.push('NULL');
      continue;
    }
    const t = `fleetlens.${ident(`prep${tag}__${id}`)}`;
    await ws.run(`CREATE TYPE ${t} AS ENUM (SELECT DISTINCT ${ident(col)}::VARCHAR AS n FROM ${ctx.table} WHERE ${ident(col)} IS NOT NULL ORDER BY n)`);
    types.push(t);
    const code = `enum_code(CAST(${ctx.table}.${ident(col)}::VARCHAR AS ${t}))`;
    exprs.push(code);
    // Codes follow the text's order: for a text column, the column's own order.
    if (/^VARCHAR$/i.test(ctx.info.columns.find((c) => c.name === col)?.type ?? '')) sortKeys[col] = code;
  }
  return {
    exprs: exprs as [string, string],
    types: types.filter((t): t is string => t !== null),
    sortKeys,
    load: async () => {
      const out: string[][] = [];
      for (const t of types) out.push(t === null ? [] : (await ws.query(`SELECT unnest(enum_range(NULL::${t})) AS n`)).map((r) => String(r.n)));
      return out as [string[], string[]];
    },
  };
}

/** Per-row numbers a run needs from DuckDB: time axis, 0/1 label, failure time (NULL where absent). */
function rowNumbers(ctx: DatasetContext, r: NormalizedTrainRequest, codes: NameCodes): [time: string, label: string, failure: string, device: string, trip: string] {
  const label = r.label ? `CASE WHEN ${ident(r.label)} IS NULL THEN NULL WHEN CAST(${ident(r.label)} AS DOUBLE) > 0 THEN 1 ELSE 0 END` : 'NULL';
  const f = r.leadTime.failureColumn;
  const fcol = f ? ctx.info.columns.find((c) => c.name === f) : undefined;
  // The failure column is checked against the dataset scored (the evaluation dataset when there is one).
  const failure = !fcol ? 'NULL' : isTemporalType(fcol.type) ? `epoch_ms(${ident(fcol.name)}::TIMESTAMP)::DOUBLE` : `TRY_CAST(${ident(fcol.name)} AS DOUBLE)`;
  return [ctx.timeExpr ?? 'NULL', label, failure, ...codes.exprs];
}

/** A SQL list literal of exact doubles (or booleans), NULL kept. */
function listLiteral(values: (number | boolean | null)[], type: 'DOUBLE' | 'BOOLEAN'): string {
  return `[${values.map((v) => (v === null ? 'NULL' : `'${String(v)}'`)).join(', ')}]::${type}[]`;
}

/**
 * Compute the split (per device: cut times or hold-out flag) and return SQL predicates over
 * the dataset for fit, validation and test rows. The per-device values are written into the
 * predicates as lists indexed by the device's code (no join; see NameCodes).
 */
async function makeSplit(ws: Workspace, ctx: DatasetContext, r: NormalizedTrainRequest, codes: NameCodes): Promise<{ fit: string; validation: string | null; test: string; fitShown: string }> {
  const tx = ctx.timeExpr;
  const dev = ctx.device ? `${ident(ctx.device)}::VARCHAR` : `'__all__'`;
  const withVal = r.threshold.kind === 'best-f1';
  let perDevice: { fit_cut: number | null; train_cut: number | null; is_test: boolean }[];
  const num = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v));
  if (r.split.kind === 'time') {
    if (!tx) throw new WorkbenchError('INVALID_ARGUMENT', `a time split needs a time column in dataset '${ctx.info.name}'`);
    const f = r.split.trainFraction;
    const rows = await ws.query(`SELECT ${dev} AS g, quantile_disc(${tx}, ${withVal ? f * 0.75 : f}) AS fit_cut, quantile_disc(${tx}, ${f}) AS train_cut FROM ${ctx.table} WHERE ${dev} IS NOT NULL GROUP BY 1 ORDER BY 1`);
    perDevice = rows.map((x) => ({ fit_cut: num(x.fit_cut), train_cut: num(x.train_cut), is_test: false }));
  } else {
    const all = await ws.query(`SELECT DISTINCT ${dev} AS g FROM ${ctx.table} ORDER BY 1`);
    // Seeded shuffle (Fisher-Yates) so the held-out devices are reproducible and recorded.
    const shuffled = all.map((x) => String(x.g));
    const rng = createRng(r.dataSeed ^ 0x5eed);
    for (let i = shuffled.length - 1; i > 0; i--) {
      const j = rng.int(i + 1);
      [shuffled[i], shuffled[j]] = [shuffled[j]!, shuffled[i]!];
    }
    const nTest = Math.max(1, Math.round(shuffled.length * r.split.holdoutFraction));
    if (nTest >= shuffled.length) throw new WorkbenchError('INVALID_ARGUMENT', `holding out ${nTest} of ${shuffled.length} devices leaves none to train on`);
    const test = new Set(shuffled.slice(0, nTest));
    const cuts = tx ? await ws.query(`SELECT ${dev} AS g, quantile_disc(${tx}, ${withVal ? 0.75 : 1}) AS fit_cut, max(${tx}) AS train_cut FROM ${ctx.table} WHERE ${dev} IS NOT NULL GROUP BY 1 ORDER BY 1`) : null;
    const devices = all.filter((x) => x.g !== null).map((x) => String(x.g));
    perDevice = devices.map((g, i) => ({ fit_cut: cuts ? num(cuts[i]!.fit_cut) : null, train_cut: cuts ? num(cuts[i]!.train_cut) : null, is_test: test.has(g) }));
  }
  // Devices sorted by name, as the device codes are; a row without a device (code NULL) is in no split.
  const look = (col: 'fit_cut' | 'train_cut' | 'is_test'): string => {
    const values = perDevice.map((d) => d[col]);
    const type = col === 'is_test' ? 'BOOLEAN' : 'DOUBLE';
    // Without a device column every row is in the one group '__all__' (NULL when the dataset is empty).
    return `list_extract(${listLiteral(values, type)}, ${ctx.device ? `${codes.exprs[0]} + 1` : '1'})`;
  };
  const fitPred = (at: (col: 'fit_cut' | 'is_test') => string): string => `(NOT ${at('is_test')}${tx ? ` AND ${tx} <= ${at('fit_cut')}` : ''})`;
  return {
    fit: fitPred(look),
    // As recorded in the fitted recipe: the device's split values by name, not the lists.
    fitShown: fitPred((col) => `split.${col}`),
    validation: withVal && tx ? `(NOT ${look('is_test')} AND ${tx} > ${look('fit_cut')} AND ${tx} <= ${look('train_cut')})` : null,
    test: r.split.kind === 'time' ? `(${tx} > ${look('train_cut')})` : `(${look('is_test')})`,
  };
}

/**
 * Split, fit the recipe and compute every feature row a trial needs, in one pass over the
 * dataset (plus one over the evaluation dataset when there is one).
 */
export async function prepareData(
  ws: Workspace,
  r: NormalizedTrainRequest,
  opts: { signal: AbortSignal; onPhase: (progress: number, phase: string) => Promise<void> },
): Promise<PreparedData> {
  const { signal, onPhase } = opts;
  const check = (): void => {
    if (signal.aborted) throw cancelled();
  };
  const id = randomUUID().replace(/-/g, '').slice(0, 16);
  const rowsName = `rows__${id}`;
  const ctx = await datasetContext(ws, r.dataset);
  const dropLater: string[] = [];
  try {
    await onPhase(0.02, 'splitting');
    const codes = await nameCodes(ws, ctx, id);
    dropLater.push(...codes.types);
    const split = await makeSplit(ws, ctx, r, codes);
    // A row filter (per-group children) narrows every split to its rows.
    const narrow = (p: string | null): string | null => (p === null ? null : r.filter ? `(${p} AND (${r.filter}))` : p);
    const preds = { fit: narrow(split.fit)!, validation: narrow(split.validation), test: narrow(split.test)!, fitShown: narrow(split.fitShown)! };
    check();

    await onPhase(0.05, 'computing the features');
    const normalPred = r.normalOnly && r.label ? ` AND coalesce(${ident(r.label)}, 0) = 0` : '';
    const fitPred = preds.fit + normalPred;
    const evalCtx = r.evalDataset ? await datasetContext(ws, r.evalDataset) : ctx;
    const testPred = r.evalDataset ? r.filter : preds.test;
    const counts = (await ws.query(
      `SELECT count(*) FILTER (WHERE ${fitPred}) AS fit, ${preds.validation ? `count(*) FILTER (WHERE ${preds.validation})` : '0'} AS val, ${r.evalDataset ? '0' : `count(*) FILTER (WHERE ${testPred})`} AS test FROM ${ctx.table}`,
    ))[0]!;
    const fitRows = Number(counts.fit);
    const cap = r.maxTrainRows;
    // Hash pre-sample in DuckDB with a margin (binomial spread), unless rows may be dropped for missing features.
    const margin = cap + 10 * Math.sqrt(cap) + 50;
    const sampleP = r.recipe.fill !== 'drop' && fitRows > margin ? margin / fitRows : 1;
    const samplePred = sampleP < 1 ? `hash(${ctx.table}.rowid, ${Math.floor(r.dataSeed)}) < ${BigInt(Math.floor(sampleP * 2 ** 53)) * 2048n}::UBIGINT` : null;
    const flags = [...(preds.validation ? [preds.validation] : []), ...(r.evalDataset ? [] : [testPred!])];

    // Rows are stored raw (numeric features unfinished, categories aside) until the fit is known,
    // then finished in place; storage is sized on the first chunk, when the row width is known.
    let train: RawStore | null = null;
    let validation: RawStore | null = null;
    let test: RawStore | null = null;
    const testMeta = new TestMeta(r.evalDataset ? 0 : Number(counts.test));
    let seen = 0;
    const rng = createRng(r.dataSeed);
    const dropMissing = r.recipe.fill === 'drop';
    const fitted = await fitPass(ws, r.dataset, r.recipe, {
      trainFilter: fitPred,
      trainFilterShown: preds.fitShown + normalPred,
      // The recipe is fitted on the rows the training sample is drawn from, as the model is trained
      // on them: the features of the other training rows are never computed.
      ...(samplePred === null ? {} : { fitSample: samplePred }),
      flags,
      numbers: rowNumbers(ctx, r, codes),
      sortKeys: codes.sortKeys,
      signal,
      onRows: (c) => {
        if (!train) {
          train = new RawStore(Math.min(cap, fitRows), c, { shared: true, labels: false });
          if (preds.validation) validation = new RawStore(Number(counts.val), c, { shared: true, labels: true });
          if (!r.evalDataset) test = new RawStore(Number(counts.test), c, { shared: true, labels: false });
        }
        const isSample = c.fit;
        const isVal = preds.validation ? c.flags[0]! : null;
        const isTest = r.evalDataset ? null : c.flags[c.flags.length - 1]!;
        const lab = c.numbers[1]!;
        for (let i = 0; i < c.n; i++) {
          const sample = isSample[i] === 1;
          const val = !sample && isVal !== null && isVal[i] === 1 && c.train[i] !== 1;
          const tst = !sample && !val && isTest !== null && isTest[i] === 1;
          if (!sample && !val && !tst) continue;
          if (dropMissing && hasMissing(c.feats, i * c.numeric, c.numeric)) continue;
          if (sample) {
            let slot = -1;
            if (train!.n < cap) slot = train!.n++;
            else {
              const j = Math.floor(rng.next() * (seen + 1));
              if (j < cap) slot = j;
            }
            seen++;
            if (slot >= 0) train!.put(slot, c, i);
          } else if (val) {
            validation!.put(validation!.n++, c, i);
            validation!.labels[validation!.n - 1] = lab[i] === 1 ? 1 : 0;
          } else {
            const k = test!.n++;
            test!.put(k, c, i);
            testMeta.put(k, c.rid[i]!, c.numbers, i);
          }
        }
      },
    });
    check();
    const fin = compileFinish(fitted);
    const cols = fin.cols;
    const names = fitted.featureNames;
    const trainRows = train ? (train as RawStore).finish(fin, names) : null;
    if (!trainRows || trainRows.rows === 0) {
      throw new WorkbenchError('MODEL_FAILED', `no training rows left after the split${r.normalOnly ? ' and the normal-only filter' : ''}${dropMissing ? ' and dropping rows with missing features' : ''}`);
    }
    const valRows = validation ? (validation as RawStore).finish(fin, names) : null;
    let testRows: Matrix;
    if (r.evalDataset) {
      await onPhase(0.25, `computing the features of '${evalCtx.info.name}'`);
      const n = Number((await ws.query(`SELECT count(*) AS n FROM ${evalCtx.table}${testPred ? ` WHERE ${testPred}` : ''}`))[0]!.n);
      const data = sharedF64(n * cols);
      testMeta.resize(n);
      const evalCodes = await nameCodes(ws, evalCtx, `${id}e`);
      dropLater.push(...evalCodes.types);
      let k = 0;
      for await (const chunk of streamFeatures(ws, evalCtx.info.name, fitted, { filter: testPred ?? undefined, numbers: rowNumbers(evalCtx, r, evalCodes), signal })) {
        if (k + chunk.rows > n) throw new WorkbenchError('INTERNAL', 'more evaluation rows than counted; was the dataset changed during the run?');
        data.set(chunk.matrix.data.subarray(0, chunk.rows * cols), k * cols);
        for (let i = 0; i < chunk.rows; i++, k++) testMeta.put(k, chunk.rowIndex[i]!, chunk.numbers, i);
      }
      testRows = { rows: k, cols, data: data.subarray(0, k * cols), columns: fitted.featureNames };
      testMeta.names(...(await evalCodes.load()));
      check();
    } else {
      testRows = test ? (test as RawStore).finish(fin, names) : { rows: 0, cols, data: new Float64Array(0), columns: names };
      testMeta.names(...(await codes.load()));
    }
    const rows = testMeta.finish(testRows, evalCtx.temporal);
    if (rows.rows === 0) throw new WorkbenchError('MODEL_FAILED', 'no test rows to score after the split (or every row was dropped for missing features)');
    // Trials start now; the identities are written meanwhile (runs wait for them before storing scores).
    const releaseRows = holdRows(ws, rowsName);
    const rowsReady = writeRowsTable(ws, rowsName, rows);
    rowsReady.catch(() => undefined);
    return {
      fitted,
      train: trainRows,
      validation: valRows ? { matrix: valRows, labels: (validation as unknown as RawStore).labels.subarray(0, valRows.rows) } : null,
      test: rows,
      rows: rowsName,
      rowsReady,
      releaseRows,
    };
  } catch (err) {
    throw signal.aborted ? cancelled() : err;
  } finally {
    // Not awaited: a DROP can wait on a checkpoint (~2 s measured at 10M rows), and the trials need not.
    void (async () => {
      for (const t of dropLater) await ws.run(`DROP TYPE IF EXISTS ${t}`).catch(() => undefined);
    })();
  }
}

/**
 * Rows stored raw at the finished row width (numeric features first, one-hot blocks
 * left blank) with their category indices aside; finish() applies the fitted recipe
 * in place. Shared memory when trials in workers read it.
 */
class RawStore {
  n = 0;
  readonly data: Float64Array;
  /** Category index per row and categorical (−1 = none). */
  private readonly cats: Int32Array;
  /** 0/1 label per row, for the validation slice. */
  readonly labels: Uint8Array;
  constructor(
    private readonly capacity: number,
    private readonly shape: Pick<FitPassRows, 'cols' | 'numeric' | 'categoricals'>,
    opts: { shared: boolean; labels: boolean },
  ) {
    this.data = opts.shared ? sharedF64(capacity * shape.cols) : new Float64Array(capacity * shape.cols);
    this.cats = new Int32Array(capacity * shape.categoricals);
    this.labels = new Uint8Array(opts.labels ? capacity : 0);
  }

  /** Row i of chunk c into `slot`. */
  put(slot: number, c: FitPassRows, i: number): void {
    if (slot >= this.capacity) throw new WorkbenchError('INTERNAL', 'more rows than counted; was the dataset changed during the run?');
    // An element loop: TypedArray#set of a few dozen values costs ~1 µs a call in V8.
    const off = slot * this.shape.cols;
    const k = c.numeric;
    const src = c.feats;
    const from = i * k;
    for (let f = 0; f < k; f++) this.data[off + f] = src[from + f]!;
    if (this.shape.categoricals) c.copyCats(i, this.cats, slot * this.shape.categoricals);
  }

  finish(fin: ReturnType<typeof compileFinish>, columns: string[]): Matrix {
    const { cols, categoricals: nc } = this.shape;
    for (let k = 0; k < this.n; k++) {
      const off = k * cols;
      finishRow(fin, this.data, nc ? this.cats.subarray(k * nc, (k + 1) * nc) : NO_CATS, this.data, off, off);
    }
    return { rows: this.n, cols, data: this.data.subarray(0, this.n * cols), columns };
  }
}
const NO_CATS = new Int32Array(0);

function hasMissing(feats: Float64Array, from: number, k: number): boolean {
  for (let f = 0; f < k; f++) if (Number.isNaN(feats[from + f]!)) return true;
  return false;
}

/** Identities of the test rows (rowid, device, trip, time, label, failure), in shared arrays. */
class TestMeta {
  private devices: string[] = [];
  private trips: string[] = [];
  private a: Omit<TestRows, 'devices' | 'trips' | 'rows' | 'temporal' | 'matrix'>;
  constructor(capacity: number) {
    this.a = TestMeta.alloc(capacity);
  }
  private static alloc(n: number): Omit<TestRows, 'devices' | 'trips' | 'rows' | 'temporal' | 'matrix'> {
    return { rid: sharedF64(n), device: sharedI32(n), trip: sharedI32(n), time: sharedF64(n), label: sharedF64(n), failure: sharedF64(n) };
  }
  resize(n: number): void {
    this.a = TestMeta.alloc(n);
  }
  /** Row i of a chunk streamed with numbers = rowNumbers(); a missing device or trip code becomes −1 (name ''). */
  put(k: number, rid: number, numbers: Float64Array[], i: number): void {
    const o = this.a;
    o.rid[k] = rid;
    o.time[k] = numbers[0]![i]!;
    o.label[k] = numbers[1]![i]!;
    o.failure[k] = numbers[2]![i]!;
    const d = numbers[3]![i]!;
    const t = numbers[4]![i]!;
    o.device[k] = Number.isNaN(d) ? -1 : d;
    o.trip[k] = Number.isNaN(t) ? -1 : t;
  }
  /** The names the codes index. */
  names(devices: string[], trips: string[]): void {
    this.devices = devices;
    this.trips = trips;
  }
  finish(matrix: Matrix, temporal: boolean): TestRows {
    const n = matrix.rows;
    const o = this.a;
    // Code −1 (NULL or no such column) gets the name '' at the end of each list.
    const remap = (codes: Int32Array, names: string[]): string[] => {
      let blank = -1;
      for (let k = 0; k < n; k++) {
        if (codes[k] !== -1) continue;
        if (blank < 0) blank = names.push('') - 1;
        codes[k] = blank;
      }
      return names;
    };
    return {
      rows: n,
      matrix,
      rid: o.rid.subarray(0, n),
      device: o.device.subarray(0, n),
      devices: remap(o.device, [...this.devices]),
      trip: o.trip.subarray(0, n),
      trips: remap(o.trip, [...this.trips]),
      time: o.time.subarray(0, n),
      label: o.label.subarray(0, n),
      failure: o.failure.subarray(0, n),
      temporal,
    };
  }
}

/** Store a run's scores against the preparation's test rows (see experiments/scores.ts). */
export async function writeScores(ws: Workspace, data: PreparedData, runId: string, scores: Float64Array, threshold: number): Promise<void> {
  await data.rowsReady;
  await writeRunScores(ws, data.rows, runId, scores, threshold);
}

/** Let the preparation's rows table go (dropped unless runs' scores read it); the arrays go with the last reference. */
export async function disposePrepared(ws: Workspace, data: PreparedData): Promise<void> {
  await data.rowsReady.catch(() => undefined);
  data.releaseRows();
  // Nothing reads the arrays now: their memory serves the next preparation.
  const t = data.test;
  giveShared([data.train.data, data.validation?.matrix.data, t.matrix.data, t.rid, t.device, t.trip, t.time, t.label, t.failure].flatMap((a) => (a ? [a.buffer] : [])));
  await dropUnusedRows(ws).catch(() => undefined);
}

/** Leftovers of preparations a killed process never dropped. */
export async function dropStalePreparations(ws: Workspace): Promise<void> {
  const rows = await ws.query(`SELECT table_name AS t FROM duckdb_tables() WHERE schema_name = 'fleetlens' AND (table_name LIKE 'prep%\\_\\_%' ESCAPE '\\' OR table_name LIKE 'scorestage\\_\\_%' ESCAPE '\\' OR table_name LIKE 'split\\_\\_%' ESCAPE '\\')`);
  for (const { t } of rows) await ws.run(`DROP TABLE IF EXISTS fleetlens.${ident(String(t))}`);
  const types = await ws.query(`SELECT type_name AS t FROM duckdb_types() WHERE schema_name = 'fleetlens' AND type_name LIKE 'prep%\\_\\_%' ESCAPE '\\'`);
  for (const { t } of types) await ws.run(`DROP TYPE IF EXISTS fleetlens.${ident(String(t))}`);
  await dropOrphanValues(ws);
  await dropUnusedRows(ws);
}

interface CacheEntry {
  refs: number;
  data: Promise<PreparedData> | null;
  abort: AbortController;
}

/**
 * Preparations shared by key. A holder (a run, or a sweep for its whole length) holds
 * a reference; the first acquire prepares; the last release disposes, or cancels a
 * preparation still running.
 */
export class PreparedCache {
  private readonly entries = new Map<string, CacheEntry>();
  constructor(private readonly ws: Workspace) {}

  hold(key: string): void {
    let e = this.entries.get(key);
    if (!e) this.entries.set(key, (e = { refs: 0, data: null, abort: new AbortController() }));
    e.refs++;
  }

  /** The preparation for `key` (held by the caller), made by `make` on first use. Rejects with CANCELLED when `signal` fires. */
  acquire(key: string, make: (signal: AbortSignal) => Promise<PreparedData>, signal: AbortSignal): Promise<PreparedData> {
    const e = this.entries.get(key);
    if (!e) throw new Error('acquire without hold');
    if (!e.data) {
      e.data = make(e.abort.signal);
      // A failed preparation is not kept: the next holder tries again.
      e.data.catch(() => {
        if (this.entries.get(key) === e) e.data = null;
      });
    }
    const data = e.data;
    return new Promise((resolve, reject) => {
      const onAbort = (): void => reject(cancelled());
      if (signal.aborted) return onAbort();
      signal.addEventListener('abort', onAbort, { once: true });
      data.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
    });
  }

  release(key: string): void {
    const e = this.entries.get(key);
    if (!e || --e.refs > 0) return;
    this.entries.delete(key);
    e.abort.abort();
    e.data?.then((d) => disposePrepared(this.ws, d)).catch(() => undefined);
  }
}
