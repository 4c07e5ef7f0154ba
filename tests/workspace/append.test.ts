import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { DuckDBAppender } from '@duckdb/node-api';
import { join } from 'node:path';
import { appendColumns, appendColumnsOn, chunkFor } from '../../core/workspace/append.ts';
import { Workspace } from '../../core/workspace/workspace.ts';
import { tempDir } from '../helpers/tmp.ts';

const tmp = tempDir();
let ws: Workspace;
beforeAll(async () => {
  ws = await Workspace.open(join(tmp.dir, 'append.duckdb'));
});
afterAll(async () => {
  await ws.close();
  tmp.cleanup();
});

/** Two full chunks of 2,048 rows and a partial one, with the doubles that are easy to lose. */
function columns(n: number): [Int32Array, Float64Array] {
  const ints = Int32Array.from({ length: n }, (_, i) => (i % 5 === 0 ? -2147483648 : i % 7 === 0 ? 2147483647 : i * 3 - 1000));
  const special = [Number.NaN, -0, 5e-324, 1e-310, Infinity, -Infinity, Number.MAX_VALUE, 0.1 + 0.2];
  const doubles = Float64Array.from({ length: n }, (_, i) => (i % 11 < special.length ? special[i % 11]! : Math.sin(i) * 1e6));
  return [ints, doubles];
}

async function readBack(table: string): Promise<{ i: number[]; d: number[] }> {
  const { columns: [i, d] } = await ws.queryColumns(`SELECT i, d FROM ${table} ORDER BY rowid`);
  return { i: i!.map(Number), d: d!.map((v) => (v === null ? Number.NaN : Number(v))) };
}

describe('bulk appends of typed columns', () => {
  it('keeps every value and the order across chunk boundaries, the last chunk partial', async () => {
    const n = 2 * 2048 + 17;
    const [ints, doubles] = columns(n);
    await ws.run(`CREATE TABLE fleetlens.appended (i INTEGER, d DOUBLE)`);
    await appendColumns(ws, 'fleetlens', 'appended', [ints, doubles], n);
    const got = await readBack('fleetlens.appended');
    expect(got.i).toEqual([...ints]);
    expect(got.d.length).toBe(n);
    // Bit for bit: -0 stays -0, NaN stays NaN, subnormals survive.
    for (let k = 0; k < n; k++) if (!Object.is(got.d[k], doubles[k])) throw new Error(`row ${k}: appended ${doubles[k]}, read ${got.d[k]}`);
  });

  it("fills a connection's temporary table, and appends nothing for no rows", async () => {
    const con = await ws.connect();
    try {
      await con.run(`CREATE TEMP TABLE staged (i INTEGER, d DOUBLE)`);
      const [ints, doubles] = columns(2048);
      await appendColumnsOn(con, { catalog: 'temp', schema: 'main', table: 'staged' }, [ints, doubles], 2048);
      await appendColumnsOn(con, { catalog: 'temp', schema: 'main', table: 'staged' }, [new Int32Array(0), new Float64Array(0)], 0);
      const r = await con.runAndReadAll(`SELECT count(*)::INTEGER AS n, sum(i)::BIGINT AS s FROM temp.main.staged`);
      expect(r.getRowObjects()[0]).toEqual({ n: 2048, s: BigInt(ints.reduce((a, b) => a + b, 0)) });
    } finally {
      con.closeSync();
    }
    // Another connection does not see it.
    await expect(ws.query(`SELECT count(*) FROM temp.main.staged`)).rejects.toThrow(/staged/);
  });

  it('appends all rows or none: a failure after the appender has flushed some leaves the table as it was', async () => {
    // The appender flushes every 204,800 rows; the duplicate key at row 300,000 fails the second flush.
    const n = 300_001;
    const keys = Int32Array.from({ length: n }, (_, i) => i);
    keys[n - 1] = 7;
    await ws.run(`CREATE TABLE fleetlens.keyed (k INTEGER PRIMARY KEY, d DOUBLE)`);
    await ws.run(`INSERT INTO fleetlens.keyed VALUES (-1, 0)`);
    await expect(appendColumns(ws, 'fleetlens', 'keyed', [keys, new Float64Array(n)], n)).rejects.toThrow(/[Dd]uplicate key/);
    expect(await ws.query(`SELECT count(*)::INTEGER AS n, min(k) AS k FROM fleetlens.keyed`)).toEqual([{ n: 1, k: -1 }]);
    // The connection's transaction ended with the failure: the next append goes in.
    await appendColumns(ws, 'fleetlens', 'keyed', [keys, new Float64Array(n)], n - 1);
    expect((await ws.query(`SELECT count(*)::INTEGER AS n FROM fleetlens.keyed`))[0]!.n).toBe(n);
  });

  it('fills an ENUM column with value indexes, and refuses a column numbers cannot fill', async () => {
    await ws.run(`CREATE TABLE fleetlens.coded (e ENUM('x', 'y', 'z'), d DOUBLE)`);
    await appendColumns(ws, 'fleetlens', 'coded', [Uint8Array.from([2, 0, 1]), Float64Array.from([1, 2, 3])], 3);
    expect((await ws.query(`SELECT e::VARCHAR AS e FROM fleetlens.coded ORDER BY rowid`)).map((r) => r.e)).toEqual(['z', 'x', 'y']);
    await ws.run(`CREATE TABLE fleetlens.texts (s VARCHAR)`);
    await expect(appendColumns(ws, 'fleetlens', 'texts', [Float64Array.from([1])], 1)).rejects.toThrow(/column 0 of texts \(VARCHAR\) cannot be appended from numbers/);
    await expect(appendColumns(ws, 'fleetlens', 'coded', [Float64Array.from([1])], 1)).rejects.toThrow(/coded has 2 columns, 1 given/);
    await expect(appendColumns(ws, 'fleetlens', 'coded', [Uint8Array.from([0, 1]), Float64Array.from([1, 2])], 3)).rejects.toThrow(/column 0 of coded has 2 values, 3 rows given/);
    // The refused appends added nothing.
    expect((await ws.query(`SELECT count(*)::INTEGER AS n FROM fleetlens.coded`))[0]!.n).toBe(3);
  });

  it("builds its chunks with the appender's own column types, so a large ENUM is not compared value by value per chunk", async () => {
    // 100k trip names, as a preparation's rows table has at 10M rows and more.
    await ws.run(`CREATE TYPE fleetlens.many AS ENUM (SELECT 'trip-' || i::VARCHAR FROM range(100000) r(i) ORDER BY i)`);
    await ws.run(`CREATE TABLE fleetlens.trips (trip fleetlens.many)`);
    const con = await ws.connect();
    try {
      const app = await con.createAppender('trips', 'fleetlens');
      // Without the appender's types (a changed @duckdb/node-api) appends stay right but cost O(names) per 2,048 rows.
      expect(chunkFor(app).shared).toBe(true);
      app.closeSync();
    } finally {
      con.closeSync();
    }
    const codes = Uint32Array.from({ length: 5000 }, (_, i) => (i * 37) % 100000);
    await appendColumns(ws, 'fleetlens', 'trips', [codes], codes.length);
    const got = await ws.query(`SELECT trip::VARCHAR AS t FROM fleetlens.trips ORDER BY rowid`);
    expect(got.map((r) => r.t)).toEqual([...codes].map((c) => `trip-${c}`));
  });

  it('lets the event loop turn while it appends, not only when it is done', async () => {
    const n = 1_000_000;
    await ws.run(`CREATE TABLE fleetlens.long (d DOUBLE)`);
    // A ticker counting turns of the event loop, and the count each block is appended at.
    let turns = 0;
    let ticking = true;
    const tick = (): void => {
      turns++;
      if (ticking) setImmediate(tick);
    };
    setImmediate(tick);
    const seen: number[] = [];
    const original = DuckDBAppender.prototype.appendDataChunk;
    const spy = vi.spyOn(DuckDBAppender.prototype, 'appendDataChunk').mockImplementation(function (this: DuckDBAppender, chunk) {
      seen.push(turns);
      original.call(this, chunk);
    });
    try {
      await appendColumns(ws, 'fleetlens', 'long', [Float64Array.from({ length: n }, (_, i) => i)], n);
    } finally {
      ticking = false;
      spy.mockRestore();
    }
    expect(seen).toHaveLength(Math.ceil(n / 2048));
    // 489 blocks: the loop turned at least once between every 64 of them.
    expect(new Set(seen).size).toBeGreaterThanOrEqual(Math.floor(n / 2048 / 64));
    expect((await ws.query(`SELECT count(*)::INTEGER AS n, sum(d) AS s FROM fleetlens.long`))[0]).toEqual({ n, s: (n * (n - 1)) / 2 });
  });
});
