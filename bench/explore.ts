/**
 * bench/explore (issue #4): on the generated 10M-row sample, time the Explore
 * interactions through the Fleetlens API (in-process client: dispatch + wire
 * codec, as a transport would) — overview, trips table, a full-device chart
 * (M4-downsampled) and a zoomed window — and, in the same run, a bare SELECT of
 * the same raw rows. Prints medians (target < 300 ms each), payload sizes
 * (target < 1 MB per chart) and the ratio of the chart query to the bare SELECT.
 *
 *   node --import tsx bench/explore.ts [--rows 10000000] [--reps 7]
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { createWorkbench } from '../core/app.ts';
import { orderSettled } from '../core/data/order.ts';
import { encodeWire } from '../core/api/codec.ts';
import { createInProcessClient } from '../core/server/in-process-client.ts';
import { arg, fleetFile, median, RESULTS, timed } from './lib.ts';

const rows = Number(arg('rows', '10000000'));
const reps = Number(arg('reps', '7'));
const wsPath = join(RESULTS, `explore-${rows}.duckdb`);
const fresh = !existsSync(wsPath);
const wb = await createWorkbench({ workspace: wsPath, mode: 'in-process' });
if (fresh) {
  const file = await fleetFile(rows, 'parquet');
  console.log(`ingesting ${file} into ${wsPath} …`);
  await wb.api['datasets.import']({ dataset: 'fleet', files: [file] });
  // The rows are sorted in the background after an import (core/data/order.ts): not during the timings.
  await orderSettled(wb.workspace, 'fleet');
}
const api = createInProcessClient(wb);
const sensors = ['airflow_rate', 'rotation_speed', 'air_pressure', 'temperature', 'delay', 'density'];
const device = String((await wb.workspace.query(`SELECT device_id FROM fleet GROUP BY 1 ORDER BY count(*) DESC LIMIT 1`))[0]!.device_id);
const devRows = Number((await wb.workspace.query(`SELECT count(*) n FROM fleet WHERE device_id = '${device}'`))[0]!.n);

async function measure(label: string, fn: () => Promise<unknown>): Promise<{ label: string; ms: number; first: number; bytes: number; all: number[] }> {
  const all: number[] = [];
  let bytes = 0;
  for (let i = 0; i < reps; i++) {
    const t = await timed(fn);
    all.push(t.ms);
    bytes = encodeWire(t.value).length;
  }
  return { label, ms: median(all), first: all[0]!, bytes, all };
}

// Caches are per dataset version; a cold start is measured by touching the dataset's roles first.
await api.call('datasets.setRoles', { name: 'fleet', roles: {} });
const cold = await timed(() => api.call('explore.trips', { dataset: 'fleet', preset: 'labelled', limit: 200 }));
const full = await api.call('explore.series', { dataset: 'fleet', device, sensors, width: 1200 });
const [lo, hi] = full.extent!;
const zoomRange: [number, number] = [lo + (hi - lo) * 0.45, lo + (hi - lo) * 0.55];
const results = [
  await measure('overview', () => api.call('explore.overview', { dataset: 'fleet' })),
  await measure('trips: most labelled', () => api.call('explore.trips', { dataset: 'fleet', preset: 'labelled', limit: 200 })),
  await measure('trips: sort by temperature_max, filter', () => api.call('explore.trips', { dataset: 'fleet', sort: { column: 'temperature_max' }, search: 'dev-01', limit: 200 })),
  await measure(`device chart (${devRows.toLocaleString('en-US')} rows × 6 sensors, M4)`, () => api.call('explore.series', { dataset: 'fleet', device, sensors, width: 1200 })),
  await measure('zoomed window (10% of device)', () => api.call('explore.series', { dataset: 'fleet', device, sensors, width: 1200, range: zoomRange })),
];
const bare = await measure('bare SELECT of the device rows', () => wb.workspace.queryColumns(`SELECT epoch_ms(timestamp)::DOUBLE, ${sensors.join(', ')} FROM fleet WHERE device_id = '${device}' ORDER BY timestamp`));

console.log(`\n${rows.toLocaleString('en-US')}-row sample, ${reps} repetitions, medians; trips summary cold build ${cold.ms.toFixed(0)} ms (once per dataset version)\n`);
console.log('interaction'.padEnd(52) + 'median ms   target   first call ms   payload');
for (const r of results) {
  const isChart = r.label.includes('chart') || r.label.includes('zoom');
  console.log(`${r.label.padEnd(52)}${r.ms.toFixed(1).padStart(9)}   ${r.ms < 300 ? 'ok ' : 'SLOW'}    ${r.first.toFixed(1).padStart(10)}    ${(r.bytes / 1024).toFixed(0).padStart(6)} KiB${isChart ? (r.bytes < 1e6 ? ' ok' : ' BIG') : ''}`);
}
console.log(`${bare.label.padEnd(52)}${bare.ms.toFixed(1).padStart(9)}   (reference: raw rows, ${(bare.bytes / 1024).toFixed(0)} KiB as JSON)`);
console.log(`\nratio: downsampled device chart / bare SELECT of the same rows = ${(results[3]!.ms / bare.ms).toFixed(2)}×`);
await wb.close();
