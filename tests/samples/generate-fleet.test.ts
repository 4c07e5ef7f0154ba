import { createHash } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import {
  CsvRenderer,
  DEFECT_RULES,
  FLEET_COLUMNS,
  FLEET_SCHEMA,
  FLEET_START_MS,
  SENSOR_COLUMNS,
  fleetCsvReadSql,
  fleetNdjsonReadSql,
  generateFleetChunks,
  generateFleetRows,
  writeFleet,
  type FleetChunk,
  type FleetOptions,
  type FleetSummary,
} from '../../samples/generate-fleet.ts';
import { parseCount, runSamples } from '../../samples/cli.ts';

const MINUTE = 60_000;
const samplesDir = path.resolve(import.meta.dirname, '../../samples');

/** Renders a fleet to CSV bytes in memory, exactly as writeFleet would. */
function csvBytes(opts: FleetOptions, chunkRows?: number): { bytes: Buffer; summary: FleetSummary } {
  const parts: Buffer[] = [Buffer.from(FLEET_COLUMNS.join(',') + '\n')];
  const r = new CsvRenderer();
  const gen = generateFleetChunks(opts, chunkRows);
  for (let it = gen.next(); ; it = gen.next()) {
    if (it.done) return { bytes: Buffer.concat(parts), summary: it.value };
    parts.push(r.render(it.value));
  }
}

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

interface Trip {
  device: string;
  factory: string;
  model: string;
  times: number[];
  temps: number[];
  defects: number[];
}

/** One pass over the default 250k fleet, keeping per-trip series and global tallies. */
interface FleetScan {
  summary: FleetSummary;
  rows: number;
  trips: Map<string, Trip>;
  tripOrder: string[];
  defects: number;
  missing: Record<string, number>;
  min: Record<string, number>;
  max: Record<string, number>;
  hiDelayRpm: [number, number];
  denseLowP: [number, number];
  byMonth: Map<number, [number, number]>;
  byHour: Map<number, [number, number]>;
}

function scanFleet(opts: FleetOptions): FleetScan {
  const s: FleetScan = {
    summary: { rows: 0, devices: 0, trips: 0, defects: 0 },
    rows: 0,
    trips: new Map(),
    tripOrder: [],
    defects: 0,
    missing: Object.fromEntries(SENSOR_COLUMNS.map((c) => [c, 0])),
    min: Object.fromEntries(SENSOR_COLUMNS.map((c) => [c, Infinity])),
    max: Object.fromEntries(SENSOR_COLUMNS.map((c) => [c, -Infinity])),
    hiDelayRpm: [0, 0],
    denseLowP: [0, 0],
    byMonth: new Map(),
    byHour: new Map(),
  };
  const gen = generateFleetChunks(opts);
  for (let it = gen.next(); ; it = gen.next()) {
    if (it.done) {
      s.summary = it.value;
      return s;
    }
    const c: FleetChunk = it.value;
    for (let i = 0; i < c.length; i++) {
      s.rows++;
      s.defects += c.defect[i]!;
      const id = c.trip_id[i]!;
      let trip = s.trips.get(id);
      if (!trip) {
        trip = { device: c.device_id[i]!, factory: c.factory_id[i]!, model: c.model_id[i]!, times: [], temps: [], defects: [] };
        s.trips.set(id, trip);
        s.tripOrder.push(id);
      }
      trip.times.push(c.timestamp[i]!);
      trip.temps.push(c.temperature[i]!);
      trip.defects.push(c.defect[i]!);
      for (const col of SENSOR_COLUMNS) {
        const v = c[col][i]!;
        if (Number.isNaN(v)) s.missing[col]!++;
        else {
          s.min[col] = Math.min(s.min[col]!, v);
          s.max[col] = Math.max(s.max[col]!, v);
        }
      }
      if (c.delay[i]! > DEFECT_RULES.delayHigh && c.rotation_speed[i]! > DEFECT_RULES.rotationHigh) {
        s.hiDelayRpm[0]++;
        s.hiDelayRpm[1] += c.defect[i]!;
      }
      if (c.density[i]! > DEFECT_RULES.densityHigh && c.air_pressure[i]! < DEFECT_RULES.pressureLow) {
        s.denseLowP[0]++;
        s.denseLowP[1] += c.defect[i]!;
      }
      const d = new Date(c.timestamp[i]!);
      const t = c.temperature[i]!;
      if (!Number.isNaN(t)) {
        const m = s.byMonth.get(d.getUTCMonth()) ?? [0, 0];
        m[0] += t;
        m[1]++;
        s.byMonth.set(d.getUTCMonth(), m);
        const h = s.byHour.get(d.getUTCHours()) ?? [0, 0];
        h[0] += t;
        h[1]++;
        s.byHour.set(d.getUTCHours(), h);
      }
    }
  }
}

describe('generateFleetChunks on the default 250k fleet', () => {
  let s: FleetScan;
  beforeAll(() => {
    s = scanFleet({});
  });

  it('reaches the target row count at a trip boundary, with ~200 devices', () => {
    expect(s.rows).toBe(s.summary.rows);
    expect(s.rows).toBeGreaterThanOrEqual(250_000);
    expect(s.rows).toBeLessThan(250_000 + 350);
    expect(s.summary.devices).toBe(200);
    expect(s.summary.trips).toBe(s.trips.size);
    expect(s.summary.defects).toBe(s.defects);
    const devices = new Set([...s.trips.values()].map((t) => t.device));
    expect(devices.size).toBe(200);
    for (const d of devices) expect(d).toMatch(/^dev-\d{4}$/);
  });

  it('has trips of 10–350 one-minute readings that never overlap within a device', () => {
    const lastEnd = new Map<string, number>();
    const seenDevices: string[] = [];
    // Tally violations and assert once: 250k per-row expects would dominate the run time.
    const bad = { prefix: 0, length: 0, step: 0, regrouped: 0, overlap: 0 };
    let minGap = Infinity;
    for (const id of s.tripOrder) {
      const t = s.trips.get(id)!;
      if (!id.startsWith(`${t.device}-t`)) bad.prefix++;
      if (t.times.length < 10 || t.times.length > 350) bad.length++;
      for (let i = 1; i < t.times.length; i++) if (t.times[i]! - t.times[i - 1]! !== MINUTE) bad.step++;
      const prev = lastEnd.get(t.device);
      // Rows are grouped by device: a device never reappears after another started.
      if (prev === undefined) seenDevices.push(t.device);
      else {
        if (seenDevices.at(-1) !== t.device) bad.regrouped++;
        // Trips follow each other with gaps, so timestamps strictly increase per device.
        if (t.times[0]! <= prev) bad.overlap++;
        minGap = Math.min(minGap, t.times[0]! - prev);
      }
      lastEnd.set(t.device, t.times.at(-1)!);
    }
    expect(bad).toEqual({ prefix: 0, length: 0, step: 0, regrouped: 0, overlap: 0 });
    expect(minGap).toBeGreaterThanOrEqual(60 * MINUTE);
    const lengths = [...s.trips.values()].map((t) => t.times.length);
    expect(Math.min(...lengths)).toBeLessThan(20);
    expect(Math.max(...lengths)).toBeGreaterThan(330);
  });

  it('uses the documented factories/models and spans several months from 2026-01-01', () => {
    const factories = new Set([...s.trips.values()].map((t) => t.factory));
    const models = new Set([...s.trips.values()].map((t) => t.model));
    expect([...factories].sort()).toEqual(['F1', 'F2', 'F3', 'F4', 'F5']);
    expect([...models].sort()).toEqual(['M-A', 'M-B', 'M-C', 'M-D', 'M-E', 'M-F']);
    const starts = [...s.trips.values()].map((t) => t.times[0]!);
    const ends = [...s.trips.values()].map((t) => t.times.at(-1)!);
    expect(Math.min(...starts)).toBeGreaterThanOrEqual(FLEET_START_MS);
    expect(Math.max(...ends) - Math.min(...starts)).toBeGreaterThan(120 * 86_400_000);
  });

  it('keeps sensors in realistic ranges with seasonal and daily drift in temperature', () => {
    expect(s.min.airflow_rate).toBeGreaterThan(100);
    expect(s.max.airflow_rate).toBeLessThan(4000);
    expect(s.min.rotation_speed).toBeGreaterThan(500);
    expect(s.max.rotation_speed).toBeLessThan(4500);
    expect(s.min.air_pressure).toBeGreaterThan(95);
    expect(s.max.air_pressure).toBeLessThan(170);
    expect(s.min.temperature).toBeGreaterThan(-30);
    expect(s.max.temperature).toBeLessThan(130);
    expect(s.min.delay).toBeGreaterThan(0);
    expect(s.max.delay).toBeLessThan(300);
    expect(s.min.density).toBeGreaterThan(0.9);
    expect(s.max.density).toBeLessThan(2.6);
    const mean = (m: Map<number, [number, number]>, k: number): number => m.get(k)![0] / m.get(k)![1];
    expect(mean(s.byMonth, 5) - mean(s.byMonth, 0)).toBeGreaterThan(10); // June vs January
    expect(mean(s.byHour, 15) - mean(s.byHour, 3)).toBeGreaterThan(3); // afternoon vs night
  });

  it('has a small fraction of missing readings in every sensor', () => {
    for (const col of SENSOR_COLUMNS) {
      const frac = s.missing[col]! / s.rows;
      expect(frac, col).toBeGreaterThan(0.0005);
      expect(frac, col).toBeLessThan(0.005);
    }
  });

  it('has an overall defect rate within 1–5%', () => {
    const rate = s.defects / s.rows;
    expect(rate).toBeGreaterThan(0.01);
    expect(rate).toBeLessThan(0.05);
  });

  it('makes every documented cause visible in the readings', () => {
    const base = s.defects / s.rows;
    // Cause 2 and 3: conditional rates are many times the base rate.
    expect(s.hiDelayRpm[0]).toBeGreaterThan(200);
    expect(s.hiDelayRpm[1] / s.hiDelayRpm[0]).toBeGreaterThan(10 * base);
    expect(s.denseLowP[0]).toBeGreaterThan(200);
    expect(s.denseLowP[1] / s.denseLowP[0]).toBeGreaterThan(10 * base);
    // Cause 1: a spike vs the rolling mean of the trip's previous readings, only on
    // susceptible models/factories.
    const spike = { susceptible: [0, 0], other: [0, 0], none: [0, 0] };
    for (const t of s.trips.values()) {
      const susceptible =
        (DEFECT_RULES.tempSusceptibleModels as readonly string[]).includes(t.model) ||
        (DEFECT_RULES.tempSusceptibleFactories as readonly string[]).includes(t.factory);
      for (let i = DEFECT_RULES.tempMinHistory; i < t.temps.length; i++) {
        const window = t.temps.slice(Math.max(0, i - DEFECT_RULES.tempWindow), i).filter((v) => !Number.isNaN(v));
        const v = t.temps[i]!;
        if (Number.isNaN(v) || window.length < DEFECT_RULES.tempMinHistory) continue;
        const delta = v - window.reduce((a, b) => a + b, 0) / window.length;
        const bucket = delta > DEFECT_RULES.tempSpikeDelta + 1 ? (susceptible ? spike.susceptible : spike.other) : delta < 3 ? spike.none : null;
        if (bucket) {
          bucket[0]++;
          bucket[1] += t.defects[i]!;
        }
      }
    }
    expect(spike.susceptible[0]).toBeGreaterThan(200);
    expect(spike.other[0]).toBeGreaterThan(200);
    expect(spike.susceptible[1]! / spike.susceptible[0]!).toBeGreaterThan(10 * base);
    expect(spike.other[1]! / spike.other[0]!).toBeLessThan(3 * base);
  });
});

describe('determinism', () => {
  it('gives byte-identical CSV for the same seed and different bytes for another seed', () => {
    const a = csvBytes({ rows: 20_000, seed: 7 });
    const b = csvBytes({ rows: 20_000, seed: 7 });
    const c = csvBytes({ rows: 20_000, seed: 8 });
    expect(sha(a.bytes)).toBe(sha(b.bytes));
    expect(a.summary).toEqual(b.summary);
    expect(sha(c.bytes)).not.toBe(sha(a.bytes));
  });

  it('does not depend on the chunk size', () => {
    expect(sha(csvBytes({ rows: 20_000 }, 997).bytes)).toBe(sha(csvBytes({ rows: 20_000 }, 65_536).bytes));
  });

  it('generateFleetRows yields the same rows as the chunks, with null for missing', () => {
    const rows = [...generateFleetRows({ rows: 3000, seed: 3 })];
    const gen = generateFleetChunks({ rows: 3000, seed: 3 }, 500);
    let i = 0;
    for (const c of gen) {
      for (let j = 0; j < c.length; j++, i++) {
        expect(rows[i]!.trip_id).toBe(c.trip_id[j]);
        expect(rows[i]!.timestamp).toBe(c.timestamp[j]);
        const t = c.temperature[j]!;
        expect(rows[i]!.temperature).toBe(Number.isNaN(t) ? null : t);
      }
    }
    expect(i).toBe(rows.length);
  });

  it('the committed samples/fleet-small.csv equals the generator output for rows 5000, seed 42', async () => {
    const committed = await readFile(path.join(samplesDir, 'fleet-small.csv'));
    const fresh = csvBytes({ rows: 5000, seed: 42 });
    expect(fresh.bytes.equals(committed)).toBe(true);
    expect(fresh.summary.rows).toBeGreaterThanOrEqual(5000);
  });
});

describe('writeFleet formats read back by DuckDB', () => {
  let dir: string;
  let inst: DuckDBInstance;
  let con: DuckDBConnection;
  const files = {} as Record<'csv' | 'parquet' | 'ndjson', { file: string; summary: FleetSummary & { bytes: number } }>;

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'fleet-test-'));
    for (const fmt of ['csv', 'parquet', 'ndjson'] as const) {
      const file = path.join(dir, `fleet.${fmt}`);
      const progress: number[] = [];
      const summary = await writeFleet({ rows: 30_000, seed: 11, out: file, onProgress: (n) => progress.push(n) });
      expect(progress.at(-1)).toBe(summary.rows);
      files[fmt] = { file, summary };
    }
    inst = await DuckDBInstance.create(':memory:');
    con = await inst.connect();
  });
  afterAll(async () => {
    con?.closeSync();
    inst?.closeSync();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const source = (fmt: 'csv' | 'parquet' | 'ndjson'): string =>
    fmt === 'csv'
      ? fleetCsvReadSql(files.csv.file)
      : fmt === 'ndjson'
        ? fleetNdjsonReadSql(files.ndjson.file)
        : `read_parquet('${files.parquet.file}')`;

  it('leaves only the output files behind (temporaries are renamed or removed)', async () => {
    expect((await readdir(dir)).sort()).toEqual(['fleet.csv', 'fleet.ndjson', 'fleet.parquet']);
  });

  it('keeps the exact schema in every format', async () => {
    for (const fmt of ['csv', 'parquet', 'ndjson'] as const) {
      const r = await con.runAndReadAll(`DESCRIBE SELECT * FROM ${source(fmt)}`);
      const schema = r.getRowObjectsJson().map((row) => [row.column_name, row.column_type]);
      expect(schema, fmt).toEqual(FLEET_COLUMNS.map((c) => [c, FLEET_SCHEMA[c]]));
    }
    // A plain auto-detecting read of the CSV also finds the header and the timestamps.
    const auto = await con.runAndReadAll(`DESCRIBE SELECT * FROM read_csv('${files.csv.file}')`);
    expect(auto.getRowObjectsJson().map((row) => row.column_name)).toEqual([...FLEET_COLUMNS]);
  });

  it('has the same rows and values in every format, matching the summary', async () => {
    const agg =
      `SELECT count(*)::BIGINT AS n, count(DISTINCT trip_id)::BIGINT AS trips, count(DISTINCT device_id)::BIGINT AS devices, ` +
      `sum(defect)::BIGINT AS defects, min(timestamp)::VARCHAR AS t0, max(timestamp)::VARCHAR AS t1, ` +
      SENSOR_COLUMNS.map((c) => `count(${c})::BIGINT AS n_${c}, round(sum(${c}), 4) AS s_${c}`).join(', ');
    const results: Record<string, unknown>[] = [];
    for (const fmt of ['csv', 'parquet', 'ndjson'] as const) {
      const r = await con.runAndReadAll(`${agg} FROM ${source(fmt)}`);
      const row = r.getRowObjectsJson()[0]!;
      const { summary } = files[fmt];
      expect(Number(row.n), fmt).toBe(summary.rows);
      expect(Number(row.trips), fmt).toBe(summary.trips);
      expect(Number(row.devices), fmt).toBe(summary.devices);
      expect(Number(row.defects), fmt).toBe(summary.defects);
      expect(summary.bytes).toBeGreaterThan(0);
      results.push(row);
    }
    expect(results[1]).toEqual(results[0]);
    expect(results[2]).toEqual(results[0]);
    // Some readings are missing, and they stay NULL through every format.
    expect(SENSOR_COLUMNS.some((c) => Number(results[0]![`n_${c}`]) < files.csv.summary.rows)).toBe(true);
  });
});

describe('samples CLI', () => {
  it('parses counts with suffixes and separators', () => {
    expect(parseCount('250k', '--rows')).toBe(250_000);
    expect(parseCount('10M', '--rows')).toBe(10_000_000);
    expect(parseCount('250_000', '--rows')).toBe(250_000);
    expect(() => parseCount('ten', '--rows')).toThrow(/--rows/);
  });

  it('writes a file and prints one JSON line with --json', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'fleet-cli-'));
    const out: string[] = [];
    const spy = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
      out.push(String(chunk));
      return true;
    });
    try {
      const summary = await runSamples(['--rows', '2000', '--seed', '5', '--out', path.join(dir, 'f.csv'), '--json']);
      expect(out).toHaveLength(1);
      const printed = JSON.parse(out[0]!) as Record<string, unknown>;
      expect(printed.rows).toBe(summary.rows);
      expect(printed.format).toBe('csv');
      const expected = csvBytes({ rows: 2000, seed: 5 }).bytes;
      expect((await readFile(path.join(dir, 'f.csv'))).equals(expected)).toBe(true);
    } finally {
      spy.mockRestore();
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('rejects missing and unknown arguments', async () => {
    await expect(runSamples(['--rows', '10'])).rejects.toThrow(/--out/);
    await expect(runSamples(['--rows', '10', '--out', 'x.csv', '--bogus'])).rejects.toThrow(/unknown argument/);
    await expect(runSamples(['--rows', '10', '--out', 'x.txt'])).rejects.toThrow(/format/);
  });
});
