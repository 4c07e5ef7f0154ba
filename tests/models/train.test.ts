import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import { createWorkbench, type Workbench } from '../../core/app.ts';
import { WorkbenchError } from '../../core/api/errors.ts';
import type { RunInfo } from '../../core/experiments/api.ts';
import { fitRecipe, type FittedRecipe } from '../../core/features/batch.ts';
import { ROOT, tempDir } from '../helpers/tmp.ts';

let wb: Workbench;
const tmp = tempDir();
const SMALL = join(ROOT, 'samples', 'fleet-small.csv');

beforeAll(async () => {
  wb = await createWorkbench({ workspace: tmp.file('ws.duckdb'), mode: 'in-process' });
  await wb.api['datasets.import']({ dataset: 'fleet', files: [SMALL] });
});
afterAll(async () => {
  await wb.close();
  tmp.cleanup();
});

async function train(req: Parameters<Workbench['api']['models.train']>[0]): Promise<RunInfo & { artifacts: string[] }> {
  const { runId } = await wb.api['models.train'](req);
  await wb.api['models.wait']({ runId });
  return wb.api['runs.get']({ runId });
}

async function refused(req: Parameters<Workbench['api']['models.train']>[0]): Promise<WorkbenchError> {
  const e = await wb.api['models.train'](req).then(() => null, (x: unknown) => x);
  expect(e).toBeInstanceOf(WorkbenchError);
  return e as WorkbenchError;
}

describe('training runs', () => {
  it('records a finished run with params, metrics, seed, fingerprint and artifacts', async () => {
    const updates: string[] = [];
    const off = wb.events.on('runs.updated', (r) => updates.push(r.status + ':' + r.phase));
    const run = await train({ dataset: 'fleet', detector: 'isolation-forest', seed: 11, experiment: 'unit', params: { n_trees: 50 } });
    off();
    expect(run.status).toBe('finished');
    expect(run.seed).toBe(11);
    expect(run.params.detector).toBe('isolation-forest');
    expect(run.params.n_trees).toBe(50);
    expect(run.metrics.roc_auc).toBeGreaterThan(0.6);
    expect(run.metrics.f1).toBeGreaterThanOrEqual(0);
    expect(run.metrics.train_rows).toBeGreaterThan(0);
    expect(run.fingerprint!.rowCount).toBe(5031);
    expect(run.fingerprint!.hash).toMatch(/^[0-9a-f]{64}$/);
    expect(run.artifacts).toEqual(expect.arrayContaining(['model', 'request', 'evaluation', 'top_anomalies']));
    expect(updates.at(-1)).toBe('finished:finished');
    // The worker's steps reach listeners while the run is running, not only the engine's phases.
    expect(updates.some((u) => /^running:fitting isolation-forest/.test(u)), updates.join(' | ')).toBe(true);
    const evaln = (await wb.api['runs.artifact']({ runId: run.id, name: 'evaluation' })) as { roc: { x: number[] }; confusion: Record<string, number> };
    expect(evaln.roc.x.length).toBeGreaterThan(2);
    expect(Object.values(evaln.confusion).reduce((a, b) => a + b, 0)).toBe(run.metrics.test_rows);
    const top = await wb.api['runs.topAnomalies']({ runId: run.id, limit: 5 });
    const scores = top.values[3]!.map(Number);
    expect(scores).toEqual([...scores].sort((a, b) => b - a));
    expect(String(top.values[6]![0])).toMatch(/\(\d/);
  });

  it('evaluates on another dataset, with lead times to a failure column, and stores every scored row', async () => {
    // The evaluation dataset: the sample's rows with a per-device failure time and a few NULL devices and trips.
    await wb.workspace.run(`CREATE OR REPLACE TABLE eval_src AS SELECT * REPLACE (CASE WHEN rowid % 97 = 0 THEN NULL ELSE device_id END AS device_id, CASE WHEN rowid % 89 = 0 THEN NULL ELSE trip_id END AS trip_id),
      max("timestamp") OVER (PARTITION BY device_id) AS failure_at FROM fleet`);
    const csv = tmp.file('eval.csv');
    await wb.workspace.run(`COPY eval_src TO '${csv}' (HEADER)`);
    await wb.api['datasets.import']({ dataset: 'fleet_eval', files: [csv] });
    const run = await train({ dataset: 'fleet', detector: 'robust-z', seed: 5, experiment: 'unit', evalDataset: 'fleet_eval', leadTime: { sustain: 2, failureColumn: 'failure_at' }, filter: "model_id IS NOT NULL" });
    expect(run.error ?? run.status).toBe('finished');
    const [{ n, nulls }] = (await wb.workspace.query(`SELECT count(*) AS n, count(*) FILTER (WHERE device_id IS NULL) AS nulls FROM fleet_eval WHERE model_id IS NOT NULL`)) as [{ n: number; nulls: number }];
    expect(run.metrics.test_rows).toBe(Number(n));
    const stored = (await wb.workspace.query(`SELECT count(*) AS n, count(*) FILTER (WHERE device = '') AS blank, count(DISTINCT rid) AS ids FROM fleetlens."scores__${run.id}"`))[0]!;
    expect(Number(stored.n)).toBe(Number(n));
    expect(Number(stored.ids)).toBe(Number(n));
    expect(Number(stored.blank)).toBe(Number(nulls));
    // Every stored row belongs to its rowid: device, label and (for the top anomalies) score line up.
    const [{ wrong }] = (await wb.workspace.query(`SELECT count(*) AS wrong FROM fleetlens."scores__${run.id}" s JOIN fleet_eval d ON d.rowid = s.rid
      WHERE coalesce(d.device_id, '') <> s.device OR (d.defect::DOUBLE IS DISTINCT FROM s.label)`)) as [{ wrong: number }];
    expect(Number(wrong)).toBe(0);
    const top = (await wb.api['runs.artifact']({ runId: run.id, name: 'top_anomalies' })) as { rid: number; score: number }[];
    for (const t of top.slice(0, 20)) {
      const [{ score }] = (await wb.workspace.query(`SELECT score FROM fleetlens."scores__${run.id}" WHERE rid = ${t.rid}`)) as [{ score: number }];
      expect(score).toBe(t.score);
    }
    const evaln = (await wb.api['runs.artifact']({ runId: run.id, name: 'evaluation' })) as { leadTime: { unit: string; perDevice: { device: string; end: number }[] } };
    expect(evaln.leadTime.unit).toBe('minutes');
    // Lead times end at the failure column: for a device, its failure time (epoch ms), not its last scored row.
    const dev = evaln.leadTime.perDevice.find((d) => d.device !== '')!;
    const [{ f }] = (await wb.workspace.query(`SELECT epoch_ms(max(failure_at)::TIMESTAMP)::DOUBLE AS f FROM fleet_eval WHERE device_id = '${dev.device}'`)) as [{ f: number }];
    expect(dev.end).toBe(Number(f));
  });

  it('keeps every stored score on its own row across many row groups', async () => {
    const file = tmp.file('big.parquet');
    await wb.workspace.run(`COPY (SELECT 'd' || (i % 50) AS device_id, TIMESTAMP '2024-01-01' + INTERVAL (i // 50) MINUTE AS ts, sin(i / 7.0) + (i % 13) / 10.0 AS x, cos(i / 5.0) AS y, (i % 1000 = 0)::INT AS defect FROM range(600000) t(i)) TO '${file}' (FORMAT parquet)`);
    await wb.api['datasets.import']({ dataset: 'big', files: [file] });
    const run = await train({ dataset: 'big', detector: 'robust-z', seed: 1, experiment: 'unit', maxTrainRows: 5000 });
    expect(run.error ?? run.status).toBe('finished');
    expect(run.metrics.test_rows).toBeGreaterThan(122_880);
    // Identities line up with their rowids, and the highest stored scores are the top anomalies the
    // worker ranked from its own arrays (scores and identities are paired by position).
    const [{ wrong, n }] = (await wb.workspace.query(`SELECT count(*) FILTER (WHERE d.device_id <> s.device OR d.defect::DOUBLE <> s.label OR epoch_ms(d.ts)::DOUBLE <> s.t) AS wrong, count(*) AS n
      FROM fleetlens."scores__${run.id}" s JOIN big d ON d.rowid = s.rid`)) as [{ wrong: number; n: number }];
    expect(Number(n)).toBe(run.metrics.test_rows);
    expect(Number(wrong)).toBe(0);
    const top = (await wb.api['runs.artifact']({ runId: run.id, name: 'top_anomalies' })) as { rid: number; score: number }[];
    const stored = await wb.workspace.query(`SELECT rid, score FROM fleetlens."scores__${run.id}" ORDER BY score DESC, rid LIMIT 50`);
    expect(stored.map((r) => Number(r.score))).toEqual(top.slice(0, 50).map((t) => t.score));
  });

  it("fits the recipe on the training sample's rows when the training rows exceed maxTrainRows", async () => {
    if (!(await wb.api['datasets.list']({})).some((d) => d.name === 'big')) {
      const file = tmp.file('big2.parquet');
      await wb.workspace.run(`COPY (SELECT 'd' || (i % 50) AS device_id, TIMESTAMP '2024-01-01' + INTERVAL (i // 50) MINUTE AS ts, sin(i / 7.0) + (i % 13) / 10.0 AS x, cos(i / 5.0) AS y, (i % 1000 = 0)::INT AS defect FROM range(600000) t(i)) TO '${file}' (FORMAT parquet)`);
      await wb.api['datasets.import']({ dataset: 'big', files: [file] });
    }
    const run = await train({ dataset: 'big', detector: 'pca', seed: 3, experiment: 'unit', maxTrainRows: 5000 });
    expect(run.error ?? run.status).toBe('finished');
    const { recipe: fitted } = (await wb.api['runs.artifact']({ runId: run.id, name: 'model' })) as { recipe: FittedRecipe };
    // 70% of 600k rows are training rows; the recipe saw the seeded hash sample the model's 5,000 rows come from.
    expect(fitted.training.sampledFrom).toBe(420_000);
    expect(fitted.training.rows).toBeGreaterThanOrEqual(5000);
    expect(fitted.training.rows).toBeLessThan(6000);
    expect(fitted.training.filter).toMatch(/hash\("big"\.rowid, 3\)/);
    // Exactly the fit of the same rows (first 70% of each device's time, in the sample) by the path
    // that computes every row's features.
    const sample = /hash\("big"\.rowid, 3\) < \d+::UBIGINT$/.exec(fitted.training.filter!)![0];
    const again = await fitRecipe(wb.workspace, 'big', fitted.recipe, {
      join: 'JOIN (SELECT device_id AS cut_device, quantile_disc(epoch_ms(ts)::DOUBLE, 0.7) AS cut FROM big GROUP BY 1) ON cut_device = big.device_id',
      trainFilter: `epoch_ms(ts)::DOUBLE <= cut AND ${sample}`,
    });
    expect(again.training.rows).toBe(fitted.training.rows);
    expect({ centers: again.centers, fill: again.fillValues, scaler: again.scaler }).toEqual({ centers: fitted.centers, fill: fitted.fillValues, scaler: fitted.scaler });
    // Below the cap there is no sample: every training row fits the recipe.
    const small = await train({ dataset: 'fleet', detector: 'pca', seed: 3, experiment: 'unit' });
    const { recipe: whole } = (await wb.api['runs.artifact']({ runId: small.id, name: 'model' })) as { recipe: FittedRecipe };
    expect(whole.training.sampledFrom).toBeUndefined();
    expect(whole.training.rows).toBe(small.metrics.train_rows);
  });

  it('reproduces a run exactly from its recorded request and seed', async () => {
    const a = await train({ dataset: 'fleet', detector: 'isolation-forest', seed: 5, experiment: 'unit' });
    const req = (await wb.api['runs.artifact']({ runId: a.id, name: 'request' })) as Parameters<Workbench['api']['models.train']>[0];
    const b = await train(req);
    expect(b.id).not.toBe(a.id);
    const strip = (m: Record<string, number>) => Object.fromEntries(Object.entries(m));
    expect(strip(b.metrics)).toEqual(strip(a.metrics));
    const c = await train({ ...req, seed: 6 });
    expect(c.metrics.roc_auc).not.toBe(a.metrics.roc_auc);
  });

  it('trains every detector with other splits and thresholds', async () => {
    for (const detector of ['robust-z', 'pca']) {
      const r = await train({ dataset: 'fleet', detector, seed: 1, split: { kind: 'devices', holdoutFraction: 0.3 }, threshold: { kind: 'best-f1' }, normalOnly: true });
      expect(r.status, r.error ?? '').toBe('finished');
      expect(r.params['split.kind']).toBe('devices');
    }
    const fixed = await train({ dataset: 'fleet', detector: 'robust-z', seed: 1, threshold: { kind: 'fixed', value: 1e9 } });
    expect(fixed.metrics.alert_rate).toBe(0);
  });

  it('refuses bad requests with specific messages before a run exists', async () => {
    const before = (await wb.api['runs.list']({})).length;
    expect((await refused({ dataset: 'fleet', detector: 'nope' })).message).toMatch(/unknown detector|nope/i);
    expect((await refused({ dataset: 'fleet', detector: 'isolation-forest', params: { n_trees: -3 } })).message).toContain("parameter 'n_trees'");
    expect((await refused({ dataset: 'fleet', detector: 'isolation-forest', params: { bogus: 1 } })).message).toContain("no parameter 'bogus'");
    const recipe = await wb.api['models.defaultRecipe']({ dataset: 'fleet' });
    expect((await refused({ dataset: 'fleet', detector: 'pca', recipe: { ...recipe, sensors: ['tmp'] } })).message).toContain("'tmp'");
    expect((await refused({ dataset: 'fleet', detector: 'pca', recipe: { ...recipe, sensors: ['device_id'] } })).message).toContain("'device_id'");
    expect((await refused({ dataset: 'fleet', detector: 'pca', label: null, threshold: { kind: 'best-f1' } })).message).toContain('needs a label');
    expect((await refused({ dataset: 'nope', detector: 'pca' })).code).toBe('DATASET_NOT_FOUND');
    expect((await wb.api['runs.list']({})).length).toBe(before);
  });

  it('records failures on the run: constant features, no rows, NaN/Infinity values', async () => {
    const csv = ['device_id,timestamp,a,b', ...Array.from({ length: 50 }, (_, i) => `d${i % 2},2026-01-01 00:${String(i).padStart(2, '0')}:00,1,2`)].join('\n');
    await wb.api['datasets.import']({ dataset: 'flat', files: [tmp.file('flat.csv', csv)] });
    const flat = await train({ dataset: 'flat', detector: 'robust-z', seed: 1, label: null });
    expect(flat.status).toBe('failed');
    expect(flat.error).toMatch(/constant/i);
    const inf = ['device_id,timestamp,a,b', ...Array.from({ length: 40 }, (_, i) => `d${i % 2},2026-01-01 00:${String(i).padStart(2, '0')}:00,${i === 7 ? 'inf' : i % 5},${i === 9 ? 'nan' : i % 3}`)].join('\n');
    await wb.api['datasets.import']({ dataset: 'weird', files: [tmp.file('weird.csv', inf)] });
    const w = await train({ dataset: 'weird', detector: 'isolation-forest', seed: 1, label: null });
    // Either handled (non-finite readings treated as missing and filled) or a clear error on the run, never a crash.
    if (w.status === 'failed') expect(w.error).toMatch(/finite|NaN|Infinity/i);
    else expect(w.status).toBe('finished');
    const recipe = await wb.api['models.defaultRecipe']({ dataset: 'fleet' });
    const none = await train({ dataset: 'fleet', detector: 'pca', seed: 1, recipe: { ...recipe, fill: 'drop', lags: [400] } });
    expect(none.status).toBe('failed');
    expect(none.error).toMatch(/no training rows|every training row/);
  });

  it('cancels a running run and records it as cancelled', async () => {
    const { runId } = await wb.api['models.train']({ dataset: 'fleet', detector: 'isolation-forest-mljs', seed: 2, params: { n_trees: 400 } });
    await new Promise((r) => setTimeout(r, 300));
    expect(await wb.api['models.cancel']({ runId })).toBe(true);
    await wb.api['models.wait']({ runId });
    const run = await wb.api['runs.get']({ runId });
    expect(run.status).toBe('cancelled');
    expect(run.error).toMatch(/cancelled/);
  });

  it('scores a dataset to CSV with score, alarm and top features', async () => {
    const run = (await wb.api['runs.list']({ experiment: 'unit' })).find((r) => r.status === 'finished')!;
    const out = tmp.file('scored.csv');
    const res = await wb.api['models.score']({ model: run.id, dataset: 'fleet', out });
    expect(res.rows).toBeGreaterThan(4000);
    const lines = readFileSync(out, 'utf8').trim().split('\n');
    expect(lines[0]).toBe('device_id,trip_id,timestamp,score,alarm,top_features');
    expect(lines.length - 1).toBe(res.rows);
    expect(lines.filter((l) => l.includes(',true,')).length).toBe(res.alarms);
  });
});
