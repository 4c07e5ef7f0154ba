/**
 * Robust z-score detector: per-feature median and scaled MAD from training, score
 * = mean of the `top_k` largest |z| of a row. Cheap, explainable, a strong
 * baseline for sensor spikes and drifts that show up in a single channel.
 */
import type { Contribution, Detector, DetectorFactory, DetectorJson, DetectorParamSpec, FitOptions, Matrix, Params } from './detector.ts';
import {
  assertFinite,
  assertFittable,
  assertJsonKind,
  assertRow,
  assertScorable,
  makeYielder,
  numParam,
  quantileInPlace,
  rankContributions,
  throwIfAborted,
} from './matrix-checks.ts';

const KIND = 'robust-z';

/** Makes the MAD a consistent estimator of σ for Gaussian data. */
const MAD_TO_SIGMA = 1.4826;
/** Likewise for the interquartile range: IQR = 1.349 σ for a Gaussian. */
const IQR_TO_SIGMA = 1.349;

const PARAMS: DetectorParamSpec[] = [
  {
    name: 'top_k',
    type: 'int',
    default: 3,
    min: 1,
    max: 10_000,
    help: 'The score is the mean of the k largest |z| of a row (capped at the number of non-constant features).',
  },
];

/** How a feature's scale was obtained (kept in the model for display and audits). */
type ScaleSource = 'mad' | 'iqr' | 'std' | 'constant';

interface RobustZState {
  median: number[];
  /** Divisor of (x − median); 0 for constant features. */
  scale: number[];
  source: ScaleSource[];
  topK: number;
}

class RobustZDetector implements Detector {
  readonly kind = KIND;
  readonly columns: string[];
  private readonly params: Params;
  private readonly median: Float64Array;
  private readonly invScale: Float64Array;
  private readonly scale: Float64Array;
  private readonly source: ScaleSource[];
  /** Indices of the features that take part in scoring (non-constant in training). */
  private readonly active: Int32Array;
  private readonly k: number;
  private readonly topK: number;
  /** Scratch for the k largest |z| of the row being scored, kept sorted descending. */
  private readonly best: Float64Array;

  constructor(columns: string[], params: Params, median: Float64Array, scale: Float64Array, source: ScaleSource[], topK: number) {
    this.columns = columns;
    this.params = params;
    this.median = median;
    this.scale = scale;
    this.source = source;
    this.topK = topK;
    this.invScale = scale.map((s) => (s > 0 ? 1 / s : 0));
    const active: number[] = [];
    for (let j = 0; j < scale.length; j++) if (source[j] !== 'constant') active.push(j);
    this.active = Int32Array.from(active);
    this.k = Math.min(topK, active.length);
    this.best = new Float64Array(this.k);
  }

  private scoreAt(data: ArrayLike<number>, base: number): number {
    const best = this.best, k = this.k;
    best.fill(-1);
    for (let a = 0; a < this.active.length; a++) {
      const j = this.active[a];
      const z = Math.abs((data[base + j] - this.median[j]) * this.invScale[j]);
      if (z <= best[k - 1]) continue;
      // Insertion into a short sorted list: k is small, this beats any heap.
      let i = k - 1;
      while (i > 0 && best[i - 1] < z) {
        best[i] = best[i - 1];
        i--;
      }
      best[i] = z;
    }
    let s = 0;
    for (let i = 0; i < k; i++) s += best[i];
    return s / k;
  }

  score(m: Matrix): Float64Array {
    assertScorable(KIND, this.columns, m);
    const out = new Float64Array(m.rows);
    for (let r = 0; r < m.rows; r++) out[r] = this.scoreAt(m.data, r * m.cols);
    return out;
  }

  scoreRow(row: Float64Array): number {
    assertRow(KIND, this.columns, row);
    return this.scoreAt(row, 0);
  }

  /** Non-constant features ranked by |z|; weight = |z|, value = signed z. */
  explain(row: Float64Array, top?: number): Contribution[] {
    assertRow(KIND, this.columns, row);
    const items: Contribution[] = [];
    for (const j of this.active) {
      const z = (row[j] - this.median[j]) * this.invScale[j];
      items.push({ feature: this.columns[j], weight: Math.abs(z), value: z });
    }
    return rankContributions(items, top);
  }

  toJSON(): DetectorJson {
    const state: RobustZState = {
      median: Array.from(this.median),
      scale: Array.from(this.scale),
      source: [...this.source],
      topK: this.topK,
    };
    return { kind: KIND, version: 1, columns: [...this.columns], params: { ...this.params }, state };
  }
}

async function fit(m: Matrix, opts: FitOptions): Promise<Detector> {
  assertFittable(KIND, m);
  const topK = numParam(KIND, PARAMS, opts, 'top_k');
  assertFinite(KIND, m);
  throwIfAborted(opts.signal);
  const { rows, cols, data } = m;
  const median = new Float64Array(cols), scale = new Float64Array(cols);
  const source: ScaleSource[] = [];
  const col = new Float64Array(rows);
  const yieldNow = makeYielder();
  for (let j = 0; j < cols; j++) {
    for (let r = 0; r < rows; r++) col[r] = data[r * cols + j];
    const med = quantileInPlace(col, 0.5);
    // Fallback chain for a zero MAD (more than half the rows equal the median, e.g. an
    // idle sensor with rare events): IQR, then standard deviation, else constant.
    const q1 = quantileInPlace(col, 0.25), q3 = quantileInPlace(col, 0.75);
    let sum = 0, sq = 0;
    for (let r = 0; r < rows; r++) sum += col[r];
    const mean = sum / rows;
    for (let r = 0; r < rows; r++) sq += (col[r] - mean) * (col[r] - mean);
    const std = Math.sqrt(sq / rows);
    for (let r = 0; r < rows; r++) col[r] = Math.abs(col[r] - med);
    const mad = quantileInPlace(col, 0.5) * MAD_TO_SIGMA;
    median[j] = med;
    if (mad > 0) {
      scale[j] = mad;
      source.push('mad');
    } else if (q3 - q1 > 0) {
      scale[j] = (q3 - q1) / IQR_TO_SIGMA;
      source.push('iqr');
    } else if (std > 0) {
      scale[j] = std;
      source.push('std');
    } else {
      scale[j] = 0;
      source.push('constant');
    }
    opts.onProgress?.((j + 1) / cols);
    await yieldNow();
    throwIfAborted(opts.signal);
  }
  if (source.every((s) => s === 'constant')) {
    throw new Error(`${KIND}: all features are constant in the training data (zero MAD, IQR and standard deviation); nothing to score`);
  }
  return new RobustZDetector([...m.columns], { top_k: topK }, median, scale, source, topK);
}

function fromJSON(json: DetectorJson): Detector {
  assertJsonKind(KIND, json);
  const st = json.state as Partial<RobustZState> | null;
  if (st === null || typeof st !== 'object' || !Array.isArray(st.median) || !Array.isArray(st.scale) || !Array.isArray(st.source)) {
    throw new Error(`${KIND}: model state is missing median/scale`);
  }
  const topK = typeof st.topK === 'number' ? st.topK : 3;
  return new RobustZDetector([...json.columns], { ...json.params }, Float64Array.from(st.median), Float64Array.from(st.scale), [...st.source], topK);
}

/** Robust z-score (median / MAD) detector. */
export const robustZ: DetectorFactory = {
  kind: KIND,
  label: 'Robust z-score',
  help: [
    'Per feature, z = (x − median) / (1.4826 × MAD), from the training data; the score of a row is the mean of its',
    'top_k largest |z| (k capped at the number of usable features). Roughly: 3 or more is unusual for Gaussian-like data.',
    'Zero MAD (more than half the training rows at one value): the scale falls back to IQR / 1.349, then to the',
    'standard deviation; a feature with all three zero is marked constant and ignored (recorded in the model state).',
    'Ignores correlations between features: use pca for anomalies that break relationships rather than ranges.',
    'Input: NaN/±Infinity throws an error naming the column (impute first); 0 rows throws;',
    'all features constant throws "all features are constant". explain: features ranked by |z| (value = signed z).',
  ].join(' '),
  params: PARAMS,
  fit,
  fromJSON,
};
