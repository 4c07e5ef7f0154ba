/**
 * Memory a preparation leaves is reused by the next one (core/util/shared-buffers.ts):
 * zeroed like new memory, and a run trained on reused memory equals the same run trained
 * on fresh memory, bit for bit.
 */
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import type { Workbench } from '../../core/app.ts';
import { keptSharedBytes, releaseKeptShared, setKeepThreshold, sharedStats, giveShared, takeShared } from '../../core/util/shared-buffers.ts';
import { openSampleFleet } from '../helpers/fleet.ts';
import { tempDir } from '../helpers/tmp.ts';

const tmp = tempDir('fleetlens-shared-');
afterAll(() => tmp.cleanup());
afterEach(() => releaseKeptShared());

describe('kept shared buffers', () => {
  it('serves a request of close size with a kept buffer, zeroed; keeps none below the threshold', () => {
    const old = setKeepThreshold(1 << 20);
    try {
      const a = takeShared(4 << 20);
      new Float64Array(a).fill(7);
      giveShared([a, a]);
      expect(keptSharedBytes()).toBe(4 << 20);
      // Far smaller: a new buffer, the kept one stays.
      const small = takeShared(2 << 20);
      expect(small).not.toBe(a);
      const before = sharedStats.reused;
      const b = takeShared((4 << 20) - 12);
      expect(b).toBe(a);
      expect(sharedStats.reused).toBe(before + 1);
      expect(new Uint8Array(b, 0, (4 << 20) - 12).every((x) => x === 0)).toBe(true);
      expect(keptSharedBytes()).toBe(0);
      giveShared([new SharedArrayBuffer(1024)]);
      expect(keptSharedBytes()).toBe(0);
    } finally {
      setKeepThreshold(old);
    }
  });

  it('a run prepared in memory an earlier preparation left equals the same run prepared in new memory', async () => {
    const old = setKeepThreshold(1024);
    const train = async (wb: Workbench, seed: number) => {
      // A categorical column: its one-hot block is left blank and set per row, so stale memory would show.
      const recipe = { ...(await wb.api['models.defaultRecipe']({ dataset: 'fleet' })), categoricals: ['model_id'] };
      const { runId } = await wb.api['models.train']({ dataset: 'fleet', detector: 'isolation-forest', experiment: 'shared', seed, recipe, params: { n_trees: 30 } });
      expect((await wb.api['models.wait']({ runId })).status).toBe('finished');
      const run = await wb.api['runs.get']({ runId });
      const series = await wb.api['runs.scoreSeries']({ runId, width: 100_000 });
      return { metrics: run.metrics, series };
    };
    let wb: Workbench | null = null;
    try {
      wb = await openSampleFleet({ file: (n) => tmp.file(`fresh-${n}`) });
      const reused0 = sharedStats.reused;
      const fresh = await train(wb, 2);
      expect(sharedStats.reused).toBe(reused0);
      await wb.close();

      wb = await openSampleFleet({ file: (n) => tmp.file(`reused-${n}`) });
      // A first run with another seed (other held-out rows: another preparation), then the same run.
      await train(wb, 1);
      await expect.poll(() => keptSharedBytes(), { timeout: 5000 }).toBeGreaterThan(0);
      const reused1 = sharedStats.reused;
      const again = await train(wb, 2);
      expect(sharedStats.reused).toBeGreaterThan(reused1);
      expect(again.metrics).toEqual(fresh.metrics);
      expect(again.series).toEqual(fresh.series);
    } finally {
      await wb?.close();
      setKeepThreshold(old);
    }
  }, 60_000);
});
