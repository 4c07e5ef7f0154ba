import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DuckDBInstance } from '@duckdb/node-api';
import { createWorkbench, type Workbench } from '../../core/app.ts';
import { WorkbenchError } from '../../core/api/errors.ts';
import type { ImportProgress } from '../../core/data/api.ts';
import { orderSettled, storedOrder } from '../../core/data/order.ts';
import { CMAPSS_COLUMNS, CMAPSS_TRAIN, HAVE_CMAPSS, smallCsv, tempDir } from '../helpers/tmp.ts';

let wb: Workbench;
let tmp: ReturnType<typeof tempDir>;

beforeEach(async () => {
  tmp = tempDir();
  wb = await createWorkbench({ workspace: tmp.file('ws.duckdb'), mode: 'in-process' });
});
afterEach(async () => {
  await wb.close();
  tmp.cleanup();
});

async function rejectsOf(name: string) {
  return wb.api['datasets.rejects']({ name });
}

async function expectCode(p: Promise<unknown>, code: string, text?: RegExp): Promise<WorkbenchError> {
  const err = await p.then(() => null, (e: unknown) => e);
  expect(err).toBeInstanceOf(WorkbenchError);
  expect((err as WorkbenchError).code).toBe(code);
  if (text) expect((err as WorkbenchError).message).toMatch(text);
  return err as WorkbenchError;
}

describe('ingest', () => {
  it('closing during a sort rolls it back, keeps the mark, and the next open sorts', async () => {
    // Large enough that the sort is still running when close is called right after the import.
    const file = tmp.file('big.parquet');
    const inst = await DuckDBInstance.create(':memory:');
    const con = await inst.connect();
    await con.run(`COPY (SELECT 'dev-' || (range % 50) AS device_id, 'trip-' || (range % 5000) AS trip_id, TIMESTAMP '2026-01-01' + INTERVAL (3000000 - range) SECOND AS timestamp, random() AS temperature FROM range(3000000)) TO '${file}' (FORMAT parquet)`);
    con.closeSync();
    inst.closeSync();
    await wb.api['datasets.import']({ dataset: 'big', files: [file] });
    await wb.close();
    wb = await createWorkbench({ workspace: tmp.file('ws.duckdb'), mode: 'in-process' });
    const meta = async (): Promise<string[]> => (await wb.workspace.query(`SELECT key FROM fleetlens.meta WHERE key LIKE '%:big' ORDER BY 1`)).map((r) => String(r.key));
    // Reopened: the interrupted sort left the files' order and its mark, and sorts again now.
    expect(await meta()).toEqual(['order-pending:big']);
    expect(await storedOrder(wb.workspace, 'big')).toBeNull();
    await orderSettled(wb.workspace, 'big');
    expect(await meta()).toEqual(['order:big']);
    const back = await wb.workspace.query(
      `SELECT count(*) AS n, count(*) FILTER (WHERE pt > trip_id OR (pt = trip_id AND ptime > timestamp)) AS bad FROM (SELECT trip_id, timestamp, lag(trip_id) OVER w AS pt, lag(timestamp) OVER w AS ptime FROM big WINDOW w AS (ORDER BY rowid))`,
    );
    expect(Number(back[0]!.n)).toBe(3_000_000);
    expect(Number(back[0]!.bad)).toBe(0);
  });

  it('sorts the rows by trip and time after the import; a sort a killed process never finished is done on the next open', async () => {
    const [head, ...lines] = smallCsv(200).trim().split('\n');
    const f = tmp.file('shuffled.csv', [head, ...lines.reverse()].join('\n') + '\n');
    await wb.api['datasets.import']({ dataset: 'fleet', files: [f] });
    await orderSettled(wb.workspace, 'fleet');
    expect(await storedOrder(wb.workspace, 'fleet')).toEqual(['trip_id', 'timestamp']);
    const inOrder = async (): Promise<boolean> => {
      const rows = await wb.workspace.query('SELECT trip_id, timestamp::VARCHAR AS t FROM fleet ORDER BY rowid');
      const keys = rows.map((r) => `${String(r.trip_id)} ${String(r.t)}`);
      return keys.length === 200 && keys.every((k, i) => i === 0 || keys[i - 1]! <= k);
    };
    expect(await inOrder()).toBe(true);
    // The state a process killed mid-sort leaves: the files' order, the import's mark, no recorded order.
    await wb.workspace.run('CREATE OR REPLACE TABLE fleet AS SELECT * FROM fleet ORDER BY rowid DESC');
    await wb.workspace.run(`DELETE FROM fleetlens.meta WHERE key = 'order:fleet'`);
    await wb.workspace.run(`INSERT INTO fleetlens.meta VALUES ('order-pending:fleet', 'now')`);
    expect(await inOrder()).toBe(false);
    await wb.close();
    wb = await createWorkbench({ workspace: tmp.file('ws.duckdb'), mode: 'in-process' });
    await orderSettled(wb.workspace, 'fleet');
    expect(await inOrder()).toBe(true);
    expect(await storedOrder(wb.workspace, 'fleet')).toEqual(['trip_id', 'timestamp']);
    expect(await wb.workspace.query(`SELECT * FROM fleetlens.meta WHERE key LIKE 'order-pending:%'`)).toEqual([]);
    expect((await wb.api['datasets.get']({ name: 'fleet' })).rowCount).toBe(200);
    // Without a time column there is no order to keep: no sort, nothing recorded.
    await wb.api['datasets.import']({ dataset: 'untimed', files: [tmp.file('untimed.csv', 'device_id,temperature\nd1,1.5\nd0,2.5\n')] });
    await orderSettled(wb.workspace, 'untimed');
    expect(await storedOrder(wb.workspace, 'untimed')).toBeNull();
    expect(await wb.workspace.query(`SELECT * FROM fleetlens.meta WHERE key LIKE '%:untimed'`)).toEqual([]);
  });

  it('imports a CSV, guesses roles, records sources, time span and preview', async () => {
    const f = tmp.file('a.csv', smallCsv(100));
    const progress: ImportProgress[] = [];
    wb.events.on('datasets.importProgress', (p) => progress.push(p));
    const res = await wb.api['datasets.import']({ dataset: 'fleet', files: [f] });
    expect(res.rowsAdded).toBe(100);
    expect(res.rejected).toBe(0);
    const ds = res.dataset;
    expect(ds.rowCount).toBe(100);
    expect(Object.fromEntries(ds.columns.map((c) => [c.name, c.role]))).toEqual({
      device_id: 'device', trip_id: 'trip', timestamp: 'time', temperature: 'sensor', rotation_speed: 'sensor', defect: 'label',
    });
    expect(ds.sources).toHaveLength(1);
    expect(ds.sources[0]!.rows).toBe(100);
    expect(ds.sources[0]!.checksum).toMatch(/^[0-9a-f]{64}$/);
    expect(ds.timeSpan).toEqual({ min: '2026-01-01 00:00:00', max: '2026-01-01 01:39:00' });
    expect(progress.length).toBeGreaterThan(0);
    expect(progress.at(-1)!.fraction).toBe(1);
    const page = await wb.api['datasets.preview']({ name: 'fleet', offset: 10, limit: 5 });
    expect(page.total).toBe(100);
    expect(page.values[0]).toEqual(['dev-1', 'dev-2', 'dev-0', 'dev-1', 'dev-2']);
  });

  it('imports several files and a glob into one dataset, and appends', async () => {
    const a = tmp.file('p1.csv', smallCsv(10, 0));
    tmp.file('p2.csv', smallCsv(20, 10));
    tmp.file('p3.csv', smallCsv(30, 30));
    const r1 = await wb.api['datasets.import']({ dataset: 'multi', files: [a, tmp.dir + '/p2.csv'] });
    expect(r1.dataset.rowCount).toBe(30);
    expect(r1.dataset.sources.map((s) => s.rows)).toEqual([10, 20]);
    const r2 = await wb.api['datasets.import']({ dataset: 'multi', files: [tmp.dir + '/p3*.csv'], mode: 'append' });
    expect(r2.rowsAdded).toBe(30);
    expect(r2.dataset.rowCount).toBe(60);
    const g = await wb.api['datasets.import']({ dataset: 'globbed', files: [tmp.dir + '/p*.csv'] });
    expect(g.dataset.rowCount).toBe(60);
  });

  it('keeps edited roles on append and adds new columns', async () => {
    await wb.api['datasets.import']({ dataset: 'r', files: [tmp.file('a.csv', smallCsv(5))] });
    await wb.api['datasets.setRoles']({ name: 'r', roles: { defect: 'categorical' } });
    const extra = 'device_id,trip_id,timestamp,temperature,rotation_speed,defect,vibration\ndev-9,t,2026-02-01 00:00:00,1.5,3,0,0.25\n';
    const res = await wb.api['datasets.import']({ dataset: 'r', files: [tmp.file('b.csv', extra)], mode: 'append' });
    const roles = Object.fromEntries(res.dataset.columns.map((c) => [c.name, c.role]));
    expect(roles.defect).toBe('categorical');
    expect(roles.vibration).toBe('sensor');
    expect(res.dataset.rowCount).toBe(6);
  });

  it('imports Parquet and NDJSON', async () => {
    const csv = tmp.file('a.csv', smallCsv(50));
    const pq = tmp.file('a.parquet');
    await wb.workspace.run(`COPY (SELECT * FROM read_csv('${csv}')) TO '${pq}' (FORMAT parquet)`);
    const r = await wb.api['datasets.import']({ dataset: 'pq', files: [pq] });
    expect(r.dataset.rowCount).toBe(50);
    expect(r.dataset.columns.find((c) => c.name === 'timestamp')!.role).toBe('time');
    const nd = tmp.file('a.ndjson', '{"device":"a","t":1,"v":1.5}\n{"device":"b","t":2,"v":2.5}\n');
    const j = await wb.api['datasets.import']({ dataset: 'js', files: [nd] });
    expect(j.dataset.rowCount).toBe(2);
    expect(j.dataset.columns.map((c) => c.role)).toEqual(['device', 'time', 'sensor']);
  });

  it('keeps malformed CSV rows in the rejects table with file, line and reason', async () => {
    const lines = smallCsv(3000).trimEnd().split('\n');
    lines[2500] = 'dev-1,trip-1,2026-01-01 00:00:00,abc,5,0';
    lines[2700] = 'dev-1,trip-1,2026-01-01 00:00:00,1.5,5,0,extra';
    const f = tmp.file('bad.csv', lines.join('\n') + '\n');
    const res = await wb.api['datasets.import']({ dataset: 'bad', files: [f] });
    expect(res.rejected).toBe(2);
    expect(res.dataset.rowCount).toBe(2998);
    expect(res.dataset.rejectCount).toBe(2);
    const rj = await rejectsOf('bad');
    expect(rj.total).toBe(2);
    expect(rj.rows[0]).toMatchObject({ line: 2501, column: 'temperature', errorType: 'CAST' });
    expect(rj.rows[0]!.message).toBe(`file ${f}: column 'temperature' expected DOUBLE, found 'abc' at line 2501`);
    expect(rj.rows[1]!.message).toBe(`file ${f}: expected 6 columns, found 7 at line 2701`);
  });

  it('gives specific errors for missing, empty, binary and non-Parquet files and leaves the workspace intact', async () => {
    await wb.api['datasets.import']({ dataset: 'keep', files: [tmp.file('k.csv', smallCsv(10))] });
    await expectCode(wb.api['datasets.import']({ dataset: 'x', files: [tmp.dir + '/nope.csv'] }), 'FILE_NOT_FOUND', /nope\.csv does not exist/);
    await expectCode(wb.api['datasets.import']({ dataset: 'x', files: [tmp.file('e.csv', '')] }), 'FILE_EMPTY', /e\.csv is empty/);
    const bin = Buffer.alloc(4096);
    for (let i = 0; i < bin.length; i++) bin[i] = (i * 7919) % 256;
    await expectCode(wb.api['datasets.import']({ dataset: 'x', files: [tmp.file('b.csv', bin)] }), 'FILE_UNREADABLE', /not a text, JSON or Parquet file \(binary content at byte \d+\)/);
    await expectCode(wb.api['datasets.import']({ dataset: 'x', files: [tmp.file('fake.parquet', 'a,b\n1,2\n')] }), 'FILE_UNREADABLE', /not a Parquet file/);
    await expectCode(wb.api['datasets.import']({ dataset: 'x', files: [tmp.file('bad.json', '{"a": 1}\n{"a": oops}\n')] }), 'PARSE_FAILED', /bad\.json: malformed JSON/);
    await expectCode(wb.api['datasets.import']({ dataset: 'keep', files: [tmp.file('k2.csv', smallCsv(3))] }), 'DATASET_EXISTS');
    await expectCode(wb.api['datasets.import']({ dataset: '1bad name', files: [tmp.file('k3.csv', smallCsv(3))] }), 'INVALID_ARGUMENT');
    const list = await wb.api['datasets.list']({});
    expect(list.map((d) => d.name)).toEqual(['keep']);
    expect(list[0]!.rowCount).toBe(10);
    const tables = await wb.workspace.query(`SELECT table_name FROM information_schema.tables WHERE table_schema = 'main'`);
    expect(tables.map((t) => t.table_name)).toEqual(['keep']);
  });

  it('rolls back a failed multi-file import as a whole', async () => {
    const good = tmp.file('g.csv', smallCsv(10));
    const r = await wb.api['datasets.import']({ dataset: 'mf', files: [good, tmp.file('x.parquet', 'not parquet')] }).catch((e: unknown) => e);
    expect((r as WorkbenchError).code).toBe('FILE_UNREADABLE');
    expect(await wb.api['datasets.list']({})).toEqual([]);
  });

  it('replaces a dataset atomically', async () => {
    await wb.api['datasets.import']({ dataset: 'rp', files: [tmp.file('a.csv', smallCsv(10))] });
    const r = await wb.api['datasets.import']({ dataset: 'rp', files: [tmp.file('b.csv', smallCsv(4))], mode: 'replace' });
    expect(r.dataset.rowCount).toBe(4);
    expect(r.dataset.sources).toHaveLength(1);
  });

  it('cancels a running import and leaves nothing behind', async () => {
    const big = tmp.file('big.csv');
    await wb.workspace.run(`COPY (SELECT 'dev-' || (range % 50) AS device_id, range AS t, random() AS v FROM range(6000000)) TO '${big}' (HEADER)`);
    const p = wb.api['datasets.import']({ dataset: 'big', files: [big], jobId: 'job-1' });
    await new Promise<void>((res) => {
      const off = wb.events.on('datasets.importProgress', () => { off(); res(); });
    });
    expect(await wb.api['datasets.cancelImport']({ jobId: 'job-1' })).toBe(true);
    await expectCode(p, 'CANCELLED', /unchanged/);
    expect(await wb.api['datasets.list']({})).toEqual([]);
    expect(await wb.api['datasets.cancelImport']({ jobId: 'job-1' })).toBe(false);
  });

  it.skipIf(!HAVE_CMAPSS)('imports C-MAPSS FD001 (whitespace, no header, trailing spaces) with user-given names', async () => {
    const res = await wb.api['datasets.import']({ dataset: 'fd001', files: [CMAPSS_TRAIN], columns: CMAPSS_COLUMNS });
    expect(res.rowsAdded).toBe(20631);
    expect(res.rejected).toBe(0);
    const cols = res.dataset.columns;
    expect(cols.map((c) => c.name)).toEqual(CMAPSS_COLUMNS);
    expect(cols.find((c) => c.name === 'unit')).toMatchObject({ type: 'BIGINT', role: 'device' });
    expect(cols.find((c) => c.name === 'cycle')).toMatchObject({ type: 'BIGINT', role: 'time' });
    expect(cols.find((c) => c.name === 's2')).toMatchObject({ type: 'DOUBLE', role: 'sensor' });
    expect(res.dataset.timeSpan).toEqual({ min: 1, max: 362 });
    const first = await wb.api['datasets.preview']({ name: 'fd001', limit: 1 });
    expect(first.values.map((v) => v[0])).toEqual([1, 1, -0.0007, -0.0004, 100, 518.67, 641.82, 1589.7, 1400.6, 14.62, 21.61, 554.36, 2388.06, 9046.19, 1.3, 47.47, 521.66, 2388.02, 8138.62, 8.4195, 0.03, 392, 2388, 100, 39.06, 23.419]);
  });

  it('rejects whitespace lines with a wrong field count or a bad number, with line numbers', async () => {
    const f = tmp.file('w.txt', '1 1 0.5  \n1 2 0.7\n1 3\n1 4 x\n\n1 5 0.9 \n');
    const res = await wb.api['datasets.import']({ dataset: 'w', files: [f], columns: ['unit', 'cycle', 'v'] });
    expect(res.dataset.rowCount).toBe(3);
    const rj = await rejectsOf('w');
    expect(rj.rows.map((r) => [r.line, r.errorType])).toEqual([[3, 'MISSING COLUMNS'], [4, 'CAST']]);
    expect(rj.rows[1]!.message).toBe(`file ${f}: column 'v' expected DOUBLE, found 'x' at line 4`);
  });
});
