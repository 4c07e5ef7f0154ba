/**
 * The one interface every anomaly detector implements (issue #5).
 * Detectors are pure TypeScript over typed arrays: no DuckDB, no I/O, so they run
 * unchanged in worker threads and in the live stream.
 */

/** Dense row-major matrix of features. `data.length === rows * cols`. */
export interface Matrix {
  rows: number;
  cols: number;
  data: Float64Array;
  /** Feature names, length `cols`. */
  columns: string[];
}

export type ParamValue = number | string | boolean;
export type Params = Record<string, ParamValue>;

export interface FitOptions {
  /** Seed for every random choice; the same seed and data give the same model. */
  seed: number;
  params: Params;
  /** Called with a fraction in [0, 1] as fitting advances. */
  onProgress?: (fraction: number) => void;
  /** Fitting stops with an AbortError when this fires. */
  signal?: AbortSignal;
}

/** One feature's share in a row's anomaly score; higher `weight` = more responsible. */
export interface Contribution {
  feature: string;
  /** Non-negative; contributions of one row are ranked by it (descending). */
  weight: number;
  /** The row's (standardized) value of this feature, for display. */
  value: number;
}

/** Serialized model: plain JSON, no typed arrays, round-trips exactly. */
export interface DetectorJson {
  kind: string;
  version: 1;
  columns: string[];
  params: Params;
  state: unknown;
}

export interface Detector {
  readonly kind: string;
  readonly columns: string[];
  /** Anomaly scores, one per row; higher = more anomalous. */
  score(m: Matrix): Float64Array;
  /** Score of one row given as a plain vector (the live path). */
  scoreRow(row: Float64Array): number;
  /** Features driving this row's score, ranked, at most `top`. */
  explain(row: Float64Array, top?: number): Contribution[];
  toJSON(): DetectorJson;
}

export interface DetectorParamSpec {
  name: string;
  type: 'int' | 'float' | 'bool' | 'enum';
  default: ParamValue;
  min?: number;
  max?: number;
  options?: string[];
  help: string;
}

export interface DetectorFactory {
  kind: string;
  label: string;
  /** Shown in the UI help, including known limits. */
  help: string;
  params: DetectorParamSpec[];
  fit(m: Matrix, opts: FitOptions): Promise<Detector>;
  fromJSON(json: DetectorJson): Detector;
  /**
   * Relative cost of a trial with these params on `features` columns (fit plus scoring), or
   * none when params barely change it. Only compared between trials of one sweep: the pool
   * starts the costliest first, so its workers end together.
   */
  cost?(params: Params, features: number): number;
}
