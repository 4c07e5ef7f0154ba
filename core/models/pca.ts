/**
 * PCA detector: standardized features projected on the principal components of
 * the training covariance; rows are scored by Hotelling's T² (unusual within the
 * modelled subspace), by Q / SPE (distance from it: broken correlations), or both.
 */
import type { Contribution, Detector, DetectorFactory, DetectorJson, DetectorParamSpec, FitOptions, Matrix, Params } from './detector.ts';
import {
  assertFinite,
  assertFittable,
  assertJsonKind,
  assertRow,
  assertScorable,
  enumParam,
  makeYielder,
  numParam,
  quantileInPlace,
  rankContributions,
  throwIfAborted,
} from './matrix-checks.ts';

const KIND = 'pca';

type Statistic = 'combined' | 't2' | 'q';

const PARAMS: DetectorParamSpec[] = [
  {
    name: 'variance',
    type: 'float',
    default: 0.95,
    min: 1e-6,
    max: 1,
    help: 'Keep the fewest components whose cumulative explained variance reaches this fraction (ignored if n_components > 0).',
  },
  { name: 'n_components', type: 'int', default: 0, min: 0, max: 100_000, help: 'Fixed number of components (0 = choose by variance).' },
  {
    name: 'statistic',
    type: 'enum',
    default: 'combined',
    options: ['combined', 't2', 'q'],
    help: "'t2' = Hotelling T², 'q' = squared prediction error, 'combined' = T²/T²₉₅ + Q/Q₉₅ (each ≈ 1 at its 95% limit).",
  },
];

/** Control-limit quantile used to put T² and Q on one scale in 'combined'. */
const LIMIT_Q = 0.95;

/**
 * Eigen-decomposition of a symmetric p×p matrix (row-major) by cyclic Jacobi
 * rotations. O(p³) per sweep and typically < 10 sweeps: fine for p ≤ a few hundred,
 * and exact to rounding (no dependency on a linear-algebra package).
 * Returns eigenvalues descending and eigenvectors as the columns of `vectors` (row-major p×p).
 */
export function symmetricEigen(matrix: Float64Array, p: number): { values: Float64Array; vectors: Float64Array } {
  const a = Float64Array.from(matrix);
  const v = new Float64Array(p * p);
  for (let i = 0; i < p; i++) v[i * p + i] = 1;
  let norm = 0;
  for (let i = 0; i < p * p; i++) norm += a[i] * a[i];
  for (let sweep = 0; sweep < 100; sweep++) {
    let off = 0;
    for (let i = 0; i < p; i++) for (let j = i + 1; j < p; j++) off += a[i * p + j] * a[i * p + j];
    if (off <= 1e-30 * norm || off === 0) break;
    for (let i = 0; i < p; i++) {
      for (let j = i + 1; j < p; j++) {
        const aij = a[i * p + j];
        if (aij === 0) continue;
        // Rotation angle that zeroes a[i][j] (Numerical Recipes' stable form).
        const theta = (a[j * p + j] - a[i * p + i]) / (2 * aij);
        const t = (theta >= 0 ? 1 : -1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1), s = t * c;
        for (let k = 0; k < p; k++) {
          const aki = a[k * p + i], akj = a[k * p + j];
          a[k * p + i] = c * aki - s * akj;
          a[k * p + j] = s * aki + c * akj;
        }
        for (let k = 0; k < p; k++) {
          const aik = a[i * p + k], ajk = a[j * p + k];
          a[i * p + k] = c * aik - s * ajk;
          a[j * p + k] = s * aik + c * ajk;
        }
        for (let k = 0; k < p; k++) {
          const vki = v[k * p + i], vkj = v[k * p + j];
          v[k * p + i] = c * vki - s * vkj;
          v[k * p + j] = s * vki + c * vkj;
        }
      }
    }
  }
  const order = Array.from({ length: p }, (_, i) => i).sort((x, y) => a[y * p + y] - a[x * p + x]);
  const values = new Float64Array(p), vectors = new Float64Array(p * p);
  order.forEach((src, dst) => {
    values[dst] = a[src * p + src];
    for (let k = 0; k < p; k++) vectors[k * p + dst] = v[k * p + src];
  });
  return { values, vectors };
}

/** Wilson–Hilferty approximation of the χ²(k) quantile at the standard-normal quantile `z`. */
function chiSquareQuantile(k: number, z: number): number {
  const h = 2 / (9 * k);
  return k * Math.pow(1 - h + z * Math.sqrt(h), 3);
}
/** Standard-normal 95% quantile. */
const Z95 = 1.6448536269514722;

interface PcaState {
  /** Indices (into `columns`) of the features kept; the others were constant in training. */
  kept: number[];
  dropped: string[];
  mean: number[];
  std: number[];
  /** Kept components: `components[j * k + i]` = loading of kept feature j on component i. */
  components: number[];
  /** Variances of the kept components (floored to stay invertible). */
  eigenvalues: number[];
  /** Explained-variance ratio of every component, for display. */
  explained: number[];
  k: number;
  statistic: Statistic;
  /** Normalizers for 'combined': χ²(k) 95% quantile and the training 95% quantile of Q (0 = Q not used). */
  t2Ref: number;
  qRef: number;
}

/** Per-row intermediate results, in scratch buffers owned by the detector. */
interface Parts {
  t2: number;
  q: number;
}

class PcaDetector implements Detector {
  readonly kind = KIND;
  readonly columns: string[];
  private readonly params: Params;
  private readonly s: PcaState;
  private readonly kept: Int32Array;
  private readonly mean: Float64Array;
  private readonly invStd: Float64Array;
  private readonly comps: Float64Array;
  private readonly lambda: Float64Array;
  /** Scratch: standardized row, component scores, residuals. */
  private readonly z: Float64Array;
  private readonly t: Float64Array;
  private readonly r: Float64Array;

  constructor(columns: string[], params: Params, state: PcaState) {
    this.columns = columns;
    this.params = params;
    this.s = state;
    this.kept = Int32Array.from(state.kept);
    this.mean = Float64Array.from(state.mean);
    this.invStd = Float64Array.from(state.std, (v) => 1 / v);
    this.comps = Float64Array.from(state.components);
    this.lambda = Float64Array.from(state.eigenvalues);
    this.z = new Float64Array(this.kept.length);
    this.t = new Float64Array(state.k);
    this.r = new Float64Array(this.kept.length);
  }

  /** Fills z, t and r for the row at `data[base..]`, returns T² and Q. */
  private parts(data: ArrayLike<number>, base: number): Parts {
    const { kept, z, t, r, comps, lambda } = this;
    const p = kept.length, k = this.s.k;
    for (let j = 0; j < p; j++) z[j] = (data[base + kept[j]] - this.mean[j]) * this.invStd[j];
    let t2 = 0;
    for (let i = 0; i < k; i++) {
      let ti = 0;
      for (let j = 0; j < p; j++) ti += comps[j * k + i] * z[j];
      t[i] = ti;
      t2 += (ti * ti) / lambda[i];
    }
    let q = 0;
    // Residual computed explicitly (not as |z|² − |t|²) to avoid cancellation, and
    // because its per-feature terms are the Q contributions.
    for (let j = 0; j < p; j++) {
      let recon = 0;
      for (let i = 0; i < k; i++) recon += comps[j * k + i] * t[i];
      r[j] = z[j] - recon;
      q += r[j] * r[j];
    }
    return { t2, q };
  }

  private combine(x: Parts): number {
    switch (this.s.statistic) {
      case 't2':
        return x.t2;
      case 'q':
        return x.q;
      default:
        return x.t2 / this.s.t2Ref + (this.s.qRef > 0 ? x.q / this.s.qRef : 0);
    }
  }

  score(m: Matrix): Float64Array {
    assertScorable(KIND, this.columns, m);
    const out = new Float64Array(m.rows);
    for (let row = 0; row < m.rows; row++) out[row] = this.combine(this.parts(m.data, row * m.cols));
    return out;
  }

  scoreRow(row: Float64Array): number {
    assertRow(KIND, this.columns, row);
    return this.combine(this.parts(row, 0));
  }

  /**
   * Per kept feature: Q contribution r_j² (its squared residual) and T² contribution
   * |z_j · Σ_i v_ji t_i / λ_i| (the signed terms sum to T²). 'combined' adds both,
   * each divided by its normalizer, matching the score.
   */
  explain(row: Float64Array, top?: number): Contribution[] {
    assertRow(KIND, this.columns, row);
    this.parts(row, 0);
    const { kept, z, t, r, comps, lambda } = this;
    const k = this.s.k;
    const items: Contribution[] = [];
    for (let j = 0; j < kept.length; j++) {
      let w = 0;
      for (let i = 0; i < k; i++) w += (comps[j * k + i] * t[i]) / lambda[i];
      const t2c = Math.abs(z[j] * w), qc = r[j] * r[j];
      const weight =
        this.s.statistic === 't2' ? t2c : this.s.statistic === 'q' ? qc : t2c / this.s.t2Ref + (this.s.qRef > 0 ? qc / this.s.qRef : 0);
      items.push({ feature: this.columns[kept[j]], weight, value: z[j] });
    }
    return rankContributions(items, top);
  }

  toJSON(): DetectorJson {
    return { kind: KIND, version: 1, columns: [...this.columns], params: { ...this.params }, state: structuredClone(this.s) };
  }
}

async function fit(m: Matrix, opts: FitOptions): Promise<Detector> {
  assertFittable(KIND, m);
  const variance = numParam(KIND, PARAMS, opts, 'variance');
  const nComponents = numParam(KIND, PARAMS, opts, 'n_components');
  const statistic = enumParam(KIND, PARAMS, opts, 'statistic') as Statistic;
  assertFinite(KIND, m);
  throwIfAborted(opts.signal);
  const { rows, cols, data } = m;
  const yieldNow = makeYielder();

  // Constant = every value equal (tested exactly: a mean/std test would be fooled by rounding).
  const kept: number[] = [], dropped: string[] = [];
  for (let j = 0; j < cols; j++) {
    let lo = Infinity, hi = -Infinity;
    for (let r = 0; r < rows; r++) {
      const v = data[r * cols + j];
      if (v < lo) lo = v;
      if (v > hi) hi = v;
    }
    if (hi > lo) kept.push(j);
    else dropped.push(m.columns[j]);
  }
  if (kept.length === 0) throw new Error(`${KIND}: all features are constant in the training data; nothing to model`);
  const p = kept.length;
  const mean = new Float64Array(p), std = new Float64Array(p);
  for (let r = 0; r < rows; r++) for (let j = 0; j < p; j++) mean[j] += data[r * cols + kept[j]];
  for (let j = 0; j < p; j++) mean[j] /= rows;
  for (let r = 0; r < rows; r++) {
    for (let j = 0; j < p; j++) {
      const d = data[r * cols + kept[j]] - mean[j];
      std[j] += d * d;
    }
  }
  for (let j = 0; j < p; j++) std[j] = Math.sqrt(std[j] / (rows - 1));
  opts.onProgress?.(0.2);
  await yieldNow();
  throwIfAborted(opts.signal);

  // Covariance of the standardized data = correlation matrix (upper triangle, mirrored).
  const cov = new Float64Array(p * p);
  const z = new Float64Array(p);
  for (let r = 0; r < rows; r++) {
    for (let j = 0; j < p; j++) z[j] = (data[r * cols + kept[j]] - mean[j]) / std[j];
    for (let a = 0; a < p; a++) {
      const za = z[a];
      for (let b = a; b < p; b++) cov[a * p + b] += za * z[b];
    }
    if ((r & 0xffff) === 0xffff) {
      await yieldNow();
      throwIfAborted(opts.signal);
    }
  }
  for (let a = 0; a < p; a++) {
    for (let b = a; b < p; b++) {
      cov[a * p + b] /= rows - 1;
      cov[b * p + a] = cov[a * p + b];
    }
  }
  opts.onProgress?.(0.6);
  const { values, vectors } = symmetricEigen(cov, p);
  let total = 0;
  for (let i = 0; i < p; i++) total += Math.max(0, values[i]);
  const explained = Array.from(values, (v) => (total > 0 ? Math.max(0, v) / total : 0));
  let k: number;
  if (nComponents > 0) k = Math.min(nComponents, p);
  else {
    k = 0;
    let cum = 0;
    while (k < p && cum < variance - 1e-12) cum += explained[k++];
  }
  k = Math.max(1, k);
  // Q needs at least one residual direction, otherwise it is identically zero.
  if (statistic === 'q') k = Math.min(k, p - 1);
  const components: number[] = [];
  for (let j = 0; j < p; j++) for (let i = 0; i < k; i++) components.push(vectors[j * p + i]);
  // Floor tiny variances so that T² stays finite for (near-)collinear features.
  const floor = Math.max(values[0], 1e-300) * 1e-12;
  const eigenvalues = Array.from(values.subarray(0, k), (v) => Math.max(v, floor));

  const state: PcaState = {
    kept,
    dropped,
    mean: Array.from(mean),
    std: Array.from(std),
    components,
    eigenvalues,
    explained,
    k,
    statistic,
    t2Ref: k > 0 ? chiSquareQuantile(k, Z95) : 1,
    qRef: 0,
  };
  const params: Params = { variance, n_components: nComponents, statistic };
  if (statistic === 'combined' && k < p) {
    // Q's scale depends on how much variance was left out, so it is calibrated on
    // the training rows themselves; with all components kept Q is only rounding noise and is left out.
    const probe = new PcaDetector([...m.columns], params, { ...state, statistic: 'q' });
    const qs = probe.score(m);
    let qRef = quantileInPlace(qs, LIMIT_Q);
    if (!(qRef > 0)) qRef = qs.reduce((s, v) => s + v, 0) / rows;
    state.qRef = qRef > 0 ? qRef : 0;
  }
  opts.onProgress?.(1);
  return new PcaDetector([...m.columns], params, state);
}

function fromJSON(json: DetectorJson): Detector {
  assertJsonKind(KIND, json);
  const st = json.state as Partial<PcaState> | null;
  if (st === null || typeof st !== 'object' || !Array.isArray(st.components) || !Array.isArray(st.kept) || typeof st.k !== 'number') {
    throw new Error(`${KIND}: model state is missing its components`);
  }
  return new PcaDetector([...json.columns], { ...json.params }, structuredClone(st as PcaState));
}

/** PCA (Hotelling T² / Q) detector. */
export const pca: DetectorFactory = {
  kind: KIND,
  label: 'PCA (T² / Q)',
  help: [
    'Features are standardized with the training mean and standard deviation; features constant in training are dropped',
    '(listed in the model) and cannot signal later changes. The correlation matrix is eigen-decomposed (Jacobi); the',
    'fewest components reaching `variance` of the explained variance are kept (or n_components).',
    "Scores: 't2' = Hotelling T² = Σ t_i²/λ_i over kept components (extreme but 'normal-shaped' rows);",
    "'q' = squared prediction error, the squared distance from the component subspace (broken correlations; at least",
    "one component is left out so Q is not identically 0); 'combined' (default) = T²/χ²₀.₉₅(k) + Q/Q₀.₉₅ with",
    'χ² by Wilson–Hilferty and Q₀.₉₅ the 95th percentile of Q on the training rows: each term is ≈ 1 at its 95% control',
    'limit (when every component is kept, Q is rounding noise and is left out).',
    'Assumes roughly linear relations; cost O(rows × features²) to fit, suited to ≤ ~200 features.',
    'Input: NaN/±Infinity throws an error naming the column (impute first); 0 rows throws;',
    'all features constant throws "all features are constant". explain: per-feature contributions to Q (squared',
    'residual) and to T² (|z_j Σ_i v_ji t_i/λ_i|), as the statistic combines them; value = standardized value.',
  ].join(' '),
  params: PARAMS,
  fit,
  fromJSON,
};
