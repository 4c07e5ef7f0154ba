import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createWorkbench, type Workbench } from '../../core/app.ts';
import { WorkbenchError } from '../../core/api/errors.ts';
import { orderSettled, storedOrder } from '../../core/data/order.ts';
import { ident } from '../../core/workspace/workspace.ts';
import type { Workspace } from '../../core/workspace/workspace.ts';
import { fitPass, fitRecipe, groupPartitions, RAW_PASS, streamFeatures, type FeatureChunk, type FitPassRows, type StreamFeaturesOptions } from '../../core/features/batch.ts';
import { createOnlineFeaturizer, type OnlineEvent } from '../../core/features/online.ts';
import { defaultRecipe, planFeatures, type FeatureRecipe, type FittedRecipe } from '../../core/features/recipe.ts';
import { CMAPSS_COLUMNS, CMAPSS_TRAIN, HAVE_CMAPSS, ROOT, tempDir } from '../helpers/tmp.ts';

const FLEET_CSV = `${ROOT}samples/fleet-small.csv`;
const TOLERANCE = 1e-9;
/** Median-ish timestamp of fleet-small: splits it into earlier (training) and later rows. */
let SPLIT = '';

let wb: Workbench;
let ws: Workspace;
let tmp: ReturnType<typeof tempDir>;

async function importFleet(name: string): Promise<void> {
  await wb.api['datasets.import']({ dataset: name, files: [FLEET_CSV] });
  // The tests below write to the table and compare rowids across datasets: after its background sort.
  await orderSettled(ws, name);
}

beforeAll(async () => {
  tmp = tempDir('fleetlens-features-');
  wb = await createWorkbench({ workspace: tmp.file('ws.duckdb'), mode: 'in-process' });
  ws = wb.workspace;
  await importFleet('fleet');
  const r = await ws.query('SELECT quantile_disc(timestamp, 0.5)::VARCHAR AS t FROM fleet');
  SPLIT = String(r[0]!.t);
});

afterAll(async () => {
  await wb.close();
  tmp.cleanup();
});

interface BatchRows {
  features: Map<number, Float64Array>;
  order: number[];
  dropped: number;
  chunks: FeatureChunk[];
}

async function batch(dataset: string, fitted: FittedRecipe, opts: StreamFeaturesOptions = {}): Promise<BatchRows> {
  const out: BatchRows = { features: new Map(), order: [], dropped: 0, chunks: [] };
  for await (const c of streamFeatures(ws, dataset, fitted, opts)) {
    out.chunks.push(c);
    out.dropped += c.dropped;
    expect(c.matrix.columns).toEqual(fitted.featureNames);
    expect(c.matrix.data.length).toBe(c.rows * c.matrix.cols);
    for (let i = 0; i < c.rows; i++) {
      const rid = c.rowIndex[i]!;
      out.order.push(rid);
      out.features.set(rid, c.matrix.data.slice(i * c.matrix.cols, (i + 1) * c.matrix.cols));
    }
  }
  return out;
}

/** Rows of a dataset as events, in the (group, time, rowid) order the live stream guarantees per group. */
async function events(dataset: string, fitted: FittedRecipe): Promise<(OnlineEvent & { __rid: number })[]> {
  const order = [...fitted.columns.groups, fitted.columns.time].map(ident).join(', ');
  const rows = await ws.query(`SELECT rowid AS __rid, * FROM ${ident(dataset)} ORDER BY ${order}, rowid`);
  return rows.map((r) => ({ ...(r as OnlineEvent), __rid: Number(r.__rid) }));
}

/** Replays a dataset through a featurizer built from the fitted recipe's JSON form. */
async function online(dataset: string, fitted: FittedRecipe): Promise<Map<number, { features: Float64Array; dropped: boolean }>> {
  const f = createOnlineFeaturizer(JSON.parse(JSON.stringify(fitted)) as FittedRecipe);
  const out = new Map<number, { features: Float64Array; dropped: boolean }>();
  for (const e of await events(dataset, fitted)) {
    const { features, dropped } = f.push(e);
    out.set(e.__rid, { features, dropped });
  }
  return out;
}

/** Asserts both evaluators agree on every value and on which rows are dropped; returns the max abs difference. */
async function expectAgreement(dataset: string, fitted: FittedRecipe): Promise<number> {
  const b = await batch(dataset, fitted);
  const o = await online(dataset, fitted);
  const onlineKept = [...o].filter(([, v]) => !v.dropped).map(([rid]) => rid).sort((x, y) => x - y);
  expect([...b.features.keys()].sort((x, y) => x - y)).toEqual(onlineKept);
  expect(b.dropped).toBe(o.size - onlineKept.length);
  let max = 0;
  let worst = '';
  let nonFinite = 0;
  // Plain loops and one assertion at the end: an expect() per value would dominate the run time.
  for (const [rid, fb] of b.features) {
    const fo = o.get(rid)!.features;
    for (let j = 0; j < fb.length; j++) {
      if (!Number.isFinite(fb[j]!)) nonFinite++;
      const d = Math.abs(fb[j]! - fo[j]!);
      if (!(d <= max)) {
        max = d;
        worst = `${fitted.featureNames[j]} at rowid ${rid}: batch ${fb[j]} online ${fo[j]}`;
      }
    }
  }
  expect(nonFinite).toBe(0);
  expect(max, worst).toBeLessThanOrEqual(TOLERANCE);
  return max;
}

/** A recipe with every feature kind, three rolling windows (one past DuckDB's 16-row naive frame limit, one folded by blocks) and two EWMs. */
function everything(base: FeatureRecipe, patch: Partial<FeatureRecipe> = {}): FeatureRecipe {
  return {
    ...base,
    groupBy: 'device+trip',
    lags: [1, 3],
    diffs: [1, 2],
    rolling: [
      { window: 5, stats: ['mean', 'std', 'min', 'max'] },
      { window: 30, stats: ['mean', 'std', 'min', 'max'] },
      // Past LONG_WINDOW: folded by blocks (7 + 7 + … rows, merged).
      { window: 45, stats: ['mean', 'std', 'min', 'max'] },
    ],
    ewm: [
      { span: 10, deviation: true },
      { span: 3, deviation: false },
    ],
    categoricals: ['model_id', 'factory_id'],
    ...patch,
  };
}

describe('batch and online evaluators agree', () => {
  it('on fleet-small with the default recipe', async () => {
    const info = await wb.api['datasets.get']({ name: 'fleet' });
    const fitted = await fitRecipe(ws, 'fleet', defaultRecipe(info), { trainFilter: `timestamp <= '${SPLIT}'` });
    expect(fitted.featureNames).toContain('temperature__ewm10_dev');
    expect(fitted.training.rows).toBeGreaterThan(1000);
    await expectAgreement('fleet', fitted);
  });

  it('on fleet-small with every feature kind and categoricals; unseen categories are all zeros', async () => {
    const info = await wb.api['datasets.get']({ name: 'fleet' });
    const fitted = await fitRecipe(ws, 'fleet', everything(defaultRecipe(info)), { trainFilter: "model_id <> 'M-C'" });
    const modelCats = fitted.categories.find((c) => c.column === 'model_id')!;
    const models = await ws.query("SELECT DISTINCT model_id AS m FROM fleet WHERE model_id <> 'M-C' ORDER BY 1");
    expect([...modelCats.values].sort()).toEqual(models.map((r) => r.m));
    expect(modelCats.other).toBe(false);
    await expectAgreement('fleet', fitted);
    const b = await batch('fleet', fitted, { includeColumns: ['model_id'] });
    const cols = modelCats.values.map((v) => fitted.featureNames.indexOf(`model_id=${v}`));
    const wrong: string[] = [];
    let unseen = 0;
    for (const c of b.chunks) {
      for (let i = 0; i < c.rows; i++) {
        const model = c.extra.model_id![i];
        const hot = cols.map((j) => c.matrix.data[i * c.matrix.cols + j]).join('');
        const want = modelCats.values.map((v) => (v === model ? 1 : 0)).join('');
        if (hot !== want) wrong.push(`${model}: ${hot}`);
        if (model === 'M-C') unseen++;
      }
    }
    expect(unseen).toBeGreaterThan(0);
    expect(wrong).toEqual([]);
  });

  it('with injected NULLs and non-finite readings, under every fill rule', async () => {
    await importFleet('fleet_gaps');
    await ws.run(`UPDATE fleet_gaps SET temperature = NULL WHERE rowid % 7 = 0`);
    await ws.run(`UPDATE fleet_gaps SET airflow_rate = NULL WHERE rowid % 11 IN (3, 4, 5)`);
    await ws.run(`UPDATE fleet_gaps SET rotation_speed = 'NaN'::DOUBLE WHERE rowid % 13 = 1`);
    await ws.run(`UPDATE fleet_gaps SET delay = 'Infinity'::DOUBLE WHERE rowid % 17 = 2`);
    await ws.run(`UPDATE fleet_gaps SET model_id = NULL WHERE rowid % 19 = 0`);
    const info = await wb.api['datasets.get']({ name: 'fleet_gaps' });
    const cases = [
      { fill: 'mean', standardize: true },
      { fill: 'zero', standardize: false },
      { fill: 'drop', standardize: true },
    ] as const;
    for (const { fill, standardize } of cases) {
      const fitted = await fitRecipe(ws, 'fleet_gaps', everything(defaultRecipe(info), { fill, standardize, groupBy: 'device' }), {
        trainFilter: `timestamp <= '${SPLIT}'`,
      });
      if (fill === 'drop') expect(fitted.training.dropped).toBeGreaterThan(0);
      await expectAgreement('fleet_gaps', fitted);
    }
    const dropFit = await fitRecipe(ws, 'fleet_gaps', { ...defaultRecipe(info), fill: 'drop' });
    const b = await batch('fleet_gaps', dropFit);
    expect(b.dropped).toBeGreaterThan(0);
    expect(b.features.size + b.dropped).toBe(info.rowCount);
  });

  it('with one global series (groupBy none)', async () => {
    const info = await wb.api['datasets.get']({ name: 'fleet' });
    const fitted = await fitRecipe(ws, 'fleet', { ...defaultRecipe(info), groupBy: 'none', rolling: [{ window: 40, stats: ['mean', 'std'] }] });
    expect(fitted.columns.groups).toEqual([]);
    await expectAgreement('fleet', fitted);
  });

  it('with categoricals only (no sensors)', async () => {
    const info = await wb.api['datasets.get']({ name: 'fleet' });
    const recipe: FeatureRecipe = { ...defaultRecipe(info), sensors: [], categoricals: ['model_id'] };
    const fitted = await fitRecipe(ws, 'fleet', recipe);
    expect(fitted.featureNames.every((n) => n.startsWith('model_id='))).toBe(true);
    await expectAgreement('fleet', fitted);
  });

  it('on a sensor with a large offset (centering keeps rolling sums exact enough)', async () => {
    await importFleet('fleet_offset');
    await ws.run('UPDATE fleet_offset SET density = 1e6 + density / 100, temperature = temperature * 1e-7');
    const info = await wb.api['datasets.get']({ name: 'fleet_offset' });
    const fitted = await fitRecipe(ws, 'fleet_offset', {
      ...defaultRecipe(info),
      sensors: ['density', 'temperature'],
      rolling: [{ window: 50, stats: ['mean', 'std'] }, { window: 8, stats: ['mean', 'std'] }],
    });
    await expectAgreement('fleet_offset', fitted);
  });

  it('with more categories than the cap: top 50 plus a catch-all column', async () => {
    const csv = tmp.file(
      'cats.csv',
      ['device_id,ts,level,reading'].concat(
        Array.from({ length: 2000 }, (_, i) => `d${i % 4},${i},c${i % 60 < 55 ? i % 60 : 99},${Math.sin(i) * 10}`),
      ).join('\n') + '\n',
    );
    await wb.api['datasets.import']({ dataset: 'cats', files: [csv] });
    await ws.run("UPDATE cats SET level = 'never-seen' WHERE rowid % 97 = 0 AND ts > 1500");
    const info = await wb.api['datasets.get']({ name: 'cats' });
    const recipe: FeatureRecipe = { ...defaultRecipe(info), groupBy: 'device', categoricals: ['level'] };
    const fitted = await fitRecipe(ws, 'cats', recipe, { trainFilter: 'ts <= 1500' });
    const set = fitted.categories[0]!;
    expect(set.values).toHaveLength(50);
    expect(set.values[0]).toBe('c99');
    expect(set.other).toBe(true);
    expect(fitted.featureNames.at(-1)).toBe('level=__other__');
    await expectAgreement('cats', fitted);
  });

  it.skipIf(!HAVE_CMAPSS)('on C-MAPSS FD001 (skipped when ../shared/data/cmapss/train_FD001.txt is absent)', async () => {
    await wb.api['datasets.import']({ dataset: 'fd001', files: [CMAPSS_TRAIN], columns: CMAPSS_COLUMNS });
    const info = await wb.api['datasets.get']({ name: 'fd001' });
    const fitted = await fitRecipe(ws, 'fd001', { ...defaultRecipe(info), rolling: [{ window: 10, stats: ['mean', 'std'] }, { window: 30, stats: ['min', 'max', 'mean'] }] }, {
      trainFilter: 'unit <= 70',
    });
    expect(fitted.columns).toEqual({ time: 'cycle', groups: ['unit'], label: null });
    // FD001 has sensors that never change; they are flagged instead of divided by ~0.
    expect(fitted.scaler!.constant).toContain('s1');
    await expectAgreement('fd001', fitted);
  });
  if (!HAVE_CMAPSS) console.info(`C-MAPSS agreement test skipped: ${CMAPSS_TRAIN} not found`);
});

describe('the feature kernel against DuckDB window functions (an independent oracle)', () => {
  it('lags, diffs and rolling statistics equal SQL windows over (group, time, rowid), with missing readings', async () => {
    await importFleet('fleet_oracle');
    await ws.run(`UPDATE fleet_oracle SET temperature = NULL WHERE rowid % 7 = 0`);
    await ws.run(`UPDATE fleet_oracle SET rotation_speed = 'NaN'::DOUBLE WHERE rowid % 13 = 1`);
    await ws.run(`UPDATE fleet_oracle SET delay = 'Infinity'::DOUBLE WHERE rowid % 17 = 2`);
    const info = await wb.api['datasets.get']({ name: 'fleet_oracle' });
    // Raw features out: missing → 0, no scaling. EWM has no SQL form (it was JS before too).
    const base = everything(defaultRecipe(info));
    // Long windows too (folded by blocks of ~√window rows), longer than most trips here.
    const rolling = [...base.rolling, { window: 200, stats: ['mean', 'std', 'min', 'max'] as const }, { window: 1000, stats: ['std'] as const }].map((r) => ({ ...r, stats: [...r.stats] }));
    const recipe = { ...base, rolling, ewm: [], categoricals: [], fill: 'zero' as const, standardize: false };
    const fitted = await fitRecipe(ws, 'fleet_oracle', recipe);
    const plan = planFeatures(fitted.recipe);
    expect(plan.map((f) => f.name)).toEqual(fitted.featureNames);
    expect(new Set(plan.map((f) => f.kind))).toEqual(new Set(['raw', 'lag', 'diff', 'roll']));
    const v = (sensor: number): string => {
      const c = `CAST(${ident(fitted.recipe.sensors[sensor]!)} AS DOUBLE)`;
      return `CASE WHEN isfinite(${c}) THEN ${c} END`;
    };
    const frame = (n: number): string => `(w ROWS BETWEEN ${n} PRECEDING AND 1 PRECEDING)`;
    const sql = plan.map((f) => {
      switch (f.kind) {
        case 'raw':
          return v(f.sensor);
        case 'lag':
          return `lag(${v(f.sensor)}, ${f.k}) OVER w`;
        case 'diff':
          return `${v(f.sensor)} - lag(${v(f.sensor)}, ${f.k}) OVER w`;
        case 'roll':
          return `${f.stat === 'mean' ? 'avg' : f.stat === 'std' ? 'stddev_samp' : f.stat}(${v(f.sensor)}) OVER ${frame(f.window)}`;
        default:
          throw new Error(f.kind);
      }
    });
    const order = `PARTITION BY ${fitted.columns.groups.map(ident).join(', ')} ORDER BY ${ident(fitted.columns.time)}, rowid`;
    const rows = await ws.query(`SELECT rowid AS rid, ${sql.map((e, i) => `coalesce(${e}, 0) AS f${i}`).join(', ')} FROM fleet_oracle WINDOW w AS (${order})`);
    const b = await batch('fleet_oracle', fitted);
    expect(b.features.size).toBe(rows.length);
    let max = 0;
    let worst = '';
    for (const r of rows) {
      const fb = b.features.get(Number(r.rid))!;
      for (let j = 0; j < plan.length; j++) {
        const want = Number(r[`f${j}`]);
        // Relative to the value's size: DuckDB sums long frames through a segment tree, in another order.
        const d = Math.abs(fb[j]! - want) / Math.max(1, Math.abs(want));
        if (!(d <= max)) {
          max = d;
          worst = `${plan[j]!.name} at rowid ${String(r.rid)}: kernel ${fb[j]} SQL ${want}`;
        }
      }
    }
    expect(max, worst).toBeLessThanOrEqual(TOLERANCE);
  });
});

describe('no look-ahead', () => {
  it('perturbing every row after t leaves the features of rows at or before t unchanged', async () => {
    await importFleet('fleet_future');
    await ws.run(`UPDATE fleet_future SET temperature = temperature * 3 + 7, airflow_rate = NULL, rotation_speed = -rotation_speed,
      model_id = 'M-Z', factory_id = 'F9' WHERE timestamp > '${SPLIT}'`);
    const info = await wb.api['datasets.get']({ name: 'fleet' });
    const fitted = await fitRecipe(ws, 'fleet', everything(defaultRecipe(info)), { trainFilter: `timestamp <= '${SPLIT}'` });
    const early = await ws.query(`SELECT rowid AS rid FROM fleet WHERE timestamp <= '${SPLIT}'`);
    expect(early.length).toBeGreaterThan(1000);
    const original = await batch('fleet', fitted);
    const perturbed = await batch('fleet_future', fitted);
    const perturbedOnline = await online('fleet_future', fitted);
    let changedLater = 0;
    let batchChanged = 0;
    let onlineMax = 0;
    for (const { rid } of early) {
      const a = original.features.get(Number(rid))!;
      const b = perturbed.features.get(Number(rid))!;
      const c = perturbedOnline.get(Number(rid))!.features;
      for (let j = 0; j < a.length; j++) {
        if (b[j] !== a[j]) batchChanged++;
        onlineMax = Math.max(onlineMax, Math.abs(c[j]! - a[j]!));
      }
    }
    expect(batchChanged).toBe(0);
    expect(onlineMax).toBeLessThanOrEqual(TOLERANCE);
    for (const [rid, a] of original.features) {
      if (a.some((v, j) => v !== perturbed.features.get(rid)![j])) changedLater++;
    }
    // The perturbation is real: later rows did change.
    expect(changedLater).toBe(original.features.size - early.length);
  });

  it('a row is featurized before it is folded in: raw value aside, row t ignores its own value', async () => {
    const info = await wb.api['datasets.get']({ name: 'fleet' });
    const fitted = await fitRecipe(ws, 'fleet', { ...everything(defaultRecipe(info)), sensors: ['temperature'], includeRaw: false, diffs: [], categoricals: [] });
    const devs = fitted.featureNames.map((n, j) => [n, j] as const).filter(([n]) => n.endsWith('_dev'));
    const f = createOnlineFeaturizer(fitted);
    const evs = await events('fleet', fitted);
    // Five rows of history in the first group, then two versions of its sixth row.
    evs.slice(0, 5).forEach((e) => f.push({ ...e, temperature: 20 }));
    const sixth = evs[5]!;
    expect(sixth.trip_id).toBe(evs[0]!.trip_id);
    const a = f.state();
    const r1 = f.push({ ...sixth, temperature: 10 });
    f.restore(a);
    const r2 = f.push({ ...sixth, temperature: 90 });
    fitted.featureNames.forEach((name, j) => {
      if (devs.some(([, k]) => k === j)) expect(r1.features[j]).not.toBe(r2.features[j]);
      else expect(r1.features[j], name).toBe(r2.features[j]);
    });
  });
});

describe('training split', () => {
  it('changing non-training rows does not change fill values, scaler, centers or categories', async () => {
    await importFleet('fleet_split');
    const info = await wb.api['datasets.get']({ name: 'fleet' });
    const recipe = everything(defaultRecipe(info));
    const trainFilter = `timestamp <= '${SPLIT}'`;
    const before = await fitRecipe(ws, 'fleet_split', recipe, { trainFilter });
    await ws.run(`UPDATE fleet_split SET temperature = temperature * 100, density = NULL, model_id = 'M-Q' WHERE NOT (${trainFilter})`);
    const after = await fitRecipe(ws, 'fleet_split', recipe, { trainFilter });
    expect(after.training).toEqual(before.training);
    expect(after.categories).toEqual(before.categories);
    expect(after.featureNames).toEqual(before.featureNames);
    const close = (x: number[], y: number[]): void => {
      expect(x.length).toBe(y.length);
      x.forEach((v, i) => expect(Math.abs(v - y[i]!)).toBeLessThanOrEqual(1e-12 * Math.max(1, Math.abs(v))));
    };
    close(after.centers, before.centers);
    close(after.fillValues!, before.fillValues!);
    close(after.scaler!.mean, before.scaler!.mean);
    close(after.scaler!.std, before.scaler!.std);
    // …while fitting on every row does see the change.
    const all = await fitRecipe(ws, 'fleet_split', recipe);
    expect(all.scaler!.mean[after.featureNames.indexOf('temperature')]).not.toBeCloseTo(after.scaler!.mean[after.featureNames.indexOf('temperature')]!, 3);
  });

  it('standardized training features have mean 0 and std 1, constants are flagged, and the fitted recipe is plain JSON', async () => {
    await importFleet('fleet_const');
    await ws.run('UPDATE fleet_const SET delay = 4.25');
    const info = await wb.api['datasets.get']({ name: 'fleet_const' });
    const fitted = await fitRecipe(ws, 'fleet_const', { ...defaultRecipe(info), ewm: [{ span: 5, deviation: true }] }, { trainFilter: `timestamp <= '${SPLIT}'` });
    expect(JSON.parse(JSON.stringify(fitted))).toEqual(fitted);
    expect(fitted.scaler!.constant).toEqual(expect.arrayContaining(['delay', 'delay__lag1', 'delay__diff1', 'delay__roll10_mean', 'delay__ewm5']));
    expect(fitted.warnings.join('\n')).toMatch(/constant in the training rows/);
    const b = await batch('fleet_const', fitted, { filter: `timestamp <= '${SPLIT}'` });
    const n = b.features.size;
    expect(n).toBe(fitted.training.rows);
    fitted.featureNames.forEach((name, j) => {
      let s = 0;
      let s2 = 0;
      for (const f of b.features.values()) {
        s += f[j]!;
        s2 += f[j]! * f[j]!;
      }
      const mean = s / n;
      const sd = Math.sqrt(s2 / n - mean * mean);
      expect(Math.abs(mean), name).toBeLessThan(1e-9);
      if (fitted.scaler!.constant.includes(name)) expect(sd, name).toBeLessThan(1e-9);
      else expect(Math.abs(sd - 1), name).toBeLessThan(1e-9);
    });
  });

  it('reports bad training filters and empty splits', async () => {
    const info = await wb.api['datasets.get']({ name: 'fleet' });
    const err = (p: Promise<unknown>): Promise<WorkbenchError> => p.then(() => { throw new Error('expected failure'); }, (e: unknown) => e as WorkbenchError);
    const e1 = await err(fitRecipe(ws, 'fleet', defaultRecipe(info), { trainFilter: 'no_such_column > 3' }));
    expect(e1.code).toBe('INVALID_ARGUMENT');
    expect(e1.message).toMatch(/^trainFilter is not a valid SQL predicate over dataset 'fleet': /);
    const e2 = await err(fitRecipe(ws, 'fleet', defaultRecipe(info), { trainFilter: "timestamp < '1990-01-01'" }));
    expect(e2.message).toBe("trainFilter selects no rows of dataset 'fleet'");
    const e3 = await err(fitRecipe(ws, 'fleet', defaultRecipe(info), { trainFilter: 'true; DROP TABLE fleet' }));
    expect(e3.message).toBe("trainFilter must be a single SQL expression (no ';')");
    const e4 = await err(fitRecipe(ws, 'nope', defaultRecipe(info)));
    expect(e4.code).toBe('DATASET_NOT_FOUND');
    const e5 = await err(fitRecipe(ws, 'fleet', { ...defaultRecipe(info), sensors: ['tmp'] }));
    expect(e5.message).toBe("recipe names column 'tmp' which dataset 'fleet' does not have");
    const e6 = await err(fitRecipe(ws, 'fleet', defaultRecipe(info), { signal: AbortSignal.abort() }));
    expect(e6.code).toBe('CANCELLED');
    // A sample of the training rows to fit on: checked like the filter, and an empty one is named.
    const e7 = await err(fitPass(ws, 'fleet', defaultRecipe(info), { trainFilter: `timestamp <= '${SPLIT}'`, fitSample: 'no_such_column > 3' }));
    expect(e7.message).toMatch(/^fitSample is not a valid SQL predicate over dataset 'fleet': /);
    const [{ n }] = (await ws.query(`SELECT count(*) AS n FROM fleet WHERE timestamp <= '${SPLIT}'`)) as [{ n: number }];
    const e8 = await err(fitPass(ws, 'fleet', defaultRecipe(info), { trainFilter: `timestamp <= '${SPLIT}'`, fitSample: 'false' }));
    expect(e8.message).toBe(`fitSample selects none of the ${Number(n)} training rows of dataset 'fleet'`);
  });
});

describe('streaming', () => {
  it('chunks concatenate to the single-chunk result, with extra columns and row ids', async () => {
    const info = await wb.api['datasets.get']({ name: 'fleet' });
    const fitted = await fitRecipe(ws, 'fleet', everything(defaultRecipe(info)), { trainFilter: `timestamp <= '${SPLIT}'` });
    const includeColumns = ['defect', 'timestamp', 'device_id'];
    const one = await batch('fleet', fitted, { chunkRows: 1_000_000, includeColumns });
    expect(one.chunks).toHaveLength(1);
    const many = await batch('fleet', fitted, { chunkRows: 333, includeColumns });
    expect(many.chunks.length).toBe(Math.ceil(info.rowCount / 333));
    for (const c of many.chunks) expect(c.rows).toBeLessThanOrEqual(333);
    const cat = (k: keyof FeatureChunk['extra']): unknown[] => many.chunks.flatMap((c) => c.extra[k]!);
    expect(many.order).toEqual(one.order);
    const whole = one.chunks[0]!.matrix.data;
    let offset = 0;
    let mismatches = 0;
    for (const c of many.chunks) {
      for (let k = 0; k < c.matrix.data.length; k++) if (!Object.is(c.matrix.data[k], whole[offset + k])) mismatches++;
      offset += c.matrix.data.length;
    }
    expect(offset).toBe(whole.length);
    expect(mismatches).toBe(0);
    for (const k of includeColumns) expect(cat(k)).toEqual(one.chunks[0]!.extra[k]);
    expect(typeof one.chunks[0]!.extra.defect![0]).toBe('number');
    expect(one.chunks[0]!.extra.timestamp![0]).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/);
    // Ordered by group (trip), then time.
    const c0 = one.chunks[0]!;
    const trips = await ws.query('SELECT rowid AS rid, trip_id, timestamp::VARCHAR AS ts FROM fleet');
    const byRid = new Map(trips.map((r) => [Number(r.rid), `${r.trip_id}|${r.ts}`]));
    const keys = Array.from(c0.rowIndex, (rid) => byRid.get(rid)!);
    expect(keys).toEqual([...keys].sort());
  });

  it('a filter emits a subset whose features still see the filtered-out history', async () => {
    const info = await wb.api['datasets.get']({ name: 'fleet' });
    for (const ewm of [[{ span: 10, deviation: true }], []]) {
      const fitted = await fitRecipe(ws, 'fleet', { ...defaultRecipe(info), ewm });
      const all = await batch('fleet', fitted);
      const some = await batch('fleet', fitted, { filter: 'defect = 1 OR rowid % 10 = 0' });
      const want = await ws.query('SELECT count(*) AS n FROM fleet WHERE defect = 1 OR rowid % 10 = 0');
      expect(some.features.size).toBe(Number(want[0]!.n));
      for (const [rid, f] of some.features) expect(f).toEqual(all.features.get(rid));
      // A 0/1 column works as a predicate on its own.
      const defects = await batch('fleet', fitted, { filter: 'defect' });
      const nDefects = await ws.query('SELECT count(*) AS n FROM fleet WHERE defect = 1');
      expect(defects.features.size).toBe(Number(nDefects[0]!.n));
    }
  });

  it('rejects bad options and can be cancelled', async () => {
    const info = await wb.api['datasets.get']({ name: 'fleet' });
    const fitted = await fitRecipe(ws, 'fleet', defaultRecipe(info));
    const fail = async (opts: StreamFeaturesOptions, dataset = 'fleet', f = fitted): Promise<WorkbenchError> => {
      try {
        for await (const c of streamFeatures(ws, dataset, f, opts)) void c;
      } catch (e) {
        return e as WorkbenchError;
      }
      throw new Error('expected failure');
    };
    expect((await fail({ includeColumns: ['nope'] })).message).toBe("includeColumns names column 'nope' which dataset 'fleet' does not have");
    expect((await fail({ chunkRows: 0 })).message).toBe('chunkRows 0 must be a positive whole number');
    expect((await fail({ filter: 'bogus(' })).message).toMatch(/^filter is not a valid SQL predicate over dataset 'fleet': /);
    expect((await fail({}, 'nope')).code).toBe('DATASET_NOT_FOUND');
    await wb.api['datasets.import']({ dataset: 'tiny', files: [tmp.file('tiny.csv', 'device_id,timestamp,pressure\na,2026-01-01 00:00:00,1\n')] });
    expect((await fail({}, 'tiny')).message).toBe("fitted recipe needs column 'trip_id' which dataset 'tiny' does not have");

    const ac = new AbortController();
    let seen = 0;
    const err = await (async () => {
      try {
        for await (const c of streamFeatures(ws, 'fleet', fitted, { chunkRows: 500, signal: ac.signal })) {
          seen += c.rows;
          ac.abort();
        }
      } catch (e) {
        return e as WorkbenchError;
      }
      return null;
    })();
    expect(err?.code).toBe('CANCELLED');
    expect(seen).toBe(500);
  });

  it('streams a 1M-row dataset in bounded chunks', async () => {
    const csv = `${tmp.dir}/big.csv`;
    await ws.run(`COPY (SELECT 'dev-' || (i % 100) AS device_id, 'trip-' || (i % 1000) AS trip_id, TIMESTAMP '2026-01-01' + to_seconds(i) AS timestamp,
      1000 + (i * 7919) % 101 AS rotation_speed, 20 + ((i * 104729) % 97) / 10.0 AS temperature FROM range(1000000) r(i)) TO '${csv}' (HEADER)`);
    const res = await wb.api['datasets.import']({ dataset: 'big', files: [csv] });
    expect(res.dataset.rowCount).toBe(1_000_000);
    const fitted = await fitRecipe(ws, 'big', defaultRecipe(res.dataset), { trainFilter: "timestamp < '2026-01-07'" });
    const chunkRows = 50_000;
    let rows = 0;
    let chunks = 0;
    for await (const c of streamFeatures(ws, 'big', fitted, { chunkRows })) {
      expect(c.rows).toBeLessThanOrEqual(chunkRows);
      expect(c.matrix.data.length).toBe(c.rows * fitted.featureNames.length);
      rows += c.rows;
      chunks++;
    }
    expect(rows).toBe(1_000_000);
    expect(chunks).toBe(20);
  }, 300_000);
});

describe('online featurizer state', () => {
  it('a JSON snapshot restored into a fresh featurizer continues exactly', async () => {
    const info = await wb.api['datasets.get']({ name: 'fleet' });
    const fitted = await fitRecipe(ws, 'fleet', everything(defaultRecipe(info)));
    const evs = await events('fleet', fitted);
    const straight = createOnlineFeaturizer(fitted);
    const expected = evs.map((e) => straight.push(e));
    const half = Math.floor(evs.length / 2);
    const a = createOnlineFeaturizer(fitted);
    evs.slice(0, half).forEach((e) => a.push(e));
    const snapshot = JSON.parse(JSON.stringify(a.state())) as unknown;
    const b = createOnlineFeaturizer(fitted);
    b.restore(snapshot);
    evs.slice(half).forEach((e, i) => {
      const r = b.push(e);
      expect(r.group).toBe(expected[half + i]!.group);
      expect(r.features).toEqual(expected[half + i]!.features);
    });
    expect(expected[0]!.group).toBe(JSON.stringify([String(evs[0]!.device_id), String(evs[0]!.trip_id)]));

    const other = await fitRecipe(ws, 'fleet', defaultRecipe(info));
    expect(() => createOnlineFeaturizer(other).restore(snapshot)).toThrow(/saved under a different fitted recipe/);
    expect(() => b.restore({ version: 1 })).toThrow(/expected version 1 with a groups array/);
  });

  it('treats numeric strings as readings and blanks as missing', async () => {
    const info = await wb.api['datasets.get']({ name: 'fleet' });
    const fitted = await fitRecipe(ws, 'fleet', { ...defaultRecipe(info), sensors: ['temperature'], fill: 'drop' });
    const evs = await events('fleet', fitted);
    const a = createOnlineFeaturizer(fitted);
    const b = createOnlineFeaturizer(fitted);
    for (const e of evs.slice(0, 30)) {
      const ra = a.push(e);
      const rb = b.push({ ...e, temperature: e.temperature === null ? '' : ` ${String(e.temperature)} ` });
      expect(rb.dropped).toBe(ra.dropped);
      expect(Array.from(rb.features)).toEqual(Array.from(ra.features));
    }
  });
});

/** One streamed row of a fit pass as plain numbers: rowid, training flag, first flag, features. */
function passRow(c: FitPassRows, i: number): number[] {
  return [c.rid[i]!, c.train[i]!, c.flags[0]![i]!, ...c.feats.subarray(i * c.numeric, (i + 1) * c.numeric)];
}

/** Record the SQL of every query streamed on the workspace's new connections until `restore`. */
function recordStreams(): { sqls: string[]; restore: () => void } {
  const sqls: string[] = [];
  const connect = ws.connect.bind(ws);
  ws.connect = async () => {
    const con = await connect();
    const stream = con.stream.bind(con);
    con.stream = ((sql: string, ...rest: unknown[]) => (sqls.push(sql), (stream as (...a: unknown[]) => ReturnType<typeof stream>)(sql, ...rest))) as typeof con.stream;
    return con;
  };
  return { sqls, restore: () => (ws.connect = connect) };
}

describe('a fit pass split into parts by ranges of the group column', () => {
  it('streams the rows, order and features of the single sorted query; NULL groups in the last part', async () => {
    await importFleet('fleet_parts');
    await ws.run(`UPDATE fleet_parts SET device_id = NULL WHERE rowid % 23 = 0`);
    await ws.run(`UPDATE fleet_parts SET temperature = NULL WHERE rowid % 7 = 0`);
    const info = await wb.api['datasets.get']({ name: 'fleet_parts' });
    const recipe = everything(defaultRecipe(info));
    const pass = async (): Promise<{ fitted: FittedRecipe; rows: number[][] }> => {
      const rows: number[][] = [];
      const fitted = await fitPass(ws, 'fleet_parts', recipe, {
        trainFilter: `timestamp <= '${SPLIT}'`,
        flags: [`timestamp > '${SPLIT}'`],
        onRows: (c) => {
          for (let i = 0; i < c.n; i++) rows.push(passRow(c, i));
        },
      });
      return { fitted, rows };
    };
    const whole = await pass();
    const saved = RAW_PASS.partRows;
    RAW_PASS.partRows = Math.ceil(info.rowCount / 6);
    try {
      const parts = (await groupPartitions(ws, info, 'device_id', info.rowCount))!;
      expect(parts.length).toBeGreaterThanOrEqual(4);
      // Disjoint and covering: every row in exactly one part, none empty.
      const counts = (await ws.query(`SELECT ${parts.map((p, i) => `count(*) FILTER (WHERE ${p}) AS p${i}`).join(', ')} FROM fleet_parts`))[0]!;
      const sizes = parts.map((_, i) => Number(counts[`p${i}`]));
      expect(sizes.every((n) => n > 0)).toBe(true);
      expect(sizes.reduce((a, b) => a + b, 0)).toBe(info.rowCount);
      // Split, the kernel runs in a worker thread: the same bits as the engine's own loop.
      const split = await pass();
      expect(split.rows.length).toBe(info.rowCount);
      expect(split.rows).toEqual(whole.rows);
      expect(split.fitted).toEqual(whole.fitted);
      // Groups sorted and told apart by ENUM codes (as a preparation does), the code also asked for as a
      // number: the same rows and features, the code read from the group column (NULL → NaN).
      await ws.run(`CREATE TYPE fleetlens.test_dev AS ENUM (SELECT DISTINCT device_id FROM fleet_parts WHERE device_id IS NOT NULL ORDER BY 1)`);
      const code = `enum_code(CAST("fleet_parts"."device_id"::VARCHAR AS fleetlens.test_dev))`;
      const expected = new Map((await ws.query(`SELECT rowid AS rid, ${code} AS c FROM fleet_parts`)).map((r) => [Number(r.rid), r.c === null ? NaN : Number(r.c)]));
      const byDevice = everything(defaultRecipe(info), { groupBy: 'device' });
      const plain: number[][] = [];
      await fitPass(ws, 'fleet_parts', byDevice, {
        trainFilter: `timestamp <= '${SPLIT}'`,
        flags: [`timestamp > '${SPLIT}'`],
        onRows: (c) => {
          for (let i = 0; i < c.n; i++) plain.push(passRow(c, i));
        },
      });
      const coded: number[][] = [];
      const codes: number[] = [];
      const { sqls, restore } = recordStreams();
      try {
        await fitPass(ws, 'fleet_parts', byDevice, {
          trainFilter: `timestamp <= '${SPLIT}'`,
          flags: [`timestamp > '${SPLIT}'`],
          numbers: [code],
          sortKeys: { device_id: code },
          onRows: (c) => {
            for (let i = 0; i < c.n; i++) {
              coded.push(passRow(c, i));
              codes.push(c.numbers[0]![i]!);
            }
          },
        });
      } finally {
        restore();
      }
      expect(sqls.length).toBeGreaterThanOrEqual(4);
      expect(sqls.every((q) => !q.includes('hash(')), 'groups told apart by their codes, not hashes').toBe(true);
      expect(plain.length).toBe(info.rowCount);
      expect(coded).toEqual(plain);
      expect(codes).toEqual(coded.map((r) => expected.get(r[0]!)));
      expect(codes.some((c) => Number.isNaN(c))).toBe(true);
      // Cancelled mid-pass, with chunks in flight to the kernel thread: CANCELLED, and the next pass runs.
      const abort = new AbortController();
      let seen = 0;
      const cancelled = fitPass(ws, 'fleet_parts', recipe, { signal: abort.signal, onRows: (c) => (seen += c.n) > 2000 && abort.abort() });
      await expect(cancelled).rejects.toMatchObject({ code: 'CANCELLED' });
      expect((await pass()).rows).toEqual(whole.rows);
    } finally {
      RAW_PASS.partRows = saved;
    }
  });
});

describe('a dataset stored in the order of its feature pass', () => {
  it('is sorted after import; a pass streams it as stored with the rows, order and features of the sorted query; an append drops the order', async () => {
    await importFleet('fleet_ord');
    expect(await storedOrder(ws, 'fleet_ord')).toEqual(['trip_id', 'timestamp']);
    // Rowids follow (trip, time): no row comes before its predecessor in that order.
    const back = await ws.query(
      `SELECT count(*) AS n FROM (SELECT trip_id, timestamp, lag(trip_id) OVER w AS pt, lag(timestamp) OVER w AS ptime FROM fleet_ord WINDOW w AS (ORDER BY rowid)) WHERE pt > trip_id OR (pt = trip_id AND ptime > timestamp)`,
    );
    expect(Number(back[0]!.n)).toBe(0);
    const info = await wb.api['datasets.get']({ name: 'fleet_ord' });
    const recipe = everything(defaultRecipe(info), { groupBy: 'trip' });
    // The streamed SQL tells which way a pass went.
    const { sqls, restore } = recordStreams();
    const pass = async (): Promise<{ fitted: FittedRecipe; rows: number[][]; sql: string }> => {
      const rows: number[][] = [];
      sqls.length = 0;
      const fitted = await fitPass(ws, 'fleet_ord', recipe, {
        trainFilter: `timestamp <= '${SPLIT}'`,
        flags: [`timestamp > '${SPLIT}'`],
        onRows: (c) => {
          for (let i = 0; i < c.n; i++) rows.push(passRow(c, i));
        },
      });
      return { fitted, rows, sql: sqls.join('\n') };
    };
    const saved = RAW_PASS.partRows;
    try {
      const stored = await pass();
      expect(stored.sql).not.toMatch(/ORDER BY/);
      expect(stored.rows.length).toBe(info.rowCount);
      // Large enough for the kernel thread: the same bits.
      RAW_PASS.partRows = Math.ceil(info.rowCount / 6);
      expect((await pass()).rows).toEqual(stored.rows);
      // Without the recorded order, DuckDB sorts (in parts): the same rows, order, bits and fitted recipe.
      await ws.run(`DELETE FROM fleetlens.meta WHERE key = 'order:fleet_ord'`);
      const sorted = await pass();
      expect(sorted.sql).toMatch(/ORDER BY/);
      expect(sorted.rows).toEqual(stored.rows);
      expect(sorted.fitted).toEqual(stored.fitted);
    } finally {
      RAW_PASS.partRows = saved;
      restore();
    }
    // A replace sorts again; an append puts rows after the sorted ones, so the order is no longer claimed.
    await wb.api['datasets.import']({ dataset: 'fleet_ord', files: [FLEET_CSV], mode: 'replace' });
    expect(await storedOrder(ws, 'fleet_ord')).toBeNull();
    await orderSettled(ws, 'fleet_ord');
    expect(await storedOrder(ws, 'fleet_ord')).toEqual(['trip_id', 'timestamp']);
    await wb.api['datasets.import']({ dataset: 'fleet_ord', files: [FLEET_CSV], mode: 'append' });
    await orderSettled(ws, 'fleet_ord');
    expect(await storedOrder(ws, 'fleet_ord')).toBeNull();
    // Deleting the dataset forgets its order.
    await wb.api['datasets.import']({ dataset: 'fleet_ord', files: [FLEET_CSV], mode: 'replace' });
    await wb.api['datasets.delete']({ name: 'fleet_ord' });
    expect(await ws.query(`SELECT * FROM fleetlens.meta WHERE key LIKE '%:fleet_ord'`)).toEqual([]);
  });
});
