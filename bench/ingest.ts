/**
 * bench/ingest (issue #3): the generated sample fleet (default 10M rows) as CSV
 * and as Parquet, through the full Fleetlens import path and through a bare
 * `CREATE TABLE AS SELECT * FROM read_csv/read_parquet` in DuckDB, in the same
 * run. Prints rows/s, the ratio (target ≥ 0.9×) and the Node process' peak RSS
 * during the Fleetlens imports (target < 1 GiB).
 *
 *   node --import tsx bench/ingest.ts [--rows 10000000] [--reps 2]
 */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { createWorkbench } from '../core/app.ts';
import { arg, fleetFile, median, mib, RESULTS, rssSampler, timed } from './lib.ts';

const rows = Number(arg('rows', '10000000'));
const reps = Number(arg('reps', '2'));

function freshPath(name: string): string {
  const p = join(RESULTS, name);
  rmSync(p, { force: true });
  rmSync(p + '.wal', { force: true });
  return p;
}

async function bare(file: string, reader: string): Promise<number> {
  const path = freshPath('bench-bare.duckdb');
  const inst = await DuckDBInstance.create(path);
  const con = await inst.connect();
  const t = await timed(() => con.run(`CREATE TABLE t AS SELECT * FROM ${reader}('${file}')`));
  con.closeSync();
  inst.closeSync();
  return t.ms;
}

async function fleetlens(file: string): Promise<{ ms: number; rows: number; peak: number }> {
  const path = freshPath('bench-fleetlens.duckdb');
  const wb = await createWorkbench({ workspace: path, mode: 'in-process' });
  const rss = rssSampler(50);
  const t = await timed(() => wb.api['datasets.import']({ dataset: 'fleet', files: [file] }));
  const peak = rss.stop();
  await wb.close();
  return { ms: t.ms, rows: t.value.rowsAdded, peak };
}

const results: { format: string; bare: number; fl: number; ratio: number; peak: number }[] = [];
for (const format of ['csv', 'parquet'] as const) {
  const file = await fleetFile(rows, format);
  const reader = format === 'csv' ? 'read_csv' : 'read_parquet';
  const bareMs: number[] = [];
  const flMs: number[] = [];
  let peak = 0;
  let got = 0;
  // Interleave the two paths so drift on a shared machine hits both alike.
  for (let r = 0; r < reps; r++) {
    bareMs.push(await bare(file, reader));
    const f = await fleetlens(file);
    flMs.push(f.ms);
    peak = Math.max(peak, f.peak);
    got = f.rows;
  }
  const b = median(bareMs), f = median(flMs);
  results.push({ format, bare: got / (b / 1000), fl: got / (f / 1000), ratio: b / f, peak });
  console.log(`${format}: ${got.toLocaleString('en-US')} rows; bare DuckDB ${b.toFixed(0)} ms, Fleetlens ${f.toFixed(0)} ms (runs: bare ${bareMs.map((x) => x.toFixed(0)).join('/')}, fleetlens ${flMs.map((x) => x.toFixed(0)).join('/')})`);
}
console.log('\nformat   bare DuckDB rows/s   Fleetlens rows/s   ratio (target ≥ 0.90)   peak RSS (target < 1024 MiB)');
for (const r of results) {
  console.log(
    `${r.format.padEnd(8)} ${Math.round(r.bare).toLocaleString('en-US').padStart(18)}   ${Math.round(r.fl).toLocaleString('en-US').padStart(16)}   ${r.ratio.toFixed(2).padStart(5)}× ${r.ratio >= 0.9 ? 'ok ' : 'LOW'}               ${mib(r.peak).padStart(9)} ${r.peak < 1 << 30 ? 'ok' : 'HIGH'}`,
  );
}
rmSync(join(RESULTS, 'bench-bare.duckdb'), { force: true });
rmSync(join(RESULTS, 'bench-fleetlens.duckdb'), { force: true });
