import { describe, expect, it } from 'vitest';
import { ModelWorker, ModelWorkerPool } from '../../core/models/model-client.ts';
import type { DetectorJson } from '../../core/models/detector.ts';

const matrix = (rows: number) => ({ rows, cols: 2, data: Float64Array.from({ length: rows * 2 }, (_, i) => Math.sin(i) * 3), columns: ['a', 'b'] });

describe('model worker', () => {
  it('rejects a load of a broken model instead of hanging', async () => {
    const w = new ModelWorker();
    try {
      const bad = { kind: 'robust-z', version: 1, columns: ['a'], params: {}, state: {} } as DetectorJson;
      await expect(w.load(bad)).rejects.toThrow(/robust-z/);
    } finally {
      await w.close();
    }
  });

  it('reuses a healthy worker and never a cancelled one', async () => {
    const pool = new ModelWorkerPool(2);
    try {
      const a = pool.acquire(() => undefined);
      const model = await a.fit('robust-z', matrix(50), 1, {});
      await pool.release(a);
      const b = pool.acquire(() => undefined);
      expect(b).toBe(a);
      await b.load(model);
      expect((await b.score(matrix(5))).length).toBe(5);
      b.cancel();
      await pool.release(b);
      const c = pool.acquire(() => undefined);
      expect(c).not.toBe(b);
      await c.load(model);
      expect((await c.score(matrix(3))).length).toBe(3);
      await pool.release(c);
    } finally {
      await pool.close();
    }
  });
});

describe('preparation tables', () => {
  it('drops the tables of preparations a killed engine left behind, and nothing else', async () => {
    const { createWorkbench } = await import('../../core/app.ts');
    const { tempDir } = await import('../helpers/tmp.ts');
    const tmp = tempDir();
    try {
      const file = tmp.file('ws.duckdb');
      let wb = await createWorkbench({ workspace: file, mode: 'in-process' });
      for (const t of ['prep__0123456789abcdef', 'prepraw__0123456789abcdef', 'split__0123456789abcdef', 'scorestage__0123456789abcdef', 'scores__keepme', 'preparation_notes']) {
        await wb.workspace.run(`CREATE TABLE fleetlens."${t}" (x INTEGER)`);
      }
      // Test rows a run's scores read stay; unread ones, and score values whose view was never made, go.
      for (const t of ['rows__00000000000000aa', 'rows__00000000000000bb', 'scorevals__viewed', 'scorevals__orphan']) {
        await wb.workspace.run(`CREATE TABLE fleetlens."${t}" (x INTEGER)`);
      }
      // A preparation's name codes are ENUM types; another type of the schema is not the engine's to drop.
      await wb.workspace.run(`CREATE TYPE fleetlens."preptrip__0123456789abcdef" AS ENUM ('a', 'b')`);
      await wb.workspace.run(`CREATE TYPE fleetlens."prepared_mood" AS ENUM ('ok')`);
      await wb.workspace.run(`CREATE VIEW fleetlens."scores__viewed" AS SELECT m.x, s.x AS y FROM fleetlens."rows__00000000000000aa" m POSITIONAL JOIN fleetlens."scorevals__viewed" s`);
      await wb.close();
      wb = await createWorkbench({ workspace: file, mode: 'in-process' });
      const left = (await wb.workspace.query(`SELECT table_name AS t FROM duckdb_tables() WHERE schema_name = 'fleetlens' ORDER BY 1`)).map((r) => String(r.t));
      const types = (await wb.workspace.query(`SELECT type_name AS t FROM duckdb_types() WHERE schema_name = 'fleetlens' ORDER BY 1`)).map((r) => String(r.t));
      await wb.close();
      expect(types).toEqual(['prepared_mood']);
      expect(left).toContain('scores__keepme');
      expect(left).toContain('preparation_notes');
      expect(left).toContain('rows__00000000000000aa');
      expect(left).toContain('scorevals__viewed');
      expect(left).not.toContain('rows__00000000000000bb');
      expect(left).not.toContain('scorevals__orphan');
      expect(left.filter((t) => /^(prep|prepraw|split|scorestage)__/.test(t))).toEqual([]);
    } finally {
      tmp.cleanup();
    }
  });
});
