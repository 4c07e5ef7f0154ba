/**
 * Phase timings of one training run (isolation forest, 100 trees, 100k training rows) on the
 * generated sample: prints the time each run phase started. A profiling aid, not a target.
 *
 *   node --import tsx bench/prof-trial.ts [--rows 1000000]
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { createWorkbench } from '../core/app.ts';
import { arg, fleetFile, RESULTS } from './lib.ts';
const rows = Number(arg('rows', '1000000'));
const wsPath = join(RESULTS, `explore-${rows}.duckdb`);
const fresh = !existsSync(wsPath);
const wb = await createWorkbench({ workspace: wsPath, mode: 'in-process' });
if (fresh) await wb.api['datasets.import']({ dataset: 'fleet', files: [await fleetFile(rows, 'parquet')] });
let t0 = performance.now(); let last = '';
wb.events.on('runs.updated', (r) => { if (r.phase !== last) { console.log(((performance.now()-t0)/1000).toFixed(2), r.phase); last = r.phase; } });
t0 = performance.now();
const { runId } = await wb.api['models.train']({ dataset: 'fleet', detector: 'isolation-forest', experiment: 'prof', seed: 42, maxTrainRows: 100_000, params: { n_trees: 100 } });
await wb.api['models.wait']({ runId });
const r = await wb.api['runs.get']({ runId });
console.log(((performance.now()-t0)/1000).toFixed(2), r.status, r.metrics.features, r.metrics.test_rows, r.error);
await wb.close();
