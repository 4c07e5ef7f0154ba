import { describe, it, expect } from 'vitest';
import type { DetectorFactory, DetectorJson, Matrix, Params } from '../../core/models/detector.ts';
import { detectors, detectorFromJSON, getDetector } from '../../core/models/registry.ts';
import { isolationForest, averagePathLength } from '../../core/models/isolation-forest.ts';
import { symmetricEigen } from '../../core/models/pca.ts';
import { rocAuc } from '../../core/models/metrics.ts';
import { createRng } from '../../core/util/rng.ts';

const COLS = ['a', 'b', 'c', 'd', 'e', 'f'];
const OUTLIERS = [17, 333, 901, 1400, 1777];

interface Fixture {
  m: Matrix;
  /** Injected outlier rows. */
  outliers: number[];
}

/**
 * Seeded correlated Gaussian data (two latent factors + noise, unit-ish variance)
 * with a few rows pushed 6 units along every feature with random signs: extreme in
 * range and breaking the correlations, so every detector kind should see them.
 */
function fixture(rows = 2000, seed = 42): Fixture {
  const rng = createRng(seed);
  const cols = COLS.length;
  const loadings = [
    [0.8, 0.1], [0.7, -0.3], [0.2, 0.9], [-0.5, 0.6], [0.6, 0.5], [0.1, -0.8],
  ];
  const data = new Float64Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    const f1 = rng.normal(), f2 = rng.normal();
    for (let j = 0; j < cols; j++) data[r * cols + j] = loadings[j][0] * f1 + loadings[j][1] * f2 + 0.4 * rng.normal();
  }
  const outliers = OUTLIERS.filter((r) => r < rows);
  for (const r of outliers) for (let j = 0; j < cols; j++) data[r * cols + j] += rng.next() < 0.5 ? -6 : 6;
  return { m: { rows, cols, data, columns: [...COLS] }, outliers };
}

/** Rows whose every feature is within ±1: typical, so a push along one feature is the only oddity. */
function typicalRows(m: Matrix): number[] {
  const out: number[] = [];
  for (let r = 0; r < m.rows; r++) if (rowOf(m, r).every((v) => Math.abs(v) < 1)) out.push(r);
  return out;
}

/** A typical training row pushed 12 units along one feature (not part of the training data). */
function pushed(m: Matrix, row: number, feature: number): Float64Array {
  const x = rowOf(m, row);
  x[feature] += row % 2 === 0 ? 12 : -12;
  return x;
}

function rowOf(m: Matrix, r: number): Float64Array {
  return m.data.slice(r * m.cols, (r + 1) * m.cols);
}

function topRows(scores: Float64Array, k: number): number[] {
  return Array.from(scores.keys()).sort((x, y) => scores[y] - scores[x]).slice(0, k).sort((x, y) => x - y);
}

function constantMatrix(rows: number): Matrix {
  const data = new Float64Array(rows * 3);
  for (let r = 0; r < rows; r++) data.set([1.5, -2, 7], r * 3);
  return { rows, cols: 3, data, columns: ['x', 'y', 'z'] };
}

interface Case {
  factory: DetectorFactory;
  params: Params;
  stochastic: boolean;
  /** What fitting on all-constant features does. */
  constant: 'equal-scores' | 'throws';
}

const CASES: Case[] = [
  { factory: detectors['isolation-forest'], params: {}, stochastic: true, constant: 'equal-scores' },
  { factory: detectors['isolation-forest'], params: { extended: true }, stochastic: true, constant: 'equal-scores' },
  { factory: detectors['isolation-forest'], params: { max_features: 0.5, sample_size: 128, n_trees: 200 }, stochastic: true, constant: 'equal-scores' },
  { factory: detectors['isolation-forest-mljs'], params: { n_trees: 50 }, stochastic: true, constant: 'equal-scores' },
  { factory: detectors['robust-z'], params: {}, stochastic: false, constant: 'throws' },
  { factory: detectors['pca'], params: {}, stochastic: false, constant: 'throws' },
  { factory: detectors['pca'], params: { statistic: 't2' }, stochastic: false, constant: 'throws' },
  { factory: detectors['pca'], params: { statistic: 'q', n_components: 2 }, stochastic: false, constant: 'throws' },
];

const FX = fixture();

describe.each(CASES)('$factory.kind $params', ({ factory, params, stochastic, constant }) => {
  const fitted = factory.fit(FX.m, { seed: 7, params });

  it('ranks the injected outliers first', async () => {
    const det = await fitted;
    expect(topRows(det.score(FX.m), OUTLIERS.length)).toEqual([...OUTLIERS].sort((a, b) => a - b));
    expect(det.kind).toBe(factory.kind);
    expect(det.columns).toEqual(COLS);
  });

  it('gives identical scores after a JSON round trip', async () => {
    const det = await fitted;
    const json = JSON.parse(JSON.stringify(det.toJSON())) as DetectorJson;
    expect(json.kind).toBe(factory.kind);
    const again = factory.fromJSON(json);
    expect(again.score(FX.m)).toEqual(det.score(FX.m));
    expect(detectorFromJSON(json).scoreRow(rowOf(FX.m, 17))).toBe(det.scoreRow(rowOf(FX.m, 17)));
    expect(again.explain(rowOf(FX.m, 333))).toEqual(det.explain(rowOf(FX.m, 333)));
  });

  it('scores one row the same through scoreRow and score', async () => {
    const det = await fitted;
    const all = det.score(FX.m);
    for (const r of [0, 1, 17, 333, 1999]) {
      const row = rowOf(FX.m, r);
      expect(det.scoreRow(row)).toBe(all[r]);
      expect(det.score({ rows: 1, cols: FX.m.cols, data: row, columns: COLS })[0]).toBe(all[r]);
    }
  });

  it('explains a row pushed along one feature by that feature', async () => {
    const det = await fitted;
    const typical = typicalRows(FX.m);
    for (let feature = 0; feature < COLS.length; feature++) {
      const ex = det.explain(pushed(FX.m, typical[feature], feature));
      expect(ex[0].feature).toBe(COLS[feature]);
      for (let i = 1; i < ex.length; i++) expect(ex[i].weight).toBeLessThanOrEqual(ex[i - 1].weight);
      expect(ex.every((c) => c.weight >= 0 && Number.isFinite(c.value))).toBe(true);
    }
    expect(det.explain(rowOf(FX.m, 17), 2)).toHaveLength(2);
  });

  it.runIf(stochastic)('is reproducible per seed and varies across seeds', async () => {
    const det = await fitted;
    const same = await factory.fit(FX.m, { seed: 7, params });
    const other = await factory.fit(FX.m, { seed: 8, params });
    expect(same.score(FX.m)).toEqual(det.score(FX.m));
    expect(other.score(FX.m)).not.toEqual(det.score(FX.m));
  });

  it.runIf(!stochastic)('is deterministic', async () => {
    const det = await fitted;
    expect((await factory.fit(FX.m, { seed: 99, params })).score(FX.m)).toEqual(det.score(FX.m));
  });

  it('rejects NaN and ±Infinity naming the column', async () => {
    for (const bad of [NaN, Infinity, -Infinity]) {
      const data = FX.m.data.slice();
      data[5 * 6 + 3] = bad;
      await expect(factory.fit({ ...FX.m, data }, { seed: 1, params })).rejects.toThrow(/column "d".*non-finite/);
    }
    const det = await fitted;
    const row = rowOf(FX.m, 0);
    row[1] = NaN;
    expect(() => det.scoreRow(row)).toThrow(/column "b"/);
  });

  it('rejects an empty matrix and a matrix of the wrong width', async () => {
    await expect(factory.fit({ rows: 0, cols: 6, data: new Float64Array(0), columns: COLS }, { seed: 1, params })).rejects.toThrow(/0 rows/);
    const det = await fitted;
    expect(() => det.score({ rows: 1, cols: 2, data: new Float64Array(2), columns: ['a', 'b'] })).toThrow(/2 columns/);
    expect(() => det.scoreRow(new Float64Array(3))).toThrow(/expects 6/);
  });

  it(constant === 'throws' ? 'throws on all-constant features' : 'gives equal scores on all-constant features', async () => {
    const m = constantMatrix(50);
    if (constant === 'throws') {
      await expect(factory.fit(m, { seed: 1, params })).rejects.toThrow(/all features are constant/);
    } else {
      const det = await factory.fit(m, { seed: 1, params });
      const s = det.score(m);
      expect(new Set(s).size).toBe(1);
      expect(Number.isFinite(s[0])).toBe(true);
    }
  });

  it('reports progress up to 1 and stops when aborted', async () => {
    const seen: number[] = [];
    await factory.fit(FX.m, { seed: 1, params, onProgress: (f) => seen.push(f) });
    expect(seen.length).toBeGreaterThan(0);
    expect(seen[seen.length - 1]).toBe(1);
    expect(seen.every((f, i) => f >= 0 && f <= 1 && (i === 0 || f >= seen[i - 1]))).toBe(true);

    const before = new AbortController();
    before.abort();
    await expect(factory.fit(FX.m, { seed: 1, params, signal: before.signal })).rejects.toThrow(/abort/i);

    // Aborting mid-fit (from the first progress report) stops the fit too.
    const during = new AbortController();
    let calls = 0;
    const run = factory.fit(FX.m, { seed: 1, params, signal: during.signal, onProgress: () => { calls++; during.abort(); } });
    await expect(run).rejects.toMatchObject({ name: 'AbortError' });
    expect(calls).toBe(1);
  });
});

describe('isolation-forest specifics', () => {
  it('scores in (0, 1] with normal rows near or below 0.5', async () => {
    const det = await isolationForest.fit(FX.m, { seed: 3, params: {} });
    const s = det.score(FX.m);
    const sorted = Float64Array.from(s).sort();
    expect(sorted[0]).toBeGreaterThan(0);
    expect(sorted[sorted.length - 1]).toBeLessThanOrEqual(1);
    expect(sorted[Math.floor(s.length / 2)]).toBeLessThan(0.5);
    expect(s[17]).toBeGreaterThan(0.6);
  });

  it('computes c(n) as 2H(n−1) − 2(n−1)/n', () => {
    expect(averagePathLength(1)).toBe(0);
    expect(averagePathLength(2)).toBe(1);
    expect(averagePathLength(3)).toBeCloseTo(2 * 1.5 - 4 / 3, 12);
    let h = 0;
    for (let i = 1; i <= 4095; i++) h += 1 / i;
    expect(averagePathLength(4096)).toBeCloseTo(2 * h - (2 * 4095) / 4096, 10);
  });

  it('works with a sample_size above the row count and a single feature', async () => {
    const m: Matrix = { rows: 40, cols: 1, data: Float64Array.from({ length: 40 }, (_, i) => (i === 39 ? 100 : i % 7)), columns: ['v'] };
    const det = await isolationForest.fit(m, { seed: 1, params: { sample_size: 1000 } });
    expect(topRows(det.score(m), 1)).toEqual([39]);
    expect((det.toJSON().state as { psi: number }).psi).toBe(40);
  });

  it('rejects invalid params with a clear message', async () => {
    await expect(isolationForest.fit(FX.m, { seed: 1, params: { max_features: 0 } })).rejects.toThrow(/max_features/);
    await expect(isolationForest.fit(FX.m, { seed: 1, params: { n_trees: 2.5 } })).rejects.toThrow(/n_trees.*integer/);
    await expect(isolationForest.fit(FX.m, { seed: 1, params: { extended: 'yes' } })).rejects.toThrow(/extended.*boolean/);
  });

  it('refuses a model of another kind', async () => {
    const json = (await detectors['robust-z'].fit(FX.m, { seed: 1, params: {} })).toJSON();
    expect(() => isolationForest.fromJSON(json)).toThrow(/kind "robust-z"/);
  });
});

describe('pca eigen-solver', () => {
  it('diagonalizes a symmetric matrix: A v = λ v, eigenvalues descending', () => {
    const p = 5;
    const rng = createRng(5);
    const b = Float64Array.from({ length: p * p }, () => rng.normal());
    const a = new Float64Array(p * p);
    for (let i = 0; i < p; i++) for (let j = 0; j < p; j++) for (let k = 0; k < p; k++) a[i * p + j] += b[k * p + i] * b[k * p + j];
    const { values, vectors } = symmetricEigen(a, p);
    for (let e = 0; e < p; e++) {
      if (e > 0) expect(values[e]).toBeLessThanOrEqual(values[e - 1]);
      for (let i = 0; i < p; i++) {
        let av = 0;
        for (let j = 0; j < p; j++) av += a[i * p + j] * vectors[j * p + e];
        expect(av).toBeCloseTo(values[e] * vectors[i * p + e], 9);
      }
    }
  });

  it('drops constant features and records them', async () => {
    const { m } = fixture(300, 9);
    const data = m.data.slice();
    for (let r = 0; r < m.rows; r++) data[r * m.cols + 2] = 4.2;
    const det = await detectors['pca'].fit({ ...m, data }, { seed: 1, params: {} });
    const state = det.toJSON().state as { dropped: string[]; kept: number[] };
    expect(state.dropped).toEqual(['c']);
    expect(state.kept).toEqual([0, 1, 3, 4, 5]);
    expect(det.explain(rowOf({ ...m, data }, 0)).map((c) => c.feature)).not.toContain('c');
  });
});

describe('robust-z scale fallbacks', () => {
  it('falls back from a zero MAD to IQR or std, and ignores constant features', async () => {
    const rows = 100;
    const data = new Float64Array(rows * 3);
    for (let r = 0; r < rows; r++) {
      data[r * 3] = r; // ordinary: MAD > 0
      data[r * 3 + 1] = r < 90 ? 5 : 6; // MAD 0 and IQR 0, std > 0
      data[r * 3 + 2] = 1; // constant
    }
    const det = await detectors['robust-z'].fit({ rows, cols: 3, data, columns: ['x', 'y', 'z'] }, { seed: 1, params: { top_k: 1 } });
    const state = det.toJSON().state as { source: string[] };
    expect(state.source).toEqual(['mad', 'std', 'constant']);
    expect(det.explain(Float64Array.of(50, 5, 1000)).map((c) => c.feature)).toEqual(['x', 'y']);
    expect(det.scoreRow(Float64Array.of(49.5, 9, 1))).toBeGreaterThan(10);
  });
});

describe('registry', () => {
  it('lists the four detector kinds with params and help', () => {
    expect(Object.keys(detectors).sort()).toEqual(['isolation-forest', 'isolation-forest-mljs', 'pca', 'robust-z']);
    for (const f of Object.values(detectors)) {
      expect(f.help.length).toBeGreaterThan(100);
      expect(f.help).toMatch(/NaN/);
      expect(f.params.length).toBeGreaterThan(0);
    }
  });

  it('throws on an unknown kind, naming the known ones', () => {
    expect(() => getDetector('lstm')).toThrow(/Unknown detector kind "lstm".*isolation-forest.*robust-z/);
    expect(() => detectorFromJSON({ kind: 'nope', version: 1, columns: [], params: {}, state: null })).toThrow(/known kinds/);
  });
});

describe('rocAuc', () => {
  it('is 1 for a perfect ranking, 0 for a reversed one, 0.5 for all ties', () => {
    expect(rocAuc([0.1, 0.2, 0.9, 0.8], [0, 0, 1, 1])).toBe(1);
    expect(rocAuc([0.9, 0.8, 0.1, 0.2], [0, 0, 1, 1])).toBe(0);
    expect(rocAuc([1, 1, 1, 1], [0, 1, 0, 1])).toBe(0.5);
  });

  it('averages ties like the Mann–Whitney statistic', () => {
    // Positives 0.5 and 0.7; negatives 0.5, 0.1, 0.6: wins = (1 + 0.5) + 3 = 4.5 of 6.
    expect(rocAuc([0.5, 0.7, 0.5, 0.1, 0.6], [true, true, false, false, false])).toBeCloseTo(4.5 / 6, 15);
  });

  it('rejects a single class and NaN scores', () => {
    expect(() => rocAuc([1, 2], [0, 0])).toThrow(/positive and one negative/);
    expect(() => rocAuc([NaN, 2], [0, 1])).toThrow(/NaN/);
  });
});
