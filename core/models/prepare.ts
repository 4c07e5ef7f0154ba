/**
 * Data preparation of a training run (issue #5), shared by the trials of a
 * sweep (issue #6). Steps: materialize the split, fit the feature recipe on the
 * training rows, then ONE feature pass that routes every row to the training
 * sample, the validation slice or the test rows (per-row flags computed by
 * DuckDB, so the predicates stay SQL). The arrays live in shared memory: the
 * trials, in model workers, read them without copies.
 *
 * The training sample: above maxTrainRows, DuckDB first keeps a seeded hash
 * sample a little larger than needed (so the other rows never reach JS), then a
 * seeded reservoir trims it to exactly maxTrainRows. Same seed, same rows.
 *
 * PreparedCache shares one preparation between runs whose data inputs are equal
 * (dataset, recipe, split, filter, seed, …): a sweep over detector parameters
 * prepares its data once, a sweep over window sizes once per window.
 */
import { randomUUID } from 'node:crypto';
import { DuckDBDataChunk, DuckDBDoubleType, DuckDBIntegerType, DuckDBDoubleVector, DuckDBIntegerVector } from '@duckdb/node-api';
import { WorkbenchError } from '../api/errors.ts';
import { isTemporalType } from '../data/roles.ts';
import { datasetContext, type DatasetContext } from '../explore/context.ts';
import { fitRecipe, streamFeatures } from '../features/batch.ts';
import type { FittedRecipe } from '../features/recipe.ts';
import { createRng } from '../util/rng.ts';
import { ident, lit, type Workspace } from '../workspace/workspace.ts';
import type { Matrix } from './detector.ts';
import type { NormalizedTrainRequest } from './train.ts';
import type { TestRows } from './trial.ts';

export interface PreparedData {
  fitted: FittedRecipe;
  /** Training sample (≤ maxTrainRows rows). */
  train: Matrix;
  /** Validation slice for a best-F1 threshold; labels NULL → 0. */
  validation: { matrix: Matrix; labels: Uint8Array } | null;
  test: TestRows;
  /** Workspace table of the test rows' identities (pos, rid, device, trip, t, label), for the scores tables. */
  metaTable: string;
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
    seed: r.seed,
    maxTrainRows: r.maxTrainRows,
    filter: r.filter,
  });
}

function sharedF64(n: number): Float64Array {
  return new Float64Array(new SharedArrayBuffer(Math.max(1, n) * 8), 0, n);
}
function sharedI32(n: number): Int32Array {
  return new Int32Array(new SharedArrayBuffer(Math.max(1, n) * 4), 0, n);
}

function cancelled(): WorkbenchError {
  return new WorkbenchError('CANCELLED', 'the run was cancelled');
}

/** Dictionary coding for device and trip names. */
class Codes {
  readonly names: string[] = [];
  private readonly index = new Map<string, number>();
  code(name: string): number {
    let c = this.index.get(name);
    if (c === undefined) {
      c = this.names.length;
      this.index.set(name, c);
      this.names.push(name);
    }
    return c;
  }
}

/** Per-row numbers a run needs from DuckDB: time axis, 0/1 label, failure time (NULL where absent). */
function rowNumbers(ctx: DatasetContext, r: NormalizedTrainRequest): [time: string, label: string, failure: string] {
  const label = r.label ? `CASE WHEN ${ident(r.label)} IS NULL THEN NULL WHEN CAST(${ident(r.label)} AS DOUBLE) > 0 THEN 1 ELSE 0 END` : 'NULL';
  const f = r.leadTime.failureColumn;
  const fcol = f ? ctx.info.columns.find((c) => c.name === f) : undefined;
  const failure = !f ? 'NULL' : fcol && isTemporalType(fcol.type) ? `epoch_ms(${ident(f)}::TIMESTAMP)::DOUBLE` : `TRY_CAST(${ident(f)} AS DOUBLE)`;
  return [ctx.timeExpr ?? 'NULL', label, failure];
}

/**
 * Materialize the split as a small table (one row per device: cut times or hold-out flag)
 * and return SQL predicates over the dataset for fit, validation and test rows.
 */
async function makeSplit(ws: Workspace, ctx: DatasetContext, r: NormalizedTrainRequest, table: string): Promise<{ fit: string; validation: string | null; test: string; join: string }> {
  const tx = ctx.timeExpr;
  const dev = ctx.device ? `${ident(ctx.device)}::VARCHAR` : `'__all__'`;
  const withVal = r.threshold.kind === 'best-f1';
  if (r.split.kind === 'time') {
    if (!tx) throw new WorkbenchError('INVALID_ARGUMENT', `a time split needs a time column in dataset '${ctx.info.name}'`);
    const f = r.split.trainFraction;
    await ws.run(
      `CREATE OR REPLACE TABLE ${table} AS SELECT ${dev} AS __sp_g, quantile_disc(${tx}, ${withVal ? f * 0.75 : f}) AS __sp_fit_cut, quantile_disc(${tx}, ${f}) AS __sp_train_cut, false AS __sp_is_test FROM ${ctx.table} GROUP BY 1`,
    );
  } else {
    const devices = (await ws.query(`SELECT DISTINCT ${dev} AS g FROM ${ctx.table} ORDER BY 1`)).map((x) => String(x.g));
    // Seeded shuffle (Fisher-Yates) so the held-out devices are reproducible and recorded.
    const rng = createRng(r.seed ^ 0x5eed);
    for (let i = devices.length - 1; i > 0; i--) {
      const j = rng.int(i + 1);
      [devices[i], devices[j]] = [devices[j]!, devices[i]!];
    }
    const nTest = Math.max(1, Math.round(devices.length * r.split.holdoutFraction));
    if (nTest >= devices.length) throw new WorkbenchError('INVALID_ARGUMENT', `holding out ${nTest} of ${devices.length} devices leaves none to train on`);
    const test = new Set(devices.slice(0, nTest));
    const cut = tx ? `quantile_disc(${tx}, ${withVal ? 0.75 : 1})` : 'NULL::DOUBLE';
    await ws.run(`CREATE OR REPLACE TABLE ${table} AS SELECT ${dev} AS __sp_g, ${cut} AS __sp_fit_cut, ${tx ? `max(${tx})` : 'NULL::DOUBLE'} AS __sp_train_cut, ${dev} IN (${[...test].map(lit).join(', ')}) AS __sp_is_test FROM ${ctx.table} GROUP BY 1`);
  }
  // Predicates read the split through a join (one row per device), not correlated subqueries:
  // they are evaluated for every row of the dataset.
  const look = (col: string): string => `__sp.__sp_${col}`;
  const fitTime = tx ? ` AND ${tx} <= ${look('fit_cut')}` : '';
  return {
    fit: `(NOT ${look('is_test')}${fitTime})`,
    validation: withVal && tx ? `(NOT ${look('is_test')} AND ${tx} > ${look('fit_cut')} AND ${tx} <= ${look('train_cut')})` : null,
    test: r.split.kind === 'time' ? `(${tx} > ${look('train_cut')})` : `(${look('is_test')})`,
    join: `LEFT JOIN ${table} __sp ON __sp.__sp_g = ${dev}`,
  };
}

/** Growable row-major rows plus labels (the validation slice). */
class Rows {
  data: Float64Array;
  labels: Uint8Array;
  n = 0;
  constructor(private readonly cols: number) {
    this.data = new Float64Array(1024 * cols);
    this.labels = new Uint8Array(1024);
  }
  push(row: Float64Array, label: number): void {
    if (this.n === this.labels.length) {
      const d = new Float64Array(this.data.length * 2);
      d.set(this.data);
      this.data = d;
      const l = new Uint8Array(this.labels.length * 2);
      l.set(this.labels);
      this.labels = l;
    }
    this.data.set(row, this.n * this.cols);
    this.labels[this.n++] = label;
  }
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
  const splitTable = `fleetlens.${ident(`split__${id}`)}`;
  const metaTable = `fleetlens.${ident(`prep__${id}`)}`;
  const ctx = await datasetContext(ws, r.dataset);
  try {
    await onPhase(0.02, 'splitting');
    const split = await makeSplit(ws, ctx, r, splitTable);
    // A row filter (per-group children) narrows every split to its rows.
    const narrow = (p: string | null): string | null => (p === null ? null : r.filter ? `(${p} AND (${r.filter}))` : p);
    const preds = { fit: narrow(split.fit)!, validation: narrow(split.validation), test: narrow(split.test)! };
    check();

    await onPhase(0.05, 'fitting the feature recipe');
    const normalPred = r.normalOnly && r.label ? ` AND coalesce(${ident(r.label)}, 0) = 0` : '';
    const fitted = await fitRecipe(ws, r.dataset, r.recipe, { trainFilter: preds.fit + normalPred, signal, join: split.join });
    check();

    await onPhase(0.15, 'computing the features');
    const cols = fitted.featureNames.length;
    const cap = r.maxTrainRows;
    // Hash pre-sample in DuckDB with a margin (binomial spread), unless rows may be dropped for missing features.
    const fitRows = fitted.training.rows;
    const margin = cap + 10 * Math.sqrt(cap) + 50;
    const sampleP = fitted.recipe.fill !== 'drop' && fitRows > margin ? margin / fitRows : 1;
    const samplePred = sampleP < 1 ? ` AND hash(${ctx.table}.rowid, ${Math.floor(r.seed)}) < ${BigInt(Math.floor(sampleP * 2 ** 53)) * 2048n}::UBIGINT` : '';
    const evalCtx = r.evalDataset ? await datasetContext(ws, r.evalDataset) : ctx;
    const testPred = r.evalDataset ? r.filter : preds.test;

    const trainData = new Float64Array(new SharedArrayBuffer(Math.max(1, Math.min(cap, fitRows)) * cols * 8));
    let trainN = 0;
    let seen = 0;
    const rng = createRng(r.seed);
    const validation = preds.validation !== null ? new Rows(cols) : null;
    const test = await TestBuilder.create(ws, evalCtx, testPred, r.evalDataset ? undefined : split.join, cols, fitted.featureNames, r);

    const flags = [preds.fit + normalPred + samplePred, ...(preds.validation !== null ? [preds.validation] : []), ...(r.evalDataset ? [] : [testPred!])];
    const extras = r.evalDataset ? [] : test.extras;
    const numbers = rowNumbers(ctx, r);
    for await (const chunk of streamFeatures(ws, r.dataset, fitted, { filter: flags.map((f) => `(${f})`).join(' OR '), flags, join: split.join, includeColumns: extras, numbers, signal })) {
      const m = chunk.matrix.data;
      const [isFit, ...rest] = chunk.flags;
      const isVal = validation ? rest[0]! : null;
      const isTest = r.evalDataset ? null : rest[rest.length - 1]!;
      const lab = chunk.numbers[1]!;
      for (let i = 0; i < chunk.rows; i++) {
        const row = m.subarray(i * cols, (i + 1) * cols);
        if (isFit![i]) {
          let slot = -1;
          if (trainN < cap) slot = trainN++;
          else {
            const j = Math.floor(rng.next() * (seen + 1));
            if (j < cap) slot = j;
          }
          seen++;
          if (slot >= 0) trainData.set(row, slot * cols);
        } else if (isVal && isVal[i]) {
          validation!.push(row, lab[i] === 1 ? 1 : 0);
        } else if (isTest && isTest[i]) {
          test.push(chunk, i, row);
        }
      }
    }
    check();
    if (trainN === 0) {
      throw new WorkbenchError('MODEL_FAILED', `no training rows left after the split${r.normalOnly ? ' and the normal-only filter' : ''}${fitted.recipe.fill === 'drop' ? ' and dropping rows with missing features' : ''}`);
    }
    if (r.evalDataset) {
      await onPhase(0.25, `computing the features of '${evalCtx.info.name}'`);
      for await (const chunk of streamFeatures(ws, evalCtx.info.name, fitted, { filter: testPred ?? undefined, includeColumns: test.extras, numbers: rowNumbers(evalCtx, r), signal })) {
        for (let i = 0; i < chunk.rows; i++) test.push(chunk, i, chunk.matrix.data.subarray(i * cols, (i + 1) * cols));
      }
      check();
    }
    if (test.n === 0) throw new WorkbenchError('MODEL_FAILED', 'no test rows to score after the split (or every row was dropped for missing features)');
    await onPhase(0.28, 'storing the test rows');
    const rows = test.finish();
    await writeMeta(ws, metaTable, rows);
    return {
      fitted,
      train: { rows: trainN, cols, data: trainData.subarray(0, trainN * cols), columns: fitted.featureNames },
      validation: validation ? { matrix: { rows: validation.n, cols, data: validation.data.slice(0, validation.n * cols), columns: fitted.featureNames }, labels: validation.labels.slice(0, validation.n) } : null,
      test: rows,
      metaTable,
    };
  } catch (err) {
    await ws.run(`DROP TABLE IF EXISTS ${metaTable}`).catch(() => undefined);
    throw signal.aborted ? cancelled() : err;
  } finally {
    await ws.run(`DROP TABLE IF EXISTS ${splitTable}`).catch(() => undefined);
  }
}

/** Collects the test rows into shared arrays sized by a count of the candidate rows. */
class TestBuilder {
  n = 0;
  private readonly devices = new Codes();
  private readonly trips = new Codes();
  private constructor(
    private readonly ctx: DatasetContext,
    private readonly r: NormalizedTrainRequest,
    readonly extras: string[],
    private readonly cols: number,
    private readonly columns: string[],
    private readonly out: Omit<TestRows, 'devices' | 'trips' | 'rows' | 'temporal'>,
  ) {}

  static async create(ws: Workspace, ctx: DatasetContext, pred: string | null, join: string | undefined, cols: number, columns: string[], r: NormalizedTrainRequest): Promise<TestBuilder> {
    const [{ n }] = (await ws.query(`SELECT count(*) AS n FROM ${ctx.table}${join ? ` ${join}` : ''}${pred ? ` WHERE ${pred}` : ''}`)) as [{ n: number }];
    const cap = Number(n);
    const extras = [...new Set([ctx.device, ctx.trip].filter((c): c is string => c !== null))];
    return new TestBuilder(ctx, r, extras, cols, columns, {
      matrix: { rows: 0, cols, data: sharedF64(cap * cols), columns },
      rid: sharedF64(cap),
      device: sharedI32(cap),
      trip: sharedI32(cap),
      time: sharedF64(cap),
      label: sharedF64(cap),
      failure: sharedF64(cap),
    });
  }

  /** Row i of a chunk streamed with includeColumns = extras and numbers = rowNumbers(). */
  push(chunk: { rowIndex: Float64Array; extra: Record<string, (number | string | null)[]>; numbers: Float64Array[] }, i: number, row: Float64Array): void {
    const o = this.out;
    const k = this.n++;
    if (k >= o.rid.length) throw new WorkbenchError('INTERNAL', 'more test rows than counted; was the dataset changed during the run?');
    o.matrix.data.set(row, k * this.cols);
    o.rid[k] = chunk.rowIndex[i]!;
    const { device, trip } = this.ctx;
    o.device[k] = this.devices.code(device ? String(chunk.extra[device]![i] ?? '') : '');
    o.trip[k] = this.trips.code(trip ? String(chunk.extra[trip]![i] ?? '') : '');
    o.time[k] = chunk.numbers[0]![i]!;
    o.label[k] = chunk.numbers[1]![i]!;
    o.failure[k] = chunk.numbers[2]![i]!;
  }

  finish(): TestRows {
    const o = this.out;
    const n = this.n;
    return {
      rows: n,
      matrix: { rows: n, cols: this.cols, data: o.matrix.data.subarray(0, n * this.cols), columns: this.columns },
      rid: o.rid.subarray(0, n),
      device: o.device.subarray(0, n),
      devices: this.devices.names,
      trip: o.trip.subarray(0, n),
      trips: this.trips.names,
      time: o.time.subarray(0, n),
      label: o.label.subarray(0, n),
      failure: o.failure.subarray(0, n),
      temporal: this.ctx.temporal,
    };
  }
}

/** Append typed columns through DuckDB data chunks (bulk copies, no per-value calls). */
async function appendColumns(ws: Workspace, schema: string, table: string, columns: (Int32Array | Float64Array)[], n: number): Promise<void> {
  const con = await ws.connect();
  try {
    const app = await con.createAppender(table, schema);
    const types = columns.map((c) => (c instanceof Int32Array ? DuckDBIntegerType.instance : DuckDBDoubleType.instance));
    const size = 2048;
    for (let at = 0; at < n; at += size) {
      const m = Math.min(size, n - at);
      const chunk = DuckDBDataChunk.create(types, m);
      columns.forEach((c, j) => {
        const v = chunk.getColumnVector(j) as DuckDBIntegerVector | DuckDBDoubleVector;
        for (let i = 0; i < m; i++) v.setItem(i, c[at + i]!);
        v.flush();
      });
      app.appendDataChunk(chunk);
    }
    app.closeSync();
  } finally {
    con.closeSync();
  }
}

/** The test rows' identities as a workspace table, written once per preparation. */
async function writeMeta(ws: Workspace, table: string, t: TestRows): Promise<void> {
  const raw = `prepraw__${randomUUID().replace(/-/g, '').slice(0, 16)}`;
  const dict = `prepdict__${randomUUID().replace(/-/g, '').slice(0, 16)}`;
  try {
    await ws.run(`CREATE TABLE fleetlens.${ident(raw)} (pos INTEGER, rid DOUBLE, dev INTEGER, trip INTEGER, t DOUBLE, label DOUBLE)`);
    await appendColumns(ws, 'fleetlens', raw, [Int32Array.from({ length: t.rows }, (_, i) => i), t.rid, t.device, t.trip, t.time, t.label], t.rows);
    await ws.run(`CREATE TABLE fleetlens.${ident(dict)} (kind VARCHAR, code INTEGER, name VARCHAR)`);
    const con = await ws.connect();
    try {
      const app = await con.createAppender(dict, 'fleetlens');
      for (const [kind, names] of [['d', t.devices], ['t', t.trips]] as const) {
        names.forEach((name, code) => {
          app.appendVarchar(kind);
          app.appendInteger(code);
          app.appendVarchar(name);
          app.endRow();
        });
      }
      app.closeSync();
    } finally {
      con.closeSync();
    }
    await ws.run(`CREATE TABLE ${table} AS
      SELECT m.pos, m.rid, d.name AS device, tr.name AS trip, m.t, CASE WHEN isnan(m.label) THEN NULL ELSE m.label END AS label
      FROM fleetlens.${ident(raw)} m
      JOIN fleetlens.${ident(dict)} d ON d.kind = 'd' AND d.code = m.dev
      JOIN fleetlens.${ident(dict)} tr ON tr.kind = 't' AND tr.code = m.trip
      ORDER BY m.pos`);
  } finally {
    await ws.run(`DROP TABLE IF EXISTS fleetlens.${ident(raw)}`).catch(() => undefined);
    await ws.run(`DROP TABLE IF EXISTS fleetlens.${ident(dict)}`).catch(() => undefined);
  }
}

/** Write a run's scores table: the prepared test rows joined with their scores and alarms. */
export async function writeScores(ws: Workspace, data: PreparedData, table: string, scores: Float64Array, threshold: number): Promise<void> {
  const staging = `scorestage__${randomUUID().replace(/-/g, '').slice(0, 16)}`;
  try {
    await ws.run(`CREATE TABLE fleetlens.${ident(staging)} (pos INTEGER, score DOUBLE)`);
    await appendColumns(ws, 'fleetlens', staging, [Int32Array.from({ length: scores.length }, (_, i) => i), scores], scores.length);
    await ws.run(`CREATE OR REPLACE TABLE ${table} AS
      SELECT m.rid, m.device, m.trip, m.t, m.label, s.score, s.score >= ${String(threshold)}::DOUBLE AS alarm
      FROM ${data.metaTable} m JOIN fleetlens.${ident(staging)} s USING (pos) ORDER BY m.pos`);
  } finally {
    await ws.run(`DROP TABLE IF EXISTS fleetlens.${ident(staging)}`).catch(() => undefined);
  }
}

/** Drop the preparation's workspace table; the arrays go with the last reference. */
export async function disposePrepared(ws: Workspace, data: PreparedData): Promise<void> {
  await ws.run(`DROP TABLE IF EXISTS ${data.metaTable}`).catch(() => undefined);
}

/** Leftovers of preparations a killed process never dropped. */
export async function dropStalePreparations(ws: Workspace): Promise<void> {
  const rows = await ws.query(`SELECT table_name AS t FROM duckdb_tables() WHERE schema_name = 'fleetlens' AND (table_name LIKE 'prep%\\_\\_%' ESCAPE '\\' OR table_name LIKE 'scorestage\\_\\_%' ESCAPE '\\' OR table_name LIKE 'split\\_\\_%' ESCAPE '\\')`);
  for (const { t } of rows) await ws.run(`DROP TABLE IF EXISTS fleetlens.${ident(String(t))}`);
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
