/**
 * First run: a new user should see a real fleet at once (issue #3). When a
 * workspace has never been seeded, generate the default sample fleet next to the
 * workspace file and import it as dataset `fleet`. Done once per workspace: a
 * user who deletes the dataset is not given it back.
 */
import { dirname, join } from 'node:path';
import { existsSync } from 'node:fs';
import { writeFleet } from '../../samples/generate-fleet.ts';
import type { Workbench } from '../app.ts';

export const SAMPLE_DATASET = 'fleet';

export async function ensureSampleDataset(wb: Workbench, opts: { rows?: number } = {}): Promise<string | null> {
  if (wb.workspace.path === ':memory:') return null;
  if ((await wb.workspace.getMeta('sample_seeded')) !== null) return wb.workspace.getMeta('sample_dataset');
  const existing = await wb.api['datasets.list']({});
  if (existing.length > 0) {
    await wb.workspace.setMeta('sample_seeded', 'skipped');
    return null;
  }
  const out = join(dirname(wb.workspace.path), 'samples', `fleet-sample-${opts.rows ?? 250_000}.parquet`);
  if (!existsSync(out)) await writeFleet({ out, rows: opts.rows ?? 250_000, seed: 42, format: 'parquet' });
  await wb.api['datasets.import']({ dataset: SAMPLE_DATASET, files: [out], jobId: 'sample' });
  await wb.workspace.setMeta('sample_seeded', new Date().toISOString());
  await wb.workspace.setMeta('sample_dataset', SAMPLE_DATASET);
  return SAMPLE_DATASET;
}
