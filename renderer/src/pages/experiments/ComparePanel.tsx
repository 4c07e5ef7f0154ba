/**
 * Compare 2–10 runs (issue #6): params side by side with differences
 * highlighted, metrics with the best marked, overlaid ROC/PR curves, the score
 * over time of every run on the same device, and — over all runs of the
 * experiment — a parallel-coordinates plot and a metric-vs-param scatter.
 */
import { useEffect, useMemo, useState, type ReactNode } from 'react';
import type { Data, Layout } from 'plotly.js-dist-min';
import type { RunInfo, ScoreSeries } from '../../../../core/experiments/api.ts';
import { call } from '../../api/client.ts';
import { seriesColor } from '../../components/charts/chart-theme.ts';
import { ErrorBox } from '../../components/Notices.tsx';
import { asEvaluation, prFigure, rocFigure, scoreSeriesFigure, type Evaluation } from '../models/charts.ts';
import { runHash } from '../models/links.ts';
import { ChartPanel, InlineSelect } from '../models/ChartPanel.tsx';
import { canDrawWebglTraces, Plot, SERIES_COLORS } from '../models/Plot.tsx';
import { formatMetricOf, formatParam, LOWER_IS_BETTER, metricLabel, metricNames, metricOf, parentKind } from '../models/run-format.ts';

export const MAX_COMPARE = 10;

const QUALITY = new Set(['roc_auc', 'pr_auc', 'f1', 'precision', 'recall', 'best_f1', 'false_alarm_rate', 'missed_alarm_rate', 'lead_time_mean']);

function RunChips({ runs }: { runs: RunInfo[] }) {
  return (
    <div className="compare-chips">
      {runs.map((r, i) => (
        <a key={r.id} href={runHash(r.id)} className="compare-chip" style={{ borderLeftColor: seriesColor(i) }} data-testid="compare-chip">
          {r.name}
        </a>
      ))}
    </div>
  );
}

/** A table with a column per run, headed by the run's name over its series colour; `numeric` right-aligns the run columns. */
function CompareTable({ runs, corner, numeric, children }: { runs: RunInfo[]; corner: string; numeric?: boolean; children: ReactNode }) {
  return (
    <div className="table-scroll compare-scroll">
      <table className="grid compare-table">
        <thead>
          <tr>
            <th>{corner}</th>
            {runs.map((r, i) => (
              <th key={r.id} className={numeric ? 'num' : undefined} style={{ borderTop: `3px solid ${seriesColor(i)}` }}>
                {r.name}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>{children}</tbody>
      </table>
    </div>
  );
}

function ParamsTable({ runs }: { runs: RunInfo[] }) {
  const [onlyDiff, setOnlyDiff] = useState(false);
  const keys = useMemo(() => [...new Set(runs.flatMap((r) => Object.keys(r.params)))].sort(), [runs]);
  const differs = (k: string): boolean => new Set(runs.map((r) => JSON.stringify(r.params[k] ?? null))).size > 1;
  const shown = keys.filter((k) => !onlyDiff || differs(k));
  return (
    <section className="panel" data-testid="compare-params">
      <div className="panel-head">
        <h2>Parameters</h2>
        <span className="hint">{keys.filter(differs).length} differ</span>
        <span className="spacer" />
        <label className="check">
          <input type="checkbox" checked={onlyDiff} onChange={(e) => setOnlyDiff(e.target.checked)} data-testid="only-differences" />
          only differences
        </label>
      </div>
      <CompareTable runs={runs} corner="param">
        {shown.map((k) => (
          <tr key={k} className={differs(k) ? 'differs' : ''} data-testid={differs(k) ? 'param-diff-row' : 'param-row'}>
            <td className="mono muted">{k}</td>
            {runs.map((r) => (
              <td key={r.id} className="mono">
                {formatParam(r.params[k])}
              </td>
            ))}
          </tr>
        ))}
      </CompareTable>
    </section>
  );
}

function MetricsTable({ runs }: { runs: RunInfo[] }) {
  const names = metricNames(runs);
  return (
    <section className="panel" data-testid="compare-metrics">
      <div className="panel-head">
        <h2>Metrics</h2>
        <span className="hint">best of each quality metric in bold</span>
      </div>
      <CompareTable runs={runs} corner="metric" numeric>
        {names.map((m) => {
          const vals = runs.map((r) => metricOf(r, m)?.value ?? Number.NaN);
          const finite = vals.filter(Number.isFinite);
          // Only quality metrics have a "best"; counts and thresholds are just different.
          const best = finite.length > 1 && QUALITY.has(m) ? (LOWER_IS_BETTER.has(m) ? Math.min(...finite) : Math.max(...finite)) : Number.NaN;
          return (
            <tr key={m}>
              <td>{metricLabel(m)}</td>
              {runs.map((r, i) => (
                <td key={r.id} className={`num${vals[i] === best && new Set(finite).size > 1 ? ' best-cell' : ''}`}>
                  {formatMetricOf(r, m)}
                </td>
              ))}
            </tr>
          );
        })}
      </CompareTable>
    </section>
  );
}

function Curves({ runs }: { runs: RunInfo[] }) {
  const [evals, setEvals] = useState<Map<string, Evaluation | null>>(new Map());
  useEffect(() => {
    let alive = true;
    for (const r of runs) {
      if (evals.has(r.id)) continue;
      call('runs.artifact', { runId: r.id, name: 'evaluation' }).then(
        (v) => alive && setEvals((m) => new Map(m).set(r.id, asEvaluation(v))),
        () => alive && setEvals((m) => new Map(m).set(r.id, null)),
      );
    }
    return () => {
      alive = false;
    };
    // evals is read only to skip runs already fetched.
  }, [runs]);
  const withCurves = runs.map((r) => ({ run: r, ev: evals.get(r.id) })).filter((x): x is { run: RunInfo; ev: Evaluation } => !!x.ev?.roc);
  const roc = useMemo(() => rocFigure(withCurves.map(({ run, ev }) => ({ name: run.name, curve: ev.roc!, area: run.metrics.roc_auc }))), [withCurves.map((x) => x.run.id).join()]);
  const pr = useMemo(() => prFigure(withCurves.filter((x) => x.ev.pr).map(({ run, ev }) => ({ name: run.name, curve: ev.pr!, area: run.metrics.pr_auc }))), [withCurves.map((x) => x.run.id).join()]);
  const missing = runs.filter((r) => evals.has(r.id) && !evals.get(r.id)?.roc);
  return (
    <>
      <ChartPanel title="ROC curves" figure={roc} height={300} testId="compare-roc" chartTestId="compare-roc-chart" />
      <ChartPanel title="Precision–recall curves" figure={pr} height={300} testId="compare-pr" chartTestId="compare-pr-chart" />
      {missing.length > 0 && <div className="hint span-all">No curves for {missing.map((r) => r.name).join(', ')} (parent runs, unlabelled or unfinished runs have none).</div>}
    </>
  );
}

function AlignedScores({ runs }: { runs: RunInfo[] }) {
  const [device, setDevice] = useState<string | undefined>(undefined);
  const [series, setSeries] = useState<{ run: RunInfo; s: ScoreSeries }[]>([]);
  const [devices, setDevices] = useState<string[]>([]);
  const [error, setError] = useState<unknown>(null);
  const key = runs.map((r) => r.id).join();
  useEffect(() => {
    let alive = true;
    const eligible = runs.filter((r) => r.status === 'finished' && parentKind(r) === null);
    if (!eligible.length) return;
    // The first run picks the device (its most anomalous); every run is then read on that same device.
    (async () => {
      const first = await call('runs.scoreSeries', { runId: eligible[0]!.id, device, width: 1000 });
      const rest = await Promise.all(eligible.slice(1).map((r) => call('runs.scoreSeries', { runId: r.id, device: first.device ?? undefined, width: 1000 }).then((s) => ({ run: r, s })).catch(() => null)));
      if (!alive) return;
      setDevices(first.devices);
      setSeries([{ run: eligible[0]!, s: first }, ...rest.filter((x): x is { run: RunInfo; s: ScoreSeries } => x !== null)]);
      setError(null);
    })().catch((err: unknown) => alive && setError(err));
    return () => {
      alive = false;
    };
  }, [key, device]);
  const fig = useMemo(() => scoreSeriesFigure(series.map(({ run, s }) => ({ name: run.name, series: s }))), [series]);
  return (
    <section className="panel chart-panel span-all" data-testid="compare-scores">
      <div className="panel-head">
        <h2>Score over time, same device</h2>
        <span className="hint">test rows; dashed lines are each run's threshold</span>
        <span className="spacer" />
        <InlineSelect label="Device" value={series[0]?.s.device ?? ''} options={devices} onChange={setDevice} testId="compare-device" />
      </div>
      {error !== null && <ErrorBox title="No score series" error={error} />}
      {series.length > 0 && <Plot data={fig.data} layout={fig.layout} height={300} testId="compare-scores-chart" />}
    </section>
  );
}

/** A dimension of the parallel-coordinates plot: numeric values, or categories mapped to 0..k−1. */
interface Dimension {
  label: string;
  values: number[];
  ticktext?: string[];
}

/** Params that differ between runs but make poor axes: SQL row filters, seeds, names. */
const NOT_AXES = /^(filter|seed|seeds|dataset|label|recipe\.sensors|sweep\.space)$/;

/** Params that vary across runs and make sense as axes: detector params first, then recipe and split knobs. */
function varyingParams(runs: RunInfo[]): string[] {
  const keys = [...new Set(runs.flatMap((r) => Object.keys(r.params)))].filter((k) => !NOT_AXES.test(k) && new Set(runs.map((r) => String(r.params[k]))).size > 1);
  return [...keys.filter((k) => !k.includes('.')).sort(), ...keys.filter((k) => k.includes('.')).sort()];
}

function dimensions(runs: RunInfo[], metrics: string[]): Dimension[] {
  const dims: Dimension[] = [];
  const keys = varyingParams(runs);
  for (const k of keys) {
    const vals = runs.map((r) => r.params[k]);
    if (new Set(vals.map((v) => String(v))).size < 2) continue;
    if (vals.every((v) => typeof v === 'number')) dims.push({ label: k, values: vals as number[] });
    else {
      const cats = [...new Set(vals.map((v) => String(v ?? '—')))].sort();
      if (cats.length > 12) continue;
      dims.push({ label: k, values: vals.map((v) => cats.indexOf(String(v ?? '—'))), ticktext: cats });
    }
  }
  for (const m of metrics) dims.push({ label: metricLabel(m), values: runs.map((r) => metricOf(r, m)?.value ?? Number.NaN) });
  return dims;
}

/** Parcoords with Plotly; under the page's CSP its WebGL layer cannot compile, so the same axes are drawn as SVG lines. */
function ParallelCoordinates({ runs, selected }: { runs: RunInfo[]; selected: Set<string> }) {
  const leaves = useMemo(() => runs.filter((r) => r.status === 'finished' && parentKind(r) === null), [runs]);
  const metrics = useMemo(() => metricNames(leaves).filter((m) => ['roc_auc', 'pr_auc', 'f1', 'best_f1', 'alert_rate'].includes(m)), [leaves]);
  const colorBy = metrics[0];
  const fig = useMemo((): { data: Data[]; layout: Partial<Layout> } | null => {
    if (leaves.length < 2 || !colorBy) return null;
    const dims = dimensions(leaves, metrics);
    const color = leaves.map((r) => metricOf(r, colorBy)?.value ?? Number.NaN);
    if (canDrawWebglTraces()) {
      return {
        data: [
          {
            type: 'parcoords',
            line: { color, colorscale: 'Viridis', showscale: true, colorbar: { title: { text: metricLabel(colorBy) } } },
            dimensions: dims.map((d) => ({ label: d.label, values: d.values, ...(d.ticktext ? { tickvals: d.ticktext.map((_, i) => i), ticktext: d.ticktext } : {}) })),
          },
        ],
        layout: { margin: { l: 60, r: 60, t: 50, b: 30 } },
      };
    }
    // SVG fallback: each axis scaled to [0, 1]; one line per run, coloured by the metric; axis labels as annotations.
    const scaled = dims.map((d) => {
      const fin = d.values.filter(Number.isFinite);
      const lo = Math.min(...fin);
      const hi = Math.max(...fin);
      return { d, lo, hi, at: (v: number) => (hi > lo ? (v - lo) / (hi - lo) : 0.5) };
    });
    const cmin = Math.min(...color.filter(Number.isFinite));
    const cmax = Math.max(...color.filter(Number.isFinite));
    const data: Data[] = leaves.map((r, i) => {
      const t = cmax > cmin ? (color[i]! - cmin) / (cmax - cmin) : 0.5;
      return {
        type: 'scatter',
        mode: 'lines+markers',
        x: scaled.map((_, j) => j),
        y: scaled.map((s) => s.at(s.d.values[i]!)),
        text: scaled.map((s) => `${s.d.label}: ${s.d.ticktext ? s.d.ticktext[s.d.values[i]!] : formatParam(s.d.values[i])}`),
        hovertemplate: `${r.name}<br>%{text}<extra></extra>`,
        line: { color: `hsl(${Math.round(260 - 200 * t)}, 65%, ${selected.has(r.id) ? 38 : 50}%)`, width: selected.has(r.id) ? 3.5 : 1.5 },
        marker: { size: 4 },
        showlegend: false,
      };
    });
    const annotations: Partial<Layout>['annotations'] = scaled.flatMap((s, j) => [
      { x: j, y: 1.06, text: `<b>${s.d.label}</b>`, showarrow: false, yanchor: 'bottom', font: { size: 11 } },
      { x: j, y: 1, text: s.d.ticktext ? s.d.ticktext[s.d.ticktext.length - 1]! : formatParam(s.hi), showarrow: false, xanchor: 'left', xshift: 4, font: { size: 10, color: '#646b77' } },
      { x: j, y: 0, text: s.d.ticktext ? s.d.ticktext[0]! : formatParam(s.lo), showarrow: false, xanchor: 'left', xshift: 4, font: { size: 10, color: '#646b77' } },
    ]);
    return {
      data,
      layout: {
        margin: { l: 30, r: 70, t: 50, b: 20 },
        xaxis: { showgrid: true, gridcolor: '#9aa1ad', zeroline: false, showticklabels: false, range: [-0.2, scaled.length - 0.6], dtick: 1 },
        yaxis: { visible: false, range: [-0.05, 1.12] },
        annotations,
      },
    };
  }, [leaves, metrics, colorBy, selected]);
  return (
    <section className="panel chart-panel span-all" data-testid="compare-parcoords">
      <div className="panel-head">
        <h2>All runs of the experiment: parameters → metrics</h2>
        <span className="hint">
          {leaves.length} finished runs, coloured by {colorBy ? metricLabel(colorBy) : '—'}
          {!canDrawWebglTraces() && ' · drawn as SVG lines (the page\u2019s content policy blocks Plotly\u2019s WebGL parcoords); selected runs are bold'}
        </span>
      </div>
      {fig ? <Plot data={fig.data} layout={fig.layout} height={330} testId="parcoords-chart" /> : <div className="list-empty">Needs at least two finished runs with metrics.</div>}
    </section>
  );
}

function ScatterExplorer({ runs, selected }: { runs: RunInfo[]; selected: Set<string> }) {
  const leaves = useMemo(() => runs.filter((r) => r.status === 'finished' && parentKind(r) === null), [runs]);
  const metrics = useMemo(() => metricNames(leaves), [leaves]);
  const params = useMemo(() => varyingParams(leaves), [leaves]);
  const [metric, setMetric] = useState('roc_auc');
  const [param, setParam] = useState<string | null>(null);
  const p = param ?? params[0] ?? null;
  const m = metrics.includes(metric) ? metric : (metrics[0] ?? '');
  const fig = useMemo((): { data: Data[]; layout: Partial<Layout> } | null => {
    if (!p || !m) return null;
    const point = (r: RunInfo) => ({ x: typeof r.params[p] === 'boolean' ? String(r.params[p]) : (r.params[p] as string | number | undefined) ?? null, y: metricOf(r, m)?.value ?? null, text: r.name });
    const others = leaves.filter((r) => !selected.has(r.id)).map(point);
    const chosen = leaves.filter((r) => selected.has(r.id)).map(point);
    return {
      data: [
        { type: 'scatter', mode: 'markers', name: 'runs', x: others.map((o) => o.x), y: others.map((o) => o.y), text: others.map((o) => o.text), marker: { color: '#9aa1ad', size: 8 }, hovertemplate: '%{text}<br>%{x} → %{y:.4f}<extra></extra>' },
        { type: 'scatter', mode: 'markers', name: 'selected', x: chosen.map((o) => o.x), y: chosen.map((o) => o.y), text: chosen.map((o) => o.text), marker: { color: SERIES_COLORS[0], size: 11, line: { color: '#fff', width: 1 } }, hovertemplate: '%{text}<br>%{x} → %{y:.4f}<extra></extra>' },
      ],
      layout: { xaxis: { title: { text: p } }, yaxis: { title: { text: metricLabel(m) } } },
    };
  }, [leaves, selected, p, m]);
  return (
    <section className="panel chart-panel span-all" data-testid="compare-scatter">
      <div className="panel-head">
        <h2>Metric vs parameter</h2>
        <span className="spacer" />
        <InlineSelect label="Metric" value={m} options={metrics} onChange={setMetric} testId="scatter-metric" optionText={metricLabel} />
        <InlineSelect label="Parameter" value={p ?? ''} options={params} onChange={setParam} testId="scatter-param" />
      </div>
      {fig ? <Plot data={fig.data} layout={fig.layout} height={300} testId="scatter-chart" /> : <div className="list-empty">No parameter varies across the finished runs yet.</div>}
    </section>
  );
}

export function ComparePanel({ allRuns, selectedIds }: { allRuns: RunInfo[]; selectedIds: string[] }) {
  const byId = useMemo(() => new Map(allRuns.map((r) => [r.id, r])), [allRuns]);
  const runs = useMemo(() => selectedIds.map((id) => byId.get(id)).filter((r): r is RunInfo => r !== undefined), [selectedIds, byId]);
  const selected = useMemo(() => new Set(selectedIds), [selectedIds]);
  // Curves and series are fetched per run; keep their input stable while only progress ticks elsewhere.
  const stableRuns = useMemo(() => runs, [runs.map((r) => `${r.id}:${r.status}`).join()]);
  if (runs.length < 2) {
    return (
      <div className="list-empty" data-testid="compare-empty">
        Select 2 to {MAX_COMPARE} runs in the Runs tab (checkboxes), then press <b>Compare</b>.
      </div>
    );
  }
  return (
    <div className="compare" data-testid="compare-panel">
      <RunChips runs={runs} />
      <div className="compare-tables">
        <ParamsTable runs={runs} />
        <MetricsTable runs={runs} />
      </div>
      <div className="chart-grid two">
        <Curves runs={stableRuns} />
        <AlignedScores runs={stableRuns} />
        <ParallelCoordinates runs={allRuns} selected={selected} />
        <ScatterExplorer runs={allRuns} selected={selected} />
      </div>
    </div>
  );
}
