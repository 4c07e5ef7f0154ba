/**
 * The multi-run actions under the training form: repeat with N seeds, a grid or
 * random sweep over detector params and recipe knobs, and one model per group.
 * Each builds on the form's request and returns the parent run id at once.
 */
import { useMemo, useState } from 'react';
import type { DatasetInfo } from '../../../../core/data/api.ts';
import type { DetectorInfo, SweepRequest, SweepSpace, TrainRequest } from '../../../../core/models/api.ts';
import type { DetectorParamSpec, ParamValue } from '../../../../core/models/detector.ts';
import { call } from '../../api/client.ts';
import { ErrorBox } from '../../components/Notices.tsx';
import { LOWER_IS_BETTER, metricLabel } from './run-format.ts';

export type ActionKind = 'repeat' | 'sweep' | 'per-group';

/** Recipe knobs a sweep may vary (see core/experiments/orchestrate.ts applyRecipeKnobs). */
const RECIPE_KNOBS: DetectorParamSpec[] = [
  { name: 'recipe.window', type: 'int', default: 10, min: 1, max: 10000, help: 'Every rolling window of the recipe set to this many rows.' },
  { name: 'recipe.span', type: 'int', default: 10, min: 1, max: 1000000, help: 'Every EWM span of the recipe set to this value.' },
  { name: 'recipe.lag', type: 'int', default: 1, min: 1, max: 10000, help: 'The recipe lags replaced by this one lag.' },
];

const SWEEP_METRICS = ['roc_auc', 'pr_auc', 'f1', 'best_f1', 'precision', 'recall', 'false_alarm_rate', 'alert_rate', 'lead_time_mean'];

function parseValue(spec: DetectorParamSpec, text: string): ParamValue | string {
  const t = text.trim();
  if (spec.type === 'bool') {
    if (t === 'true' || t === 'false') return t === 'true';
    return `'${t}' is not true or false`;
  }
  if (spec.type === 'enum') return (spec.options ?? []).includes(t) ? t : `'${t}' is not one of ${(spec.options ?? []).join(', ')}`;
  const n = Number(t);
  if (t === '' || !Number.isFinite(n)) return `'${t}' is not a number`;
  if (spec.type === 'int' && !Number.isInteger(n)) return `'${t}' is not a whole number`;
  if (spec.min !== undefined && n < spec.min) return `${n} is below ${spec.min}`;
  if (spec.max !== undefined && n > spec.max) return `${n} is above ${spec.max}`;
  return n;
}

type Dim = { kind: 'list'; values: ParamValue[] } | { kind: 'range'; min: number; max: number };

/** One sweep dimension from its text: "a, b, c" (list) or "a..b" (range, random mode only). */
function parseDim(spec: DetectorParamSpec, text: string, mode: 'grid' | 'random'): Dim | string | null {
  const t = text.trim();
  if (!t) return null;
  const range = /^(-?[\d.e+-]+)\s*\.\.\s*(-?[\d.e+-]+)$/i.exec(t);
  if (range && (spec.type === 'int' || spec.type === 'float')) {
    if (mode === 'grid') return 'a grid needs a list of values such as "50, 100"; ranges are for random search';
    const lo = parseValue(spec, range[1]!);
    const hi = parseValue(spec, range[2]!);
    if (typeof lo !== 'number') return String(lo);
    if (typeof hi !== 'number') return String(hi);
    if (!(hi > lo)) return 'the range must go from low to high';
    return { kind: 'range', min: lo, max: hi };
  }
  const values: ParamValue[] = [];
  for (const item of t.split(',').map((s) => s.trim()).filter(Boolean)) {
    const v = parseValue(spec, item);
    if (typeof v === 'string' && spec.type !== 'enum') return v;
    if (spec.type === 'enum' && !(spec.options ?? []).includes(String(v))) return String(v);
    values.push(v);
  }
  return values.length ? { kind: 'list', values } : null;
}

function SweepPanel({ base, detector, onStarted }: { base: TrainRequest; detector: DetectorInfo; onStarted(id: string): void }) {
  const [mode, setMode] = useState<'grid' | 'random'>('grid');
  const [texts, setTexts] = useState<Record<string, string>>({});
  const [logs, setLogs] = useState<Record<string, boolean>>({});
  const [trials, setTrials] = useState(8);
  const [metric, setMetric] = useState(base.label === null ? 'alert_rate' : 'roc_auc');
  const [workers, setWorkers] = useState(2);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const specs = useMemo(() => [...detector.params, ...RECIPE_KNOBS], [detector]);

  const parsed = specs.map((s) => ({ spec: s, dim: parseDim(s, texts[s.name] ?? '', mode) }));
  const problems = parsed.filter((p) => typeof p.dim === 'string') as { spec: DetectorParamSpec; dim: string }[];
  const dims = parsed.filter((p): p is { spec: DetectorParamSpec; dim: Dim } => p.dim !== null && typeof p.dim !== 'string');
  const gridSize = dims.reduce((a, d) => a * (d.dim.kind === 'list' ? d.dim.values.length : 1), 1);
  const count = mode === 'grid' ? gridSize : trials;

  const start = async (): Promise<void> => {
    const space: SweepSpace = {};
    for (const { spec, dim } of dims) {
      space[spec.name] = dim.kind === 'list' ? dim.values : { min: dim.min, max: dim.max, int: spec.type === 'int', log: logs[spec.name] === true };
    }
    const req: SweepRequest = { base, mode, space, metric, maximize: !LOWER_IS_BETTER.has(metric), workers };
    if (mode === 'random') req.trials = trials;
    setBusy(true);
    setError(null);
    try {
      const { parentId } = await call('models.sweep', req);
      onStarted(parentId);
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };

  return (
    <div className="action-panel" data-testid="sweep-panel">
      <div className="row">
        <div className="segmented">
          {(['grid', 'random'] as const).map((m) => (
            <label key={m} className={mode === m ? 'on' : ''} data-testid={`sweep-mode-${m}`}>
              <input type="radio" checked={mode === m} onChange={() => setMode(m)} />
              {m === 'grid' ? 'Grid' : 'Random'}
            </label>
          ))}
        </div>
        <span className="hint">{mode === 'grid' ? 'Comma-separated values per parameter; every combination is one trial.' : 'Ranges "low..high" or value lists; trials are seeded draws.'}</span>
      </div>
      <div className="sweep-grid">
        {specs.map((s) => (
          <label key={s.name} className="mx-field" title={s.help}>
            <span className="mono">{s.name}</span>
            <div className="row">
              <input
                value={texts[s.name] ?? ''}
                placeholder={mode === 'grid' ? `e.g. ${String(s.default)}` : s.type === 'int' || s.type === 'float' ? `${s.min ?? 0}..${s.max ?? 1}` : (s.options ?? ['true', 'false']).join(', ')}
                data-testid={`sweep-${s.name}`}
                onChange={(e) => setTexts((t) => ({ ...t, [s.name]: e.target.value }))}
              />
              {mode === 'random' && (s.type === 'int' || s.type === 'float') && (
                <label className="check" title="Draw on a log scale">
                  <input type="checkbox" checked={logs[s.name] === true} onChange={(e) => setLogs((l) => ({ ...l, [s.name]: e.target.checked }))} />
                  log
                </label>
              )}
            </div>
          </label>
        ))}
      </div>
      {problems.map((p) => (
        <div key={p.spec.name} className="inline-error">
          {p.spec.name}: {p.dim}
        </div>
      ))}
      <div className="row wrap">
        {mode === 'random' && (
          <label className="mx-inline">
            Trials
            <input type="number" min={1} max={500} className="num-input" value={trials} onChange={(e) => setTrials(Math.max(1, Math.floor(Number(e.target.value) || 1)))} data-testid="sweep-trials" />
          </label>
        )}
        <label className="mx-inline">
          Optimize
          <select value={metric} onChange={(e) => setMetric(e.target.value)} data-testid="sweep-metric">
            {SWEEP_METRICS.map((m) => (
              <option key={m} value={m}>
                {metricLabel(m)} ({LOWER_IS_BETTER.has(m) ? 'lower' : 'higher'} is better)
              </option>
            ))}
          </select>
        </label>
        <label className="mx-inline">
          Workers
          <input type="number" min={1} max={16} className="num-input" value={workers} onChange={(e) => setWorkers(Math.max(1, Math.floor(Number(e.target.value) || 1)))} data-testid="sweep-workers" />
        </label>
        <span className="spacer" />
        <span className="hint" data-testid="sweep-count">
          {dims.length === 0 ? 'Fill at least one parameter' : `${mode === 'grid' ? dims.map((d) => (d.dim.kind === 'list' ? d.dim.values.length : 1)).join(' × ') + ' = ' : ''}${count} trials`}
        </span>
        <button type="button" className="btn btn-primary" disabled={busy || dims.length === 0 || problems.length > 0 || count > 500} onClick={() => void start()} data-testid="sweep-start">
          {busy ? 'Starting…' : `Start sweep (${count})`}
        </button>
      </div>
      {error !== null && <ErrorBox title="The sweep did not start" error={error} testId="sweep-error" />}
    </div>
  );
}

function RepeatPanel({ base, onStarted }: { base: TrainRequest; onStarted(id: string): void }) {
  const [n, setN] = useState(3);
  const [varyData, setVaryData] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  // Without a seed on the form, start from a random one drawn once, so the listed seeds are the ones run.
  const [randomFirst] = useState(() => Math.floor(Math.random() * 1_000_000));
  const first = base.seed ?? randomFirst;
  const seeds = Array.from({ length: n }, (_, i) => first + i);
  return (
    <div className="action-panel" data-testid="repeat-panel">
      <div className="row wrap">
        <label className="mx-inline">
          Seeds
          <input type="number" min={2} max={100} className="num-input" value={n} onChange={(e) => setN(Math.min(100, Math.max(2, Math.floor(Number(e.target.value) || 2))))} data-testid="repeat-n" />
        </label>
        <span className="hint">
          Same configuration with seeds {seeds.slice(0, 5).join(', ')}
          {n > 5 ? ', …' : ''}
          {varyData ? ', each drawing its own training sample (and held-out devices, with a device split)' : ', all trained and tested on the same rows (only the model’s randomness varies)'}; the parent shows each metric as mean ± std.
        </span>
        <label className="mx-inline" title="Off: one data preparation serves every seed and the test rows are the same, so scores align. On: each seed also draws its own split and training sample.">
          <input type="checkbox" checked={varyData} onChange={(e) => setVaryData(e.target.checked)} data-testid="repeat-vary-data" />
          Vary the data too
        </label>
        <span className="spacer" />
        <button
          type="button"
          className="btn btn-primary"
          disabled={busy}
          data-testid="repeat-start"
          onClick={() => {
            setBusy(true);
            setError(null);
            call('models.repeat', { base, seeds, varyData })
              .then(({ parentId }) => onStarted(parentId), setError)
              .finally(() => setBusy(false));
          }}
        >
          {busy ? 'Starting…' : `Repeat ×${n}`}
        </button>
      </div>
      {error !== null && <ErrorBox title="The repeats did not start" error={error} testId="repeat-error" />}
    </div>
  );
}

function PerGroupPanel({ base, dataset, onStarted }: { base: TrainRequest; dataset: DatasetInfo; onStarted(id: string): void }) {
  const candidates = dataset.columns.filter((c) => c.role !== 'time' && c.role !== 'label' && c.role !== 'sensor' && !/^(DOUBLE|FLOAT|REAL|DECIMAL.*|TIMESTAMP.*|DATE)$/i.test(c.type));
  const [column, setColumn] = useState(candidates.find((c) => c.role === 'categorical')?.name ?? candidates[0]?.name ?? '');
  const [minRows, setMinRows] = useState(500);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  return (
    <div className="action-panel" data-testid="pergroup-panel">
      <div className="row wrap">
        <label className="mx-inline">
          One model per
          <select value={column} onChange={(e) => setColumn(e.target.value)} data-testid="pergroup-column">
            {candidates.map((c) => (
              <option key={c.name} value={c.name}>
                {c.name} ({c.role})
              </option>
            ))}
          </select>
        </label>
        <label className="mx-inline">
          Min rows
          <input type="number" min={1} className="num-input" value={minRows} onChange={(e) => setMinRows(Math.max(1, Math.floor(Number(e.target.value) || 1)))} data-testid="pergroup-minrows" />
        </label>
        <span className="hint">Smaller or unseen groups use a global fallback model.</span>
        <span className="spacer" />
        <button
          type="button"
          className="btn btn-primary"
          disabled={busy || !column}
          data-testid="pergroup-start"
          onClick={() => {
            setBusy(true);
            setError(null);
            call('models.trainPerGroup', { ...base, groupColumn: column, minRows })
              .then(({ parentId }) => onStarted(parentId), setError)
              .finally(() => setBusy(false));
          }}
        >
          {busy ? 'Starting…' : 'Train per group'}
        </button>
      </div>
      {error !== null && <ErrorBox title="Per-group training did not start" error={error} testId="pergroup-error" />}
    </div>
  );
}

export function TrainActionPanel({ kind, base, detector, dataset, onStarted }: { kind: ActionKind; base: TrainRequest; detector: DetectorInfo; dataset: DatasetInfo; onStarted(id: string): void }) {
  if (kind === 'repeat') return <RepeatPanel base={base} onStarted={onStarted} />;
  if (kind === 'sweep') return <SweepPanel key={detector.kind} base={base} detector={detector} onStarted={onStarted} />;
  return <PerGroupPanel base={base} dataset={dataset} onStarted={onStarted} />;
}
