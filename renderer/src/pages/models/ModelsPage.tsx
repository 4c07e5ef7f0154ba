/**
 * Models page (issue #5 item 7): dataset, feature recipe, split, detector with
 * its params, label, threshold rule, seed and experiment → Train (returns at
 * once; progress follows runs.updated), plus repeats, sweeps and per-group
 * training. The dataset lives in the hash (`#/models/<dataset>`).
 */
import { useCallback, useEffect, useMemo, useState, type ReactNode } from 'react';
import type { DatasetInfo } from '../../../../core/data/api.ts';
import type { RunInfo } from '../../../../core/experiments/api.ts';
import type { FeatureRecipe } from '../../../../core/features/recipe.ts';
import type { DetectorInfo, SplitSpec, ThresholdSpec, TrainRequest } from '../../../../core/models/api.ts';
import type { ParamValue } from '../../../../core/models/detector.ts';
import { call } from '../../api/client.ts';
import { loadPlotly } from '../../components/charts/PlotlyChart.tsx';
import { ErrorBox, useToasts } from '../../components/Notices.tsx';
import { formatCount, formatRelative } from '../../format.ts';
import { navigate, routeHash } from '../../route.ts';
import { DetectorParams, defaultParams, paramProblem } from './DetectorParams.tsx';
import { experimentsHash, runHash } from './links.ts';
import { parseRecipe } from './recipe-check.ts';
import { RecipeEditor } from './RecipeEditor.tsx';
import { formatMetricOf, parentKind, statusClass } from './run-format.ts';
import { TrainActionPanel, type ActionKind } from './TrainActions.tsx';
import { mergeRuns, useRunEvents } from './use-runs.ts';
import './models.css';

const RECENT = 14;

/** A running run's progress bar with its phase, or nothing. */
export function RunProgress({ run, onCancel }: { run: RunInfo; onCancel?: () => void }) {
  if (run.status !== 'running') return null;
  return (
    <div className="run-progress" data-testid="run-progress">
      <div className="progress">
        <span style={{ width: `${Math.round(run.progress * 100)}%` }} />
      </div>
      <div className="row">
        <span className="hint grow" data-testid="run-phase">
          {Math.round(run.progress * 100)}% · {run.phase || 'starting'}
        </span>
        {onCancel && (
          <button type="button" className="btn btn-small btn-danger-outline" onClick={onCancel} data-testid="run-cancel">
            Cancel
          </button>
        )}
      </div>
    </div>
  );
}

function RecentRuns({ highlight }: { highlight: Set<string> }) {
  const [runs, setRuns] = useState<Map<string, RunInfo> | null>(null);
  const [error, setError] = useState<unknown>(null);
  const toasts = useToasts();

  const load = useCallback(() => {
    call('runs.list', {}).then(
      (list) => setRuns(new Map(list.filter((r) => r.parentId === null).slice(0, 50).map((r) => [r.id, r]))),
      setError,
    );
  }, []);
  useEffect(load, [load]);
  useRunEvents((batch, deleted) => setRuns((m) => (m ? mergeRuns(m, batch, (r) => r.parentId === null, deleted) : m)));

  const list = useMemo(() => [...(runs?.values() ?? [])].sort((a, b) => b.startedAt.localeCompare(a.startedAt)).slice(0, RECENT), [runs]);

  return (
    <section className="panel recent-runs" data-testid="recent-runs">
      <div className="panel-head">
        <h2>Recent runs</h2>
        <span className="spacer" />
        <a className="btn btn-small" href={experimentsHash(null)}>
          All experiments
        </a>
      </div>
      {error !== null && <ErrorBox title="Could not list runs" error={error} />}
      {runs !== null && list.length === 0 && <div className="list-empty">No runs yet. Fill the form and press Train; the run shows up here with its progress.</div>}
      <ul className="run-cards">
        {list.map((r) => {
          const kind = parentKind(r);
          return (
            <li key={r.id} className={`run-card${highlight.has(r.id) ? ' mine' : ''}`} data-testid="recent-run" data-run-id={r.id} data-status={r.status}>
              <div className="row">
                <a href={runHash(r.id)} className="run-card-name" data-testid="recent-run-link">
                  {r.name}
                </a>
                <span className={statusClass(r.status)}>{r.status}</span>
              </div>
              <div className="hint">
                {r.experiment} · {kind ? `${kind} · ${r.children} children · ` : ''}
                {formatRelative(r.startedAt)}
              </div>
              <RunProgress
                run={r}
                onCancel={() => {
                  call('models.cancel', { runId: r.id }).then(
                    (ok) => !ok && toasts.notify('info', 'Nothing to cancel', 'The run had already ended.'),
                    (err: unknown) => toasts.notifyError('Cancel failed', err),
                  );
                }}
              />
              {r.status === 'finished' && (
                <div className="run-card-metrics">
                  <span>ROC AUC {formatMetricOf(r, 'roc_auc')}</span>
                  <span>F1 {formatMetricOf(r, 'f1')}</span>
                </div>
              )}
              {(r.status === 'failed' || r.status === 'cancelled') && r.error && <div className="inline-error">{r.error}</div>}
            </li>
          );
        })}
      </ul>
    </section>
  );
}

function Segmented<T extends string>({ value, options, onChange, testId }: { value: T; options: { value: T; label: string }[]; onChange(v: T): void; testId?: string }) {
  return (
    <div className="segmented" data-testid={testId}>
      {options.map((o) => (
        <label key={o.value} className={value === o.value ? 'on' : ''} data-testid={testId ? `${testId}-${o.value}` : undefined}>
          <input type="radio" checked={value === o.value} onChange={() => onChange(o.value)} />
          {o.label}
        </label>
      ))}
    </div>
  );
}

/** A titled section of the training form; `head` goes beside the title, `grid` lays the fields out in the form's grid. */
function FormSection({ title, head, grid, children }: { title: string; head?: ReactNode; grid?: boolean; children: ReactNode }) {
  return (
    <section className="panel mx-section">
      <div className="panel-head">
        <h2>{title}</h2>
        {head}
      </div>
      <div className={grid ? 'mx-body mx-grid' : 'mx-body'}>{children}</div>
    </section>
  );
}

export function ModelsPage({ rest }: { rest: string[] }) {
  const toasts = useToasts();
  const [datasets, setDatasets] = useState<DatasetInfo[] | null>(null);
  const [detectors, setDetectors] = useState<DetectorInfo[] | null>(null);
  const [loadError, setLoadError] = useState<unknown>(null);
  const datasetName = rest[0] ?? null;
  const dataset = datasets?.find((d) => d.name === datasetName) ?? null;

  const [recipe, setRecipe] = useState<FeatureRecipe | null>(null);
  const [recipeJsonInvalid, setRecipeJsonInvalid] = useState(false);
  const [detectorKind, setDetectorKind] = useState('isolation-forest');
  const [params, setParams] = useState<Record<string, Record<string, ParamValue>>>({});
  const [splitKind, setSplitKind] = useState<SplitSpec['kind']>('time');
  const [fraction, setFraction] = useState({ time: 0.7, devices: 0.3 });
  const [normalOnly, setNormalOnly] = useState(false);
  const [maxTrainRows, setMaxTrainRows] = useState('');
  const [label, setLabel] = useState<string | null | undefined>(undefined);
  const [thresholdKind, setThresholdKind] = useState<ThresholdSpec['kind']>('contamination');
  const [contamination, setContamination] = useState(0.02);
  const [fixed, setFixed] = useState(0.6);
  const [seed, setSeed] = useState('42');
  const [experiment, setExperiment] = useState('Default');
  const [runName, setRunName] = useState('');
  const [tags, setTags] = useState('');
  const [action, setAction] = useState<ActionKind | null>(null);
  const [busy, setBusy] = useState(false);
  const [trainError, setTrainError] = useState<unknown>(null);
  const [mine, setMine] = useState<Set<string>>(new Set());
  const [experiments, setExperiments] = useState<string[]>([]);

  // Warm the chart library now: run pages and comparisons are the next stop, and their charts then draw at once.
  useEffect(() => {
    void loadPlotly().catch(() => undefined);
  }, []);

  useEffect(() => {
    Promise.all([call('datasets.list', {}), call('models.detectors', {})]).then(([ds, dets]) => {
      setDatasets(ds);
      setDetectors(dets);
    }, setLoadError);
    call('experiments.list', {}).then((xs) => setExperiments(xs.map((x) => x.name)), () => undefined);
  }, []);

  // No dataset in the hash: take the first one, as the Data page does.
  useEffect(() => {
    if (datasets && datasets.length && (datasetName === null || !datasets.some((d) => d.name === datasetName))) {
      navigate(routeHash('models', datasets[0]!.name), { replace: true });
    }
  }, [datasets, datasetName]);

  useEffect(() => {
    if (!dataset) return;
    setRecipe(null);
    setLabel(dataset.columns.find((c) => c.role === 'label')?.name ?? null);
    call('models.defaultRecipe', { dataset: dataset.name }).then(setRecipe, (err: unknown) => setLoadError(err));
  }, [dataset]);

  const detector = detectors?.find((d) => d.kind === detectorKind) ?? null;
  const detectorParams = detector ? { ...defaultParams(detector), ...params[detector.kind] } : {};
  const paramErrors = detector ? detector.params.map((s) => paramProblem(s, detectorParams[s.name] ?? s.default)).filter(Boolean) : [];
  const recipeOk = recipe !== null && dataset !== null && parseRecipe(JSON.stringify(recipe), dataset).ok && !recipeJsonInvalid;
  const seedNum = seed.trim() === '' ? undefined : Number(seed);
  const seedBad = seedNum !== undefined && !(Number.isInteger(seedNum) && seedNum >= 0);

  const request: TrainRequest | null = useMemo(() => {
    if (!dataset || !recipe || !detector) return null;
    const split: SplitSpec = splitKind === 'time' ? { kind: 'time', trainFraction: fraction.time } : { kind: 'devices', holdoutFraction: fraction.devices };
    const threshold: ThresholdSpec = thresholdKind === 'contamination' ? { kind: 'contamination', value: contamination } : thresholdKind === 'fixed' ? { kind: 'fixed', value: fixed } : { kind: 'best-f1' };
    const req: TrainRequest = {
      dataset: dataset.name,
      detector: detector.kind,
      params: detectorParams,
      recipe,
      label: label ?? null,
      split,
      normalOnly,
      threshold,
      experiment: experiment.trim() || 'Default',
      tags: tags.split(',').map((t) => t.trim()).filter(Boolean),
    };
    if (seedNum !== undefined && !seedBad) req.seed = seedNum;
    if (runName.trim()) req.runName = runName.trim();
    if (maxTrainRows.trim() && Number(maxTrainRows) >= 10) req.maxTrainRows = Math.floor(Number(maxTrainRows));
    return req;
    // detectorParams is rebuilt every render from params + detector, so those are the deps.
  }, [dataset, recipe, detector, params, splitKind, fraction, thresholdKind, contamination, fixed, label, normalOnly, experiment, tags, seedNum, seedBad, runName, maxTrainRows]);

  const canSubmit = request !== null && recipeOk && paramErrors.length === 0 && !seedBad && !busy;

  const started = (id: string, what: string): void => {
    setMine((s) => new Set(s).add(id));
    toasts.notify('success', `${what} started`, `Run ${id} in experiment '${request?.experiment ?? ''}'.`);
  };

  const train = async (): Promise<void> => {
    if (!request) return;
    setBusy(true);
    setTrainError(null);
    try {
      const { runId } = await call('models.train', request);
      started(runId, 'Training');
    } catch (err) {
      setTrainError(err);
    } finally {
      setBusy(false);
    }
  };

  if (loadError !== null) {
    return (
      <div className="page-pad">
        <ErrorBox title="Could not load the Models page" error={loadError} testId="models-load-error" />
      </div>
    );
  }
  if (datasets !== null && datasets.length === 0) {
    return (
      <div className="page-pad">
        <section className="panel list-empty" data-testid="models-no-data">
          No datasets yet. Import one on the <a href={routeHash('data')}>Data page</a> and set its time, device and sensor roles; then train here.
        </section>
      </div>
    );
  }

  const labelCols = dataset?.columns.filter((c) => c.role === 'label' || /INT|BOOL/i.test(c.type)) ?? [];

  return (
    <div className="models-page" data-testid="models-page">
      <div className="models-form">
        <FormSection title="Data" grid>
          <label className="mx-field">
            <span>Dataset</span>
            <select value={datasetName ?? ''} onChange={(e) => navigate(routeHash('models', e.target.value))} data-testid="model-dataset">
              {(datasets ?? []).map((d) => (
                <option key={d.name} value={d.name}>
                  {d.name} ({formatCount(d.rowCount)} rows)
                </option>
              ))}
            </select>
          </label>
          <label className="mx-field">
            <span>Label column</span>
            <select value={label ?? ''} onChange={(e) => setLabel(e.target.value || null)} data-testid="model-label">
              <option value="">none (unlabelled)</option>
              {labelCols.map((c) => (
                <option key={c.name} value={c.name}>
                  {c.name}
                  {c.role === 'label' ? ' (label role)' : ''}
                </option>
              ))}
            </select>
          </label>
        </FormSection>

        <FormSection title="Features" head={<span className="hint">what the detector sees; windows look only at earlier rows</span>}>
          {dataset && recipe ? (
            <RecipeEditor dataset={dataset} recipe={recipe} onChange={setRecipe} onJsonInvalid={setRecipeJsonInvalid} />
          ) : (
            <div className="hint">Loading the default recipe…</div>
          )}
        </FormSection>

        <FormSection title="Split" grid>
          <div className="mx-field">
            <span>Test rows</span>
            <Segmented<SplitSpec['kind']>
              value={splitKind}
              onChange={setSplitKind}
              testId="split-kind"
              options={[
                { value: 'time', label: 'Latest by time' },
                { value: 'devices', label: 'Held-out devices' },
              ]}
            />
          </div>
          <label className="mx-field">
            <span>{splitKind === 'time' ? 'Train fraction (per device, earliest rows)' : 'Held-out fraction of devices'}</span>
            <input
              type="number"
              min={0.05}
              max={0.95}
              step={0.05}
              className="num-input"
              value={fraction[splitKind]}
              data-testid="split-fraction"
              onChange={(e) => setFraction((f) => ({ ...f, [splitKind]: Number(e.target.value) }))}
            />
          </label>
          <label className="check" title="Fit only on rows whose label is 0 (needs a label column)">
            <input type="checkbox" checked={normalOnly} disabled={!label} onChange={(e) => setNormalOnly(e.target.checked)} />
            train on normal rows only
          </label>
          <label className="mx-field">
            <span>Max training rows</span>
            <input className="num-input" placeholder="250000" value={maxTrainRows} onChange={(e) => setMaxTrainRows(e.target.value)} data-testid="max-train-rows" />
          </label>
        </FormSection>

        <FormSection
          title="Detector"
          head={
            <select value={detectorKind} onChange={(e) => setDetectorKind(e.target.value)} data-testid="detector-select">
              {(detectors ?? []).map((d) => (
                <option key={d.kind} value={d.kind}>
                  {d.label}
                </option>
              ))}
            </select>
          }
        >
          {detector && <DetectorParams detector={detector} params={detectorParams} onChange={(p) => setParams((all) => ({ ...all, [detector.kind]: p }))} />}
        </FormSection>

        <FormSection title="Threshold and run" grid>
          <div className="mx-field">
            <span>Alarm threshold</span>
            <Segmented<ThresholdSpec['kind']>
              value={thresholdKind}
              onChange={setThresholdKind}
              testId="threshold-kind"
              options={[
                { value: 'contamination', label: 'Contamination' },
                { value: 'fixed', label: 'Fixed score' },
                { value: 'best-f1', label: 'Best F1' },
              ]}
            />
          </div>
          {thresholdKind === 'contamination' && (
            <label className="mx-field">
              <span>Expected anomaly share</span>
              <input type="number" min={0.001} max={0.5} step={0.005} className="num-input" value={contamination} onChange={(e) => setContamination(Number(e.target.value))} data-testid="threshold-value" />
            </label>
          )}
          {thresholdKind === 'fixed' && (
            <label className="mx-field">
              <span>Score at or above</span>
              <input type="number" step="any" className="num-input" value={fixed} onChange={(e) => setFixed(Number(e.target.value))} data-testid="threshold-value" />
            </label>
          )}
          {thresholdKind === 'best-f1' && <div className="hint mx-field">Picked on the last 25% (by time) of each device's training rows; needs a label.</div>}
          <label className="mx-field">
            <span>Seed</span>
            <input className={`num-input${seedBad ? ' invalid' : ''}`} value={seed} placeholder="random" onChange={(e) => setSeed(e.target.value)} data-testid="model-seed" />
          </label>
          <label className="mx-field">
            <span>Experiment</span>
            <input value={experiment} onChange={(e) => setExperiment(e.target.value)} data-testid="model-experiment" list="mx-experiments" />
            <datalist id="mx-experiments">
              {experiments.map((x) => (
                <option key={x} value={x} />
              ))}
            </datalist>
          </label>
          <label className="mx-field">
            <span>Run name</span>
            <input value={runName} placeholder={`${detectorKind} on ${datasetName ?? ''}`} onChange={(e) => setRunName(e.target.value)} data-testid="model-run-name" />
          </label>
          <label className="mx-field">
            <span>Tags</span>
            <input value={tags} placeholder="baseline, v2" onChange={(e) => setTags(e.target.value)} data-testid="model-tags" />
          </label>
        </FormSection>

        <section className={`panel mx-section mx-actions${action ? ' open' : ''}`} data-testid="train-actions">
          <div className="row wrap">
            <button type="button" className="btn btn-primary" disabled={!canSubmit} onClick={() => void train()} data-testid="train-button">
              {busy ? 'Starting…' : 'Train'}
            </button>
            <span className="topbar-sep light" />
            {(
              [
                ['repeat', 'Repeat with N seeds'],
                ['sweep', 'Sweep…'],
                ['per-group', 'One model per…'],
              ] as const
            ).map(([k, text]) => (
              <button key={k} type="button" className={`btn${action === k ? ' btn-on' : ''}`} disabled={request === null || !recipeOk} onClick={() => setAction((a) => (a === k ? null : k))} data-testid={`action-${k}`}>
                {text}
              </button>
            ))}
            <span className="spacer" />
            {!recipeOk && recipe !== null && <span className="inline-error">Fix the recipe first.</span>}
            {paramErrors.length > 0 && <span className="inline-error">Fix the detector parameters first.</span>}
          </div>
          {trainError !== null && <ErrorBox title="Training did not start" error={trainError} testId="train-error" onDismiss={() => setTrainError(null)} />}
          {action && request && detector && dataset && <TrainActionPanel kind={action} base={request} detector={detector} dataset={dataset} onStarted={(id) => started(id, action === 'repeat' ? 'Repeats' : action === 'sweep' ? 'Sweep' : 'Per-group training')} />}
        </section>
      </div>
      <RecentRuns highlight={mine} />
    </div>
  );
}
