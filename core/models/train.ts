/**
 * Training runs (issue #5): split → fit the recipe on training rows → build the
 * training matrix (streamed, seeded sample above maxTrainRows) → fit the detector
 * in a worker → threshold → score the test rows in streamed chunks, storing every
 * scored row → evaluate → record metrics and artifacts. Every step is recorded on
 * the run; failures and cancels end the run with their reason.
 */
import { randomInt } from 'node:crypto';
import type { DuckDBAppender } from '@duckdb/node-api';
import { WorkbenchError, serializeError } from '../api/errors.ts';
import type { EventBus } from '../api/events.ts';
import type { DatasetInfo } from '../data/api.ts';
import { getDataset } from '../data/catalog.ts';
import { datasetContext, requireColumn, type DatasetContext } from '../explore/context.ts';
import { fitRecipe, streamFeatures, type FeatureChunk } from '../features/batch.ts';
import { defaultRecipe, validateRecipe, type FeatureRecipe, type FittedRecipe } from '../features/recipe.ts';
import { ExperimentStore, fingerprintOf, newRunId, scoresTable } from '../experiments/store.ts';
import type { RunInfo } from '../experiments/api.ts';
import { createRng } from '../util/rng.ts';
import { ident, lit, type Workspace } from '../workspace/workspace.ts';
import type { Contribution, DetectorFactory, DetectorJson, Matrix, ParamValue } from './detector.ts';
import type { SplitSpec, ThresholdSpec, TrainRequest } from './api.ts';
import { histogram, leadTimes, quantile, rankedEvaluation, thresholdMetrics } from './metrics.ts';
import { ModelWorker } from './model-client.ts';
import { getDetector } from './registry.ts';

const DEFAULT_MAX_TRAIN = 250_000;
const TOP_K = 200;

/** A training request with every default filled in: what is recorded and what a re-run replays. */
export interface NormalizedTrainRequest extends Required<Omit<TrainRequest, 'evalDataset' | 'parentId' | 'runName' | 'leadTime' | 'label' | 'filter'>> {
  filter: string | null;
  label: string | null;
  evalDataset: string | null;
  parentId: string | null;
  runName: string;
  leadTime: { sustain: number; failureColumn: string | null };
}

/** The model a run produced: what scoring (batch or live) needs. */
export interface RunModel {
  detector: DetectorJson;
  recipe: FittedRecipe;
  threshold: number;
}

interface Job {
  abort: AbortController;
  worker: ModelWorker | null;
  done: Promise<void>;
}

function cancelledError(): WorkbenchError {
  return new WorkbenchError('CANCELLED', 'the run was cancelled');
}

/** Fill detector defaults and check types and ranges against the detector's spec. */
export function resolveParams(factory: DetectorFactory, given: Record<string, ParamValue> = {}): Record<string, ParamValue> {
  const out: Record<string, ParamValue> = {};
  for (const k of Object.keys(given)) {
    if (!factory.params.some((p) => p.name === k)) {
      throw new WorkbenchError('INVALID_ARGUMENT', `detector '${factory.kind}' has no parameter '${k}' (it has ${factory.params.map((p) => p.name).join(', ')})`);
    }
  }
  for (const spec of factory.params) {
    let v = given[spec.name] ?? spec.default;
    if (spec.type === 'int' || spec.type === 'float') {
      const n = typeof v === 'string' ? Number(v) : v;
      if (typeof n !== 'number' || !Number.isFinite(n)) throw new WorkbenchError('INVALID_ARGUMENT', `parameter '${spec.name}' must be a number, got '${String(v)}'`);
      if (spec.type === 'int' && !Number.isInteger(n)) throw new WorkbenchError('INVALID_ARGUMENT', `parameter '${spec.name}' must be an integer, got ${n}`);
      if ((spec.min !== undefined && n < spec.min) || (spec.max !== undefined && n > spec.max)) {
        throw new WorkbenchError('INVALID_ARGUMENT', `parameter '${spec.name}' must be in [${spec.min ?? '-∞'}, ${spec.max ?? '∞'}], got ${n}`);
      }
      v = n;
    } else if (spec.type === 'bool') {
      v = v === true || v === 'true' || v === 1;
    } else if (spec.type === 'enum') {
      if (!spec.options?.includes(String(v))) throw new WorkbenchError('INVALID_ARGUMENT', `parameter '${spec.name}' must be one of ${spec.options?.join(', ')}, got '${String(v)}'`);
      v = String(v);
    }
    out[spec.name] = v;
  }
  return out;
}

function flatParams(r: NormalizedTrainRequest): RunInfo['params'] {
  const p: RunInfo['params'] = {
    detector: r.detector,
    dataset: r.dataset,
    label: r.label ?? '',
    'split.kind': r.split.kind,
    'split.fraction': r.split.kind === 'time' ? r.split.trainFraction : r.split.holdoutFraction,
    'threshold.kind': r.threshold.kind,
    normal_only: r.normalOnly,
    max_train_rows: r.maxTrainRows,
    'recipe.group_by': r.recipe.groupBy,
    'recipe.sensors': r.recipe.sensors.join(','),
    'recipe.lags': r.recipe.lags.join(','),
    'recipe.diffs': r.recipe.diffs.join(','),
    'recipe.rolling': r.recipe.rolling.map((w) => `${w.window}:${w.stats.join('+')}`).join(','),
    'recipe.ewm': r.recipe.ewm.map((e) => `${e.span}${e.deviation ? '+dev' : ''}`).join(','),
    'recipe.fill': r.recipe.fill,
    'recipe.standardize': r.recipe.standardize,
  };
  if (r.threshold.kind !== 'best-f1') p['threshold.value'] = r.threshold.value;
  if (r.evalDataset) p.eval_dataset = r.evalDataset;
  if (r.filter) p.filter = r.filter;
  for (const [k, v] of Object.entries(r.params)) p[k] = v;
  return p;
}

export class Trainer {
  private readonly jobs = new Map<string, Job>();

  constructor(
    private readonly ws: Workspace,
    private readonly store: ExperimentStore,
    private readonly events: EventBus,
    private readonly appVersion: string,
  ) {}

  /** Validate and normalize a request; every mistake is reported here, before a run exists. */
  async normalize(req: TrainRequest): Promise<{ norm: NormalizedTrainRequest; info: DatasetInfo; factory: DetectorFactory }> {
    const ctx = await datasetContext(this.ws, req.dataset);
    let factory: DetectorFactory;
    try {
      factory = getDetector(String(req.detector));
    } catch (err) {
      throw new WorkbenchError('INVALID_ARGUMENT', (err as Error).message);
    }
    const params = resolveParams(factory, req.params);
    const recipe: FeatureRecipe = req.recipe ?? defaultRecipe(ctx.info);
    validateRecipe(recipe, ctx.info);
    const label = req.label === undefined ? ctx.label : req.label;
    if (label !== null) requireColumn(ctx, label, 'label column');
    const split: SplitSpec = req.split ?? { kind: 'time', trainFraction: 0.7 };
    const frac = split.kind === 'time' ? split.trainFraction : split.holdoutFraction;
    if (!(frac > 0 && frac < 1)) throw new WorkbenchError('INVALID_ARGUMENT', `split fraction must be between 0 and 1, got ${frac}`);
    if (split.kind === 'devices' && !ctx.device) throw new WorkbenchError('INVALID_ARGUMENT', `a device hold-out needs a device column in dataset '${ctx.info.name}'`);
    const threshold: ThresholdSpec = req.threshold ?? { kind: 'contamination', value: 0.02 };
    if (threshold.kind === 'contamination' && !(threshold.value > 0 && threshold.value < 1)) {
      throw new WorkbenchError('INVALID_ARGUMENT', `contamination must be between 0 and 1, got ${threshold.value}`);
    }
    if (threshold.kind === 'fixed' && !Number.isFinite(threshold.value)) throw new WorkbenchError('INVALID_ARGUMENT', 'a fixed threshold must be a finite number');
    if (threshold.kind === 'best-f1' && label === null) throw new WorkbenchError('INVALID_ARGUMENT', 'the best-F1 threshold needs a label column');
    if (req.normalOnly && label === null) throw new WorkbenchError('INVALID_ARGUMENT', 'training on normal rows only needs a label column');
    let evalDataset: string | null = null;
    if (req.evalDataset) {
      const evalInfo = await getDataset(this.ws, req.evalDataset);
      const missing = [...recipe.sensors, ...recipe.categoricals, ...(label ? [label] : [])].filter((c) => !evalInfo.columns.some((x) => x.name === c));
      if (missing.length) throw new WorkbenchError('INVALID_ARGUMENT', `evaluation dataset '${evalInfo.name}' lacks column(s) ${missing.map((m) => `'${m}'`).join(', ')}`);
      evalDataset = evalInfo.name;
    }
    const failureColumn = req.leadTime?.failureColumn ?? null;
    if (failureColumn) requireColumn(await datasetContext(this.ws, evalDataset ?? ctx.info.name), failureColumn, 'failure column');
    let filter: string | null = null;
    if (req.filter !== undefined && req.filter !== null && String(req.filter).trim()) {
      filter = String(req.filter).trim();
      if (filter.includes(';')) throw new WorkbenchError('INVALID_ARGUMENT', 'the row filter must be one SQL expression');
      try {
        await this.ws.query(`SELECT count(*) FROM ${ctx.table} WHERE (${filter}) LIMIT 0`);
      } catch (err) {
        throw new WorkbenchError('INVALID_ARGUMENT', `the row filter is not a valid SQL predicate over '${ctx.info.name}': ${(err as Error).message.split('\n')[0]}`);
      }
    }
    const maxTrainRows = Math.floor(req.maxTrainRows ?? DEFAULT_MAX_TRAIN);
    if (!(maxTrainRows >= 10)) throw new WorkbenchError('INVALID_ARGUMENT', 'maxTrainRows must be at least 10');
    const norm: NormalizedTrainRequest = {
      dataset: ctx.info.name,
      detector: factory.kind,
      params,
      recipe,
      label,
      split,
      normalOnly: req.normalOnly ?? false,
      threshold,
      evalDataset,
      leadTime: { sustain: Math.max(1, Math.floor(req.leadTime?.sustain ?? 3)), failureColumn },
      experiment: (req.experiment ?? 'Default').trim() || 'Default',
      runName: req.runName ?? `${factory.kind} on ${ctx.info.name}`,
      seed: req.seed ?? randomInt(0, 2 ** 31 - 1),
      tags: req.tags ?? [],
      maxTrainRows,
      parentId: req.parentId ?? null,
      filter,
    };
    return { norm, info: ctx.info, factory };
  }

  async start(req: TrainRequest): Promise<{ runId: string }> {
    const { norm, info } = await this.normalize(req);
    const run = await this.store.createRun({
      id: newRunId(),
      experiment: norm.experiment,
      parentId: norm.parentId,
      name: norm.runName,
      seed: norm.seed,
      params: flatParams(norm),
      dataset: norm.dataset,
      fingerprint: fingerprintOf(info),
      appVersion: this.appVersion,
      tags: norm.tags,
    });
    await this.store.putArtifact(run.id, 'request', norm);
    this.events.emit('runs.updated', run);
    const job: Job = { abort: new AbortController(), worker: null, done: Promise.resolve() };
    job.done = this.execute(run.id, norm, job).finally(() => this.jobs.delete(run.id));
    this.jobs.set(run.id, job);
    return { runId: run.id };
  }

  /** A parent run (repeat, sweep, per-group) recorded like any run; its children carry parentId. */
  async createParent(norm: NormalizedTrainRequest, name: string, extra: RunInfo['params'], info: DatasetInfo): Promise<RunInfo> {
    const run = await this.store.createRun({
      experiment: norm.experiment,
      name,
      seed: norm.seed,
      params: { ...flatParams(norm), ...extra },
      dataset: norm.dataset,
      fingerprint: fingerprintOf(info),
      appVersion: this.appVersion,
      tags: norm.tags,
    });
    this.events.emit('runs.updated', run);
    return run;
  }

  /** Record progress or the end of a parent run and tell listeners. */
  async updateParent(id: string, progress: number, phase: string, end?: { status: 'finished' | 'failed' | 'cancelled'; metrics: Record<string, number>; error?: string | null }): Promise<void> {
    if (end) {
      this.events.emit('runs.updated', await this.store.finish(id, end.status, end.metrics, end.error ?? null));
    } else {
      await this.phase(id, progress, phase);
    }
  }

  cancel(runId: string): boolean {
    const job = this.jobs.get(runId);
    if (!job) return false;
    job.abort.abort();
    job.worker?.cancel();
    return true;
  }

  async wait(runId: string): Promise<void> {
    await this.jobs.get(runId)?.done;
  }

  /** Wait for every running job (used on close). */
  async drain(): Promise<void> {
    for (const id of [...this.jobs.keys()]) this.cancel(id);
    await Promise.all([...this.jobs.values()].map((j) => j.done));
  }

  private async phase(runId: string, progress: number, phase: string): Promise<void> {
    await this.store.progress(runId, progress, phase);
    this.events.emit('runs.updated', await this.store.getRun(runId));
  }

  private async execute(runId: string, r: NormalizedTrainRequest, job: Job): Promise<void> {
    const signal = job.abort.signal;
    const check = (): void => {
      if (signal.aborted) throw cancelledError();
    };
    const splitTable = `fleetlens.${ident(`split__${runId}`)}`;
    try {
      const ctx = await datasetContext(this.ws, r.dataset);
      await this.phase(runId, 0.02, 'splitting');
      const split = await this.makeSplit(ctx, r, splitTable);
      // A row filter (per-group children) narrows every split to its rows.
      const narrow = (p: string | null): string | null => (p === null ? null : r.filter ? `(${p} AND (${r.filter}))` : p);
      const preds = { fit: narrow(split.fit)!, validation: narrow(split.validation), test: narrow(split.test)! };
      check();

      await this.phase(runId, 0.05, 'fitting the feature recipe');
      const normalPred = r.normalOnly && r.label ? ` AND coalesce(${ident(r.label)}, 0) = 0` : '';
      const fitted = await fitRecipe(this.ws, r.dataset, r.recipe, { trainFilter: preds.fit + normalPred, signal });
      check();

      await this.phase(runId, 0.15, 'building the training matrix');
      const train = await this.trainingMatrix(r, fitted, preds.fit + normalPred, signal);
      if (train.rows === 0) {
        throw new WorkbenchError('MODEL_FAILED', `no training rows left after the split${r.normalOnly ? ' and the normal-only filter' : ''}${fitted.recipe.fill === 'drop' ? ' and dropping rows with missing features' : ''}`);
      }
      check();

      await this.phase(runId, 0.3, `fitting ${r.detector} on ${train.rows.toLocaleString('en-US')} rows`);
      job.worker = new ModelWorker((f) => void this.store.progress(runId, 0.3 + 0.3 * f, `fitting ${r.detector}`).catch(() => undefined));
      const trainCopy: Matrix = { ...train, data: Float64Array.from(train.data) };
      const detector = await job.worker.fit(r.detector, train, r.seed, r.params);
      check();
      await job.worker.load(detector);
      const trainScores = await job.worker.score(trainCopy);

      await this.phase(runId, 0.62, 'choosing the threshold');
      const threshold = await this.chooseThreshold(r, fitted, preds.validation, trainScores, job.worker, signal);
      const model: RunModel = { detector, recipe: fitted, threshold };
      await this.store.putArtifact(runId, 'model', model);
      check();

      await this.phase(runId, 0.65, 'scoring the test rows');
      const evalCtx = r.evalDataset ? await datasetContext(this.ws, r.evalDataset) : ctx;
      const scored = await this.scoreTest(runId, r, evalCtx, fitted, r.evalDataset ? r.filter : preds.test, threshold, job.worker, signal);
      check();

      await this.phase(runId, 0.95, 'evaluating');
      const { metrics, evaluation } = this.evaluate(r, scored, threshold, trainScores);
      await this.store.putArtifact(runId, 'evaluation', evaluation);
      await this.store.putArtifact(runId, 'top_anomalies', scored.top);
      const done = await this.store.finish(runId, 'finished', { ...metrics, train_rows: train.rows, test_rows: scored.n, threshold, features: fitted.featureNames.length });
      this.events.emit('runs.updated', done);
    } catch (err) {
      const e = signal.aborted ? cancelledError() : err;
      const status = signal.aborted ? 'cancelled' : 'failed';
      const ended = await this.store.finish(runId, status, {}, serializeError(e).message).catch(() => null);
      if (ended) this.events.emit('runs.updated', ended);
    } finally {
      await this.ws.run(`DROP TABLE IF EXISTS ${splitTable}`).catch(() => undefined);
      await job.worker?.close().catch(() => undefined);
    }
  }

  /**
   * Materialize the split as a small table (one row per device: cut times or hold-out flag)
   * and return SQL predicates over the dataset for fit, validation and test rows.
   */
  private async makeSplit(ctx: DatasetContext, r: NormalizedTrainRequest, table: string): Promise<{ fit: string; validation: string | null; test: string }> {
    const tx = ctx.timeExpr;
    const dev = ctx.device ? `${ident(ctx.device)}::VARCHAR` : `'__all__'`;
    const withVal = r.threshold.kind === 'best-f1';
    if (r.split.kind === 'time') {
      if (!tx) throw new WorkbenchError('INVALID_ARGUMENT', `a time split needs a time column in dataset '${ctx.info.name}'`);
      const f = r.split.trainFraction;
      await this.ws.run(
        `CREATE OR REPLACE TABLE ${table} AS SELECT ${dev} AS g, quantile_disc(${tx}, ${withVal ? f * 0.75 : f}) AS fit_cut, quantile_disc(${tx}, ${f}) AS train_cut, false AS is_test FROM ${ctx.table} GROUP BY 1`,
      );
    } else {
      const devices = (await this.ws.query(`SELECT DISTINCT ${dev} AS g FROM ${ctx.table} ORDER BY 1`)).map((x) => String(x.g));
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
      await this.ws.run(`CREATE OR REPLACE TABLE ${table} AS SELECT ${dev} AS g, ${cut} AS fit_cut, ${tx ? `max(${tx})` : 'NULL::DOUBLE'} AS train_cut, ${dev} IN (${[...test].map(lit).join(', ')}) AS is_test FROM ${ctx.table} GROUP BY 1`);
    }
    const look = (col: string): string => `(SELECT s.${col} FROM ${table} s WHERE s.g = ${dev})`;
    const fitTime = tx ? ` AND ${tx} <= ${look('fit_cut')}` : '';
    return {
      fit: `(NOT ${look('is_test')}${fitTime})`,
      validation: withVal && tx ? `(NOT ${look('is_test')} AND ${tx} > ${look('fit_cut')} AND ${tx} <= ${look('train_cut')})` : null,
      test: r.split.kind === 'time' ? `(${tx} > ${look('train_cut')})` : `(${look('is_test')})`,
    };
  }

  /** Stream the fit rows into one matrix; above maxTrainRows keep a seeded uniform sample (reservoir). */
  private async trainingMatrix(r: NormalizedTrainRequest, fitted: FittedRecipe, filter: string, signal: AbortSignal): Promise<Matrix> {
    const cols = fitted.featureNames.length;
    const cap = r.maxTrainRows;
    let data = new Float64Array(Math.min(cap, 65_536) * cols);
    let n = 0;
    let seen = 0;
    const rng = createRng(r.seed);
    for await (const chunk of streamFeatures(this.ws, r.dataset, fitted, { filter, signal })) {
      const m = chunk.matrix.data;
      for (let i = 0; i < chunk.rows; i++, seen++) {
        let slot: number;
        if (n < cap) {
          slot = n++;
          if (n * cols > data.length) {
            const grown = new Float64Array(Math.min(cap, data.length / cols * 2) * cols);
            grown.set(data);
            data = grown;
          }
        } else {
          const j = Math.floor(rng.next() * (seen + 1));
          if (j >= cap) continue;
          slot = j;
        }
        data.set(m.subarray(i * cols, (i + 1) * cols), slot * cols);
      }
    }
    return { rows: n, cols, data: data.subarray(0, n * cols).slice(), columns: fitted.featureNames };
  }

  private async chooseThreshold(r: NormalizedTrainRequest, fitted: FittedRecipe, validation: string | null, trainScores: Float64Array, worker: ModelWorker, signal: AbortSignal): Promise<number> {
    const t = r.threshold;
    if (t.kind === 'fixed') return t.value;
    if (t.kind === 'contamination') return quantile(trainScores, 1 - t.value);
    const scores: number[] = [];
    const labels: number[] = [];
    for await (const chunk of streamFeatures(this.ws, r.dataset, fitted, { filter: validation ?? 'false', includeColumns: [r.label!], signal })) {
      const s = await worker.score(chunk.matrix);
      scores.push(...s);
      labels.push(...chunk.extra[r.label!]!.map((v) => (Number(v) > 0 ? 1 : 0)));
    }
    if (scores.length === 0 || !labels.some((l) => l === 1)) {
      throw new WorkbenchError('MODEL_FAILED', 'the validation slice has no labelled rows, so no best-F1 threshold can be chosen; use a contamination threshold');
    }
    return rankedEvaluation(Float64Array.from(scores), Uint8Array.from(labels)).best.threshold;
  }

  /** Score test rows chunk by chunk, append them to the run's scores table, keep the top K with their explanations. */
  private async scoreTest(
    runId: string,
    r: NormalizedTrainRequest,
    ctx: DatasetContext,
    fitted: FittedRecipe,
    filter: string | null,
    threshold: number,
    worker: ModelWorker,
    signal: AbortSignal,
  ): Promise<ScoredRows> {
    const extraCols = [ctx.device, ctx.trip, ctx.time, r.label, r.leadTime.failureColumn].filter((c): c is string => c !== null);
    const uniq = [...new Set(extraCols)];
    const table = `fleetlens.${ident(scoresTable(runId))}`;
    await this.ws.run(`CREATE OR REPLACE TABLE ${table} (rid DOUBLE, device VARCHAR, trip VARCHAR, t DOUBLE, label DOUBLE, score DOUBLE, alarm BOOLEAN)`);
    const con = await this.ws.connect();
    let app: DuckDBAppender | null = await con.createAppender(scoresTable(runId), 'fleetlens');
    const out = new ScoredRows();
    out.temporal = ctx.temporal;
    const cols = fitted.featureNames.length;
    const top: { score: number; row: Float64Array; meta: TopMeta }[] = [];
    const timeOf = (v: number | string | null): number => (v === null ? Number.NaN : typeof v === 'number' ? v : Date.parse(String(v).replace(' ', 'T') + 'Z'));
    try {
      const stream = streamFeatures(this.ws, ctx.info.name, r.evalDataset ? { ...fitted } : fitted, { filter: filter ?? undefined, includeColumns: uniq, signal });
      for await (const chunk of stream as AsyncGenerator<FeatureChunk>) {
        const copy = Float64Array.from(chunk.matrix.data);
        const scores = await worker.score(chunk.matrix);
        const dev = ctx.device ? chunk.extra[ctx.device]! : null;
        const trip = ctx.trip ? chunk.extra[ctx.trip]! : null;
        const time = ctx.time ? chunk.extra[ctx.time]! : null;
        const lab = r.label ? chunk.extra[r.label]! : null;
        const fail = r.leadTime.failureColumn ? chunk.extra[r.leadTime.failureColumn]! : null;
        for (let i = 0; i < chunk.rows; i++) {
          const s = scores[i]!;
          const t = time ? timeOf(time[i] ?? null) : Number.NaN;
          const l = lab ? (lab[i] === null ? Number.NaN : Number(lab[i]) > 0 ? 1 : 0) : Number.NaN;
          const d = dev ? String(dev[i] ?? '') : '';
          const tr = trip ? String(trip[i] ?? '') : '';
          out.push(s, l, d, t, s >= threshold, fail ? Number(fail[i]) : Number.NaN);
          app.appendDouble(chunk.rowIndex[i]!);
          app.appendVarchar(d);
          app.appendVarchar(tr);
          app.appendDouble(t);
          if (Number.isNaN(l)) app.appendNull();
          else app.appendDouble(l);
          app.appendDouble(s);
          app.appendBoolean(s >= threshold);
          app.endRow();
          if (top.length < TOP_K || s > top[top.length - 1]!.score) {
            const entry = { score: s, row: copy.slice(i * cols, (i + 1) * cols), meta: { rid: chunk.rowIndex[i]!, device: d, trip: tr, t, label: l } };
            // Insert keeping descending order; K is small.
            let k = top.length;
            while (k > 0 && top[k - 1]!.score < s) k--;
            top.splice(k, 0, entry);
            if (top.length > TOP_K) top.pop();
          }
        }
        app.flushSync();
      }
      app.closeSync();
      app = null;
    } finally {
      app?.closeSync();
      con.closeSync();
    }
    if (out.n === 0) throw new WorkbenchError('MODEL_FAILED', 'no test rows to score after the split (or every row was dropped for missing features)');
    const rows = new Float64Array(top.length * cols);
    top.forEach((e, i) => rows.set(e.row, i * cols));
    const contributions = top.length ? await worker.explain(rows, cols, 8) : [];
    out.top = top.map((e, i) => ({ ...e.meta, score: e.score, alarm: e.score >= threshold, contributions: contributions[i] ?? [] }));
    return out;
  }

  private evaluate(r: NormalizedTrainRequest, s: ScoredRows, threshold: number, trainScores: Float64Array): { metrics: Record<string, number>; evaluation: unknown } {
    const scores = s.scores();
    const alarms = s.alarms();
    const hist = histogram(scores);
    const trainHist = histogram(trainScores);
    const metrics: Record<string, number> = { alert_rate: alarms.reduce((a, b) => a + b, 0) / Math.max(1, alarms.length) };
    const evaluation: Record<string, unknown> = { threshold, histogram: hist, trainHistogram: trainHist, rows: s.n };
    const labels = s.labels();
    const labelled = labels.some((l) => !Number.isNaN(l));
    if (r.label && labelled) {
      // Rows with an unknown label are left out of the labelled metrics.
      const keep: number[] = [];
      for (let i = 0; i < labels.length; i++) if (!Number.isNaN(labels[i]!)) keep.push(i);
      const ks = Float64Array.from(keep, (i) => scores[i]!);
      const kl = Uint8Array.from(keep, (i) => labels[i]!);
      const at = thresholdMetrics(ks, kl, threshold);
      const ranked = rankedEvaluation(ks, kl);
      Object.assign(metrics, {
        precision: at.precision,
        recall: at.recall,
        f1: at.f1,
        false_alarm_rate: at.falseAlarmRate,
        missed_alarm_rate: at.missedAlarmRate,
        roc_auc: ranked.rocAuc,
        pr_auc: ranked.prAuc,
        best_f1: ranked.best.f1,
        positives: ranked.positives,
      });
      evaluation.confusion = { tp: at.tp, fp: at.fp, tn: at.tn, fn: at.fn };
      evaluation.roc = ranked.roc;
      evaluation.pr = ranked.pr;
      evaluation.best = ranked.best;
    }
    if (s.hasTime()) {
      const failure = s.failure();
      const lead = leadTimes({ device: s.devices(), time: s.times(), alarm: alarms }, r.leadTime.sustain, r.leadTime.failureColumn ? (d) => failure.get(d) ?? Number.NaN : undefined);
      // Lead times in minutes on a timestamp axis (epoch ms internally), in axis units (e.g. cycles) otherwise.
      const unit = s.temporal ? 60_000 : 1;
      evaluation.leadTime = { ...lead, unit: s.temporal ? 'minutes' : 'time units', meanLead: lead.meanLead / unit, medianLead: lead.medianLead / unit, perDevice: lead.perDevice.map((d) => ({ ...d, lead: d.lead === null ? null : d.lead / unit })) };
      if (Number.isFinite(lead.meanLead)) metrics.lead_time_mean = lead.meanLead / unit;
      metrics.devices_alarmed = lead.detected;
    }
    return { metrics, evaluation };
  }
}

interface TopMeta {
  rid: number;
  device: string;
  trip: string;
  t: number;
  label: number;
}

/** Scored test rows held compactly (typed arrays, device codes) for evaluation. */
class ScoredRows {
  n = 0;
  temporal = false;
  top: (TopMeta & { score: number; alarm: boolean; contributions: Contribution[] })[] = [];
  private s: number[] = [];
  private l: number[] = [];
  private t: number[] = [];
  private a: number[] = [];
  private d: number[] = [];
  private codes = new Map<string, number>();
  private names: string[] = [];
  private fail = new Map<string, number>();

  push(score: number, label: number, device: string, time: number, alarm: boolean, failure: number): void {
    let c = this.codes.get(device);
    if (c === undefined) {
      c = this.names.length;
      this.codes.set(device, c);
      this.names.push(device);
    }
    if (Number.isFinite(failure)) this.fail.set(device, failure);
    this.s.push(score);
    this.l.push(label);
    this.t.push(time);
    this.a.push(alarm ? 1 : 0);
    this.d.push(c);
    this.n++;
  }
  scores(): Float64Array { return Float64Array.from(this.s); }
  labels(): Float64Array { return Float64Array.from(this.l); }
  times(): Float64Array { return Float64Array.from(this.t); }
  alarms(): Uint8Array { return Uint8Array.from(this.a); }
  devices(): string[] { return this.d.map((c) => this.names[c]!); }
  hasTime(): boolean { return this.t.some((x) => !Number.isNaN(x)); }
  failure(): Map<string, number> { return this.fail; }
}
