/**
 * Self-contained HTML reports of runs (issue #6 item 6). One file: the CSS, the
 * Plotly bundle and the chart data are inlined, a strict CSP forbids every
 * network fetch, and every user-supplied string is HTML-escaped by the `html`
 * template tag (interpolations are escaped unless they are already SafeHtml).
 * Chart data travels as JSON in a `<script type="application/json">` block with
 * `<`, `>` and `&` written as \u escapes, then parsed: never spliced into code.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { WorkbenchError } from '../api/errors.ts';
import type { DatasetFingerprint, RunInfo } from '../experiments/api.ts';
import type { ExperimentStore } from '../experiments/store.ts';
import type { FeatureRecipe } from '../features/recipe.ts';
import type { SplitSpec, ThresholdSpec } from '../models/api.ts';

/** The report's Content-Security-Policy: inline script and style only, images only as data: URLs, nothing fetched. */
export const REPORT_CSP = "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:";

/**
 * Set on `<html>` once every chart has rendered: `data-report-ready="true"`, or
 * `data-report-error="<message>"` when rendering failed. Printers (pdf.ts, the
 * Electron printToPDF path) wait for one of the two before printing.
 */
export const READY_ATTRIBUTE = 'data-report-ready';
export const ERROR_ATTRIBUTE = 'data-report-error';

/** Which runs a report covers. */
export interface ReportSelection {
  experiment?: string;
  runIds?: string[];
}

/** The training request as recorded on a run (`request` artifact); every field optional so older runs still render. */
export interface RecordedRequest {
  dataset?: string;
  detector?: string;
  params?: Record<string, string | number | boolean>;
  recipe?: FeatureRecipe;
  label?: string | null;
  split?: SplitSpec;
  normalOnly?: boolean;
  threshold?: ThresholdSpec;
  evalDataset?: string | null;
  leadTime?: { sustain?: number; failureColumn?: string | null };
  experiment?: string;
  runName?: string;
  seed?: number;
  dataSeed?: number;
  tags?: string[];
  maxTrainRows?: number;
  parentId?: string | null;
  filter?: string | null;
}

interface Curve {
  x: number[];
  y: number[];
  thresholds: (number | null)[];
}

interface Histogram {
  edges: number[];
  counts: number[];
}

/** The `evaluation` artifact; non-finite numbers arrive as null (JSON). */
export interface RunEvaluation {
  threshold?: number | null;
  rows?: number;
  histogram?: Histogram;
  trainHistogram?: Histogram;
  confusion?: { tp: number; fp: number; tn: number; fn: number };
  roc?: Curve;
  pr?: Curve;
  best?: { threshold: number | null; f1: number; precision: number; recall: number };
  leadTime?: {
    meanLead: number | null;
    medianLead: number | null;
    detected: number;
    devices: number;
    unit: string;
    perDevice: { device: string; lead: number | null; alarmAt: number | null; end: number }[];
  };
}

/** One row of the `top_anomalies` artifact. */
export interface TopAnomaly {
  rid: number;
  device: string;
  trip: string;
  t: number | null;
  label: number | null;
  score: number;
  alarm: boolean;
  contributions: { feature: string; weight: number; value: number }[];
}

/** What the report shows of a run's model: never the fitted state itself (it can be megabytes). */
export interface ModelSummary {
  threshold: number | null;
  detector: string;
  detectorParams: Record<string, unknown>;
  featureNames: string[];
  /** Training rows the recipe (fill values, scaler) was fitted on, and how many training rows they were sampled from (null: all of them). */
  fittedOn: { rows: number; sampledFrom: number | null } | null;
}

export interface ReportRun {
  run: RunInfo;
  request: RecordedRequest | null;
  model: ModelSummary | null;
  evaluation: RunEvaluation | null;
  /** Most anomalous test rows, at most TOP_ROWS. */
  top: TopAnomaly[];
  /** Child runs (sweeps, repeats, per-group models), oldest first. */
  children: RunInfo[];
  artifacts: string[];
}

export interface ReportData {
  title: string;
  /** The experiment exported, or null for a hand-picked set of runs. */
  experiment: string | null;
  generatedAt: string;
  appVersion: string;
  runs: ReportRun[];
}

const TOP_ROWS = 20;
const TOP_FEATURES = 4;
/** Top-anomaly rows printed per run (the HTML shows TOP_ROWS): the full table would take three pages a run. */
const PRINT_TOP = 10;
const DEFAULT_MAX_TRAIN = 250_000;
const PALETTE = ['#2563eb', '#dc2626', '#059669', '#d97706', '#7c3aed', '#0891b2', '#db2777', '#65a30d', '#475569', '#ea580c'];

/** Resolve a selection to runs (oldest first); NOT_FOUND names every unknown run or experiment. */
export async function selectRuns(store: ExperimentStore, sel: ReportSelection): Promise<RunInfo[]> {
  const ids = [...new Set((sel.runIds ?? []).map(String).filter(Boolean))];
  const experiment = sel.experiment?.trim() || undefined;
  if (!experiment && ids.length === 0) throw new WorkbenchError('INVALID_ARGUMENT', 'a report needs an experiment or at least one run id');
  if (experiment) {
    const known = (await store.listExperiments()).map((e) => e.name);
    if (!known.includes(experiment)) {
      throw new WorkbenchError('NOT_FOUND', `experiment '${experiment}' does not exist${known.length ? ` (experiments: ${known.join(', ')})` : ''}`, { experiment });
    }
  }
  let runs: RunInfo[];
  if (ids.length) {
    const found: RunInfo[] = [];
    const missing: string[] = [];
    for (const id of ids) {
      try {
        found.push(await store.getRun(id));
      } catch (err) {
        if (err instanceof WorkbenchError && err.code === 'NOT_FOUND') missing.push(id);
        else throw err;
      }
    }
    if (missing.length) throw new WorkbenchError('NOT_FOUND', `unknown run${missing.length > 1 ? 's' : ''}: ${missing.join(', ')}`, { runIds: missing });
    const outside = experiment ? found.filter((r) => r.experiment !== experiment).map((r) => r.id) : [];
    if (outside.length) throw new WorkbenchError('NOT_FOUND', `run${outside.length > 1 ? 's' : ''} ${outside.join(', ')} not in experiment '${experiment}'`, { runIds: outside, experiment });
    runs = found;
  } else {
    runs = await store.listRuns(experiment);
    if (runs.length === 0) throw new WorkbenchError('INVALID_ARGUMENT', `experiment '${experiment}' has no runs to report`, { experiment });
  }
  return runs.sort((a, b) => (a.startedAt < b.startedAt ? -1 : a.startedAt > b.startedAt ? 1 : a.id < b.id ? -1 : 1));
}

async function optionalArtifact(store: ExperimentStore, names: string[], runId: string, name: string): Promise<unknown> {
  return names.includes(name) ? store.artifact(runId, name) : null;
}

function summarizeModel(model: unknown): ModelSummary | null {
  if (!model || typeof model !== 'object') return null;
  const m = model as { threshold?: unknown; detector?: { kind?: unknown; params?: unknown }; recipe?: { featureNames?: unknown; training?: { rows?: unknown; sampledFrom?: unknown } }; kind?: unknown };
  if (!m.detector) {
    // A delegating (per-group) model has no detector of its own.
    return { threshold: null, detector: typeof m.kind === 'string' ? m.kind : 'unknown', detectorParams: {}, featureNames: [], fittedOn: null };
  }
  const training = m.recipe?.training;
  return {
    threshold: typeof m.threshold === 'number' ? m.threshold : null,
    detector: typeof m.detector.kind === 'string' ? m.detector.kind : 'unknown',
    detectorParams: m.detector.params && typeof m.detector.params === 'object' ? (m.detector.params as Record<string, unknown>) : {},
    featureNames: Array.isArray(m.recipe?.featureNames) ? m.recipe.featureNames.map(String) : [],
    fittedOn: typeof training?.rows === 'number' ? { rows: training.rows, sampledFrom: typeof training.sampledFrom === 'number' ? training.sampledFrom : null } : null,
  };
}

/** Gather everything a report shows (artifacts are read once, the fitted model only summarized). */
export async function collectReport(store: ExperimentStore, sel: ReportSelection, appVersion: string): Promise<ReportData> {
  const runs = await selectRuns(store, sel);
  const all = sel.experiment ? runs : null;
  const out: ReportRun[] = [];
  for (const run of runs) {
    const names = await store.artifactNames(run.id);
    const siblings = all ?? (run.children ? await store.listRuns(run.experiment) : []);
    out.push({
      run,
      request: (await optionalArtifact(store, names, run.id, 'request')) as RecordedRequest | null,
      model: summarizeModel(await optionalArtifact(store, names, run.id, 'model')),
      evaluation: (await optionalArtifact(store, names, run.id, 'evaluation')) as RunEvaluation | null,
      top: (((await optionalArtifact(store, names, run.id, 'top_anomalies')) as TopAnomaly[] | null) ?? []).slice(0, TOP_ROWS),
      children: siblings.filter((c) => c.parentId === run.id).sort((a, b) => (a.startedAt < b.startedAt ? -1 : 1)),
      artifacts: names,
    });
  }
  const title = sel.experiment ? `Experiment ${sel.experiment.trim()}` : runs.length === 1 ? `Run ${runs[0]!.name}` : `${runs.length} selected runs`;
  return { title, experiment: sel.experiment?.trim() || null, generatedAt: new Date().toISOString(), appVersion, runs: out };
}

/** HTML that is already safe to emit; everything else is escaped on interpolation. */
export class SafeHtml {
  constructor(readonly value: string) {}
  toString(): string {
    return this.value;
  }
}

type HtmlValue = SafeHtml | string | number | boolean | null | undefined | readonly HtmlValue[];

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** Escape text for HTML element content and quoted attribute values. */
export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ESCAPES[c]!);
}

function emit(v: HtmlValue): string {
  if (v === null || v === undefined || v === false) return '';
  if (v instanceof SafeHtml) return v.value;
  if (Array.isArray(v)) return v.map(emit).join('');
  return escapeHtml(String(v));
}

/** Template tag: interpolated values are HTML-escaped unless SafeHtml; arrays are concatenated. */
export function html(strings: TemplateStringsArray, ...values: HtmlValue[]): SafeHtml {
  let s = strings[0]!;
  for (let i = 0; i < values.length; i++) s += emit(values[i]) + strings[i + 1]!;
  return new SafeHtml(s);
}

/**
 * JSON for a `<script type="application/json">` block: `<`, `>` and `&` as \u
 * escapes so no `</script>` or `<!--` can end the block early, and U+2028/2029
 * escaped for old parsers. JSON.parse restores the exact strings.
 */
export function jsonForScript(value: unknown): string {
  return JSON.stringify(value)
    .replace(/</g, '\\u003c')
    .replace(/>/g, '\\u003e')
    .replace(/&/g, '\\u0026')
    .replace(/\u2028/g, '\\u2028')
    .replace(/\u2029/g, '\\u2029');
}

/** Plotly renders a pseudo-HTML subset in trace names and titles (<b>, <a href>…); entities make user text literal. */
function plotlyText(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

let plotlyCache: string | null = null;

/** The Plotly bundle, made safe to inline in a `<script>` element. */
export function plotlySource(): string {
  if (plotlyCache === null) {
    const path = createRequire(import.meta.url).resolve('plotly.js-dist-min');
    // `</script` or `<!--` inside the bundle would end or derail the inline script
    // element; \x3c means the same '<' in strings, templates and regexes.
    plotlyCache = readFileSync(path, 'utf8').replace(/<\/script/gi, '\\x3c/script').replace(/<!--/g, '\\x3c!--');
  }
  return plotlyCache;
}

/** Quote one word for a POSIX shell (left bare when it is plainly safe). */
export function shellQuote(s: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

export interface ReproduceInfo {
  /** The `fleetlens train …` command line, or null when the run was not a plain training run. */
  command: string | null;
  /** File name the command expects the recipe JSON under (written next to it by the user). */
  recipeFile: string | null;
  /** Settings the command line cannot express. */
  notes: string[];
}

/** The CLI command that re-runs a training run from its recorded request. */
export function reproduceCommand(run: RunInfo, req: RecordedRequest | null): ReproduceInfo {
  if (!req || !req.dataset || !req.detector) {
    return {
      command: null,
      recipeFile: null,
      notes: [run.children ? 'a parent run (sweep, repeat or per-group): re-run it from the app or re-run its children' : 'this run has no recorded training request'],
    };
  }
  const a: string[] = ['fleetlens', 'train', '--dataset', shellQuote(req.dataset), '--detector', shellQuote(req.detector)];
  for (const [k, v] of Object.entries(req.params ?? {})) a.push('--param', shellQuote(`${k}=${String(v)}`));
  const recipeFile = req.recipe ? `recipe-${run.id}.json` : null;
  if (recipeFile) a.push('--recipe', shellQuote(recipeFile));
  if (req.label === null) a.push('--no-label');
  else if (req.label) a.push('--label', shellQuote(req.label));
  if (req.split) a.push('--split', req.split.kind === 'time' ? `time:${req.split.trainFraction}` : `devices:${req.split.holdoutFraction}`);
  if (req.threshold) a.push('--threshold', req.threshold.kind === 'best-f1' ? 'best-f1' : `${req.threshold.kind}:${req.threshold.value}`);
  if (req.normalOnly) a.push('--normal-only');
  if (req.evalDataset) a.push('--eval-dataset', shellQuote(req.evalDataset));
  a.push('--experiment', shellQuote(req.experiment ?? run.experiment));
  a.push('--seed', String(req.seed ?? run.seed));
  if (req.dataSeed !== undefined && req.dataSeed !== (req.seed ?? run.seed)) a.push('--data-seed', String(req.dataSeed));
  if (req.leadTime?.sustain !== undefined) a.push('--sustain', String(req.leadTime.sustain));
  if (req.leadTime?.failureColumn) a.push('--failure-column', shellQuote(req.leadTime.failureColumn));
  if (req.runName) a.push('--name', shellQuote(req.runName));
  const notes: string[] = [];
  if (recipeFile) notes.push(`save the recipe JSON shown under Feature recipe as ${recipeFile} first`);
  if (req.maxTrainRows !== undefined && req.maxTrainRows !== DEFAULT_MAX_TRAIN) notes.push(`max training rows was ${req.maxTrainRows} (no CLI flag; set maxTrainRows through the API)`);
  if (req.filter) notes.push(`row filter ${req.filter} (no CLI flag; set filter through the API)`);
  if (req.parentId) notes.push(`trained as a child of run ${req.parentId}`);
  return { command: a.join(' '), recipeFile, notes };
}

function num(v: number | null | undefined, digits = 4): string {
  if (v === null || v === undefined || !Number.isFinite(v)) return '—';
  if (Number.isInteger(v)) return v.toLocaleString('en-US');
  const a = Math.abs(v);
  if (a >= 1e5 || a < 1e-3) return v.toExponential(2);
  return String(Number(v.toPrecision(digits)));
}

function pct(v: number | null | undefined): string {
  return v === null || v === undefined || !Number.isFinite(v) ? '—' : `${(100 * v).toFixed(2)}%`;
}

const METRIC_LABELS: Record<string, string> = {
  roc_auc: 'ROC AUC',
  pr_auc: 'PR AUC (average precision)',
  f1: 'F1 at threshold',
  precision: 'Precision',
  recall: 'Recall',
  best_f1: 'Best achievable F1',
  false_alarm_rate: 'False-alarm rate',
  missed_alarm_rate: 'Missed-alarm rate',
  alert_rate: 'Alert rate',
  lead_time_mean: 'Mean lead time',
  devices_alarmed: 'Devices alarmed',
  positives: 'Labelled anomalies (test)',
  train_rows: 'Training rows',
  test_rows: 'Test rows',
  threshold: 'Threshold',
  features: 'Features',
};
const METRIC_ORDER = Object.keys(METRIC_LABELS);
/** Column headings of the narrow tables (summary, child runs). */
const SHORT_LABELS: Record<string, string> = { roc_auc: 'ROC AUC', pr_auc: 'PR AUC', f1: 'F1', alert_rate: 'Alert rate', lead_time_mean: 'Mean lead' };
const RATE_METRICS = new Set(['false_alarm_rate', 'missed_alarm_rate', 'alert_rate']);
const HIGHER_BETTER = new Set(['roc_auc', 'pr_auc', 'f1', 'precision', 'recall', 'best_f1', 'lead_time_mean', 'devices_alarmed']);
const LOWER_BETTER = new Set(['false_alarm_rate', 'missed_alarm_rate']);

/** A metric as shown: one value, or mean ± std for a parent run's aggregate over its children. */
interface Shown {
  v: number;
  std?: number;
}

/** A run's metrics for display: a parent's `k_mean` / `k_std` pairs fold into one `k` entry. */
function shownMetrics(m: Record<string, number>): Record<string, Shown> {
  const out: Record<string, Shown> = {};
  for (const [k, v] of Object.entries(m)) {
    const base = k.endsWith('_mean') ? k.slice(0, -5) : null;
    if (base && m[`${base}_std`] !== undefined) out[base] = { v, std: m[`${base}_std`] };
    else if (!(k.endsWith('_std') && m[`${k.slice(0, -4)}_mean`] !== undefined)) out[k] = { v };
  }
  return out;
}

function metricKeys(runs: RunInfo[]): string[] {
  const keys = new Set(runs.flatMap((r) => Object.keys(shownMetrics(r.metrics))));
  const known = METRIC_ORDER.filter((k) => keys.has(k));
  return [...known, ...[...keys].filter((k) => !METRIC_LABELS[k]).sort()];
}

function metricValue(key: string, m: Shown | undefined, unit?: string): string {
  if (m === undefined) return '—';
  const one = (v: number): string => (RATE_METRICS.has(key) ? pct(v) : num(v));
  const text = m.std === undefined ? one(m.v) : `${one(m.v)} ± ${one(m.std)}`;
  return key === 'lead_time_mean' && unit ? `${text} ${unit}` : text;
}

function leadUnit(r: ReportRun): string | undefined {
  return r.evaluation?.leadTime?.unit;
}

function isTemporal(fp: DatasetFingerprint | null): boolean {
  const time = fp?.columns.find((c) => c.role === 'time');
  return time ? /TIMESTAMP|DATE/i.test(time.type) : false;
}

function timeText(t: number | null, temporal: boolean): string {
  if (t === null || !Number.isFinite(t)) return '—';
  return temporal ? new Date(t).toISOString().replace('T', ' ').slice(0, 19) : num(t);
}

function bytesText(n: number): string {
  return n >= 1 << 30 ? `${(n / (1 << 30)).toFixed(1)} GiB` : n >= 1 << 20 ? `${(n / (1 << 20)).toFixed(1)} MiB` : n >= 1024 ? `${(n / 1024).toFixed(1)} KiB` : `${n} B`;
}

function durationText(ms: number | null): string {
  if (ms === null) return '—';
  return ms < 1000 ? `${Math.round(ms)} ms` : ms < 120_000 ? `${(ms / 1000).toFixed(1)} s` : `${(ms / 60_000).toFixed(1)} min`;
}

/** Chart specs gathered while the sections render; the boot script plots them by element id. */
class Charts {
  readonly specs: { id: string; data: unknown[]; layout: Record<string, unknown> }[] = [];

  add(caption: HtmlValue, data: unknown[], layout: Record<string, unknown>, wide = false): SafeHtml {
    const id = `chart-${this.specs.length + 1}`;
    this.specs.push({ id, data, layout });
    return html`<figure class="chart${wide ? ' wide' : ''}"><figcaption>${caption}</figcaption><div class="plot" id="${id}"></div></figure>`;
  }
}

const FONT = { family: 'system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif', size: 11, color: '#1d232b' };
const CHART = { w: 320, h: 240 };
// Two side by side fit the printable width of A4 (about 700 px).
const WIDE = { w: 320, h: 300 };

function axis(title: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { title: { text: title, standoff: 6 }, gridcolor: '#eceff3', zeroline: false, linecolor: '#c9d0d8', ticks: 'outside', tickcolor: '#c9d0d8', automargin: true, ...extra };
}

function layout(size: { w: number; h: number }, x: string, y: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    width: size.w,
    height: size.h,
    margin: { l: 52, r: 12, t: 8, b: 44 },
    font: FONT,
    paper_bgcolor: '#ffffff',
    plot_bgcolor: '#ffffff',
    showlegend: false,
    hovermode: 'closest',
    xaxis: axis(x),
    yaxis: axis(y),
    ...extra,
  };
}

const unit = { range: [-0.02, 1.02] };

function rocChart(charts: Charts, ev: RunEvaluation, auc: number | undefined): SafeHtml | null {
  if (!ev.roc?.x.length) return null;
  return charts.add(
    html`ROC curve · AUC ${num(auc)}`,
    [
      { x: [0, 1], y: [0, 1], mode: 'lines', line: { color: '#c9d0d8', dash: 'dot', width: 1 }, hoverinfo: 'skip', name: 'chance' },
      { x: ev.roc.x, y: ev.roc.y, customdata: ev.roc.thresholds, mode: 'lines', line: { color: PALETTE[0], width: 2 }, name: 'ROC', hovertemplate: 'FPR %{x:.3f}<br>TPR %{y:.3f}<br>threshold %{customdata:.4g}<extra></extra>' },
    ],
    layout(CHART, 'False-positive rate', 'True-positive rate', { xaxis: axis('False-positive rate', unit), yaxis: axis('True-positive rate', unit) }),
  );
}

function prChart(charts: Charts, ev: RunEvaluation, ap: number | undefined): SafeHtml | null {
  if (!ev.pr?.x.length) return null;
  return charts.add(
    html`Precision–recall curve · AP ${num(ap)}`,
    [{ x: ev.pr.x, y: ev.pr.y, customdata: ev.pr.thresholds, mode: 'lines', line: { color: PALETTE[2], width: 2 }, name: 'PR', hovertemplate: 'recall %{x:.3f}<br>precision %{y:.3f}<br>threshold %{customdata:.4g}<extra></extra>' }],
    layout(CHART, 'Recall', 'Precision', { xaxis: axis('Recall', unit), yaxis: axis('Precision', unit) }),
  );
}

function shares(h: Histogram): { x: number[]; y: number[]; width: number } {
  const total = h.counts.reduce((a, b) => a + b, 0) || 1;
  return { x: h.counts.map((_, i) => (h.edges[i]! + h.edges[i + 1]!) / 2), y: h.counts.map((c) => c / total), width: (h.edges[1] ?? 1) - (h.edges[0] ?? 0) };
}

function histogramChart(charts: Charts, ev: RunEvaluation, threshold: number | null): SafeHtml | null {
  if (!ev.histogram?.counts.length) return null;
  const traces: unknown[] = [];
  if (ev.trainHistogram?.counts.length) {
    const t = shares(ev.trainHistogram);
    traces.push({ type: 'bar', x: t.x, y: t.y, width: t.width, name: 'training rows', marker: { color: '#94a3b8' }, opacity: 0.55, hovertemplate: 'training · score %{x:.4g}<br>%{y:.2%} of rows<extra></extra>' });
  }
  const s = shares(ev.histogram);
  traces.push({ type: 'bar', x: s.x, y: s.y, width: s.width, name: 'test rows', marker: { color: PALETTE[0] }, opacity: 0.7, hovertemplate: 'test · score %{x:.4g}<br>%{y:.2%} of rows<extra></extra>' });
  const shapes = threshold !== null && Number.isFinite(threshold) ? [{ type: 'line', xref: 'x', yref: 'paper', x0: threshold, x1: threshold, y0: 0, y1: 1, line: { color: '#dc2626', width: 1.5, dash: 'dash' } }] : [];
  const annotations = shapes.length ? [{ x: threshold, xref: 'x', y: 1, yref: 'paper', text: 'threshold', showarrow: false, xanchor: 'left', yanchor: 'top', font: { color: '#dc2626', size: 10 } }] : [];
  return charts.add(
    'Score distribution (share of rows)',
    traces,
    layout(CHART, 'Anomaly score', 'Share of rows', {
      barmode: 'overlay',
      bargap: 0,
      shapes,
      annotations,
      showlegend: traces.length > 1,
      legend: { orientation: 'h', x: 0, y: 1.02, yanchor: 'bottom', font: { size: 10 } },
      margin: { l: 52, r: 12, t: 24, b: 44 },
      yaxis: axis('Share of rows', { tickformat: '.0%' }),
    }),
  );
}

function confusionTable(ev: RunEvaluation): SafeHtml | null {
  const c = ev.confusion;
  if (!c) return null;
  const n = c.tp + c.fp + c.tn + c.fn || 1;
  const cell = (v: number, kind: string): SafeHtml => html`<td class="cm-${kind}"><strong>${v.toLocaleString('en-US')}</strong><span>${pct(v / n)}</span></td>`;
  return html`<figure class="chart cm-figure"><figcaption>Confusion matrix at the threshold (test rows)</figcaption>
<table class="cm"><thead><tr><th></th><th>Alarm</th><th>No alarm</th></tr></thead><tbody>
<tr><th>Anomaly (label 1)</th>${cell(c.tp, 'tp')}${cell(c.fn, 'fn')}</tr>
<tr><th>Normal (label 0)</th>${cell(c.fp, 'fp')}${cell(c.tn, 'tn')}</tr>
</tbody></table>
<p class="small">TP ${c.tp} · FN ${c.fn} · FP ${c.fp} · TN ${c.tn}</p></figure>`;
}

/** Text with line-break opportunities after commas (long sensor lists in narrow cells). */
function breakable(s: string): SafeHtml {
  return html`${s.split(',').map((part, i) => html`${i ? html`,<wbr>` : ''}${part}`)}`;
}

function kv(rows: [string, HtmlValue][]): SafeHtml {
  return html`<dl class="kv">${rows.map(([k, v]) => html`<dt>${k}</dt><dd>${v}</dd>`)}</dl>`;
}

function list(xs: readonly (string | number)[], empty = 'none'): SafeHtml {
  return xs.length ? html`${xs.map((x, i) => html`${i ? ', ' : ''}<code>${String(x)}</code>`)}` : html`<span class="muted">${empty}</span>`;
}

/** The rows the detector was fitted on: normal ones only or all, and the sample's size. */
function trainedOnText(req: RecordedRequest | null, rows: number | undefined): string {
  const kind = req?.normalOnly ? 'normal training rows (label 0)' : 'training rows';
  if (rows === undefined) return `the ${kind}`;
  const sampled = req?.maxTrainRows !== undefined && rows >= req.maxTrainRows ? `, a seeded sample (at most ${req.maxTrainRows.toLocaleString('en-US')})` : '';
  return `${rows.toLocaleString('en-US')} ${kind}${sampled}`;
}

/** How many training rows a recipe's statistics come from. */
function fittedOnText(f: ModelSummary['fittedOn']): string {
  if (!f) return '—';
  const rows = `${f.rows.toLocaleString('en-US')} training rows`;
  return f.sampledFrom === null ? rows : `${rows}, a seeded sample of ${f.sampledFrom.toLocaleString('en-US')} (the rows the model’s training sample was drawn from)`;
}

function recipeReadable(r: FeatureRecipe, model: ModelSummary | null): SafeHtml {
  return kv([
    ['Sensors', list(r.sensors)],
    ['Windows per', r.groupBy === 'none' ? 'one global series' : r.groupBy],
    ['Raw values', r.includeRaw ? 'yes' : 'no'],
    ['Lags', r.lags.length ? r.lags.map((k) => `t−${k}`).join(', ') : 'none'],
    ['Differences', r.diffs.length ? r.diffs.map((k) => `x(t) − x(t−${k})`).join(', ') : 'none'],
    ['Rolling windows', r.rolling.length ? r.rolling.map((w) => `previous ${w.window} rows: ${w.stats.join(', ')}`).join('; ') : 'none'],
    ['Exponential means', r.ewm.length ? r.ewm.map((e) => `span ${e.span}${e.deviation ? ' (+ deviation)' : ''}`).join('; ') : 'none'],
    ['One-hot columns', list(r.categoricals)],
    ['Missing values', r.fill === 'mean' ? 'filled with the training mean' : r.fill === 'zero' ? 'filled with 0' : 'row dropped'],
    ['Standardized', r.standardize ? 'yes (training mean and std)' : 'no'],
    ['Statistics from', fittedOnText(model?.fittedOn ?? null)],
    ['Features', model?.featureNames.length ? html`${model.featureNames.length} <details class="inline"><summary>names</summary>${list(model.featureNames)}</details>` : '—'],
  ]);
}

/** JSON indented two spaces, with arrays of plain values kept on one line (recipes read better). */
export function prettyJson(v: unknown, indent = ''): string {
  if (Array.isArray(v)) {
    if (v.every((x) => x === null || typeof x !== 'object')) return `[${v.map((x) => JSON.stringify(x) ?? 'null').join(', ')}]`;
    const inner = indent + '  ';
    return `[\n${v.map((x) => inner + prettyJson(x, inner)).join(',\n')}\n${indent}]`;
  }
  if (v !== null && typeof v === 'object') {
    const entries = Object.entries(v).filter(([, x]) => x !== undefined);
    if (!entries.length) return '{}';
    const inner = indent + '  ';
    return `{\n${entries.map(([k, x]) => `${inner}${JSON.stringify(k)}: ${prettyJson(x, inner)}`).join(',\n')}\n${indent}}`;
  }
  return JSON.stringify(v) ?? 'null';
}

function splitText(s: SplitSpec | undefined): string {
  if (!s) return '—';
  return s.kind === 'time'
    ? `by time: per device, the earliest ${pct(s.trainFraction)} of rows train, the rest test`
    : `by device: a seeded ${pct(s.holdoutFraction)} of devices held out for testing`;
}

function thresholdText(t: ThresholdSpec | undefined, value: number | null | undefined): string {
  const v = value === null || value === undefined ? '' : ` → ${num(value, 6)}`;
  if (!t) return `—${v}`;
  if (t.kind === 'contamination') return `contamination ${pct(t.value)} (alarm above the ${pct(1 - t.value)} quantile of training scores)${v}`;
  if (t.kind === 'fixed') return `fixed${v}`;
  return `best F1 on the validation slice${v}`;
}

function paramsTable(params: Record<string, unknown>): SafeHtml {
  const entries = Object.entries(params);
  if (!entries.length) return html`<p class="muted">no parameters</p>`;
  return html`<table class="params"><tbody>${entries.map(([k, v]) => html`<tr><th><code>${k}</code></th><td class="mono">${breakable(typeof v === 'object' ? JSON.stringify(v) : String(v))}</td></tr>`)}</tbody></table>`;
}

function metricsTable(r: ReportRun): SafeHtml {
  const keys = metricKeys([r.run]);
  if (!keys.length) return html`<p class="muted">no metrics recorded</p>`;
  const shown = shownMetrics(r.run.metrics);
  const aggregate = Object.values(shown).some((m) => m.std !== undefined);
  return html`<table class="metrics"><tbody>${keys.map((k) => html`<tr><th>${METRIC_LABELS[k] ?? k} <code class="key">${k}</code></th><td class="num">${metricValue(k, shown[k], leadUnit(r))}</td></tr>`)}</tbody></table>${aggregate ? html`<p class="small muted">± values: mean ± standard deviation over the child runs.</p>` : ''}`;
}

function timeCell(t: number | null, temporal: boolean): SafeHtml {
  const text = timeText(t, temporal);
  const [date, clock] = temporal && text !== '—' ? text.split(' ') : [text, ''];
  return html`<div>${date}</div>${clock ? html`<div class="muted">${clock}</div>` : ''}`;
}

function topTable(r: ReportRun, temporal: boolean): SafeHtml {
  if (!r.top.length) return html`<p class="muted">no scored rows recorded</p>`;
  return html`<table class="top"><thead><tr><th class="num">#</th><th>Device · trip</th><th>Time</th><th class="num">Score</th><th class="num">Label</th><th>Top features <span class="muted">(weight · standardized value)</span></th></tr></thead><tbody>
${r.top.map((a, i) => {
  const feats = a.contributions.slice(0, TOP_FEATURES);
  const max = Math.max(1e-12, ...feats.map((c) => c.weight));
  return html`<tr><td class="num">${i + 1}</td><td class="nowrap"><div>${a.device || '—'}</div>${a.trip ? html`<div class="muted">${a.trip}</div>` : ''}</td><td class="nowrap">${timeCell(a.t, temporal)}</td>
<td class="num">${num(a.score)}${a.alarm ? html`<div class="alarm">alarm</div>` : ''}</td><td class="num">${a.label === null ? '—' : num(a.label)}</td>
<td class="contrib">${feats.map((c) => html`<div><span class="track"><span class="fill" style="width:${Math.max(3, Math.round((100 * c.weight) / max))}%"></span></span><code>${c.feature}</code> <span class="muted">${num(c.weight, 3)} · ${num(c.value, 3)}</span></div>`)}</td></tr>`;
})}
</tbody></table>${r.top.length > PRINT_TOP ? html`<p class="small muted print-only">The first ${PRINT_TOP} of ${r.top.length} are printed; the HTML report lists all ${r.top.length}.</p>` : ''}`;
}

function leadTimeBlock(ev: RunEvaluation): SafeHtml | null {
  const l = ev.leadTime;
  if (!l) return null;
  const shown = l.perDevice.slice(0, 30);
  return html`<h4>Lead time</h4>
<p>First sustained alarm before each device's end: detected on <strong>${l.detected}</strong> of ${l.devices} devices; mean lead <strong>${num(l.meanLead)}</strong> ${l.unit}, median ${num(l.medianLead)} ${l.unit}.</p>
<details><summary>Per device (${l.perDevice.length})</summary><table class="compact"><thead><tr><th>Device</th><th class="num">Lead (${l.unit})</th></tr></thead><tbody>
${shown.map((d) => html`<tr><td>${d.device}</td><td class="num">${d.lead === null ? 'no alarm' : num(d.lead)}</td></tr>`)}
</tbody></table>${l.perDevice.length > shown.length ? html`<p class="muted">… and ${l.perDevice.length - shown.length} more</p>` : ''}</details>`;
}

function statusBadge(run: RunInfo): SafeHtml {
  return html`<span class="status status-${run.status}">${run.status}</span>`;
}

function runLabel(i: number, run: RunInfo): string {
  return `R${i + 1} · ${run.name}`;
}

const FLAT_PARAM = /^(detector|dataset|label|normal_only|max_train_rows|data_seed|filter|eval_dataset|split\..*|threshold\..*|recipe\..*)$/;

/** What the flat run params say about the request, for runs that recorded none (parents of sweeps, repeats, per-group). */
function requestFromParams(p: RunInfo['params']): RecordedRequest {
  const frac = Number(p['split.fraction']);
  const kind = p['threshold.kind'];
  return {
    dataset: p.dataset === undefined ? undefined : String(p.dataset),
    detector: p.detector === undefined ? undefined : String(p.detector),
    label: p.label === undefined ? undefined : p.label === '' ? null : String(p.label),
    split: p['split.kind'] === 'time' ? { kind: 'time', trainFraction: frac } : p['split.kind'] === 'devices' ? { kind: 'devices', holdoutFraction: frac } : undefined,
    threshold: kind === 'best-f1' ? { kind } : kind === 'contamination' || kind === 'fixed' ? { kind, value: Number(p['threshold.value']) } : undefined,
    normalOnly: p.normal_only === true,
    evalDataset: p.eval_dataset === undefined ? null : String(p.eval_dataset),
    dataSeed: typeof p.data_seed === 'number' ? p.data_seed : undefined,
  };
}

function runSection(charts: Charts, r: ReportRun, i: number, labels: Map<string, string>): SafeHtml {
  const { run, model, evaluation: ev } = r;
  // Shown settings fall back to the flat params; the reproduce command uses only a recorded request.
  const req = r.request ?? requestFromParams(run.params);
  const temporal = isTemporal(run.fingerprint);
  const repro = reproduceCommand(run, r.request);
  const recipeJson = req?.recipe ? prettyJson(req.recipe) : null;
  const figures = ev
    ? [rocChart(charts, ev, run.metrics.roc_auc), prChart(charts, ev, run.metrics.pr_auc), histogramChart(charts, ev, model?.threshold ?? ev.threshold ?? null), confusionTable(ev)].filter((x): x is SafeHtml => x !== null)
    : [];
  const detectorParams = r.request?.params ?? Object.fromEntries(Object.entries(run.params).filter(([k]) => !FLAT_PARAM.test(k)));
  return html`<section class="run" id="run-${i + 1}">
<h2><span class="run-no">R${i + 1}</span> ${run.name}</h2>
<p class="meta">${statusBadge(run)} · run <code>${run.id}</code> · experiment ${run.experiment} · started ${run.startedAt.replace('T', ' ').slice(0, 19)} UTC · ${durationText(run.durationMs)}${run.parentId ? html` · child of ${labels.get(run.parentId) ?? html`<code>${run.parentId}</code>`}` : ''}</p>
${run.tags.length ? html`<p>${run.tags.map((t) => html`<span class="tag">${t}</span>`)}</p>` : ''}
${run.notes ? html`<blockquote class="notes">${run.notes}</blockquote>` : ''}
${run.error ? html`<p class="error">${run.status === 'cancelled' ? 'Cancelled' : 'Failed'}: ${run.error}</p>` : ''}
<div class="cols">
<div><h3>Detector</h3>${kv([
    ['Detector', html`<strong>${model?.detector ?? req?.detector ?? String(run.params.detector ?? '—')}</strong>`],
    ['Dataset', req?.dataset ?? run.dataset],
    ['Evaluated on', req?.evalDataset ? html`all rows of ${req.evalDataset}` : 'the test split'],
    ['Label', req?.label === null ? 'none (unlabelled)' : (req?.label ?? '—')],
    ['Split', splitText(req?.split)],
    ['Trained on', trainedOnText(req, run.metrics.train_rows)],
    ['Threshold', thresholdText(req?.threshold, model?.threshold ?? ev?.threshold)],
  ])}
<h4>Parameters</h4>${paramsTable(detectorParams)}</div>
<div><h3>Metrics</h3>${metricsTable(r)}</div>
</div>
${figures.length ? html`<h3>Evaluation</h3><div class="charts">${figures}</div>` : run.children ? '' : html`<p class="muted">No evaluation recorded for this run.</p>`}
${ev ? leadTimeBlock(ev) : ''}
${r.children.length ? html`<h3>Child runs (${r.children.length})</h3>${childrenTable(r.children, labels)}` : ''}
${req?.recipe ? html`<h3>Feature recipe</h3><div class="cols"><div>${recipeReadable(req.recipe, model)}</div><div><pre class="json">${recipeJson}</pre></div></div>` : ''}
${r.top.length ? html`<h3>Top anomalies</h3><p class="small muted">The ${r.top.length} most anomalous test rows and the features that drove their scores.</p>${topTable(r, temporal)}` : ''}
<h3>Reproduce</h3>
${kv([
    ['Seed', String(run.seed)],
    ...(req?.dataSeed !== undefined && req.dataSeed !== run.seed ? [['Data seed', `${req.dataSeed} (split and training sample)`] as [string, string]] : []),
    ['App version', run.appVersion],
    ['Data fingerprint', run.fingerprint ? html`<code class="hash">${run.fingerprint.hash}</code>` : 'none recorded'],
    ['Artifacts', list(r.artifacts)],
  ])}
${repro.command ? html`<pre class="cmd">${repro.command}</pre>` : ''}
${repro.notes.length ? html`<ul class="small">${repro.notes.map((n) => html`<li>${n}</li>`)}</ul>` : ''}
${recipeJson && repro.recipeFile ? html`<p class="no-print"><a download="${repro.recipeFile}" href="data:application/json;charset=utf-8,${encodeURIComponent(recipeJson)}">Save ${repro.recipeFile}</a></p>` : ''}
</section>`;
}

function childrenTable(children: RunInfo[], labels: Map<string, string>): SafeHtml {
  const keys = metricKeys(children).filter((k) => ['roc_auc', 'pr_auc', 'f1', 'lead_time_mean', 'alert_rate'].includes(k));
  return html`<table class="compact"><thead><tr><th>Run</th><th>Status</th><th class="num">Seed</th>${keys.map((k) => html`<th class="num">${SHORT_LABELS[k] ?? k}</th>`)}</tr></thead><tbody>
${children.map((c) => html`<tr><td>${labels.get(c.id) ?? c.name} <code class="small">${c.id}</code></td><td>${statusBadge(c)}</td><td class="num">${c.seed}</td>${keys.map((k) => html`<td class="num">${metricValue(k, shownMetrics(c.metrics)[k])}</td>`)}</tr>`)}
</tbody></table>`;
}

function datasetSection(runs: ReportRun[], labels: Map<string, string>): SafeHtml {
  const byHash = new Map<string, { fp: DatasetFingerprint; runs: RunInfo[] }>();
  const without: RunInfo[] = [];
  for (const { run } of runs) {
    if (!run.fingerprint) without.push(run);
    else {
      const g = byHash.get(run.fingerprint.hash) ?? { fp: run.fingerprint, runs: [] };
      g.runs.push(run);
      byHash.set(run.fingerprint.hash, g);
    }
  }
  return html`<section class="datasets" id="datasets"><h2>Data</h2>
${[...byHash.values()].map(({ fp, runs: used }) => html`<div class="dataset">
<h3>${fp.dataset}</h3>
${kv([
    ['Rows', fp.rowCount.toLocaleString('en-US')],
    ['Time span', fp.timeSpan ? `${String(fp.timeSpan.min)} … ${String(fp.timeSpan.max)}` : 'no time column'],
    ['Fingerprint (SHA-256)', html`<code class="hash">${fp.hash}</code>`],
    ['Used by', used.map((r, i) => html`${i ? ', ' : ''}${labels.get(r.id) ?? r.name}`)],
  ])}
<div class="cols">
<div><h4>Columns (${fp.columns.length})</h4><table class="compact"><thead><tr><th>Column</th><th>Type</th><th>Role</th></tr></thead><tbody>
${fp.columns.map((c) => html`<tr><td><code>${c.name}</code></td><td>${c.type}</td><td>${c.role === 'ignore' ? html`<span class="muted">${c.role}</span>` : c.role}</td></tr>`)}
</tbody></table></div>
<div><h4>Source files</h4><table class="compact sources"><thead><tr><th>File</th><th class="num">Size</th><th>Checksum</th></tr></thead><tbody>
${fp.sources.map((s) => html`<tr><td class="path">${s.path}</td><td class="num nowrap">${bytesText(s.bytes)}</td><td><code class="hash">${s.checksum}</code></td></tr>`)}
</tbody></table></div>
</div></div>`)}
${without.length ? html`<p class="muted">No data fingerprint recorded for ${without.map((r) => labels.get(r.id) ?? r.name).join(', ')}.</p>` : ''}
</section>`;
}

function paramOrder(k: string): string {
  const head = ['detector', 'dataset', 'label', 'eval_dataset'];
  const i = head.indexOf(k);
  if (i >= 0) return `0${i}`;
  if (k.startsWith('split.') || k.startsWith('threshold.')) return `1${k}`;
  if (k.startsWith('recipe.')) return `3${k}`;
  return `2${k}`;
}

function comparisonSection(charts: Charts, runs: ReportRun[], labels: Map<string, string>): SafeHtml {
  const infos = runs.map((r) => r.run);
  const paramKeys = [...new Set(infos.flatMap((r) => Object.keys(r.params)))].sort((a, b) => (paramOrder(a) < paramOrder(b) ? -1 : 1));
  const show = (v: unknown): string => (v === undefined ? '—' : String(v));
  const keys = metricKeys(infos);
  const shown = infos.map((r) => shownMetrics(r.metrics));
  // Only single values compete for best: a mean ± std is a different kind of number.
  const single = (i: number, k: string): number | undefined => (shown[i]![k]?.std === undefined ? shown[i]![k]?.v : undefined);
  const best = (k: string): number | null => {
    const vals = infos.map((_, i) => single(i, k)).filter((v): v is number => v !== undefined && Number.isFinite(v));
    if (!vals.length || vals.length < 2) return null;
    return HIGHER_BETTER.has(k) ? Math.max(...vals) : LOWER_BETTER.has(k) ? Math.min(...vals) : null;
  };
  const head = html`<thead><tr><th></th>${runs.map((r, i) => html`<th><a href="#run-${i + 1}">R${i + 1}</a> <span class="run-name">${r.run.name}</span></th>`)}</tr></thead>`;
  const labelled = runs.filter((r) => r.evaluation?.roc?.x.length);
  const overlay = (pick: (r: ReportRun) => Curve | undefined, x: string, y: string, diagonal: boolean): unknown[] => [
    ...(diagonal ? [{ x: [0, 1], y: [0, 1], mode: 'lines', line: { color: '#c9d0d8', dash: 'dot', width: 1 }, hoverinfo: 'skip', showlegend: false }] : []),
    ...labelled.map((r) => {
      const i = runs.indexOf(r);
      const c = pick(r)!;
      return { x: c.x, y: c.y, mode: 'lines', line: { color: PALETTE[i % PALETTE.length], width: 2 }, name: plotlyText(labels.get(r.run.id) ?? r.run.name), hovertemplate: `%{fullData.name}<br>${x} %{x:.3f}<br>${y} %{y:.3f}<extra></extra>` };
    }),
  ];
  const legend = { orientation: 'h', x: 0, y: -0.22, yanchor: 'top', font: { size: 10 } };
  const wide = (x: string, y: string): Record<string, unknown> =>
    layout(WIDE, x, y, { showlegend: true, legend, margin: { l: 52, r: 12, t: 8, b: 40 }, xaxis: axis(x, unit), yaxis: axis(y, unit) });
  return html`<section class="comparison" id="comparison"><h2>Comparison</h2>
<h3>Metrics</h3>
<table class="compare">${head}<tbody>
${keys.map((k) => {
  const b = best(k);
  return html`<tr><th>${METRIC_LABELS[k] ?? k}</th>${runs.map((r, i) => {
    const v = single(i, k);
    return html`<td class="num${b !== null && v === b ? ' best' : ''}">${metricValue(k, shown[i]![k], leadUnit(r))}</td>`;
  })}</tr>`;
})}
</tbody></table>
<p class="small muted">Bold: the best value of a row (higher is better, except false- and missed-alarm rates).</p>
${labelled.length ? html`<div class="charts">
${charts.add('ROC curves', overlay((r) => r.evaluation?.roc, 'FPR', 'TPR', true), wide('False-positive rate', 'True-positive rate'), true)}
${charts.add('Precision–recall curves', overlay((r) => r.evaluation?.pr, 'recall', 'precision', false), wide('Recall', 'Precision'), true)}
</div>` : ''}
<h3>Parameters</h3>
<table class="compare params-compare">${head}<tbody>
${paramKeys.map((k) => {
  const vals = infos.map((r) => show(r.params[k]));
  const differs = new Set(vals).size > 1;
  return html`<tr class="${differs ? 'differs' : ''}"><th><code>${k}</code></th>${vals.map((v) => html`<td class="mono">${breakable(v)}</td>`)}</tr>`;
})}
<tr class="${new Set(infos.map((r) => r.seed)).size > 1 ? 'differs' : ''}"><th><code>seed</code></th>${infos.map((r) => html`<td class="mono">${r.seed}</td>`)}</tr>
</tbody></table>
<p class="small muted">Highlighted: parameters that differ between the runs.</p>
</section>`;
}

function summaryTable(runs: ReportRun[]): SafeHtml {
  const shown = runs.map((r) => shownMetrics(r.run.metrics));
  const keys = ['roc_auc', 'pr_auc', 'f1', 'alert_rate', 'lead_time_mean'].filter((k) => shown.some((m) => m[k] !== undefined));
  return html`<table class="summary"><thead><tr><th>Run</th><th>Detector</th><th>Status</th><th class="num">Seed</th>${keys.map((k) => html`<th class="num">${SHORT_LABELS[k] ?? k}</th>`)}</tr></thead><tbody>
${runs.map((r, i) => html`<tr><td><a href="#run-${i + 1}">R${i + 1}</a> ${r.run.name}${r.run.parentId ? html` <span class="muted small">(child)</span>` : ''}</td><td>${String(r.run.params.detector ?? r.model?.detector ?? '—')}</td><td>${statusBadge(r.run)}</td><td class="num">${r.run.seed}</td>${keys.map((k) => html`<td class="num">${metricValue(k, shown[i]![k], leadUnit(r))}</td>`)}</tr>`)}
</tbody></table>`;
}

const CSS = `
:root { --ink:#1d232b; --muted:#5b6672; --line:#dfe3e8; --soft:#f5f7f9; --accent:#2563eb; --bad:#b91c1c; --good:#15803d; --diff:#fff1c2; }
* { box-sizing: border-box; }
html { -webkit-text-size-adjust: 100%; }
body { margin: 0; font: 14px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; color: var(--ink); background: #fff; }
.page { max-width: 1120px; margin: 0 auto; padding: 32px 28px 64px; }
a { color: var(--accent); text-decoration: none; }
a:hover { text-decoration: underline; }
.report-head { border-bottom: 3px solid var(--ink); padding-bottom: 14px; margin-bottom: 18px; }
.report-head .kicker { text-transform: uppercase; letter-spacing: .08em; font-size: 11px; color: var(--muted); font-weight: 600; }
h1 { font-size: 28px; line-height: 1.2; margin: 2px 0 6px; letter-spacing: -.01em; overflow-wrap: anywhere; }
h2 { font-size: 21px; line-height: 1.25; margin: 44px 0 10px; padding-bottom: 6px; border-bottom: 1px solid var(--line); overflow-wrap: anywhere; }
h3 { font-size: 15px; margin: 26px 0 8px; }
h4 { font-size: 13px; margin: 16px 0 6px; color: var(--muted); }
.run-no { display: inline-block; min-width: 2.2em; padding: 0 .4em; margin-right: .3em; border-radius: 6px; background: var(--ink); color: #fff; font-size: 15px; text-align: center; vertical-align: 3px; }
.meta { color: var(--muted); font-size: 13px; margin: 0 0 8px; }
.muted { color: var(--muted); }
.small { font-size: 12px; }
.nowrap { white-space: nowrap; }
nav.toc { background: var(--soft); border: 1px solid var(--line); border-radius: 8px; padding: 10px 16px; font-size: 13px; }
nav.toc ol { margin: 4px 0 0; padding-left: 20px; columns: 2; column-gap: 32px; }
table { border-collapse: collapse; font-size: 13px; max-width: 100%; }
th, td { text-align: left; padding: 4px 10px 4px 0; border-bottom: 1px solid var(--line); vertical-align: top; }
thead th { font-size: 12px; color: var(--muted); font-weight: 600; border-bottom: 1px solid #c9d0d8; }
tbody th { font-weight: 500; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; padding-left: 10px; }
code, pre, .mono { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, "Liberation Mono", monospace; font-size: 12px; }
code, .mono, td.path, .run-name { overflow-wrap: anywhere; }
td.num, .status { white-space: nowrap; }
table.summary { width: 100%; }
code.key { color: var(--muted); font-size: 11px; margin-left: 4px; }
code.hash { font-size: 11px; word-break: break-all; }
pre { background: var(--soft); border: 1px solid var(--line); border-radius: 6px; padding: 10px 12px; margin: 6px 0; white-space: pre-wrap; word-break: break-word; }
pre.json { max-height: 360px; overflow: auto; font-size: 11px; }
pre.cmd { background: #0f172a; color: #e2e8f0; border-color: #0f172a; }
.cols { display: grid; grid-template-columns: repeat(auto-fit, minmax(320px, 1fr)); gap: 8px 32px; align-items: start; }
dl.kv { display: grid; grid-template-columns: max-content minmax(0, 1fr); gap: 3px 16px; margin: 0; font-size: 13px; }
dl.kv dt { color: var(--muted); }
dl.kv dd { margin: 0; overflow-wrap: anywhere; }
details.inline { display: inline; }
details summary { cursor: pointer; color: var(--accent); font-size: 12px; }
.charts { display: flex; flex-wrap: wrap; gap: 14px; align-items: flex-start; }
figure.chart { margin: 0; border: 1px solid var(--line); border-radius: 8px; padding: 8px 8px 4px; background: #fff; }
figcaption { font-size: 12px; font-weight: 600; margin: 0 0 4px 4px; }
.plot { width: 320px; height: 240px; }
figure.wide .plot { width: 320px; height: 300px; }
table.cm { margin: 10px 4px; }
table.cm td { width: 104px; height: 64px; text-align: center; vertical-align: middle; border: 2px solid #fff; border-radius: 4px; }
table.cm td strong { display: block; font-size: 17px; font-variant-numeric: tabular-nums; }
table.cm td span { font-size: 11px; color: var(--muted); }
table.cm th { border: 0; padding-right: 10px; font-size: 12px; white-space: nowrap; }
.cm-tp { background: #dcfce7; } .cm-tn { background: #eef2f6; } .cm-fp { background: #ffedd5; } .cm-fn { background: #fee2e2; }
.cm-figure { width: 338px; }
.cm-figure p { margin: 0 4px 6px; }
.tag { display: inline-block; padding: 0 8px; margin: 0 4px 2px 0; border-radius: 10px; background: #eef2ff; color: #3730a3; font-size: 12px; }
.status { font-weight: 600; }
.status-finished { color: var(--good); } .status-failed { color: var(--bad); } .status-cancelled, .status-running { color: #a16207; }
.error { color: var(--bad); background: #fef2f2; border: 1px solid #fecaca; padding: 6px 10px; border-radius: 6px; overflow-wrap: anywhere; }
blockquote.notes { margin: 8px 0; padding: 6px 12px; border-left: 3px solid var(--line); color: #334155; white-space: pre-wrap; overflow-wrap: anywhere; }
table.compare th:first-child { min-width: 160px; }
table.compare thead th { vertical-align: bottom; }
.run-name { font-weight: 500; color: var(--ink); overflow-wrap: anywhere; }
tr.differs td, tr.differs th { background: var(--diff); }
td.best { font-weight: 700; }
table.top td { font-size: 12px; }
td.contrib div { line-height: 1.4; white-space: nowrap; }
table.top .alarm { font-size: 11px; }
.print-only { display: none; }
.track { display: inline-block; width: 46px; height: 7px; margin-right: 6px; background: #fdf1d8; border-radius: 2px; vertical-align: 1px; text-indent: 0; }
.fill { display: block; height: 100%; background: #f59e0b; border-radius: 2px; }
.alarm { color: var(--bad); font-weight: 600; }
td.path { overflow-wrap: anywhere; font-size: 12px; }
table.compact td, table.compact th { padding-top: 2px; padding-bottom: 2px; }
footer { margin-top: 48px; padding-top: 10px; border-top: 1px solid var(--line); color: var(--muted); font-size: 12px; }
@page { size: A4; margin: 14mm 12mm 16mm; }
@media print {
  body { font-size: 11.5px; }
  th, td { padding-top: 2px; padding-bottom: 2px; }
  section.run > h2, section.comparison > h2 { margin-top: 0; }
  .page { max-width: none; padding: 0; }
  nav.toc, .no-print, .modebar-container { display: none !important; }
  section.run, section.comparison { break-before: page; }
  h2, h3, h4 { break-after: avoid; }
  figure, table.cm, pre, tr, dl.kv { break-inside: avoid; }
  pre.json { max-height: none; overflow: visible; }
  details:not([open]) { display: none; }
  table.top tbody tr:nth-child(n+${PRINT_TOP + 1}) { display: none; }
  .print-only { display: block; }
  pre.cmd { background: var(--soft); color: var(--ink); border-color: var(--line); }
  a { color: inherit; }
  * { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
}
`;

// Static: it reads the chart specs from the JSON block and never evaluates data.
const BOOT = `(function () {
  var root = document.documentElement;
  function fail(e) { root.setAttribute('${ERROR_ATTRIBUTE}', String((e && e.message) || e)); }
  try {
    var spec = JSON.parse(document.getElementById('fleetlens-report-data').textContent);
    var config = { displaylogo: false, modeBarButtonsToRemove: ['select2d', 'lasso2d', 'autoScale2d'] };
    var jobs = spec.charts.map(function (c) { return Plotly.newPlot(document.getElementById(c.id), c.data, c.layout, config); });
    Promise.all(jobs).then(function () { root.setAttribute('${READY_ATTRIBUTE}', 'true'); }, fail);
  } catch (e) { fail(e); }
})();`;

/** Render the report as one HTML document (about 5 MB: Plotly is inlined). */
export function renderReportHtml(data: ReportData, opts: { plotly?: string } = {}): string {
  const charts = new Charts();
  const labels = new Map(data.runs.map((r, i) => [r.run.id, runLabel(i, r.run)]));
  const runs = data.runs;
  const datasets = datasetSection(runs, labels);
  const comparison = runs.length > 1 ? comparisonSection(charts, runs, labels) : null;
  const sections = runs.map((r, i) => runSection(charts, r, i, labels));
  const generated = data.generatedAt.replace('T', ' ').slice(0, 19) + ' UTC';
  const body = html`<div class="page">
<header class="report-head">
<div class="kicker">Fleetlens report</div>
<h1>${data.title}</h1>
<div class="meta">${runs.length} run${runs.length === 1 ? '' : 's'} · generated ${generated} · Fleetlens ${data.appVersion}</div>
</header>
<nav class="toc"><strong>Contents</strong><ol>
<li><a href="#summary">Summary</a></li><li><a href="#datasets">Data</a></li>
${comparison ? html`<li><a href="#comparison">Comparison</a></li>` : ''}
${runs.map((r, i) => html`<li><a href="#run-${i + 1}">R${i + 1} · ${r.run.name}</a></li>`)}
</ol></nav>
<section id="summary"><h2>Summary</h2>${summaryTable(runs)}</section>
${datasets}
${comparison}
${sections}
<footer>Generated by Fleetlens ${data.appVersion} on ${generated}. This file is self-contained: it loads nothing from the network.</footer>
</div>`;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="${REPORT_CSP}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="Fleetlens ${escapeHtml(data.appVersion)}">
<title>${escapeHtml(`${data.title} · Fleetlens report`)}</title>
<style>${CSS}</style>
</head>
<body>
${body.value}
<noscript><p>The charts of this report need JavaScript.</p></noscript>
<script type="application/json" id="fleetlens-report-data">${jsonForScript({ charts: charts.specs })}</script>
<script>${opts.plotly ?? plotlySource()}</script>
<script>${BOOT}</script>
</body>
</html>
`;
}
