import { existsSync, statSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Workbench } from '../../core/app.ts';
import { dropRunScores, dropUnusedRows, holdRows, scoresTable, writeRowsTable, writeRunScores } from '../../core/experiments/scores.ts';
import { tempDir } from '../helpers/tmp.ts';
import { openSampleFleet } from '../helpers/fleet.ts';

let wb: Workbench;
const tmp = tempDir();

beforeAll(async () => {
  wb = await openSampleFleet(tmp);
});
afterAll(async () => {
  await wb.close();
  tmp.cleanup();
});

async function fleetlensTypes(): Promise<string[]> {
  return (await wb.workspace.query(`SELECT type_name AS t FROM duckdb_types() WHERE schema_name = 'fleetlens' ORDER BY 1`)).map((r) => String(r.t));
}

async function columnTypes(table: string): Promise<Record<string, string>> {
  const rows = await wb.workspace.query(`SELECT column_name AS c, data_type AS t FROM duckdb_columns() WHERE schema_name = 'fleetlens' AND table_name = $t`, { t: table });
  return Object.fromEntries(rows.map((r) => [String(r.c), String(r.t)]));
}

function walBytes(): number {
  const wal = `${wb.workspace.path}.wal`;
  return existsSync(wal) ? statSync(wal).size : 0;
}

async function fleetlensTables(prefix: string): Promise<string[]> {
  return (await wb.workspace.query(`SELECT table_name AS t FROM duckdb_tables() WHERE schema_name = 'fleetlens' AND starts_with(table_name, $p) ORDER BY 1`, { p: prefix })).map((r) => String(r.t));
}

describe('stored scores', () => {
  it('trials sharing a preparation share one rows table; each run reads its own scores, aligned with its rows', async () => {
    const { parentId } = await wb.api['models.sweep']({
      base: { dataset: 'fleet', detector: 'isolation-forest', experiment: 'scores', seed: 5 },
      mode: 'grid',
      space: { n_trees: [10, 20, 30] },
      metric: 'roc_auc',
    });
    await wb.api['models.wait']({ runId: parentId });
    const kids = (await wb.api['runs.list']({ experiment: 'scores' })).filter((r) => r.parentId === parentId);
    expect(kids.map((k) => k.status)).toEqual(['finished', 'finished', 'finished']);
    const [rowsTable] = await fleetlensTables('rows__');
    expect(rowsTable).toBeDefined();
    // Devices are stored as ENUM indexes, trips as codes into a names table; the view reads both as text.
    const id = rowsTable!.slice('rows__'.length);
    expect(await fleetlensTypes()).toEqual([`rowsdev__${id}`]);
    expect(await fleetlensTables('rowstrip__')).toEqual([`rowstrip__${id}`]);
    expect(await columnTypes(rowsTable!)).toMatchObject({ device: expect.stringMatching(/^ENUM\('dev-0001', 'dev-0002'/), trip: 'INTEGER', label: 'DOUBLE' });
    expect(await columnTypes(scoresTable(kids[0]!.id))).toMatchObject({ device: 'VARCHAR', trip: 'VARCHAR', label: 'DOUBLE', alarm: 'BOOLEAN' });

    for (const k of kids) {
      const t = `fleetlens.${scoresTable(k.id)}`;
      const [s] = await wb.workspace.query(`SELECT count(*) AS n, count(DISTINCT rid) AS ids, count(*) FILTER (WHERE alarm <> (score >= $th)) AS wrong FROM ${t}`, { th: k.metrics.threshold! });
      expect(Number(s!.n)).toBe(k.metrics.test_rows);
      expect(Number(s!.ids)).toBe(k.metrics.test_rows);
      expect(Number(s!.wrong)).toBe(0);
      // The run's top anomaly, stored with its row id when the run ended, is the same row in the stored scores.
      const top = (await wb.api['runs.artifact']({ runId: k.id, name: 'top_anomalies' })) as { rid: number; score: number; device: string; t: number }[];
      const [row] = await wb.workspace.query(`SELECT score, device, t FROM ${t} WHERE rid = $rid`, { rid: top[0]!.rid });
      expect(row).toEqual({ score: top[0]!.score, device: top[0]!.device, t: top[0]!.t });
    }
    // Different models, different scores over the same rows.
    const sums = await Promise.all(kids.map(async (k) => Number((await wb.workspace.query(`SELECT sum(score) AS s FROM fleetlens.${scoresTable(k.id)}`))[0]!.s)));
    expect(new Set(sums).size).toBe(3);

    // The run page's series reads a view like a table.
    const series = await wb.api['runs.scoreSeries']({ runId: kids[1]!.id });
    expect(series.score.length).toBeGreaterThan(0);
    expect(series.devices.length).toBeGreaterThan(0);

    // Deleting one run keeps the rows the others read; deleting the rest lets them go.
    await wb.api['runs.delete']({ runIds: [kids[0]!.id] });
    expect(await fleetlensTables('rows__')).toHaveLength(1);
    expect(Number((await wb.workspace.query(`SELECT count(*) AS n FROM fleetlens.${scoresTable(kids[1]!.id)}`))[0]!.n)).toBe(kids[1]!.metrics.test_rows);
    await wb.api['runs.delete']({ runIds: [parentId] });
    expect(await fleetlensTables('rows__')).toEqual([]);
    expect(await fleetlensTables('scorevals__')).toEqual([]);
    expect(await fleetlensTables('rowstrip__')).toEqual([]);
    expect(await fleetlensTypes()).toEqual([]);
    const views = await wb.workspace.query(`SELECT view_name FROM duckdb_views() WHERE schema_name = 'fleetlens'`);
    expect(views).toEqual([]);
  });

  it('stores a blank name beside a device named blank once, and reads unknown labels as NULL', async () => {
    const rows = 'rows__00000000000000bb';
    const release = holdRows(wb.workspace, rows);
    // Code 3 is the blank a missing device gets; code 1 is a device really named ''.
    await writeRowsTable(wb.workspace, rows, {
      rows: 5,
      rid: Float64Array.from([10, 11, 12, 13, 14]),
      device: Int32Array.from([0, 1, 2, 3, 1]),
      devices: ['a', '', 'b', ''],
      trip: Int32Array.from([0, 0, 1, 1, 1]),
      trips: ['t-1', "t'2"],
      time: Float64Array.from([1, 2, 3, Number.NaN, 5]),
      label: Float64Array.from([1, Number.NaN, 0, Number.NaN, 1]),
    });
    await writeRunScores(wb.workspace, rows, 'blankrun', Float64Array.from([0.1, 0.2, 0.3, 0.4, 0.5]), 0.3);
    release();
    const got = await wb.workspace.query(`SELECT rid, device, trip, t, label, score, alarm FROM fleetlens.${scoresTable('blankrun')}`);
    expect(got.map((r) => [r.rid, r.device, r.trip, r.label, r.alarm])).toEqual([
      [10, 'a', 't-1', 1, false],
      [11, '', 't-1', null, false],
      [12, 'b', "t'2", 0, true],
      [13, '', "t'2", null, true],
      [14, '', "t'2", 1, true],
    ]);
    expect(Number.isNaN(Number(got[3]!.t))).toBe(true);
    const values = await wb.workspace.query(`SELECT unnest(enum_range(NULL::fleetlens.rowsdev__00000000000000bb)) AS v`);
    expect(values.map((r) => r.v)).toEqual(['a', '', 'b']);
    await dropRunScores(wb.workspace, 'blankrun');
    await dropUnusedRows(wb.workspace);
    expect(await fleetlensTables('rows__')).toEqual([]);
    expect(await fleetlensTables('rowstrip__')).toEqual([]);
    expect(await fleetlensTypes()).toEqual([]);
  });

  it('a rows table write that fails leaves neither the table nor its types behind', async () => {
    const rows = 'rows__00000000000000ff';
    const one = Float64Array.from([1]);
    // Two rows claimed, one given: the append refuses after the types and the table were made.
    const write = writeRowsTable(wb.workspace, rows, { rows: 2, rid: one, device: Int32Array.from([0]), devices: ['a'], trip: Int32Array.from([0]), trips: ['t'], time: one, label: one });
    await expect(write).rejects.toThrow(/has 1 values, 2 rows given/);
    expect(await fleetlensTables('rows__')).toEqual([]);
    expect(await fleetlensTables('rowstrip__')).toEqual([]);
    expect(await fleetlensTypes()).toEqual([]);
  });

  it('writes a rows table without logging its rows: a large write does not fill the WAL and set off a checkpoint during the trials', async () => {
    // 1.2M rows (10 of DuckDB's row groups) in 12k trips. With trips as an ENUM, DuckDB logged the
    // type's values once per row group written (21 MB for a 10M-row preparation's 3M test rows,
    // past the 16 MB that checkpoints); the names table is logged once.
    const n = 1_200_000;
    const trips = Array.from({ length: n / 100 }, (_, k) => `device-${Math.floor(k / 120)}-trip-${String(k).padStart(6, '0')}`);
    const nameBytes = trips.reduce((a, t) => a + t.length, 0);
    const rows = 'rows__0000000000000a11';
    const release = holdRows(wb.workspace, rows);
    try {
      await wb.workspace.run('CHECKPOINT');
      const before = walBytes();
      await writeRowsTable(wb.workspace, rows, {
        rows: n,
        rid: Float64Array.from({ length: n }, (_, i) => i),
        device: Int32Array.from({ length: n }, (_, i) => Math.floor(i / 12_000)),
        devices: Array.from({ length: 100 }, (_, d) => `device-${d}`),
        trip: Int32Array.from({ length: n }, (_, i) => Math.floor(i / 100)),
        trips,
        time: Float64Array.from({ length: n }, (_, i) => i),
        label: new Float64Array(n),
      });
      expect(walBytes() - before).toBeLessThan(2 * nameBytes + 100_000);
      await writeRunScores(wb.workspace, rows, 'walrun', new Float64Array(n), 1);
    } finally {
      release();
    }
    const [r] = await wb.workspace.query(`SELECT count(*) AS n, count(DISTINCT trip) AS trips, max(trip) AS last FROM fleetlens.${scoresTable('walrun')}`);
    expect(r).toEqual({ n, trips: n / 100, last: 'device-99-trip-011999' });
    await dropRunScores(wb.workspace, 'walrun');
    await dropUnusedRows(wb.workspace);
    expect(await fleetlensTables('rows')).toEqual([]);
  });

  /** Scores (0.7, 0.2; threshold 0.5) stored against an older rows table made by `setup`: the view's rows, read before the run and its rows go again. */
  async function scoresOverOlderRows(rows: string, runId: string, setup: string[]): Promise<Record<string, unknown>[]> {
    for (const sql of setup) await wb.workspace.run(sql);
    await writeRunScores(wb.workspace, rows, runId, Float64Array.from([0.7, 0.2]), 0.5);
    const got = await wb.workspace.query(`SELECT device, trip, label, alarm FROM fleetlens.${scoresTable(runId)}`);
    await dropRunScores(wb.workspace, runId);
    await dropUnusedRows(wb.workspace);
    return got;
  }

  it('reads a rows table written before ENUM columns (names as text, NULL labels) the same way', async () => {
    const got = await scoresOverOlderRows('rows__00000000000000cc', 'oldrun', [
      `CREATE TABLE fleetlens.rows__00000000000000cc AS SELECT * FROM (VALUES (1.0::DOUBLE, 'd-1', 't-1', 5.0::DOUBLE, NULL::DOUBLE), (2.0, 'd-2', 't-1', 6.0, 1.0)) v(rid, device, trip, t, label)`,
    ]);
    expect(got).toEqual([
      { device: 'd-1', trip: 't-1', label: null, alarm: true },
      { device: 'd-2', trip: 't-1', label: 1, alarm: false },
    ]);
    expect(await fleetlensTables('rows__')).toEqual([]);
  });

  it('reads and drops a rows table whose trips are an ENUM (written before trip names were a table)', async () => {
    const got = await scoresOverOlderRows('rows__00000000000000c2', 'enumrun', [
      `CREATE TYPE fleetlens.rowsdev__00000000000000c2 AS ENUM ('d-1', 'd-2')`,
      `CREATE TYPE fleetlens.rowstrip__00000000000000c2 AS ENUM ('t-1', 't-2')`,
      `CREATE TABLE fleetlens.rows__00000000000000c2 AS SELECT rid, device::fleetlens.rowsdev__00000000000000c2 AS device, trip::fleetlens.rowstrip__00000000000000c2 AS trip, t, label FROM (VALUES (1.0::DOUBLE, 'd-1', 't-2', 5.0::DOUBLE, 'NaN'::DOUBLE), (2.0, 'd-2', 't-1', 6.0, 1.0)) v(rid, device, trip, t, label)`,
    ]);
    expect(got).toEqual([
      { device: 'd-1', trip: 't-2', label: null, alarm: true },
      { device: 'd-2', trip: 't-1', label: 1, alarm: false },
    ]);
    expect(await fleetlensTables('rows')).toEqual([]);
    expect(await fleetlensTypes()).toEqual([]);
  });

  it('drops the names of a rows table a killed write never created, and keeps those of a held one', async () => {
    // Killed between making the names and CREATE TABLE: the names are all that is left (older
    // preparations typed their trips too).
    await wb.workspace.run(`CREATE TYPE fleetlens.rowsdev__00000000000000dd AS ENUM ('x')`);
    await wb.workspace.run(`CREATE TYPE fleetlens.rowstrip__00000000000000dd AS ENUM ('y')`);
    await wb.workspace.run(`CREATE TYPE fleetlens.rowsdev__00000000000000de AS ENUM ('x')`);
    await wb.workspace.run(`CREATE TABLE fleetlens.rowstrip__00000000000000de (code INTEGER, name VARCHAR)`);
    // A live preparation that has made its names and not yet its table.
    await wb.workspace.run(`CREATE TYPE fleetlens.rowsdev__00000000000000ee AS ENUM ('x')`);
    await wb.workspace.run(`CREATE TABLE fleetlens.rowstrip__00000000000000ee (code INTEGER, name VARCHAR)`);
    const release = holdRows(wb.workspace, 'rows__00000000000000ee');
    await dropUnusedRows(wb.workspace);
    expect(await fleetlensTypes()).toEqual(['rowsdev__00000000000000ee']);
    expect(await fleetlensTables('rowstrip__')).toEqual(['rowstrip__00000000000000ee']);
    release();
    await dropUnusedRows(wb.workspace);
    expect(await fleetlensTypes()).toEqual([]);
    expect(await fleetlensTables('rowstrip__')).toEqual([]);
  });

  it('a score write that fails leaves neither values nor a view behind', async () => {
    await expect(writeRunScores(wb.workspace, 'rows__00000000000000ff', 'failedrun', Float64Array.from([0.1, 0.9]), 0.5)).rejects.toThrow(/rows__00000000000000ff/);
    expect(await fleetlensTables('scorevals__')).toEqual([]);
    expect(await wb.workspace.query(`SELECT view_name FROM duckdb_views() WHERE schema_name = 'fleetlens'`)).toEqual([]);
  });

  it('keeps a rows table a live preparation holds, even with no run reading it yet', async () => {
    await wb.workspace.run(`CREATE TABLE fleetlens.rows__00000000000000aa (rid DOUBLE)`);
    const release = holdRows(wb.workspace, 'rows__00000000000000aa');
    await dropUnusedRows(wb.workspace);
    expect(await fleetlensTables('rows__')).toEqual(['rows__00000000000000aa']);
    release();
    await dropUnusedRows(wb.workspace);
    expect(await fleetlensTables('rows__')).toEqual([]);
  });
});
