/**
 * Models slice of the API contract (issue #5): detectors, recipes, training and
 * scoring. Training returns a run id at once; progress arrives as runs.updated.
 */
import type { FeatureRecipe } from '../features/recipe.ts';
import type { DetectorParamSpec, ParamValue } from './detector.ts';

export type SplitSpec =
  /** Per device, the earliest `trainFraction` of its rows (by time) train, the rest test. */
  | { kind: 'time'; trainFraction: number }
  /** A seeded random `holdoutFraction` of devices is held out for testing. */
  | { kind: 'devices'; holdoutFraction: number };

export type ThresholdSpec =
  /** Alarm above the (1 − value) quantile of training scores, i.e. `value` = expected anomaly share. */
  | { kind: 'contamination'; value: number }
  | { kind: 'fixed'; value: number }
  /** The threshold with the best F1 on a labelled validation slice: the last 25% (by time) of each device's training rows. */
  | { kind: 'best-f1' };

export interface TrainRequest {
  dataset: string;
  detector: string;
  /** Detector parameters; defaults from the detector's spec. */
  params?: Record<string, ParamValue>;
  /** Feature recipe; default: the dataset's default recipe. */
  recipe?: FeatureRecipe;
  /** Label column for evaluation; default the label role; null = unlabelled. */
  label?: string | null;
  /** Default { kind: 'time', trainFraction: 0.7 }. */
  split?: SplitSpec;
  /** Fit on label-0 rows only (needs a label). */
  normalOnly?: boolean;
  /** Default { kind: 'contamination', value: 0.02 }. */
  threshold?: ThresholdSpec;
  /** Evaluate on all rows of another dataset (same columns) instead of the test split, e.g. C-MAPSS test_FD001. */
  evalDataset?: string;
  /**
   * Lead time: k consecutive alarms make a sustained alarm (default 3). The device end is its
   * last row, or the value of `failureColumn` (a time-axis value, constant per device) when given.
   */
  leadTime?: { sustain?: number; failureColumn?: string };
  experiment?: string;
  runName?: string;
  seed?: number;
  /**
   * Seed of the data: the devices held out (device split) and the training sample. Default: `seed`.
   * Runs that differ only in `seed` but share `dataSeed` train and test on the same rows (and share
   * one data preparation); repeats use this to vary only the model's randomness.
   */
  dataSeed?: number;
  tags?: string[];
  /** Most training rows fitted (a seeded sample above it); default 250,000. */
  maxTrainRows?: number;
  /** Child run of this parent (per-group and sweep runs). */
  parentId?: string;
  /** SQL predicate restricting the rows used for training and testing (e.g. one model_id for per-group models). */
  filter?: string;
}

/** Search space of a sweep: detector params by name, recipe knobs as recipe.window / recipe.span / recipe.lag. */
export type SweepSpace = Record<string, ParamValue[] | { min: number; max: number; log?: boolean; int?: boolean }>;

export interface RepeatRequest {
  base: TrainRequest;
  /** 2 to 100 seeds, one child run each. */
  seeds: number[];
  /**
   * false (default): every child trains and is tested on the same rows (the data seed is the base's
   * `dataSeed`, else the first seed), so the spread is the model's own and the children share one
   * data preparation. true: each seed also draws its own device hold-out and training sample.
   */
  varyData?: boolean;
}

export interface SweepRequest {
  base: TrainRequest;
  /** grid: every combination of the listed values; random: `trials` draws (ranges or value lists), seeded. */
  mode: 'grid' | 'random';
  space: SweepSpace;
  trials?: number;
  /** Metric that picks the best child (default roc_auc, or alert_rate-free f1 when unlabelled). */
  metric?: string;
  maximize?: boolean;
  /** Concurrent trials; default the machine's core count. */
  workers?: number;
}

export interface PerGroupRequest extends TrainRequest {
  /** One model per value of this column (e.g. model_id). */
  groupColumn: string;
  /** Groups with fewer rows use the global fallback model (default 500). */
  minRows?: number;
}

export interface DetectorInfo {
  kind: string;
  label: string;
  help: string;
  params: DetectorParamSpec[];
}

export interface ScoreRequest {
  /** A run id, or `name@alias` / `name@version` once the registry exists. */
  model: string;
  dataset: string;
  /** CSV or Parquet path (by extension). */
  out: string;
}

export interface ModelsApi {
  'models.detectors': (req: Record<string, never>) => Promise<DetectorInfo[]>;
  /** The default recipe for a dataset (all sensors, sensible windows). */
  'models.defaultRecipe': (req: { dataset: string }) => Promise<FeatureRecipe>;
  /** Start a training run; returns its id at once. Bad requests fail here, before a run exists. */
  'models.train': (req: TrainRequest) => Promise<{ runId: string }>;
  /** Resolves when the run has ended (finished, failed or cancelled). */
  'models.wait': (req: { runId: string }) => Promise<{ status: string }>;
  /** Cancel a running run; true if it was running. */
  'models.cancel': (req: { runId: string }) => Promise<boolean>;
  /** Same configuration, N seeds: a parent run whose metrics are the children's mean and std. */
  'models.repeat': (req: RepeatRequest) => Promise<{ parentId: string }>;
  /** Grid or random search: a parent run with a child per trial, run in a worker pool; the best child is marked. */
  'models.sweep': (req: SweepRequest) => Promise<{ parentId: string }>;
  /** One model per group value, plus a global fallback for small groups; the parent holds the delegating model. */
  'models.trainPerGroup': (req: PerGroupRequest) => Promise<{ parentId: string }>;
  /** Score a dataset with a run's model into a CSV/Parquet file with score, alarm and top features. */
  'models.score': (req: ScoreRequest) => Promise<{ path: string; rows: number; alarms: number }>;
}
