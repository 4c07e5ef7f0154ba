/**
 * bench/detect (issue #5): every detector on NASA C-MAPSS FD001 through the full
 * Fleetlens path (ingest → recipe → train → evaluate). Label = remaining useful
 * life ≤ 30 cycles; train on each training engine's first half; evaluate on
 * test_FD001 with RUL_FD001 (failure cycle = last test cycle + RUL). Prints
 * PR-AUC, ROC-AUC, F1 and mean lead time (cycles before failure of the first
 * alarm sustained 3 cycles) per detector.
 *
 *   node --import tsx bench/detect.ts [--seed 42]
 */
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { createWorkbench } from '../core/app.ts';
import { arg, RESULTS, ROOT } from './lib.ts';

const dir = join(ROOT, '..', 'shared', 'data', 'cmapss');
if (!existsSync(join(dir, 'train_FD001.txt'))) {
  console.log(`bench/detect skipped: C-MAPSS data not found in ${dir}`);
  process.exit(0);
}
const seed = Number(arg('seed', '42'));
const cols = ['unit', 'cycle', 'setting1', 'setting2', 'setting3', ...Array.from({ length: 21 }, (_, i) => `s${i + 1}`)];
// The 14 sensors that vary in FD001 (the other 7 are constant or two-valued, see the profile).
const sensors = ['s2', 's3', 's4', 's7', 's8', 's9', 's11', 's12', 's13', 's14', 's15', 's17', 's20', 's21'];

// Derive labelled CSVs with DuckDB (the raw files have no label), then ingest them the way a user would.
const inst = await DuckDBInstance.create(':memory:');
const con = await inst.connect();
const read = (f: string) => `(SELECT ${cols.map((c, i) => `p[${i + 1}]::DOUBLE AS ${c}`).join(', ')} FROM (SELECT string_split_regex(trim(column0), '\\s+') p FROM read_csv('${join(dir, f)}', header = false, columns = {'column0': 'VARCHAR'}, delim = '|')))`;
const trainCsv = join(RESULTS, 'cmapss-train.csv');
const testCsv = join(RESULTS, 'cmapss-test.csv');
await con.run(`COPY (SELECT *, max(cycle) OVER (PARTITION BY unit) AS failure_cycle, (max(cycle) OVER (PARTITION BY unit) - cycle <= 30)::INT AS degraded FROM ${read('train_FD001.txt')}) TO '${trainCsv}' (HEADER)`);
await con.run(`CREATE TABLE rul AS SELECT row_number() OVER () AS unit, trim(column0)::INT AS rul FROM read_csv('${join(dir, 'RUL_FD001.txt')}', header = false, columns = {'column0': 'VARCHAR'})`);
await con.run(
  `COPY (SELECT t.*, max(t.cycle) OVER (PARTITION BY t.unit) + r.rul AS failure_cycle, (max(t.cycle) OVER (PARTITION BY t.unit) + r.rul - t.cycle <= 30)::INT AS degraded FROM ${read('test_FD001.txt')} t JOIN rul r ON r.unit = t.unit) TO '${testCsv}' (HEADER)`,
);
con.closeSync();
inst.closeSync();

const wsPath = join(RESULTS, 'bench-detect.duckdb');
rmSync(wsPath, { force: true });
rmSync(wsPath + '.wal', { force: true });
const wb = await createWorkbench({ workspace: wsPath, mode: 'in-process' });
await wb.api['datasets.import']({ dataset: 'fd001_train', files: [trainCsv] });
await wb.api['datasets.import']({ dataset: 'fd001_test', files: [testCsv] });
for (const ds of ['fd001_train', 'fd001_test']) {
  await wb.api['datasets.setRoles']({ name: ds, roles: { unit: 'device', cycle: 'time', degraded: 'label', failure_cycle: 'ignore' } });
}
const recipe = { ...(await wb.api['models.defaultRecipe']({ dataset: 'fd001_train' })), sensors, groupBy: 'device' as const };
const detectors = (await wb.api['models.detectors']({})).map((d) => d.kind);
const rows: string[][] = [];
for (const detector of detectors) {
  const t0 = performance.now();
  const { runId } = await wb.api['models.train']({
    dataset: 'fd001_train',
    detector,
    recipe,
    split: { kind: 'time', trainFraction: 0.5 },
    threshold: { kind: 'contamination', value: 0.02 },
    evalDataset: 'fd001_test',
    leadTime: { sustain: 3, failureColumn: 'failure_cycle' },
    experiment: 'bench-detect',
    seed,
  });
  await wb.api['models.wait']({ runId });
  const run = await wb.api['runs.get']({ runId });
  const m = run.metrics;
  const f = (v: number | undefined, d = 3) => (v === undefined ? '—' : v.toFixed(d));
  rows.push([detector, run.status, f(m.pr_auc), f(m.roc_auc), f(m.f1), f(m.precision), f(m.recall), f(m.lead_time_mean, 1), `${m.devices_alarmed ?? 0}/100`, ((performance.now() - t0) / 1000).toFixed(1)]);
  if (run.status !== 'finished') console.log(`${detector}: ${run.error}`);
}
await wb.close();
const head = ['detector', 'status', 'PR-AUC', 'ROC-AUC', 'F1', 'precision', 'recall', 'lead (cycles)', 'engines alarmed', 'seconds'];
const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
console.log(`\nC-MAPSS FD001: label RUL ≤ 30; trained on each training engine's first half; evaluated on test_FD001 (seed ${seed}, contamination threshold 2%, sustained = 3 alarms)`);
for (const r of [head, ...rows]) console.log(r.map((v, i) => v.padEnd(widths[i]!)).join('  '));
