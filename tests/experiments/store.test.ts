/** The experiment store's own guarantees: artifacts written together and once per name, tidied at start-up; child counts. */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
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

  it('keeps one artifact per name when writes for a run overlap', async () => {
    const run = await newRun();
    await Promise.all(Array.from({ length: 6 }, (_, i) => store.putArtifacts(run.id, { model: { v: i }, [`extra${i % 2}`]: i })));
    expect(await store.artifactNames(run.id)).toEqual(['extra0', 'extra1', 'model']);
    // Writes for one run go in call order: the last one's model stays.
    expect(await store.artifact(run.id, 'model')).toEqual({ v: 5 });
    const rows = await ws.query(`SELECT count(*) AS n FROM fleetlens.artifacts WHERE run_id = $id`, { id: run.id });
    expect(Number(rows[0]!.n)).toBe(3);
  });
});

describe('ExperimentStore start-up', () => {
  const keyedArtifacts = `CREATE TABLE fleetlens.artifacts (run_id VARCHAR NOT NULL, name VARCHAR NOT NULL, content VARCHAR NOT NULL, PRIMARY KEY (run_id, name))`;
  const keys = async (w: Workspace) =>
    Number((await w.query(`SELECT count(*) AS n FROM duckdb_constraints() WHERE schema_name = 'fleetlens' AND table_name = 'artifacts' AND constraint_type = 'PRIMARY KEY'`))[0]!.n);
  const stored = async (w: Workspace) => Number((await w.query(`SELECT estimated_size AS n FROM duckdb_tables() WHERE schema_name = 'fleetlens' AND table_name = 'artifacts'`))[0]!.n);
  const contents = async (w: Workspace) => (await w.query(`SELECT run_id, name, content FROM fleetlens.artifacts ORDER BY run_id, name`)).map((r) => `${r.run_id}/${r.name}=${r.content}`);

  it('rewrites an artifacts table from before without its key, every artifact kept', async () => {
    const path = tmp.file('keyed.duckdb');
    const old = await Workspace.open(path);
    await old.run(keyedArtifacts);
    for (let i = 0; i < 40; i++) await old.run(`INSERT INTO fleetlens.artifacts VALUES ($run, $name, $content)`, { run: `r${i % 10}`, name: `a${i}`, content: JSON.stringify({ i, text: 'x'.repeat(5000) }) });
    await old.run(`DELETE FROM fleetlens.artifacts WHERE run_id = 'r3'`);
    const before = await contents(old);
    expect(await keys(old)).toBe(1);
    await old.close();

    const w = await Workspace.open(path);
    try {
      const s = new ExperimentStore(w);
      await s.endInterrupted();
      expect(await keys(w)).toBe(0);
      expect(await contents(w)).toEqual(before);
      expect(await stored(w)).toBe(36);
      // Replacing a name still keeps one row.
      await s.putArtifacts('r1', { a1: { replaced: true } });
      expect(await s.artifact('r1', 'a1')).toEqual({ replaced: true });
      expect((await contents(w)).filter((c) => c.startsWith('r1/a1='))).toHaveLength(1);
    } finally {
      await w.close();
    }
  });

  it('drops dead artifact rows at start-up once they outnumber the live ones and 1,024', async () => {
    const path = tmp.file('dead.duckdb');
    // 400 runs' three artifacts each (any stored before are replaced), then those of runs below `deleteTo` deleted.
    const write = async (deleteTo: number): Promise<void> => {
      const w = await Workspace.open(path);
      await new ExperimentStore(w).endInterrupted();
      await w.run(`DELETE FROM fleetlens.artifacts`);
      await w.run(`INSERT INTO fleetlens.artifacts SELECT 'run' || lpad(i::VARCHAR, 4, '0'), n, '{"i":' || i || '}' FROM range(400) r(i), (VALUES ('model'), ('evaluation'), ('top')) v(n)`);
      await w.run(`DELETE FROM fleetlens.artifacts WHERE run_id < $to`, { to: `run${String(deleteTo).padStart(4, '0')}` });
      await w.close();
    };
    // 1,200 rows, 900 of them deleted: fewer than 1,024 dead, so the table is left as it is.
    await write(300);
    let w = await Workspace.open(path);
    await new ExperimentStore(w).endInterrupted();
    expect(await stored(w)).toBe(1200);
    const live = await contents(w);
    expect(live).toHaveLength(300);
    await w.close();
    // The same again, all but 40 runs deleted: 2,400 rows, 120 live.
    await write(360);
    w = await Workspace.open(path);
    try {
      const before = await contents(w);
      expect(before).toHaveLength(120);
      await new ExperimentStore(w).endInterrupted();
      expect(await stored(w)).toBe(120);
      expect(await contents(w)).toEqual(before);
    } finally {
      await w.close();
    }
  });

  it('goes on with the table as it was when the rewrite fails, and rewrites it at the next start', async () => {
    const path = tmp.file('failed-rewrite.duckdb');
    const old = await Workspace.open(path);
    await old.run(keyedArtifacts);
    await old.run(`INSERT INTO fleetlens.artifacts VALUES ('r1', 'model', '{"v":1}')`);
    await old.close();

    let w = await Workspace.open(path);
    const warnings: string[] = [];
    const onWarning = (warning: Error): void => void warnings.push(warning.message);
    process.on('warning', onWarning);
    const failOnce = vi.spyOn(w, 'transaction').mockRejectedValueOnce(new Error('IO Error: No space left on device'));
    try {
      const s = new ExperimentStore(w);
      await s.endInterrupted();
      // Still keyed, still readable and writable.
      expect(await keys(w)).toBe(1);
      await s.putArtifacts('r1', { model: { v: 2 }, evaluation: { e: 1 } });
      expect(await s.artifact('r1', 'model')).toEqual({ v: 2 });
      expect(await s.artifactNames('r1')).toEqual(['evaluation', 'model']);
      await new Promise((r) => setImmediate(r));
      expect(warnings.join('\n')).toMatch(/could not rewrite the artifacts table of .*failed-rewrite\.duckdb \(IO Error: No space left on device\); it is used as it is/);
    } finally {
      failOnce.mockRestore();
      process.off('warning', onWarning);
      await w.close();
    }
    w = await Workspace.open(path);
    try {
      await new ExperimentStore(w).endInterrupted();
      expect(await keys(w)).toBe(0);
      expect(await contents(w)).toEqual(['r1/evaluation={"e":1}', 'r1/model={"v":2}']);
    } finally {
      await w.close();
    }
  });
});
