/**
 * One run (`#/runs/<id>`, issue #5 item 7): status and progress, metrics,
 * score over time per device, ROC/PR, confusion matrix, score histogram, lead
 * time, top anomalies linking into Explore, and the params. Parent runs
 * (repeats, sweeps, per-group) list their children instead of curves.
 */
import { useCallback, useEffect, useMemo, useState } from 'react';
import type { TablePage } from '../../../../core/data/api.ts';
import type { RunInfo, ScoreSeries } from '../../../../core/experiments/api.ts';
import { call } from '../../api/client.ts';
import { ErrorBox, useToasts } from '../../components/Notices.tsx';
import { formatDateTime, formatDuration } from '../../format.ts';
import { asEvaluation, histogramFigure, prFigure, rocFigure, scoreSeriesFigure, type Evaluation } from './charts.ts';
import { experimentsHash, exploreHashAt, runHash } from './links.ts';
import { ChartPanel, InlineSelect } from './ChartPanel.tsx';
import { RunProgress } from './ModelsPage.tsx';
import { Plot } from './Plot.tsx';
import { formatMetric, formatMetricOf, formatMinutes, formatParam, isTemporal, KEY_METRICS, metricLabel, metricNames, metricParts, parentKind, statusClass } from './run-format.ts';
import { mergeRuns, useRun, useRunEvents } from './use-runs.ts';
import './models.css';

const TOP_PAGE = 50;

/** A time-axis value as text: a local date-time for timestamps, the raw number otherwise. */
export function formatAxis(v: number | null, temporal: boolean): string {
  if (v === null || !Number.isFinite(v)) return '—';
  if (!temporal) return String(v);
  const d = new Date(v);
  const p = (x: number): string => String(x).padStart(2, '0');
  return `${formatDateTime(d.toISOString())}:${p(d.getSeconds())}`;
}

function MetricTile({ run, name, small }: { run: RunInfo; name: string; small?: boolean }) {
  const p = metricParts(run, name);
  return (
    <div className={`metric-tile${small ? ' small' : ''}`} data-testid={`metric-${name}`}>
      <div className="metric-tile-label" title={name}>
        {metricLabel(name)}
      </div>
      <div className="metric-tile-value">
        {p.value}
        {p.std !== null && <span className="metric-tile-std"> ± {p.std}</span>}
      </div>
    </div>
  );
}

function MetricTiles({ run }: { run: RunInfo }) {
  const names = metricNames([run]);
  // A sweep's best trial value leads: it is what the sweep was for.
  const sweepBest = parentKind(run) === 'sweep' ? names.filter((n) => n.startsWith('best_') && n in run.metrics && !(`${n}_mean` in run.metrics)) : [];
  const key = [...sweepBest, ...KEY_METRICS.filter((k) => names.includes(k) && !sweepBest.includes(k))];
  const rest = names.filter((n) => !key.includes(n));
  return (
    <div className="metric-tiles" data-testid="metric-tiles">
      {key.map((k) => (
        <MetricTile key={k} run={run} name={k} />
      ))}
      {rest.map((k) => (
        <MetricTile key={k} run={run} name={k} small />
      ))}
    </div>
  );
}

function ConfusionMatrix({ c }: { c: NonNullable<Evaluation['confusion']> }) {
  const total = c.tp + c.fp + c.tn + c.fn || 1;
  const cell = (n: number, good: boolean, testId: string) => (
    <td className={`cm-cell ${good ? 'good' : 'bad'}`} style={{ ['--share' as string]: String(Math.max(0.06, n / total)) }} data-testid={testId}>
      <b>{n.toLocaleString('en-US')}</b>
      <span>{((100 * n) / total).toFixed(1)}%</span>
    </td>
  );
  return (
    <table className="confusion" data-testid="confusion-matrix">
      <thead>
        <tr>
          <th />
          <th>alarm</th>
          <th>no alarm</th>
        </tr>
      </thead>
      <tbody>
        <tr>
          <th>labelled anomaly</th>
          {cell(c.tp, true, 'cm-tp')}
          {cell(c.fn, false, 'cm-fn')}
        </tr>
        <tr>
          <th>normal</th>
          {cell(c.fp, false, 'cm-fp')}
          {cell(c.tn, true, 'cm-tn')}
        </tr>
      </tbody>
    </table>
  );
}

function LeadTime({ lt }: { lt: NonNullable<Evaluation['leadTime']> }) {
  const top = [...lt.perDevice].filter((d) => d.lead !== null).sort((a, b) => b.lead! - a.lead!).slice(0, 8);
  const fmt = (v: number | null): string => (v === null || !Number.isFinite(v) ? '—' : lt.unit === 'minutes' ? formatMinutes(v) : `${formatMetric(v)} ${lt.unit}`);
  return (
    <div className="lead-time" data-testid="lead-time">
      <div className="lead-stats">
        <div>
          <span className="hint">mean lead</span>
          <b>{fmt(lt.meanLead)}</b>
        </div>
        <div>
          <span className="hint">median lead</span>
          <b>{fmt(lt.medianLead)}</b>
        </div>
        <div>
          <span className="hint">devices with a sustained alarm</span>
          <b>
            {lt.detected} of {lt.devices}
          </b>
        </div>
      </div>
      {top.length > 0 && (
        <table className="grid compact">
          <thead>
            <tr>
              <th>device</th>
              <th className="num">lead</th>
            </tr>
          </thead>
          <tbody>
            {top.map((d) => (
              <tr key={d.device}>
                <td className="mono">{d.device}</td>
                <td className="num">{fmt(d.lead)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <div className="hint">Lead = device end − first time the alarm held for consecutive rows. Larger is earlier warning.</div>
    </div>
  );
}

function ScoreOverTime({ run }: { run: RunInfo }) {
  const [device, setDevice] = useState<string | undefined>(undefined);
  const [series, setSeries] = useState<ScoreSeries | null>(null);
  const [error, setError] = useState<unknown>(null);
  useEffect(() => {
    let alive = true;
    call('runs.scoreSeries', { runId: run.id, device, width: 1200 }).then(
      (s) => alive && (setSeries(s), setError(null)),
      (err: unknown) => alive && setError(err),
    );
    return () => {
      alive = false;
    };
  }, [run.id, device]);
  const fig = useMemo(() => (series ? scoreSeriesFigure([{ name: `score · ${series.device ?? ''}`, series }]) : null), [series]);
  return (
    <section className="panel chart-panel wide" data-testid="score-series-panel">
      <div className="panel-head">
        <h2>Score over time (test rows)</h2>
        <span className="spacer" />
        <InlineSelect label="Device" value={series?.device ?? ''} options={series?.devices ?? []} onChange={setDevice} testId="score-device" />
      </div>
      {error !== null && <ErrorBox title="No score series" error={error} />}
      {fig && <Plot data={fig.data} layout={fig.layout} height={280} testId="score-series-chart" />}
      <div className="hint chart-foot">Devices are listed by their highest score. Red × marks labelled rows; the dashed line is the alarm threshold.</div>
    </section>
  );
}

interface AnomalyRow {
  device: string;
  trip: string;
  t: number | null;
  score: number;
  alarm: boolean;
  label: number | null;
  features: { name: string; weight: number }[];
}

function toAnomalyRows(page: TablePage): AnomalyRow[] {
  // TablePage.values is column-major: values[column][row].
  const col = (n: string): TablePage['values'][number] => page.values[page.columns.findIndex((c) => c.name === n)] ?? [];
  const [d, tr, t, s, a, l, f] = ['device', 'trip', 't', 'score', 'alarm', 'label', 'top_features'].map(col) as TablePage['values'];
  const n = d!.length;
  return Array.from({ length: n }, (_, i) => ({
    device: String(d![i] ?? ''),
    trip: String(tr![i] ?? ''),
    t: typeof t![i] === 'number' ? (t![i] as number) : null,
    score: Number(s![i]),
    alarm: a![i] === true || a![i] === 1,
    label: typeof l![i] === 'number' ? (l![i] as number) : null,
    // "feature (0.138), other (0.097)": the engine sends them ranked.
    features: String(f![i] ?? '')
      .split(/,\s*(?![^()]*\))/)
      .map((x) => /^(.*) \(([\d.eE+-]+)\)$/.exec(x.trim()))
      .filter((m): m is RegExpExecArray => m !== null)
      .map((m) => ({ name: m[1]!, weight: Number(m[2]) })),
  }));
}

function TopAnomalies({ run }: { run: RunInfo }) {
  const [rows, setRows] = useState<AnomalyRow[]>([]);
  const [total, setTotal] = useState(0);
  const [error, setError] = useState<unknown>(null);
  const [loading, setLoading] = useState(false);
  const temporal = isTemporal(run);
  const load = useCallback((offset: number): void => {
    setLoading(true);
    call('runs.topAnomalies', { runId: run.id, offset, limit: TOP_PAGE })
      .then((page) => {
        setTotal(page.total);
        setRows((r) => (offset === 0 ? toAnomalyRows(page) : [...r, ...toAnomalyRows(page)]));
      }, setError)
      .finally(() => setLoading(false));
  }, [run.id]);
  useEffect(() => load(0), [load]);
  const maxWeight = Math.max(1e-9, ...rows.flatMap((r) => r.features.map((f) => f.weight)));
  return (
    <section className="panel" data-testid="top-anomalies">
      <div className="panel-head">
        <h2>Top anomalies</h2>
        <span className="hint">most anomalous test rows with the features that drove each score, ranked</span>
        <span className="spacer" />
        <span className="hint">
          {rows.length} of {total}
        </span>
      </div>
      {error !== null && <ErrorBox title="Could not load the top anomalies" error={error} />}
      <div className="table-scroll anomalies-scroll">
        <table className="grid anomalies">
          <thead>
            <tr>
              <th className="num">#</th>
              <th>device</th>
              <th>trip</th>
              <th>time</th>
              <th className="num">score</th>
              <th>alarm</th>
              <th>label</th>
              <th>contributing features</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {rows.map((r, i) => (
              <tr key={i} data-testid="anomaly-row">
                <td className="num muted">{i + 1}</td>
                <td className="mono">{r.device}</td>
                <td className="mono">{r.trip}</td>
                <td className="mono">{formatAxis(r.t, temporal)}</td>
                <td className="num">{r.score.toPrecision(4)}</td>
                <td>{r.alarm ? <span className="status status-failed">alarm</span> : <span className="muted">—</span>}</td>
                <td>{r.label === null ? '—' : r.label > 0 ? <b className="label-yes">{r.label}</b> : r.label}</td>
                <td className="features-cell">
                  {r.features.slice(0, 5).map((f) => (
                    <span className="feature-chip" key={f.name} title={`weight ${f.weight}`}>
                      <span className="feature-bar" style={{ width: `${Math.round((f.weight / maxWeight) * 100)}%` }} />
                      <span className="mono">{f.name}</span>
                      <span className="feature-w">{f.weight.toFixed(2)}</span>
                    </span>
                  ))}
                </td>
                <td>
                  <a
                    href={exploreHashAt({ dataset: run.dataset, device: r.device || null, trip: r.trip || null, t: r.t, temporal })}
                    className="btn btn-small"
                    title={`Open trip ${r.trip} in Explore around ${formatAxis(r.t, temporal)}`}
                    data-testid="anomaly-explore"
                  >
                    Explore →
                  </a>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      {rows.length < total && (
        <div className="table-foot">
          <button type="button" className="btn btn-small" disabled={loading} onClick={() => load(rows.length)}>
            {loading ? 'Loading…' : `Show ${Math.min(TOP_PAGE, total - rows.length)} more`}
          </button>
        </div>
      )}
    </section>
  );
}

function Charts({ run, ev }: { run: RunInfo; ev: Evaluation }) {
  const roc = useMemo(() => (ev.roc ? rocFigure([{ name: 'ROC', curve: ev.roc, area: run.metrics.roc_auc }]) : null), [ev, run.metrics.roc_auc]);
  const pos = run.metrics.positives;
  const rows = run.metrics.test_rows;
  const pr = useMemo(() => (ev.pr ? prFigure([{ name: 'PR', curve: ev.pr, area: run.metrics.pr_auc }], pos !== undefined && rows ? pos / rows : undefined) : null), [ev, run.metrics.pr_auc, pos, rows]);
  const hist = useMemo(() => histogramFigure(ev), [ev]);
  return (
    <div className="chart-grid">
      <ScoreOverTime run={run} />
      {roc ? (
        <ChartPanel title="ROC curve" figure={roc} height={260} testId="roc-panel" chartTestId="roc-chart" />
      ) : (
        <section className="panel chart-panel list-empty">No ROC curve: the run had no labelled test rows (or only one class).</section>
      )}
      {pr && <ChartPanel title="Precision–recall curve" figure={pr} height={260} testId="pr-panel" chartTestId="pr-chart" />}
      <ChartPanel title="Score distribution" figure={hist} height={260} testId="histogram-panel" chartTestId="histogram-chart" />
      <section className="panel chart-panel" data-testid="confusion-panel">
        <div className="panel-head">
          <h2>Confusion at the threshold</h2>
          <span className="hint">threshold {ev.threshold.toPrecision(4)}</span>
        </div>
        <div className="mx-body">
          {ev.confusion ? <ConfusionMatrix c={ev.confusion} /> : <div className="hint">No labels: no confusion matrix.</div>}
          {ev.best && (
            <div className="hint best-line">
              Best F1 {formatMetric(ev.best.f1)} at threshold {ev.best.threshold.toPrecision(4)} (precision {formatMetric(ev.best.precision)}, recall {formatMetric(ev.best.recall)}).
            </div>
          )}
        </div>
      </section>
      <section className="panel chart-panel span2" data-testid="lead-panel">
        <div className="panel-head">
          <h2>Lead time</h2>
        </div>
        <div className="mx-body">{ev.leadTime ? <LeadTime lt={ev.leadTime} /> : <div className="hint">No time axis: no lead time.</div>}</div>
      </section>
    </div>
  );
}

function Children({ run }: { run: RunInfo }) {
  const [kids, setKids] = useState<Map<string, RunInfo> | null>(null);
  const [error, setError] = useState<unknown>(null);
  useEffect(() => {
    call('runs.list', { experiment: run.experiment }).then((list) => setKids(new Map(list.filter((r) => r.parentId === run.id).map((r) => [r.id, r]))), setError);
  }, [run.id, run.experiment]);
  useRunEvents((batch, deleted) => setKids((m) => (m ? mergeRuns(m, batch, (r) => r.parentId === run.id, deleted) : m)));
  const list = [...(kids?.values() ?? [])].sort((a, b) => a.startedAt.localeCompare(b.startedAt));
  const metrics = ['roc_auc', 'pr_auc', 'f1', 'alert_rate'];
  return (
    <section className="panel" data-testid="children-panel">
      <div className="panel-head">
        <h2>Child runs</h2>
        <span className="hint">{list.length}</span>
      </div>
      {error !== null && <ErrorBox title="Could not list the child runs" error={error} />}
      <div className="table-scroll">
        <table className="grid">
          <thead>
            <tr>
              <th>name</th>
              <th>status</th>
              {metrics.map((m) => (
                <th key={m} className="num">
                  {metricLabel(m)}
                </th>
              ))}
              <th>tags</th>
            </tr>
          </thead>
          <tbody>
            {list.map((k) => (
              <tr key={k.id} data-testid="child-row" className={k.tags.includes('best') ? 'best-row' : ''}>
                <td>
                  <a href={runHash(k.id)}>{k.name}</a>
                </td>
                <td>
                  <span className={statusClass(k.status)}>{k.status}</span>
                  {k.status === 'running' && <span className="hint"> {Math.round(k.progress * 100)}%</span>}
                </td>
                {metrics.map((m) => (
                  <td key={m} className="num">
                    {formatMetricOf(k, m)}
                  </td>
                ))}
                <td>
                  {k.tags.map((t) => (
                    <span key={t} className={`tag${t === 'best' ? ' tag-best' : ''}`}>
                      {t}
                    </span>
                  ))}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </section>
  );
}

function Params({ run }: { run: RunInfo }) {
  const entries = Object.entries(run.params).sort(([a], [b]) => a.localeCompare(b));
  return (
    <details className="panel params-panel" data-testid="run-params">
      <summary className="panel-head">
        <h2>Parameters</h2>
        <span className="hint">{entries.length}</span>
      </summary>
      <div className="params-list">
        {entries.map(([k, v]) => (
          <div key={k} className="param-kv">
            <span className="mono muted">{k}</span>
            <span className="mono">{formatParam(v)}</span>
          </div>
        ))}
      </div>
    </details>
  );
}

export function RunPage({ runId }: { runId: string }) {
  const { run, error } = useRun(runId);
  const [ev, setEv] = useState<Evaluation | null>(null);
  const [evError, setEvError] = useState<unknown>(null);
  const toasts = useToasts();
  const hasEval = run?.artifacts.includes('evaluation') ?? false;

  useEffect(() => {
    setEv(null);
    if (!hasEval) return;
    call('runs.artifact', { runId, name: 'evaluation' }).then((v) => setEv(asEvaluation(v)), setEvError);
  }, [runId, hasEval]);

  useEffect(() => {
    if (run) document.title = `${run.name} · Fleetlens`;
  }, [run]);

  if (error !== null) {
    return (
      <div className="page-pad">
        <ErrorBox title={`Run ${runId}`} error={error} testId="run-load-error" />
      </div>
    );
  }
  if (!run) return <div className="page-pad hint">Loading run {runId}…</div>;

  const kind = parentKind(run);
  const isParent = kind !== null || run.children > 0;
  return (
    <div className="run-page" data-testid="run-page" data-status={run.status}>
      <section className="panel run-head">
        <div className="crumbs">
          <a href={experimentsHash(null)}>Experiments</a> › <a href={experimentsHash(run.experiment, 'runs')}>{run.experiment}</a>
          {run.parentId && (
            <>
              {' '}
              › <a href={runHash(run.parentId)}>parent run</a>
            </>
          )}
        </div>
        <div className="row wrap">
          <h1 data-testid="run-name">{run.name}</h1>
          <span className={statusClass(run.status)} data-testid="run-status">
            {run.status}
          </span>
          {kind && <span className="pill">{kind}</span>}
          {run.tags.map((t) => (
            <span key={t} className={`tag${t === 'best' ? ' tag-best' : ''}`}>
              {t}
            </span>
          ))}
        </div>
        <div className="details-meta">
          <span>
            id <b className="mono">{run.id}</b>
          </span>
          <span>
            detector <b>{String(run.params.detector ?? '—')}</b>
          </span>
          <span>
            dataset <b>{run.dataset}</b>
          </span>
          <span>
            seed <b className="mono">{run.seed}</b>
          </span>
          <span>
            started <b>{formatDateTime(run.startedAt)}</b>
          </span>
          {run.durationMs !== null && (
            <span>
              took <b>{formatDuration(run.durationMs)}</b>
            </span>
          )}
        </div>
        <RunProgress
          run={run}
          onCancel={() => {
            call('models.cancel', { runId: run.id }).catch((err: unknown) => toasts.notifyError('Cancel failed', err));
          }}
        />
        {(run.status === 'failed' || run.status === 'cancelled') && (
          <ErrorBox title={run.status === 'failed' ? 'The run failed' : 'The run was cancelled'} error={new Error(run.error ?? 'no reason recorded')} testId="run-error" />
        )}
        {run.notes && <div className="run-notes">{run.notes}</div>}
      </section>

      {Object.keys(run.metrics).length > 0 && <MetricTiles run={run} />}
      {isParent && <Children run={run} />}
      {evError !== null && <ErrorBox title="Could not load the evaluation" error={evError} />}
      {ev && <Charts run={run} ev={ev} />}
      {!isParent && run.status === 'finished' && run.artifacts.includes('top_anomalies') && <TopAnomalies run={run} />}
      <Params run={run} />
    </div>
  );
}
