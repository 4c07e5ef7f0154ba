/** The workbench most engine tests start from: a fresh workspace holding the bundled sample fleet. */
import { join } from 'node:path';
import { createWorkbench, type Workbench } from '../../core/app.ts';
import { ROOT } from './tmp.ts';

export const SAMPLE_FLEET = join(ROOT, 'samples', 'fleet-small.csv');

/** An in-process workbench over `tmp`'s ws.duckdb with samples/fleet-small.csv imported as dataset 'fleet'. */
export async function openSampleFleet(tmp: { file(name: string): string }): Promise<Workbench> {
  const wb = await createWorkbench({ workspace: tmp.file('ws.duckdb'), mode: 'in-process' });
  await wb.api['datasets.import']({ dataset: 'fleet', files: [SAMPLE_FLEET] });
  return wb;
}
