/**
 * Experiments slice of the API contract (issue #5 item 5, issue #6): experiments,
 * runs with params, metrics, tags, notes, status, seed, data fingerprint and
 * artifacts. Types only.
 */
import type { TablePage } from '../data/api.ts';

export type RunStatus = 'running' | 'finished' | 'failed' | 'cancelled';

/** What identifies the data a run saw: enough to tell whether a re-run sees the same data. */
export interface DatasetFingerprint {
  dataset: string;
  rowCount: number;
  columns: { name: string; type: string; role: string }[];
  timeSpan: { min: string | number; max: string | number } | null;
  sources: { path: string; bytes: number; checksum: string }[];
  /** SHA-256 over all of the above. */
  hash: string;
}

export interface RunInfo {
  id: string;
  experiment: string;
  /** Parent run for per-group and sweep children; null for top-level runs. */
  parentId: string | null;
  name: string;
  status: RunStatus;
  startedAt: string;
  endedAt: string | null;
  durationMs: number | null;
  seed: number;
  /** Flat parameters: detector.*, recipe.*, split.*, threshold.* and the detector's own params. */
  params: Record<string, string | number | boolean>;
  /** Flat metrics: f1, precision, recall, roc_auc, pr_auc, false_alarm_rate, lead_time_mean… */
  metrics: Record<string, number>;
  tags: string[];
  notes: string;
  dataset: string;
  fingerprint: DatasetFingerprint | null;
  appVersion: string;
  /** Failure or cancel reason. */
  error: string | null;
  /** Progress in [0, 1] and the current phase while running. */
  progress: number;
  phase: string;
  /** Number of child runs. */
  children: number;
}

export interface ExperimentInfo {
  name: string;
  runs: number;
  createdAt: string;
  lastRunAt: string | null;
}

export interface ScoreSeries {
  /** Time (epoch ms or raw axis value), score, label (NaN when none) per point, downsampled per device. */
  x: Float64Array;
  score: Float64Array;
  label: Float64Array;
  threshold: number;
  temporal: boolean;
  devices: string[];
  device: string | null;
}

export interface ModelVersion {
  name: string;
  version: number;
  runId: string;
  aliases: string[];
  registeredAt: string;
  registeredBy: string;
  description: string;
}

export interface ModelCard extends ModelVersion {
  run: RunInfo;
  detector: string;
  params: RunInfo['params'];
  recipe: unknown;
  threshold: number | null;
  metrics: RunInfo['metrics'];
  fingerprint: RunInfo['fingerprint'];
  /** Columns a dataset must have to be scored with this model. */
  requiredColumns: string[];
}

export interface ExperimentsApi {
  'experiments.list': (req: Record<string, never>) => Promise<ExperimentInfo[]>;
  /**
   * Runs of one experiment (all experiments when absent), newest first; children included with parentId set.
   * `filter` is the runs query language (see core/experiments/filter.ts), e.g. `metrics.f1 > 0.5 and params.detector = 'pca'`;
   * a syntax error is INVALID_ARGUMENT with details.position.
   */
  'runs.list': (req: { experiment?: string; filter?: string }) => Promise<RunInfo[]>;
  'runs.get': (req: { runId: string }) => Promise<RunInfo & { artifacts: string[] }>;
  /** One JSON artifact of a run (model, recipe, threshold, evaluation, curves…). */
  'runs.artifact': (req: { runId: string; name: string }) => Promise<unknown>;
  /** The run's scored test rows, most anomalous first, with their top contributing features. */
  'runs.topAnomalies': (req: { runId: string; offset?: number; limit?: number }) => Promise<TablePage>;
  /** Score over time of the run's test rows for one device (the first device when absent), M4-downsampled. */
  'runs.scoreSeries': (req: { runId: string; device?: string; width?: number }) => Promise<ScoreSeries>;
  /** Rename, tag, annotate. */
  'runs.update': (req: { runId: string; name?: string; notes?: string; tags?: string[] }) => Promise<RunInfo>;
  /** Delete runs (and their children, artifacts and scores). */
  'runs.delete': (req: { runIds: string[]; }) => Promise<{ deleted: number }>;
  /** Register a finished run's model as the next version of `name`. */
  'registry.register': (req: { runId: string; name: string; description?: string }) => Promise<ModelVersion>;
  /** Every registered version, newest first per name. */
  'registry.list': (req: Record<string, never>) => Promise<ModelVersion[]>;
  /** Point an alias (production, staging…) at a version; moves it if it pointed elsewhere. */
  'registry.setAlias': (req: { name: string; alias: string; version: number }) => Promise<ModelVersion>;
  'registry.deleteAlias': (req: { name: string; alias: string }) => Promise<void>;
  /** The model card of `name@alias`, `name@N`, `name` (latest) or a run id. */
  'registry.card': (req: { ref: string }) => Promise<ModelCard>;
}

export interface ExperimentsEvents {
  /** A run was created, progressed, finished, failed or was cancelled. */
  'runs.updated': RunInfo;
  /** Runs (with their children) were deleted. */
  'runs.deleted': { runIds: string[] };
}
