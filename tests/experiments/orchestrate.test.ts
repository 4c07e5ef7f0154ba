import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import type { Workbench } from '../../core/app.ts';
import { WorkbenchError } from '../../core/api/errors.ts';
import { scoresTable } from '../../core/experiments/store.ts';
import { tempDir } from '../helpers/tmp.ts';
import { openSampleFleet } from '../helpers/fleet.ts';
import { dispatchOrder } from '../../core/experiments/orchestrate.ts';
import { isolationForest } from '../../core/models/isolation-forest.ts';

let wb: Workbench;
const tmp = tempDir();

beforeAll(async () => {
  wb = await openSampleFleet(tmp);
});
afterAll(async () => {
  await wb.close();
  tmp.cleanup();
});

const base = { dataset: 'fleet', detector: 'robust-z', experiment: 'orch', seed: 3 } as const;

async function children(parentId: string) {
  return (await wb.api['runs.list']({ experiment: 'orch' })).filter((r) => r.parentId === parentId);
}

describe('the order a pool starts a sweep\'s trials in', () => {
  it('keeps trials sharing a preparation together and starts the costliest first, only with more than one worker', () => {
    const keys = ['a', 'b', 'a', 'b', 'a'];
    const costs = [1, 5, 3, undefined, 3];
    expect(dispatchOrder(keys, costs, 2)).toEqual([2, 4, 0, 1, 3]);
    expect(dispatchOrder(keys, costs, 1)).toEqual([0, 2, 4, 1, 3]);
    expect(dispatchOrder(['k', 'k'], [undefined, undefined], 4)).toEqual([0, 1]);
  });

  it('rates an isolation forest by trees, depth and terms per split', () => {
    const cost = (p: Record<string, number | boolean>) => isolationForest.cost!(p, 40);
    expect(cost({})).toBe(100 * 8);
    expect(cost({ n_trees: 50, sample_size: 512 })).toBe(50 * 9);
    expect(cost({ extended: true, extension_level: 3 })).toBe(100 * 8 * 4);
    expect(cost({ extended: true, max_features: 0.5 })).toBe(100 * 8 * 20);
    expect(() => cost({ n_trees: -1 })).toThrow(/n_trees/);
  });
});

describe('repeats, sweeps, per-group models, registry', () => {
  it('repeats a configuration over seeds and reports mean ± std', async () => {
    const { parentId } = await wb.api['models.repeat']({ base: { ...base, detector: 'isolation-forest', params: { n_trees: 30 } }, seeds: [1, 2, 3] });
    await wb.api['models.wait']({ runId: parentId });
    const parent = await wb.api['runs.get']({ runId: parentId });
    const kids = await children(parentId);
    expect(parent.status).toBe('finished');
    expect(kids.map((k) => k.seed).sort()).toEqual([1, 2, 3]);
    const aucs = kids.map((k) => k.metrics.roc_auc!);
    const mean = aucs.reduce((a, b) => a + b, 0) / 3;
    expect(parent.metrics.roc_auc_mean).toBeCloseTo(mean, 12);
    expect(parent.metrics.roc_auc_std).toBeGreaterThan(0);
    expect(parent.children).toBe(3);
    expect(parent.params['repeat.vary_data']).toBe(false);
    expect(kids.every((k) => k.params.data_seed === 1)).toBe(true);
  });

  it('repeats on the same rows share one preparation; varyData draws each seed its own held-out devices', async () => {
    // A device split with a small training cap: both the held-out devices and the training sample depend on the data seed.
    const cfg = { ...base, detector: 'isolation-forest' as const, params: { n_trees: 20 }, split: { kind: 'devices' as const, holdoutFraction: 0.3 }, maxTrainRows: 400 };
    const testRows = async (id: string) =>
      (await wb.workspace.query(`SELECT count(*) AS n, string_agg(DISTINCT device::VARCHAR, ',' ORDER BY device::VARCHAR) AS d FROM fleetlens.${scoresTable(id)}`))[0]!;

    let before = wb.trainer.stats.preparations;
    const same = await wb.api['models.repeat']({ base: cfg, seeds: [11, 12, 13] });
    await wb.api['models.wait']({ runId: same.parentId });
    expect(wb.trainer.stats.preparations - before).toBe(1);
    const sameKids = await children(same.parentId);
    expect(sameKids.map((k) => k.status)).toEqual(['finished', 'finished', 'finished']);
    expect(sameKids.every((k) => k.params.data_seed === 11)).toBe(true);
    const sameTests = await Promise.all(sameKids.map((k) => testRows(k.id)));
    expect(new Set(sameTests.map((t) => `${t.n}|${t.d}`)).size).toBe(1);
    // The models still differ (their seeds do).
    expect(new Set(sameKids.map((k) => k.metrics.roc_auc)).size).toBeGreaterThan(1);
    // A child equals the same seed trained alone on that data seed.
    const alone = await wb.api['models.train']({ ...cfg, seed: 12, dataSeed: 11, experiment: 'orch-alone' });
    await wb.api['models.wait']({ runId: alone.runId });
    expect((await wb.api['runs.get']({ runId: alone.runId })).metrics).toEqual(sameKids.find((k) => k.seed === 12)!.metrics);

    before = wb.trainer.stats.preparations;
    const vary = await wb.api['models.repeat']({ base: cfg, seeds: [11, 12, 13], varyData: true });
    await wb.api['models.wait']({ runId: vary.parentId });
    expect(wb.trainer.stats.preparations - before).toBe(3);
    const varyKids = await children(vary.parentId);
    expect(varyKids.map((k) => k.params.data_seed).sort()).toEqual([11, 12, 13]);
    const varyTests = await Promise.all(varyKids.map((k) => testRows(k.id)));
    expect(new Set(varyTests.map((t) => t.d)).size).toBeGreaterThan(1);
    expect((await wb.api['runs.get']({ runId: vary.parentId })).params['repeat.vary_data']).toBe(true);

    const bad = await wb.api['models.repeat']({ base: cfg, seeds: [5, 5] }).catch((e: unknown) => e);
    expect((bad as WorkbenchError).code).toBe('INVALID_ARGUMENT');
  });

  it('runs a 6-trial grid sweep in a pool and marks the best child', async () => {
    const { parentId } = await wb.api['models.sweep']({ base, mode: 'grid', space: { top_k: [1, 2, 3], 'recipe.window': [5, 20] }, metric: 'roc_auc', workers: 2 });
    await wb.api['models.wait']({ runId: parentId });
    const parent = await wb.api['runs.get']({ runId: parentId });
    const kids = await children(parentId);
    expect(kids).toHaveLength(6);
    expect(kids.every((k) => k.status === 'finished')).toBe(true);
    const best = kids.filter((k) => k.tags.includes('best'));
    expect(best).toHaveLength(1);
    expect(best[0]!.metrics.roc_auc).toBe(Math.max(...kids.map((k) => k.metrics.roc_auc!)));
    expect(parent.metrics.best_roc_auc).toBe(best[0]!.metrics.roc_auc);
    expect(new Set(kids.map((k) => k.params['recipe.rolling'])).size).toBe(2);
    const filtered = await wb.api['runs.list']({ experiment: 'orch', filter: `params.top_k = 3 and metrics.roc_auc > 0` });
    expect(filtered.map((r) => r.id).sort()).toEqual(kids.filter((k) => k.params.top_k === 3).map((k) => k.id).sort());
  });

  it('prepares the data once per distinct recipe, and a shared preparation changes no result', async () => {
    const before = wb.trainer.stats.preparations;
    const { parentId } = await wb.api['models.sweep']({ base: { ...base, detector: 'isolation-forest', maxTrainRows: 300 }, mode: 'grid', space: { n_trees: [10, 20, 30], 'recipe.window': [5, 20] }, metric: 'roc_auc', workers: 2 });
    await wb.api['models.wait']({ runId: parentId });
    const kids = await children(parentId);
    expect(kids.every((k) => k.status === 'finished')).toBe(true);
    expect(wb.trainer.stats.preparations - before).toBe(2);
    // Per window (one preparation), the pool started the costliest trial first: it began before the
    // cheapest one, which waited for a worker to free up.
    for (const w of ['5:', '20:']) {
      const started = (n: number) => Date.parse(kids.find((k) => k.params.n_trees === n && String(k.params['recipe.rolling']).startsWith(w))!.startedAt);
      expect(started(30), `window ${w}`).toBeLessThan(started(10));
    }
    // The same trial run on its own (its own preparation) gives the same model, scores and metrics.
    const kid = kids.find((k) => k.params.n_trees === 20 && String(k.params['recipe.rolling']).startsWith('20:'))!;
    const request = (await wb.api['runs.artifact']({ runId: kid.id, name: 'request' })) as Record<string, unknown>;
    const { runId } = await wb.api['models.train']({ ...(request as object), parentId: undefined, experiment: 'orch-alone' } as never);
    await wb.api['models.wait']({ runId });
    const alone = await wb.api['runs.get']({ runId });
    expect(wb.trainer.stats.preparations - before).toBe(3);
    expect(alone.metrics).toEqual(kid.metrics);
    const model = (id: string) => wb.api['runs.artifact']({ runId: id, name: 'model' });
    expect(await model(runId)).toEqual(await model(kid.id));
  });

  it('starts a trial that shares a preparation without waiting for the run row to note it', async () => {
    // Right after a preparation the workspace is busy (its clean-up, the test rows' table): a slow
    // write stands in for that. The second trial must not idle its worker until the write lands.
    type Hooks = { store: { progress(id: string, p: number, phase: string): Promise<void> }; workers: { acquire(...a: unknown[]): unknown } };
    const { store, workers } = wb.trainer as unknown as Hooks;
    const progress = store.progress.bind(store);
    const acquire = workers.acquire.bind(workers);
    const noted: number[] = [];
    const started: number[] = [];
    store.progress = async (id, p, phase) => {
      if (!phase.startsWith('using the data prepared')) return progress(id, p, phase);
      await new Promise((r) => setTimeout(r, 1500));
      await progress(id, p, phase);
      noted.push(performance.now());
    };
    workers.acquire = (...a) => (started.push(performance.now()), acquire(...a));
    try {
      const { parentId } = await wb.api['models.sweep']({ base: { ...base, detector: 'isolation-forest', maxTrainRows: 300 }, mode: 'grid', space: { n_trees: [10, 20] }, metric: 'roc_auc', workers: 2 });
      await wb.api['models.wait']({ runId: parentId });
      const kids = await children(parentId);
      expect(kids.map((k) => k.status)).toEqual(['finished', 'finished']);
      expect(noted).toHaveLength(1);
      expect(started).toHaveLength(2);
      expect(Math.max(...started)).toBeLessThan(noted[0]!);
    } finally {
      store.progress = progress;
      workers.acquire = acquire;
    }
  });

  it('refuses a sweep with a bad value before any trial runs', async () => {
    const err = await wb.api['models.sweep']({ base, mode: 'grid', space: { top_k: [1, -5] } }).catch((e: unknown) => e);
    expect((err as WorkbenchError).code).toBe('INVALID_ARGUMENT');
  });

  it('trains one model per model_id with a fallback, and the delegating model scores like its children', async () => {
    const { parentId } = await wb.api['models.trainPerGroup']({ ...base, groupColumn: 'model_id', minRows: 700 });
    await wb.api['models.wait']({ runId: parentId });
    const parent = await wb.api['runs.get']({ runId: parentId });
    expect(parent.status, parent.error ?? '').toBe('finished');
    const model = (await wb.api['runs.artifact']({ runId: parentId, name: 'model' })) as { routes: Record<string, string>; fallback: string; fallbackGroups: string[] };
    const sizes = await wb.workspace.query(`SELECT model_id, count(*) n FROM fleet GROUP BY 1`);
    const small = sizes.filter((r) => Number(r.n) < 700).map((r) => String(r.model_id)).sort();
    expect(model.fallbackGroups.sort()).toEqual(small);
    expect(Object.keys(model.routes).length + small.length).toBe(sizes.length);
    expect(parent.params['group.fallback_groups']).toBe(small.join(','));
    // Delegating model output equals each group scored with its own child (fallback for small groups).
    const all = tmp.file('all.csv');
    await wb.api['models.score']({ model: parentId, dataset: 'fleet', out: all });
    const parse = (f: string) => new Map(readFileSync(f, 'utf8').trim().split('\n').slice(1).map((l) => { const c = l.split(','); return [c[0] + '|' + c[2], Number(c[3])]; }));
    const delegated = parse(all);
    for (const [value, child] of [...Object.entries(model.routes), ...small.map((s) => [s, model.fallback] as [string, string])]) {
      const f = tmp.file(`g-${value}.csv`);
      await wb.api['models.score']({ model: child, dataset: 'fleet', out: f });
      const rows = await wb.workspace.query(`SELECT device_id, timestamp::VARCHAR t FROM fleet WHERE model_id = '${value}'`);
      const own = parse(f);
      for (const r of rows.slice(0, 200)) {
        const k = `${r.device_id}|${r.t}`;
        expect(delegated.get(k)).toBe(own.get(k));
      }
    }
  });

  it('registers versions, moves aliases, scores through name@alias and refuses datasets missing columns', async () => {
    const runs = (await wb.api['runs.list']({ experiment: 'orch' })).filter((r) => r.status === 'finished' && r.parentId !== null);
    const v1 = await wb.api['registry.register']({ runId: runs[0]!.id, name: 'pump-anomaly' });
    const v2 = await wb.api['registry.register']({ runId: runs[1]!.id, name: 'pump-anomaly' });
    expect([v1.version, v2.version]).toEqual([1, 2]);
    await wb.api['registry.setAlias']({ name: 'pump-anomaly', alias: 'production', version: 1 });
    await wb.api['registry.setAlias']({ name: 'pump-anomaly', alias: 'production', version: 2 });
    const card = await wb.api['registry.card']({ ref: 'pump-anomaly@production' });
    expect(card.version).toBe(2);
    expect(card.runId).toBe(runs[1]!.id);
    expect(card.aliases).toEqual(['production']);
    expect(card.requiredColumns).toContain('temperature');
    expect((await wb.api['registry.card']({ ref: 'pump-anomaly@1' })).aliases).toEqual([]);
    const out = tmp.file('prod.csv');
    const res = await wb.api['models.score']({ model: 'pump-anomaly@production', dataset: 'fleet', out });
    expect(res.rows).toBeGreaterThan(0);
    await wb.api['datasets.import']({ dataset: 'partial', files: [tmp.file('p.csv', 'device_id,trip_id,timestamp,temperature\nd,t,2026-01-01 00:00:00,1\n')] });
    const err = await wb.api['models.score']({ model: 'pump-anomaly@production', dataset: 'partial', out }).catch((e: unknown) => e);
    expect((err as WorkbenchError).message).toMatch(/lacks column\(s\) 'airflow_rate'/);
    const bad = await wb.api['registry.card']({ ref: 'pump-anomaly@staging' }).catch((e: unknown) => e);
    expect((bad as WorkbenchError).message).toBe("model pump-anomaly has no alias 'staging' (it has production)");
  });
});
