/**
 * Issue #3 acceptance: killing the process (SIGKILL) during a large ingest
 * leaves a workspace that opens, with the previous datasets intact.
 */
import { statSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { DuckDBInstance } from '@duckdb/node-api';
import { createWorkbench } from '../../core/app.ts';
import { runCli, spawnCli } from '../helpers/cli.ts';
import { smallCsv, tempDir } from '../helpers/tmp.ts';

const tmp = tempDir('fleetlens-kill-');
afterAll(() => tmp.cleanup());

describe('SIGKILL during ingest', () => {
  it('leaves a workspace that opens with earlier datasets intact, and ingest works again', async () => {
    const ws = tmp.file('ws.duckdb');
    const keep = await runCli(['ingest', tmp.file('keep.csv', smallCsv(500)), '--dataset', 'keep', '--workspace', ws, '--json']);
    expect(keep.code, keep.stderr).toBe(0);

    // A CSV big enough that its import takes several seconds.
    const big = tmp.file('big.csv');
    const inst = await DuckDBInstance.create(':memory:');
    const con = await inst.connect();
    await con.run(`COPY (SELECT 'dev-' || (range % 200) AS device_id, TIMESTAMP '2026-01-01' + INTERVAL (range) SECOND AS timestamp, random() AS temperature, random() * 3000 AS rotation_speed, (range % 97 = 0)::INT AS defect FROM range(8000000)) TO '${big}' (HEADER)`);
    con.closeSync();
    inst.closeSync();

    const sizeBefore = statSync(ws).size;
    const child = spawnCli(['ingest', big, '--dataset', 'big', '--workspace', ws]);
    let exited = false;
    child.on('exit', () => (exited = true));
    // Kill once DuckDB has begun writing the new table's blocks (the file or its WAL grows), or after 4 s.
    const t0 = Date.now();
    const walSize = (): number => { try { return statSync(ws + '.wal').size; } catch { return 0; } };
    while (Date.now() - t0 < 4000 && statSync(ws).size <= sizeBefore + (1 << 20) && walSize() < 1 << 20) {
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(exited, 'the import finished before it could be killed; make the file bigger').toBe(false);
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));

    const wb = await createWorkbench({ workspace: ws, mode: 'in-process' });
    try {
      const list = await wb.api['datasets.list']({});
      expect(list.map((d) => d.name)).toEqual(['keep']);
      expect(list[0]!.rowCount).toBe(500);
      const page = await wb.api['datasets.preview']({ name: 'keep', limit: 2 });
      expect(page.values[0]).toEqual(['dev-0', 'dev-1']);
      const tables = await wb.workspace.query(`SELECT table_name FROM information_schema.tables WHERE table_schema = 'main' ORDER BY 1`);
      expect(tables.map((t) => t.table_name)).toEqual(['keep']);
      // The workspace is fully usable: the same import now succeeds.
      const res = await wb.api['datasets.import']({ dataset: 'big', files: [big] });
      expect(res.rowsAdded).toBe(8_000_000);
    } finally {
      await wb.close();
    }
  });
});
