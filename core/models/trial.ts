/**
 * One training trial on prepared data (issue #5 run steps, issue #6 sweeps):
 * fit → score the training sample → threshold → score the test rows → evaluate
 * → explain the top anomalies. Pure computation over typed arrays, run inside a
 * model worker so that trials of a sweep use one core each and the engine's
 * event loop stays free. The prepared arrays arrive in shared memory (no copy);
 * nothing here writes to them.
 */
import type { Contribution, DetectorJson, Matrix, Params } from './detector.ts';
import type { ThresholdSpec } from './api.ts';
import { histogram, leadTimes, quantile, rankedEvaluation, thresholdMetrics } from './metrics.ts';
import { getDetector } from './registry.ts';

/** The scored rows of a run (test slice or evaluation dataset), column-wise, in stream order. */
export interface TestRows {
  rows: number;
  matrix: Matrix;
  /** DuckDB rowid of each row. */
  rid: Float64Array;
  /** Device of each row as an index into `devices` ('' when the dataset has no device column). */
  device: Int32Array;
  devices: string[];
  trip: Int32Array;
  trips: string[];
  /** Epoch ms for timestamps, axis value otherwise; NaN when unknown. */
  time: Float64Array;
  /** 0/1; NaN when unknown or there is no label column. */
  label: Float64Array;
  /** Failure time per row from the failure column; NaN when absent. */
  failure: Float64Array;
  temporal: boolean;
}

export interface TrialInput {
  kind: string;
  seed: number;
  params: Params;
  train: Matrix;
  threshold: ThresholdSpec;
  /** Validation slice for the best-F1 threshold. */
  validation: { matrix: Matrix; labels: Uint8Array } | null;
  test: TestRows;
  /** The run has a label column (labelled metrics are computed when some label is known). */
  labelled: boolean;
  sustain: number;
  /** Lead times end at the failure column's value rather than each device's last row. */
  useFailure: boolean;
  topK: number;
}

export interface TrialResult {
  model: DetectorJson;
  threshold: number;
  /** One score per test row, aligned with TestRows. */
  scores: Float64Array;
  metrics: Record<string, number>;
  evaluation: Record<string, unknown>;
  /** Highest-scoring test rows, descending, with their explanations. */
  top: { index: number; score: number; contributions: Contribution[] }[];
}

export interface TrialHooks {
  signal?: AbortSignal;
  onProgress?: (fraction: number, phase: string) => void;
}

/** Indices of the k highest scores, descending (ties: earlier row first). */
export function topIndices(scores: Float64Array, k: number): number[] {
  const top: number[] = [];
  for (let i = 0; i < scores.length; i++) {
    const s = scores[i]!;
    if (top.length === k && !(s > scores[top[top.length - 1]!]!)) continue;
    let j = top.length;
    while (j > 0 && scores[top[j - 1]!]! < s) j--;
    top.splice(j, 0, i);
    if (top.length > k) top.pop();
  }
  return top;
}

export async function runTrial(input: TrialInput, hooks: TrialHooks = {}): Promise<TrialResult> {
  const progress = hooks.onProgress ?? (() => undefined);
  const factory = getDetector(input.kind);
  progress(0, `fitting ${input.kind} on ${input.train.rows.toLocaleString('en-US')} rows`);
  const detector = await factory.fit(input.train, { seed: input.seed, params: input.params, signal: hooks.signal, onProgress: (f) => progress(0.8 * f, `fitting ${input.kind}`) });
  const trainScores = detector.score(input.train);

  progress(0.82, 'choosing the threshold');
  const t = input.threshold;
  let threshold: number;
  if (t.kind === 'fixed') threshold = t.value;
  else if (t.kind === 'contamination') threshold = quantile(trainScores, 1 - t.value);
  else {
    const v = input.validation;
    if (!v || v.matrix.rows === 0 || !v.labels.some((l) => l === 1)) {
      throw new Error('the validation slice has no labelled rows, so no best-F1 threshold can be chosen; use a contamination threshold');
    }
    threshold = rankedEvaluation(detector.score(v.matrix), v.labels).best.threshold;
  }

  progress(0.85, 'scoring the test rows');
  const scores = detector.score(input.test.matrix);
  progress(0.95, 'evaluating');
  const { metrics, evaluation } = evaluateScores(input, scores, threshold, trainScores);
  const cols = input.test.matrix.cols;
  const top = topIndices(scores, input.topK).map((index) => ({
    index,
    score: scores[index]!,
    contributions: detector.explain(input.test.matrix.data.subarray(index * cols, (index + 1) * cols), 8),
  }));
  return { model: detector.toJSON(), threshold, scores, metrics, evaluation, top };
}

/** Metrics and the evaluation artifact (histograms, confusion, curves, lead times) of scored test rows. */
export function evaluateScores(
  input: Pick<TrialInput, 'test' | 'labelled' | 'sustain' | 'useFailure'>,
  scores: Float64Array,
  threshold: number,
  trainScores: Float64Array,
): { metrics: Record<string, number>; evaluation: Record<string, unknown> } {
  const s = input.test;
  const n = s.rows;
  const alarms = new Uint8Array(n);
  let alarmed = 0;
  for (let i = 0; i < n; i++) if (scores[i]! >= threshold) (alarms[i] = 1), alarmed++;
  const metrics: Record<string, number> = { alert_rate: alarmed / Math.max(1, n) };
  const evaluation: Record<string, unknown> = { threshold, histogram: histogram(scores), trainHistogram: histogram(trainScores), rows: n };
  let known = 0;
  for (let i = 0; i < n; i++) if (!Number.isNaN(s.label[i]!)) known++;
  if (input.labelled && known > 0) {
    // Rows with an unknown label are left out of the labelled metrics.
    const ks = new Float64Array(known);
    const kl = new Uint8Array(known);
    for (let i = 0, j = 0; i < n; i++) {
      if (Number.isNaN(s.label[i]!)) continue;
      ks[j] = scores[i]!;
      kl[j++] = s.label[i]!;
    }
    const at = thresholdMetrics(ks, kl, threshold);
    const ranked = rankedEvaluation(ks, kl);
    Object.assign(metrics, {
      precision: at.precision,
      recall: at.recall,
      f1: at.f1,
      false_alarm_rate: at.falseAlarmRate,
      missed_alarm_rate: at.missedAlarmRate,
      roc_auc: ranked.rocAuc,
      pr_auc: ranked.prAuc,
      best_f1: ranked.best.f1,
      positives: ranked.positives,
    });
    evaluation.confusion = { tp: at.tp, fp: at.fp, tn: at.tn, fn: at.fn };
    evaluation.roc = ranked.roc;
    evaluation.pr = ranked.pr;
    evaluation.best = ranked.best;
  }
  let hasTime = false;
  for (let i = 0; i < n && !hasTime; i++) hasTime = !Number.isNaN(s.time[i]!);
  if (hasTime) {
    const failure = new Map<string, number>();
    if (input.useFailure) for (let i = 0; i < n; i++) if (Number.isFinite(s.failure[i]!)) failure.set(s.devices[s.device[i]!]!, s.failure[i]!);
    const lead = leadTimes({ device: s.device.subarray(0, n), names: s.devices, time: s.time.subarray(0, n), alarm: alarms }, input.sustain, input.useFailure ? (d) => failure.get(d) ?? Number.NaN : undefined);
    // Lead times in minutes on a timestamp axis (epoch ms internally), in axis units (e.g. cycles) otherwise.
    const unit = s.temporal ? 60_000 : 1;
    evaluation.leadTime = {
      ...lead,
      unit: s.temporal ? 'minutes' : 'time units',
      meanLead: lead.meanLead / unit,
      medianLead: lead.medianLead / unit,
      perDevice: lead.perDevice.map((d) => ({ ...d, lead: d.lead === null ? null : d.lead / unit })),
    };
    if (Number.isFinite(lead.meanLead)) metrics.lead_time_mean = lead.meanLead / unit;
    metrics.devices_alarmed = lead.detected;
  }
  return { metrics, evaluation };
}
