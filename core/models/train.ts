/**
 * Training runs (issue #5): normalize the request → prepare the data (split, fit
 * the recipe, one feature pass for the training sample, validation and test
 * rows; see prepare.ts, shared between runs with equal data inputs) → one
 * trial in a model worker (fit, threshold, score, evaluate, explain; see
 * trial.ts) → store the scores table and the artifacts. Every step is recorded
 * on the run; failures and cancels end the run with their reason.
 */
import { randomInt } from 'node:crypto';
import { availableParallelism } from 'node:os';
import { WorkbenchError, serializeError } from '../api/errors.ts';
import type { EventBus } from '../api/events.ts';
import type { DatasetInfo } from '../data/api.ts';
import { getDataset } from '../data/catalog.ts';
import { datasetContext, requireColumn } from '../explore/context.ts';
import { defaultRecipe, validateRecipe, type FeatureRecipe, type FittedRecipe } from '../features/recipe.ts';
import { ExperimentStore, fingerprintOf, newRunId } from '../experiments/store.ts';
import type { RunInfo } from '../experiments/api.ts';
import type { Workspace } from '../workspace/workspace.ts';
import type { DetectorFactory, DetectorJson, ParamValue } from './detector.ts';
import type { SplitSpec, ThresholdSpec, TrainRequest } from './api.ts';
import { ModelWorkerPool, type ModelWorker } from './model-client.ts';
import { getDetector } from './registry.ts';
import { PreparedCache, prepareData, prepareKey, writeScores } from './prepare.ts';

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
  p.data_seed = r.dataSeed;
  for (const [k, v] of Object.entries(r.params)) p[k] = v;
  return p;
}

export class Trainer {
  private readonly jobs = new Map<string, Job>();
  private readonly prepared: PreparedCache;
  /** Data preparations made (runs that shared one count once). */
  readonly stats = { preparations: 0 };
  private readonly workers = new ModelWorkerPool(availableParallelism());

  constructor(
    private readonly ws: Workspace,
    private readonly store: ExperimentStore,
    private readonly events: EventBus,
    private readonly appVersion: string,
  ) {
    this.prepared = new PreparedCache(ws);
  }

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
    const seed = req.seed ?? randomInt(0, 2 ** 31 - 1);
    if (req.dataSeed !== undefined && !Number.isSafeInteger(req.dataSeed)) throw new WorkbenchError('INVALID_ARGUMENT', `dataSeed must be a whole number, got ${String(req.dataSeed)}`);
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
      seed,
      dataSeed: req.dataSeed ?? seed,
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
    await this.workers.close();
  }

  /** Record a run's progress and tell listeners; a run that ended meanwhile is not announced as running again (its end's event is sent). */
  private async phase(runId: string, progress: number, phase: string): Promise<void> {
    await this.store.progress(runId, progress, phase);
    const run = await this.store.getRun(runId);
    if (run.status === 'running') this.events.emit('runs.updated', run);
  }

  /** Keep a preparation alive across runs that share it (a sweep holds its trials' keys). */
  holdData(norm: NormalizedTrainRequest): () => void {
    const key = prepareKey(norm);
    this.prepared.hold(key);
    let released = false;
    return () => {
      if (!released) this.prepared.release(key);
      released = true;
    };
  }

  private async execute(runId: string, r: NormalizedTrainRequest, job: Job): Promise<void> {
    const signal = job.abort.signal;
    const check = (): void => {
      if (signal.aborted) throw cancelledError();
    };
    const release = this.holdData(r);
    try {
      let shared = true;
      const data = await this.prepared.acquire(
        prepareKey(r),
        (prepSignal) => {
          shared = false;
          this.stats.preparations++;
          return prepareData(this.ws, r, { signal: prepSignal, onPhase: (progress, phase) => this.phase(runId, progress, phase) });
        },
        signal,
      );
      check();
      // Not awaited before the trial starts: right after a preparation, the write queues behind its
      // clean-up and the test rows' table (2.8 s measured at 10M rows), and a pool's second worker
      // would wait that long to start. Awaited before the results are stored, so events keep their order.
      const noted = shared ? this.phase(runId, 0.3, 'using the data prepared for an earlier trial').catch(() => undefined) : null;

      // A worker reports up to ~100 steps a trial; the run row records one every half second (or a new
      // phase) and listeners hear of it, so a progress bar moves while the detector fits and scores. Not
      // awaited: the trial goes on.
      let lastWrite = 0;
      let lastPhase = '';
      job.worker = this.workers.acquire((f, phase) => {
        const p = phase ?? `fitting ${r.detector}`;
        const now = performance.now();
        if (p === lastPhase && now - lastWrite < 500) return;
        lastWrite = now;
        lastPhase = p;
        void this.phase(runId, 0.3 + 0.6 * f, p).catch(() => undefined);
      });
      const result = await job.worker.trial({
        kind: r.detector,
        seed: r.seed,
        params: r.params,
        train: data.train,
        threshold: r.threshold,
        validation: data.validation,
        test: data.test,
        labelled: r.label !== null,
        sustain: r.leadTime.sustain,
        useFailure: r.leadTime.failureColumn !== null,
        topK: TOP_K,
      });
      await noted;
      check();
      const model: RunModel = { detector: result.model, recipe: data.fitted, threshold: result.threshold };

      await this.phase(runId, 0.92, 'storing the scores');
      await writeScores(this.ws, data, runId, result.scores, result.threshold);
      check();
      const t = data.test;
      const top = result.top.map((e) => ({
        rid: t.rid[e.index]!,
        device: t.devices[t.device[e.index]!]!,
        trip: t.trips[t.trip[e.index]!]!,
        t: t.time[e.index]!,
        label: t.label[e.index]!,
        score: e.score,
        alarm: e.score >= result.threshold,
        contributions: e.contributions,
      }));
      // The run's results together: one commit (see ExperimentStore.putArtifacts).
      await this.store.putArtifacts(runId, { model, evaluation: result.evaluation, top_anomalies: top });
      const done = await this.store.finish(runId, 'finished', { ...result.metrics, train_rows: data.train.rows, test_rows: t.rows, threshold: result.threshold, features: data.fitted.featureNames.length });
      this.events.emit('runs.updated', done);
    } catch (err) {
      const e = signal.aborted ? cancelledError() : err;
      const status = signal.aborted ? 'cancelled' : 'failed';
      const ended = await this.store.finish(runId, status, {}, serializeError(e).message).catch(() => null);
      if (ended) this.events.emit('runs.updated', ended);
    } finally {
      release();
      if (job.worker) await this.workers.release(job.worker).catch(() => undefined);
    }
  }
}
