import { describe, expect, it } from 'vitest';
import type { Worker } from 'node:worker_threads';
import { inlineKernel, KernelThread } from '../../core/features/kernel-thread.ts';
import { planFeatures, type FeatureRecipe } from '../../core/features/recipe.ts';

const S = 3;
const recipe = {
  version: 1,
  sensors: ['a', 'b', 'c'],
  groupBy: 'device',
  includeRaw: true,
  lags: [1, 2],
  diffs: [1],
  rolling: [{ window: 4, stats: ['mean', 'std', 'min', 'max'] }, { window: 40, stats: ['mean', 'std'] }],
  ewm: [{ span: 5, deviation: true }],
  categoricals: [],
  fill: 'mean',
  standardize: true,
} as FeatureRecipe;
const plan = planFeatures(recipe);
const centers = [10, 20, 30];

/** Chunks of uneven sizes over groups that span chunk boundaries; some readings missing. */
function chunks(): { n: number; readings: Float64Array[]; gid: Float64Array }[] {
  const out: { n: number; readings: Float64Array[]; gid: Float64Array }[] = [];
  let row = 0;
  for (const n of [7, 300, 1, 64, 513]) {
    const readings = Array.from({ length: S }, (_, s) => Float64Array.from({ length: n }, (_, i) => ((row + i) * 37 + s * 11) % 17 === 0 ? NaN : centers[s]! + Math.sin(row + i + s)));
    const gid = Float64Array.from({ length: n }, (_, i) => Math.floor((row + i) / 90));
    out.push({ n, readings, gid });
    row += n;
  }
  return out;
}

describe('the feature kernel in a worker thread', () => {
  it("gives the inline kernel's bits, chunk by chunk, with groups across chunk boundaries", async () => {
    const inline = inlineKernel(plan, centers, S);
    const thread = new KernelThread(plan, centers, S, 4);
    try {
      const expected = [];
      for (const c of chunks()) expected.push(Array.from(await inline.features(c.n, c.readings, c.gid, null)));
      // All in flight at once (their inputs are transferred), then compared in order.
      const got = await Promise.all(chunks().map((c) => thread.features(c.n, c.readings, c.gid, null)));
      expect(got.map((f) => Array.from(f))).toEqual(expected);
    } finally {
      await thread.close();
    }
  });

  it("rows that need no features only advance their group's history: the others keep their bits", async () => {
    const F = plan.length;
    const full: number[][] = [];
    const inline = inlineKernel(plan, centers, S);
    for (const c of chunks()) full.push(Array.from(await inline.features(c.n, c.readings, c.gid, null)));
    // Needed: every fifth row, and a run of rows, so blocks of the 40-row window are cached, skipped and folded again.
    let row = 0;
    const needs = chunks().map((c) => {
      const need = Uint8Array.from({ length: c.n }, (_, i) => ((row + i) % 5 === 0 || (row + i >= 200 && row + i < 260) ? 1 : 0));
      row += c.n;
      return need;
    });
    const expected = full.map((f, k) => f.map((v, j) => (needs[k]![Math.floor(j / F)] === 1 ? v : NaN)));
    const sparseInline = inlineKernel(plan, centers, S);
    const gotInline = [];
    for (const [k, c] of chunks().entries()) gotInline.push(Array.from(await sparseInline.features(c.n, c.readings, c.gid, needs[k]!.slice())));
    expect(gotInline).toEqual(expected);
    const thread = new KernelThread(plan, centers, S, 4);
    try {
      const got = await Promise.all(chunks().map((c, k) => thread.features(c.n, c.readings, c.gid, needs[k]!.slice())));
      expect(got.map((f) => Array.from(f))).toEqual(expected);
    } finally {
      await thread.close();
    }
  });

  it('a killed worker fails the chunks in flight and the next ones with a clear error', async () => {
    const thread = new KernelThread(plan, centers, S, 4);
    const [c] = chunks();
    const inFlight = thread.features(c!.n, c!.readings, c!.gid, null);
    await (thread as unknown as { worker: Worker }).worker.terminate();
    await expect(inFlight).rejects.toThrow(/feature kernel's worker exited/);
    const [d] = chunks();
    await expect(thread.features(d!.n, d!.readings, d!.gid, null)).rejects.toMatchObject({ code: 'MODEL_FAILED' });
    await thread.close();
  });
});
