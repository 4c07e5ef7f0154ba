import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { createWorkbench, type Workbench } from '../../core/app.ts';
import { WorkbenchError } from '../../core/api/errors.ts';
import { CMAPSS_COLUMNS, CMAPSS_TRAIN, HAVE_CMAPSS, ROOT, tempDir } from '../helpers/tmp.ts';

let wb: Workbench;
const tmp = tempDir();
const SMALL = join(ROOT, 'samples', 'fleet-small.csv');

beforeAll(async () => {
  wb = await createWorkbench({ workspace: tmp.file('ws.duckdb'), mode: 'in-process' });
  await wb.api['datasets.import']({ dataset: 'fleet', files: [SMALL] });
});
afterAll(async () => {
  await wb.close();
  tmp.cleanup();
});

describe('explore', () => {
  it('overview counts devices and trips and computes label rates by group', async () => {
    const o = await wb.api['explore.overview']({ dataset: 'fleet' });
    const truth = (await wb.workspace.query(`SELECT count(*) n, count(DISTINCT device_id) d, count(DISTINCT (device_id, trip_id)) t, avg(defect) r FROM fleet`))[0]!;
    expect(o.rows).toBe(Number(truth.n));
    expect(o.devices).toBe(Number(truth.d));
    expect(o.trips).toBe(Number(truth.t));
    expect(o.labelRate).toBeCloseTo(Number(truth.r), 12);
    expect(o.labelByCategory.map((c) => c.column).sort()).toEqual(['factory_id', 'model_id']);
    const byModel = o.labelByCategory.find((c) => c.column === 'model_id')!;
    expect(byModel.groups.reduce((a, g) => a + g.rows, 0)).toBe(o.rows);
    expect(o.rowsOverTime.unit).toBe('day');
    expect(o.rowsOverTime.rows.reduce((a, b) => a + b, 0)).toBe(o.rows);
    expect(o.missing.find((m) => m.column === 'device_id')!.rate).toBe(0);
  });

  it('lists notable trips sorted by preset and by column, filtered and paged', async () => {
    const p = await wb.api['explore.trips']({ dataset: 'fleet', preset: 'labelled', limit: 5 });
    const labelled = p.values[p.columns.findIndex((c) => c.name === 'labelled')]!.map(Number);
    expect(labelled).toEqual([...labelled].sort((a, b) => b - a));
    const top = (await wb.workspace.query(`SELECT max(n) m FROM (SELECT sum(defect) n FROM fleet GROUP BY device_id, trip_id)`))[0]!;
    expect(labelled[0]).toBe(Number(top.m));
    const longest = await wb.api['explore.trips']({ dataset: 'fleet', sort: { column: 'rows', desc: false }, limit: 3 });
    const rows = longest.values[longest.columns.findIndex((c) => c.name === 'rows')]!.map(Number);
    expect(rows).toEqual([...rows].sort((a, b) => a - b));
    const dev = String(p.values[0]![0]);
    const filtered = await wb.api['explore.trips']({ dataset: 'fleet', search: dev, limit: 100 });
    expect(filtered.values[0]!.every((d) => d === dev)).toBe(true);
    const err = await wb.api['explore.trips']({ dataset: 'fleet', sort: { column: 'nope' } }).catch((e: unknown) => e);
    expect((err as WorkbenchError).code).toBe('INVALID_ARGUMENT');
    expect(p.columns.map((c) => c.name)).toContain('temperature_max');
    expect(p.columns.map((c) => c.name)).toContain('extreme_z');
  });

  it('charts a trip raw and a device downsampled with M4, keeping every min and max', async () => {
    const d = (await wb.workspace.query(`SELECT device_id, count(*) n FROM fleet GROUP BY 1 ORDER BY n DESC LIMIT 1`))[0]!;
    const device = String(d.device_id);
    const raw = await wb.api['explore.series']({ dataset: 'fleet', device, sensors: ['temperature', 'delay'], width: 2000 });
    expect(raw.downsampled).toBe(false);
    expect(raw.traces[0]!.x.length).toBe(Number(d.n));
    const ds = await wb.api['explore.series']({ dataset: 'fleet', device, sensors: ['temperature', 'delay'], width: 50 });
    expect(ds.downsampled).toBe(true);
    expect(ds.rawRows).toBe(Number(d.n));
    for (const tr of ds.traces) {
      expect(tr.x.length).toBeLessThanOrEqual(4 * 50);
      const ext = (await wb.workspace.query(`SELECT min(${tr.sensor}) lo, max(${tr.sensor}) hi FROM fleet WHERE device_id = '${device}'`))[0]!;
      expect(Math.min(...tr.y.filter((v) => !Number.isNaN(v)))).toBe(Number(ext.lo));
      expect(Math.max(...tr.y.filter((v) => !Number.isNaN(v)))).toBe(Number(ext.hi));
      for (let i = 1; i < tr.x.length; i++) expect(tr.x[i]!).toBeGreaterThanOrEqual(tr.x[i - 1]!);
    }
    expect(ds.tripStarts.length).toBeGreaterThan(0);
    // Zoom: a window re-queries at finer detail.
    const [lo, hi] = ds.extent!;
    const zoom = await wb.api['explore.series']({ dataset: 'fleet', device, sensors: ['temperature'], width: 50, range: [lo, lo + (hi - lo) / 20] });
    expect(zoom.rawRows).toBeLessThan(ds.rawRows);
    expect(zoom.traces[0]!.x.every((x) => x >= lo && x <= lo + (hi - lo) / 20)).toBe(true);
  });

  it('computes distributions, scatter (points and density) and correlations', async () => {
    const dist = await wb.api['explore.distribution']({ dataset: 'fleet', sensor: 'temperature', splitBy: 'defect', bins: 20 });
    expect(dist.edges.length).toBe(21);
    expect(dist.groups.map((g) => g.key).sort()).toEqual(['0', '1']);
    const n = dist.groups.reduce((a, g) => a + g.hist.reduce((x, y) => x + y, 0), 0);
    expect(n).toBe(dist.groups.reduce((a, g) => a + g.count, 0));
    const pts = await wb.api['explore.scatter']({ dataset: 'fleet', x: 'rotation_speed', y: 'delay', colorBy: 'defect' });
    expect(pts.kind).toBe('points');
    const dens = await wb.api['explore.scatter']({ dataset: 'fleet', x: 'rotation_speed', y: 'delay', maxPoints: 1000 });
    expect(dens.kind).toBe('density');
    if (dens.kind === 'density') expect(dens.counts.reduce((a, b) => a + b, 0)).toBe(dens.total);
    const c = await wb.api['explore.correlation']({ dataset: 'fleet' });
    expect(c.sensors.length).toBe(6);
    for (let i = 0; i < 6; i++) expect(c.r[i * 6 + i]).toBeCloseTo(1, 12);
  });

  it('SQL console runs reads, refuses writes unless unlocked, reports DuckDB errors and keeps history', async () => {
    const r = await wb.api['sql.run']({ sql: 'SELECT device_id, count(*) AS n FROM fleet GROUP BY 1 ORDER BY 1 LIMIT 3' });
    expect(r.columns.map((c) => c.name)).toEqual(['device_id', 'n']);
    expect(r.values[0]!.length).toBe(3);
    const w = await wb.api['sql.run']({ sql: 'DELETE FROM fleet' }).catch((e: unknown) => e);
    expect((w as WorkbenchError).code).toBe('WRITE_NOT_ALLOWED');
    expect((w as WorkbenchError).message).toContain('DELETE');
    expect((await wb.workspace.query('SELECT count(*) n FROM fleet'))[0]!.n).toBeGreaterThan(0);
    const bad = await wb.api['sql.run']({ sql: 'SELECT nope FROM fleet' }).catch((e: unknown) => e);
    expect((bad as WorkbenchError).code).toBe('QUERY_FAILED');
    expect((bad as WorkbenchError).message).toMatch(/Referenced column "nope" not found/);
    const ok = await wb.api['sql.run']({ sql: 'CREATE TABLE scratch AS SELECT 1 AS a', allowWrite: true });
    expect(ok.statementType).toBe('CREATE');
    const capped = await wb.api['sql.run']({ sql: 'SELECT * FROM range(100)', limit: 10 });
    expect(capped.truncated).toBe(true);
    expect(capped.values[0]!.length).toBe(10);
    const out = tmp.file('export.parquet');
    const ex = await wb.api['sql.export']({ sql: 'SELECT * FROM fleet WHERE defect = 1', path: out, format: 'parquet' });
    expect(ex.rows).toBeGreaterThan(0);
    const hist = await wb.api['sql.history']({});
    expect(hist[0]!.sql).toBe('SELECT * FROM range(100)');
    expect(hist.some((h) => !h.ok && h.error?.includes('nope'))).toBe(true);
  });

  it.skipIf(!HAVE_CMAPSS)('profile flags the constant sensors of C-MAPSS FD001', async () => {
    await wb.api['datasets.import']({ dataset: 'fd001', files: [CMAPSS_TRAIN], columns: CMAPSS_COLUMNS });
    const prof = await wb.api['explore.profile']({ dataset: 'fd001' });
    const constant = prof.filter((p) => p.constant).map((p) => p.name);
    expect(constant.sort()).toEqual(['s1', 's10', 's16', 's18', 's19', 's5', 'setting3'].sort());
    expect(prof.find((p) => p.name === 's6')!.binary).toBe(true);
    const s2 = prof.find((p) => p.name === 's2')!;
    expect(s2.count).toBe(20631);
    expect(s2.q25! < s2.q50! && s2.q50! < s2.q75!).toBe(true);
  });
});
