/**
 * Plotly figures for runs: ROC and PR curves, score histogram, score over time.
 * Shared by the Run page and the Experiments comparison so both read the same.
 */
import type { Data, Layout, Shape } from 'plotly.js-dist-min';
import type { ScoreSeries } from '../../../../core/experiments/api.ts';
import { seriesColor } from '../../components/charts/chart-theme.ts';
import { SERIES_COLORS } from './Plot.tsx';

export interface Curve {
  x: number[];
  y: number[];
  thresholds: (number | null)[];
}

/** The `evaluation` artifact of a run (see core/models/train.ts evaluate()). */
export interface Evaluation {
  threshold: number;
  rows?: number;
  histogram: { edges: number[]; counts: number[] };
  trainHistogram?: { edges: number[]; counts: number[] };
  confusion?: { tp: number; fp: number; tn: number; fn: number };
  roc?: Curve;
  pr?: Curve;
  best?: { threshold: number; f1: number; precision: number; recall: number };
  leadTime?: {
    meanLead: number | null;
    medianLead: number | null;
    detected: number;
    devices: number;
    unit: string;
    perDevice: { device: string; lead: number | null; alarmAt: number | null; end: number }[];
  };
}

/** Narrow an artifact to an Evaluation (artifacts arrive as unknown JSON). */
export function asEvaluation(v: unknown): Evaluation | null {
  if (typeof v !== 'object' || v === null) return null;
  const e = v as Partial<Evaluation>;
  return typeof e.threshold === 'number' && e.histogram ? (e as Evaluation) : null;
}

export interface Figure {
  data: Data[];
  layout: Partial<Layout>;
}

export interface NamedCurve {
  name: string;
  curve: Curve;
  /** Area under the curve, shown in the legend. */
  area: number | undefined;
}

function auc(v: number | undefined): string {
  return v === undefined || !Number.isFinite(v) ? 'n/a' : v.toFixed(3);
}

/** ROC curves with AUC in the legend and the chance diagonal. */
export function rocFigure(curves: NamedCurve[]): Figure {
  const data: Data[] = curves.map((c, i) => ({
    type: 'scatter',
    mode: 'lines',
    x: c.curve.x,
    y: c.curve.y,
    name: `${c.name} (AUC ${auc(c.area)})`,
    line: { color: seriesColor(i), width: 2, shape: 'hv' },
    hovertemplate: 'FPR %{x:.3f}<br>TPR %{y:.3f}<extra></extra>',
  }));
  data.push({ type: 'scatter', mode: 'lines', x: [0, 1], y: [0, 1], name: 'chance', line: { color: '#9aa1ad', dash: 'dot', width: 1 }, hoverinfo: 'skip', showlegend: false });
  return {
    data,
    layout: {
      xaxis: { title: { text: 'False positive rate' }, range: [0, 1], zeroline: false },
      yaxis: { title: { text: 'True positive rate' }, range: [0, 1.02], zeroline: false },
    },
  };
}

/** Precision–recall curves with average precision in the legend and the base rate. */
export function prFigure(curves: NamedCurve[], baseRate?: number): Figure {
  const data: Data[] = curves.map((c, i) => ({
    type: 'scatter',
    mode: 'lines',
    x: c.curve.x,
    y: c.curve.y,
    name: `${c.name} (AP ${auc(c.area)})`,
    line: { color: seriesColor(i), width: 2 },
    hovertemplate: 'recall %{x:.3f}<br>precision %{y:.3f}<extra></extra>',
  }));
  const shapes: Partial<Shape>[] = [];
  if (baseRate !== undefined && Number.isFinite(baseRate)) {
    shapes.push({ type: 'line', xref: 'paper', x0: 0, x1: 1, y0: baseRate, y1: baseRate, line: { color: '#9aa1ad', dash: 'dot', width: 1 } });
  }
  return {
    data,
    layout: {
      xaxis: { title: { text: 'Recall' }, range: [0, 1], zeroline: false },
      yaxis: { title: { text: 'Precision' }, range: [0, 1.02], zeroline: false },
      shapes,
    },
  };
}

/** Test and training score histograms as shares of their rows (so both shapes compare), with the alarm threshold. */
export function histogramFigure(ev: Evaluation): Figure {
  const centers = (h: { edges: number[] }): number[] => h.edges.slice(0, -1).map((e, i) => (e + h.edges[i + 1]!) / 2);
  const width = (h: { edges: number[] }): number => (h.edges.length > 1 ? h.edges[1]! - h.edges[0]! : 1);
  const share = (h: { counts: number[] }): number[] => {
    const n = h.counts.reduce((a, b) => a + b, 0) || 1;
    return h.counts.map((c) => (100 * c) / n);
  };
  const data: Data[] = [];
  if (ev.trainHistogram && ev.trainHistogram.edges.length) {
    data.push({ type: 'bar', x: centers(ev.trainHistogram), y: share(ev.trainHistogram), width: width(ev.trainHistogram), name: 'training rows', marker: { color: 'rgba(154, 161, 173, 0.55)' }, hovertemplate: '%{y:.2f}% of training rows<extra></extra>' });
  }
  data.push({ type: 'bar', x: centers(ev.histogram), y: share(ev.histogram), width: width(ev.histogram), name: 'test rows', marker: { color: 'rgba(37, 99, 201, 0.6)' }, hovertemplate: '%{y:.2f}% of test rows<extra></extra>' });
  return {
    data,
    layout: {
      barmode: 'overlay',
      bargap: 0,
      xaxis: { title: { text: 'Anomaly score' } },
      yaxis: { title: { text: '% of rows' } },
      shapes: [{ type: 'line', yref: 'paper', y0: 0, y1: 1, x0: ev.threshold, x1: ev.threshold, line: { color: '#c0262d', width: 2, dash: 'dash' } }],
      annotations: [{ x: ev.threshold, y: 1, yref: 'paper', text: `threshold ${ev.threshold.toPrecision(4)}`, showarrow: false, xanchor: 'left', yanchor: 'bottom', font: { color: '#c0262d', size: 11 } }],
    },
  };
}

export interface NamedSeries {
  name: string;
  series: ScoreSeries;
}

/**
 * Points with a null inserted wherever the time step jumps far beyond the usual
 * one (between trips), so the line does not draw a straight bridge over hours
 * without data.
 */
export function breakGaps(xs: Float64Array, ys: Float64Array): { x: (number | null)[]; y: (number | null)[] } {
  const steps: number[] = [];
  for (let i = 1; i < xs.length; i++) steps.push(xs[i]! - xs[i - 1]!);
  const sorted = [...steps].sort((a, b) => a - b);
  const median = sorted[Math.floor(sorted.length / 2)] ?? 0;
  const x: (number | null)[] = [];
  const y: (number | null)[] = [];
  for (let i = 0; i < xs.length; i++) {
    if (i > 0 && median > 0 && steps[i - 1]! > 20 * median) {
      x.push(null);
      y.push(null);
    }
    x.push(xs[i]!);
    y.push(ys[i]!);
  }
  return { x, y };
}

/**
 * Score over time of one device's test rows: a line per run, each run's
 * threshold as a dashed line, and the labelled rows of the first run as red marks.
 */
export function scoreSeriesFigure(list: NamedSeries[]): Figure {
  const data: Data[] = [];
  const shapes: Partial<Shape>[] = [];
  const temporal = list[0]?.series.temporal ?? false;
  list.forEach(({ name, series }, i) => {
    const color = seriesColor(i);
    const { x, y } = breakGaps(series.x, series.score);
    data.push({ type: 'scatter', mode: 'lines', x, y, name, connectgaps: false, line: { color, width: 1.2 } });
    shapes.push({ type: 'line', xref: 'paper', x0: 0, x1: 1, y0: series.threshold, y1: series.threshold, line: { color, width: 1.5, dash: 'dash' } });
  });
  const first = list[0]?.series;
  if (first) {
    const lx: number[] = [];
    const ly: number[] = [];
    for (let i = 0; i < first.label.length; i++) {
      if (first.label[i]! > 0) {
        lx.push(first.x[i]!);
        ly.push(first.score[i]!);
      }
    }
    data.push({ type: 'scatter', mode: 'markers', x: lx, y: ly, name: `labelled rows (${lx.length})`, marker: { color: '#c0262d', size: 6, symbol: 'x' } });
  }
  if (list.length === 1 && first) {
    data.push({ type: 'scatter', mode: 'lines', x: [null], y: [null], name: `threshold ${first.threshold.toPrecision(4)}`, line: { color: SERIES_COLORS[0], dash: 'dash' } });
  }
  return {
    data,
    layout: {
      xaxis: { type: temporal ? 'date' : 'linear', title: { text: temporal ? '' : 'time' } },
      yaxis: { title: { text: 'Anomaly score' } },
      shapes,
    },
  };
}
