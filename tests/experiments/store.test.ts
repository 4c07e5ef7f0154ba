/** The experiment store's own guarantees: artifacts written together, child counts. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ExperimentStore } from '../../core/experiments/store.ts';
import { Workspace } from '../../core/workspace/workspace.ts';
import { tempDir } from '../helpers/tmp.ts';

const tmp = tempDir('fleetlens-store-');
let ws: Workspace;
let store: ExperimentStore;
beforeAll(async () => {
  ws = await Workspace.open(tmp.file('ws.duckdb'));
  store = new ExperimentStore(ws);
});
afterAll(async () => {
  await ws.close();
  tmp.cleanup();
});

const newRun = (parentId: string | null = null) =>
  store.createRun({ experiment: 'store', parentId, name: 'r', seed: 1, params: {}, dataset: 'd', fingerprint: null, appVersion: 'test' });

describe('ExperimentStore', () => {
  it('stores a run\'s artifacts together, or none of them when one fails', async () => {
    const run = await newRun();
    await store.putArtifacts(run.id, { model: { a: 1 }, evaluation: { b: [1, 2] }, top_anomalies: [] });
    expect(await store.artifactNames(run.id)).toEqual(['evaluation', 'model', 'top_anomalies']);
    expect(await store.artifact(run.id, 'evaluation')).toEqual({ b: [1, 2] });
    // undefined has no JSON text: the second insert fails (content is NOT NULL) after the first went in.
    await expect(store.putArtifacts(run.id, { first: { ok: true }, second: undefined, third: 3 })).rejects.toThrow();
    expect(await store.artifactNames(run.id)).toEqual(['evaluation', 'model', 'top_anomalies']);
    // Replacing keeps one row per name.
    await store.putArtifacts(run.id, { model: { a: 2 }, extra: 'x' });
    expect(await store.artifact(run.id, 'model')).toEqual({ a: 2 });
    expect(await store.artifactNames(run.id)).toEqual(['evaluation', 'extra', 'model', 'top_anomalies']);
  });

  it('counts children in getRun and listRuns alike', async () => {
    const parent = await newRun();
    await newRun(parent.id);
    await newRun(parent.id);
    const lone = await newRun();
    expect((await store.getRun(parent.id)).children).toBe(2);
    expect((await store.getRun(lone.id)).children).toBe(0);
    const listed = new Map((await store.listRuns('store')).map((r) => [r.id, r.children]));
    expect(listed.get(parent.id)).toBe(2);
    expect(listed.get(lone.id)).toBe(0);
  });
});
