/**
 * Runs made of runs (issue #6): repeats over seeds (mean ± std), sweeps over
 * parameters in a worker pool, and per-group models with a delegating model.
 * Each is a parent run whose children are ordinary training runs.
 */
import { availableParallelism } from 'node:os';
import { WorkbenchError, serializeError } from '../api/errors.ts';
import type { PerGroupRequest, RepeatRequest, SweepRequest, SweepSpace, TrainRequest } from '../models/api.ts';
import type { ParamValue } from '../models/detector.ts';
import { planFeatures, type FeatureRecipe } from '../features/recipe.ts';
import { getDetector } from '../models/registry.ts';
import type { NormalizedTrainRequest, Trainer } from '../models/train.ts';
import { prepareKey } from '../models/prepare.ts';
import { createRng } from '../util/rng.ts';
import { ident, type Workspace } from '../workspace/workspace.ts';
import { datasetContext, requireColumn } from '../explore/context.ts';
import type { ExperimentStore } from './store.ts';
import type { RunInfo } from './api.ts';

/** The delegating model of a per-group parent: route each row by its group value. */
export interface PerGroupModel {
  kind: 'per-group';
  column: string;
  /** group value → child run id */
  routes: Record<string, string>;
  /** Run id of the global model for groups that were too small or are unseen; null if none. */
  fallback: string | null;
  fallbackGroups: string[];
}

interface Parent {
  id: string;
  cancelled: boolean;
  children: Set<string>;
  done: Promise<void>;
}

function meanStd(values: number[]): { mean: number; std: number } {
  const n = values.length;
  const mean = values.reduce((a, b) => a + b, 0) / n;
  const v = n > 1 ? values.reduce((a, b) => a + (b - mean) ** 2, 0) / (n - 1) : 0;
  return { mean, std: Math.sqrt(v) };
}

/** Mean and (sample) std of every metric the finished children share. */
export function aggregateMetrics(children: RunInfo[]): Record<string, number> {
  const done = children.filter((c) => c.status === 'finished');
  const out: Record<string, number> = { children: children.length, children_finished: done.length };
  const keys = new Set(done.flatMap((c) => Object.keys(c.metrics)));
  for (const k of keys) {
    const vals = done.map((c) => c.metrics[k]).filter((v): v is number => typeof v === 'number' && Number.isFinite(v));
    if (vals.length === 0) continue;
    const { mean, std } = meanStd(vals);
    out[`${k}_mean`] = mean;
    out[`${k}_std`] = std;
  }
  return out;
}

/** Apply a sweep's recipe knobs (recipe.window, recipe.span, recipe.lag) to a recipe. */
function applyRecipeKnobs(recipe: FeatureRecipe, knobs: Record<string, ParamValue>): FeatureRecipe {
  const r: FeatureRecipe = JSON.parse(JSON.stringify(recipe)) as FeatureRecipe;
  for (const [k, v] of Object.entries(knobs)) {
    const n = Number(v);
    if (k === 'recipe.window') r.rolling = r.rolling.length ? r.rolling.map((w) => ({ ...w, window: n })) : [{ window: n, stats: ['mean', 'std'] }];
    else if (k === 'recipe.span') r.ewm = r.ewm.length ? r.ewm.map((e) => ({ ...e, span: n })) : [{ span: n, deviation: true }];
    else if (k === 'recipe.lag') r.lags = [n];
    else throw new WorkbenchError('INVALID_ARGUMENT', `unknown recipe knob '${k}' (use recipe.window, recipe.span or recipe.lag)`);
  }
  return r;
}

/** Trials of a sweep: every grid combination, or `trials` seeded random draws. */
export function sweepTrials(space: SweepSpace, mode: 'grid' | 'random', trials: number, seed: number): Record<string, ParamValue>[] {
  const keys = Object.keys(space);
  if (keys.length === 0) throw new WorkbenchError('INVALID_ARGUMENT', 'a sweep needs at least one parameter to vary');
  if (mode === 'grid') {
    let combos: Record<string, ParamValue>[] = [{}];
    for (const k of keys) {
      const dim = space[k]!;
      if (!Array.isArray(dim)) throw new WorkbenchError('INVALID_ARGUMENT', `grid sweeps need a list of values for '${k}'`);
      combos = combos.flatMap((c) => dim.map((v) => ({ ...c, [k]: v })));
    }
    if (combos.length > 500) throw new WorkbenchError('INVALID_ARGUMENT', `the grid has ${combos.length} trials; at most 500`);
    return combos;
  }
  if (!(trials >= 1 && trials <= 500)) throw new WorkbenchError('INVALID_ARGUMENT', 'a random sweep needs 1 to 500 trials');
  const rng = createRng(seed ^ 0x5113);
  return Array.from({ length: trials }, () => {
    const t: Record<string, ParamValue> = {};
    for (const k of keys) {
      const dim = space[k]!;
      if (Array.isArray(dim)) t[k] = dim[rng.int(dim.length)]!;
      else {
        const u = rng.next();
        let v = dim.log ? Math.exp(Math.log(dim.min) + u * (Math.log(dim.max) - Math.log(dim.min))) : dim.min + u * (dim.max - dim.min);
        if (dim.int) v = Math.round(v);
        t[k] = v;
      }
    }
    return t;
  });
}

/**
 * The order a pool starts children in: those sharing a preparation back to back (groups in order
 * of first appearance, so each preparation is held as briefly as possible); within a group, with
 * more than one worker, the costliest first (longest processing time first), so the workers end
 * close together rather than one of them running a long trial alone at the end. Equal or unknown
 * costs keep the given order.
 */
export function dispatchOrder(keys: string[], costs: (number | undefined)[], workers: number): number[] {
  const firstOf = new Map<string, number>();
  keys.forEach((k, i) => firstOf.has(k) || firstOf.set(k, i));
  const cost = (i: number): number => (workers > 1 ? (costs[i] ?? 0) : 0);
  return keys.map((_, i) => i).sort((a, b) => firstOf.get(keys[a]!)! - firstOf.get(keys[b]!)! || cost(b) - cost(a) || a - b);
}

export class Orchestrator {
  private readonly parents = new Map<string, Parent>();

  constructor(
    private readonly ws: Workspace,
    private readonly store: ExperimentStore,
    private readonly trainer: Trainer,
  ) {}

  /**
   * Run child requests with at most `workers` at a time, in `order` (default as given);
   * resolves with the children, in request order, when all ended. `ended(i)` follows each child.
   */
  private async runChildren(parent: Parent, requests: TrainRequest[], workers: number, order?: number[], ended?: (i: number) => void): Promise<RunInfo[]> {
    const ids: string[] = new Array(requests.length);
    const queue = order ?? requests.map((_, i) => i);
    let next = 0;
    let done = 0;
    const worker = async (): Promise<void> => {
      while (next < queue.length && !parent.cancelled) {
        const i = queue[next++]!;
        try {
          const { runId } = await this.trainer.start({ ...requests[i]!, parentId: parent.id });
          ids[i] = runId;
          parent.children.add(runId);
          await this.trainer.wait(runId);
        } catch (err) {
          // A child the trainer refused is recorded on the parent's notes; the rest go on.
          await this.store.update(parent.id, { notes: `trial ${i + 1}: ${serializeError(err).message}` });
        }
        ended?.(i);
        done++;
        await this.trainer.updateParent(parent.id, done / requests.length, `${done} of ${requests.length} children done`);
      }
    };
    await Promise.all(Array.from({ length: Math.max(1, Math.min(workers, requests.length)) }, worker));
    return Promise.all(ids.filter(Boolean).map((id) => this.store.getRun(id)));
  }

  private async start(name: string, base: TrainRequest, extra: RunInfo['params'], body: (p: Parent) => Promise<Record<string, number>>): Promise<{ parentId: string }> {
    const { norm, info } = await this.trainer.normalize(base);
    const run = await this.trainer.createParent(norm, name, extra, info);
    const parent: Parent = { id: run.id, cancelled: false, children: new Set(), done: Promise.resolve() };
    this.parents.set(run.id, parent);
    parent.done = body(parent)
      .then((metrics) => this.trainer.updateParent(run.id, 1, 'finished', { status: parent.cancelled ? 'cancelled' : 'finished', metrics, error: parent.cancelled ? 'the run was cancelled' : null }))
      .catch((err: unknown) => this.trainer.updateParent(run.id, 1, 'failed', { status: 'failed', metrics: {}, error: serializeError(err).message }))
      .finally(() => this.parents.delete(run.id));
    return { parentId: run.id };
  }

  /** Resolves when the parent run (and all its children) ended. */
  async wait(parentId: string): Promise<boolean> {
    const p = this.parents.get(parentId);
    if (!p) return false;
    await p.done;
    return true;
  }

  /** Cancel every parent (used on close). */
  async drain(): Promise<void> {
    for (const id of [...this.parents.keys()]) this.cancel(id);
    await Promise.all([...this.parents.values()].map((p) => p.done));
  }

  /** Cancel a parent and all its running children. */
  cancel(parentId: string): boolean {
    const p = this.parents.get(parentId);
    if (!p) return false;
    p.cancelled = true;
    for (const c of p.children) this.trainer.cancel(c);
    return true;
  }

  async repeat(req: RepeatRequest): Promise<{ parentId: string }> {
    const { base, seeds } = req;
    if (!Array.isArray(seeds) || seeds.length < 2 || seeds.length > 100) throw new WorkbenchError('INVALID_ARGUMENT', 'repeats need 2 to 100 seeds');
    if (!seeds.every((s) => Number.isSafeInteger(s))) throw new WorkbenchError('INVALID_ARGUMENT', 'seeds must be whole numbers');
    if (new Set(seeds).size !== seeds.length) throw new WorkbenchError('INVALID_ARGUMENT', 'seeds must differ');
    const varyData = req.varyData === true;
    const dataSeed = base.dataSeed ?? seeds[0]!;
    const requests = seeds.map((seed, i): TrainRequest => ({ ...base, seed, dataSeed: varyData ? seed : dataSeed, runName: `seed ${seed}`, tags: [...(base.tags ?? []), `repeat ${i + 1}`] }));
    const plan = await this.plan(requests);
    const extra = { repeats: seeds.length, seeds: seeds.join(','), 'repeat.vary_data': varyData };
    return this.start(`${base.runName ?? base.detector} × ${seeds.length} seeds`, { ...base, seed: seeds[0]!, dataSeed: requests[0]!.dataSeed }, extra, async (p) => aggregateMetrics(await this.runShared(p, requests, plan, availableParallelism())));
  }

  /** Validate every child request before anything runs (a bad value fails the request, not child 7) and key it by the data it needs. */
  private async plan(requests: TrainRequest[]): Promise<{ keys: string[]; norms: NormalizedTrainRequest[] }> {
    const keys: string[] = [];
    const norms: NormalizedTrainRequest[] = [];
    for (const r of requests) {
      const n = (await this.trainer.normalize(r)).norm;
      norms.push(n);
      keys.push(prepareKey(n));
    }
    return { keys, norms };
  }

  /**
   * Run children in dispatchOrder: those sharing their data (same recipe, split, data seed…) share
   * one preparation, held until the last of them ends; the rest of a child is one model worker.
   */
  private async runShared(p: Parent, requests: TrainRequest[], plan: { keys: string[]; norms: NormalizedTrainRequest[] }, workers: number): Promise<RunInfo[]> {
    const { keys, norms } = plan;
    const costs = norms.map((n) => getDetector(n.detector).cost?.(n.params, planFeatures(n.recipe).length));
    const order = dispatchOrder(keys, costs, workers);
    const left = new Map<string, number>();
    for (const k of keys) left.set(k, (left.get(k) ?? 0) + 1);
    // One hold per preparation, taken through any child needing it (equal keys, equal data inputs).
    const holds = new Map<string, () => void>();
    for (const i of order) if (!holds.has(keys[i]!)) holds.set(keys[i]!, this.trainer.holdData(norms[i]!));
    try {
      return await this.runChildren(p, requests, workers, order, (i) => {
        const k = keys[i]!;
        const n = left.get(k)! - 1;
        left.set(k, n);
        if (n === 0) holds.get(k)!();
      });
    } finally {
      for (const release of holds.values()) release();
    }
  }

  async sweep(req: SweepRequest): Promise<{ parentId: string }> {
    const { norm } = await this.trainer.normalize(req.base);
    const trials = sweepTrials(req.space, req.mode, req.trials ?? 16, norm.seed);
    const metric = req.metric ?? (norm.label ? 'roc_auc' : 'alert_rate');
    const maximize = req.maximize ?? metric !== 'alert_rate';
    const workers = Math.max(1, Math.floor(req.workers ?? availableParallelism()));
    const requests = trials.map((t, i): TrainRequest => {
      const knobs = Object.fromEntries(Object.entries(t).filter(([k]) => k.startsWith('recipe.')));
      const params = { ...(req.base.params ?? {}), ...Object.fromEntries(Object.entries(t).filter(([k]) => !k.startsWith('recipe.'))) };
      return {
        ...req.base,
        seed: norm.seed,
        params,
        recipe: Object.keys(knobs).length ? applyRecipeKnobs(norm.recipe, knobs) : norm.recipe,
        runName: `trial ${i + 1}: ${Object.entries(t).map(([k, v]) => `${k}=${typeof v === 'number' ? Number(v.toPrecision(4)) : v}`).join(' ')}`,
      };
    });
    const plan = await this.plan(requests);
    return this.start(`sweep (${req.mode}, ${trials.length} trials)`, req.base, { 'sweep.mode': req.mode, 'sweep.trials': trials.length, 'sweep.metric': metric, 'sweep.workers': workers, 'sweep.space': JSON.stringify(req.space) }, async (p) => {
      const kids = await this.runShared(p, requests, plan, workers);
      const scored = kids.filter((k) => k.status === 'finished' && typeof k.metrics[metric] === 'number');
      const agg = aggregateMetrics(kids);
      if (scored.length) {
        const best = scored.reduce((a, b) => ((maximize ? b.metrics[metric]! > a.metrics[metric]! : b.metrics[metric]! < a.metrics[metric]!) ? b : a));
        await this.store.update(best.id, { tags: [...best.tags, 'best'] });
        await this.store.putArtifact(p.id, 'sweep', { metric, maximize, best: best.id, trials: kids.map((k) => ({ id: k.id, name: k.name, status: k.status, value: k.metrics[metric] ?? null })) });
        agg[`best_${metric}`] = best.metrics[metric]!;
      }
      return agg;
    });
  }

  async perGroup(req: PerGroupRequest): Promise<{ parentId: string }> {
    const ctx = await datasetContext(this.ws, req.dataset);
    const col = requireColumn(ctx, req.groupColumn, 'group column');
    const minRows = Math.max(1, Math.floor(req.minRows ?? 500));
    const groups = (await this.ws.query(`SELECT ${ident(col)}::VARCHAR AS g, count(*) AS n FROM ${ctx.table} WHERE ${ident(col)} IS NOT NULL GROUP BY 1 ORDER BY 1`)).map((r) => ({ value: String(r.g), rows: Number(r.n) }));
    if (groups.length < 2) throw new WorkbenchError('INVALID_ARGUMENT', `column '${col}' has ${groups.length} value(s); per-group models need at least two groups`);
    if (groups.length > 200) throw new WorkbenchError('INVALID_ARGUMENT', `column '${col}' has ${groups.length} values; per-group models allow at most 200`);
    const big = groups.filter((g) => g.rows >= minRows);
    const small = groups.filter((g) => g.rows < minRows);
    const base: TrainRequest = { ...req };
    delete (base as Partial<PerGroupRequest>).groupColumn;
    delete (base as Partial<PerGroupRequest>).minRows;
    const quote = (v: string): string => `'${v.replace(/'/g, "''")}'`;
    const requests: TrainRequest[] = big.map((g) => ({ ...base, filter: `${ident(col)}::VARCHAR = ${quote(g.value)}`, runName: `${col} = ${g.value}`, tags: [...(req.tags ?? []), `group:${g.value}`] }));
    // The global model (all rows) serves small and unseen groups; it is always trained so unseen values have a home.
    requests.push({ ...base, runName: `${col}: global fallback`, tags: [...(req.tags ?? []), 'fallback'] });
    return this.start(`per ${col} (${big.length} groups + fallback)`, base, { 'group.column': col, 'group.min_rows': minRows, 'group.count': groups.length, 'group.fallback_groups': small.map((g) => g.value).join(',') }, async (p) => {
      const kids = await this.runChildren(p, requests, availableParallelism());
      const byName = new Map(kids.map((k) => [k.name, k]));
      const routes: Record<string, string> = {};
      for (const g of big) {
        const k = byName.get(`${col} = ${g.value}`);
        if (k?.status === 'finished') routes[g.value] = k.id;
      }
      const fb = byName.get(`${col}: global fallback`);
      const model: PerGroupModel = {
        kind: 'per-group',
        column: col,
        routes,
        fallback: fb?.status === 'finished' ? fb.id : null,
        fallbackGroups: [...small.map((g) => g.value), ...big.filter((g) => !routes[g.value]).map((g) => g.value)],
      };
      await this.store.putArtifact(p.id, 'model', model);
      return aggregateMetrics(kids.filter((k) => k !== fb));
    });
  }
}
