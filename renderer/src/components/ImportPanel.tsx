/**
 * Import form (issue #3 item 6): files (native dialog in Electron, typed paths
 * or globs in browser mode), dataset name, mode and advanced text options;
 * a live progress bar with Cancel; then a summary or the specific error. The
 * form keeps its values on error so the user fixes one field and retries.
 */
import { useCallback, useEffect, useMemo, useRef, useState, type FormEvent } from 'react';
import type { DatasetInfo, FileFormat, ImportProgress, ImportRequest, ImportResult } from '../../../core/data/api.ts';
import { WorkbenchError } from '../../../core/api/errors.ts';
import { call, desktopFilePicker, on, onDesktopMenu } from '../api/client.ts';
import { formatBytes, formatCount, formatDuration } from '../format.ts';
import { navigate, routeHash } from '../route.ts';
import { ErrorBox } from './Notices.tsx';

type Mode = NonNullable<ImportRequest['mode']>;
type HeaderChoice = 'auto' | 'yes' | 'no';

const RESERVED = new Set(['fleetlens', 'main', 'select', 'table', 'from', 'where', 'order', 'group']);
const DATA_EXT = /\.(csv|tsv|txt|dat|parquet|pq|json|ndjson|jsonl|gz|zst|bz2)$/i;

/** Paths from the field: one per line or comma-separated, blanks dropped. */
export function parsePaths(text: string): string[] {
  return text
    .split(/[\n,]/)
    .map((s) => s.trim())
    .filter(Boolean);
}

/**
 * A dataset name from a file path: base name without data extensions, made a
 * plain SQL identifier (the engine's rule), e.g. "fleet-small.csv" → "fleet_small".
 * A pure glob ("/data/*.csv") takes its folder's name.
 */
export function datasetNameFromPath(path: string): string {
  const parts = path.split(/[\\/]/).filter(Boolean);
  let base = parts[parts.length - 1] ?? '';
  while (DATA_EXT.test(base)) base = base.replace(DATA_EXT, '');
  let name = base.replace(/[*?[\]{}]/g, '').replace(/[^A-Za-z0-9_]+/g, '_').replace(/_+/g, '_').replace(/^_|_$/g, '').toLowerCase();
  if (!name && parts.length > 1) return datasetNameFromPath(parts.slice(0, -1).join('/'));
  if (!name) name = 'dataset';
  if (/^[0-9]/.test(name)) name = `d_${name}`;
  name = name.slice(0, 63);
  if (RESERVED.has(name) || name.startsWith('__fl_')) name = `${name.replace(/^_+/, '')}_data`;
  return name;
}

function newJobId(): string {
  const c = globalThis.crypto;
  return `ui-${typeof c?.randomUUID === 'function' ? c.randomUUID() : `${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}`}`;
}

/** "\t" and "tab" are how people type a tab into a one-line field. */
function normalizeDelimiter(d: string): string | undefined {
  if (d === '') return undefined;
  if (d === '\\t' || d.toLowerCase() === 'tab') return '\t';
  return d;
}

/** Engine messages are lower-case clauses; shown alone they read better as a sentence. */
function sentence(msg: string): string {
  const s = msg.charAt(0).toUpperCase() + msg.slice(1);
  return /[.!?]$/.test(s) ? s : `${s}.`;
}

type Outcome = { kind: 'done'; result: ImportResult } | { kind: 'cancelled'; message: string } | { kind: 'error'; error: unknown };

interface RunningJob {
  id: string;
  dataset: string;
  started: number;
  progress: ImportProgress | null;
  cancelling: boolean;
}

export interface ImportPanelProps {
  datasets: DatasetInfo[] | null;
  /** A dataset was created or changed by an import from this form. */
  onImported(info: DatasetInfo): void;
  /** An import from this form got its job id (so the page does not list it as a background import). */
  onJob(jobId: string): void;
}

export function ImportPanel({ datasets, onImported, onJob }: ImportPanelProps) {
  const picker = useMemo(() => desktopFilePicker(), []);
  const [pathsText, setPathsText] = useState('');
  const [name, setName] = useState('');
  // A ref, not state: it only steers setPaths and is never rendered.
  const nameTouched = useRef(false);
  const [mode, setMode] = useState<Mode>('create');
  const [format, setFormat] = useState<FileFormat>('auto');
  const [header, setHeader] = useState<HeaderChoice>('auto');
  const [delimiter, setDelimiter] = useState('');
  const [columnNames, setColumnNames] = useState('');
  const [advanced, setAdvanced] = useState(false);
  const [job, setJob] = useState<RunningJob | null>(null);
  const [outcome, setOutcome] = useState<Outcome | null>(null);
  const [now, setNow] = useState(Date.now());
  const jobRef = useRef<string | null>(null);

  const paths = parsePaths(pathsText);
  const existing = new Set((datasets ?? []).map((d) => d.name));

  const setPaths = useCallback((text: string): void => {
    setPathsText(text);
    // The name follows the first file until the user types their own.
    const first = parsePaths(text)[0];
    if (!nameTouched.current) setName(first ? datasetNameFromPath(first) : '');
  }, []);

  const choose = useCallback(async () => {
    if (!picker) return;
    const files = await picker();
    if (files.length) setPaths(files.join('\n'));
  }, [picker, setPaths]);

  // Progress events of every import arrive here; only ours updates the bar.
  useEffect(
    () =>
      on('datasets.importProgress', (p) => {
        if (p.jobId === jobRef.current) setJob((j) => (j && j.id === p.jobId ? { ...j, progress: p } : j));
      }),
    [],
  );

  useEffect(() => onDesktopMenu((action) => action === 'addFiles' && void choose()), [choose]);

  // Tick the elapsed time while an import runs.
  useEffect(() => {
    if (!job) return;
    const t = window.setInterval(() => setNow(Date.now()), 500);
    return () => window.clearInterval(t);
  }, [job]);

  const submit = async (e: FormEvent): Promise<void> => {
    e.preventDefault();
    if (job || paths.length === 0 || !name.trim()) return;
    const id = newJobId();
    jobRef.current = id;
    onJob(id);
    const dataset = name.trim();
    setJob({ id, dataset, started: Date.now(), progress: null, cancelling: false });
    setNow(Date.now());
    setOutcome(null);
    const cols = columnNames
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean);
    const req: ImportRequest = {
      jobId: id,
      dataset,
      files: paths,
      mode,
      format,
      ...(header === 'auto' ? {} : { header: header === 'yes' }),
      ...(normalizeDelimiter(delimiter) === undefined ? {} : { delimiter: normalizeDelimiter(delimiter) }),
      ...(cols.length ? { columns: cols } : {}),
    };
    try {
      const result = await call('datasets.import', req);
      setOutcome({ kind: 'done', result });
      // Done with these files: clear them so the form is ready for the next import (the summary stays).
      nameTouched.current = false;
      setPathsText('');
      setName('');
      onImported(result.dataset);
    } catch (err) {
      if (err instanceof WorkbenchError && err.code === 'CANCELLED') setOutcome({ kind: 'cancelled', message: err.message });
      else setOutcome({ kind: 'error', error: err });
    } finally {
      jobRef.current = null;
      setJob(null);
    }
  };

  const cancel = async (): Promise<void> => {
    if (!job) return;
    const id = job.id;
    setJob({ ...job, cancelling: true });
    try {
      // The engine registers the job only after checking the files, so a very early
      // cancel finds nothing to cancel: ask again while our import is still running.
      for (let attempt = 0; attempt < 40 && jobRef.current === id; attempt++) {
        if (await call('datasets.cancelImport', { jobId: id })) return;
        await new Promise((r) => window.setTimeout(r, 250));
      }
    } catch (err) {
      setOutcome({ kind: 'error', error: err });
    }
  };

  const busy = job !== null;
  const nameClash = mode === 'create' && existing.has(name.trim());
  const missingTarget = mode === 'append' && name.trim() !== '' && datasets !== null && !existing.has(name.trim());

  return (
    <section className="panel import-panel" data-testid="import-panel">
      <div className="panel-head">
        <h2>Import files</h2>
        <span className="muted">CSV · Parquet · JSON · whitespace text</span>
      </div>
      <form className="import-form" onSubmit={(e) => void submit(e)} data-testid="import-form">
        <div className="field">
          <label htmlFor="import-paths">Files</label>
          <div className="field-stack">
            {picker && (
              <div className="row">
                <button type="button" className="btn" onClick={() => void choose()} disabled={busy} data-testid="choose-files">
                  Choose files…
                </button>
                <span className="muted">{paths.length ? `${paths.length} selected` : 'or type paths below'}</span>
              </div>
            )}
            <textarea
              id="import-paths"
              className="mono"
              rows={2}
              spellCheck={false}
              placeholder={'/data/fleet.csv\n/data/2026-*.parquet'}
              title="Paths on the engine's machine, one per line or comma-separated; globs like *.parquet work"
              value={pathsText}
              disabled={busy}
              onChange={(e) => setPaths(e.target.value)}
              data-testid="import-paths"
            />
          </div>
        </div>
        <div className="field">
          <label htmlFor="import-name">Dataset</label>
          <div className="field-stack">
            <div className="row">
              <input
                id="import-name"
                className="mono grow"
                value={name}
                list="import-dataset-names"
                spellCheck={false}
                disabled={busy}
                placeholder="dataset_name"
                onChange={(e) => {
                  setName(e.target.value);
                  nameTouched.current = e.target.value !== '';
                }}
                data-testid="import-name"
              />
              <datalist id="import-dataset-names">
                {(datasets ?? []).map((d) => (
                  <option key={d.name} value={d.name} />
                ))}
              </datalist>
              <div className="segmented" role="radiogroup" aria-label="Import mode">
                {(['create', 'append', 'replace'] as const).map((m) => (
                  <label key={m} className={mode === m ? 'on' : undefined} title={MODE_HELP[m]}>
                    <input type="radio" name="import-mode" value={m} checked={mode === m} disabled={busy} onChange={() => setMode(m)} data-testid={`mode-${m}`} />
                    {m}
                  </label>
                ))}
              </div>
            </div>
            {nameClash && <span className="hint warn">{name.trim()} exists: choose append or replace, or another name.</span>}
            {missingTarget && <span className="hint warn">{name.trim()} does not exist yet: nothing to append to.</span>}
          </div>
        </div>
        <details className="advanced" open={advanced} onToggle={(e) => setAdvanced(e.currentTarget.open)}>
          <summary data-testid="import-advanced">Advanced</summary>
          <div className="advanced-grid">
            <label>
              Format
              <select value={format} disabled={busy} onChange={(e) => setFormat(e.target.value as FileFormat)} data-testid="import-format">
                <option value="auto">auto</option>
                <option value="csv">csv</option>
                <option value="whitespace">whitespace</option>
                <option value="parquet">parquet</option>
                <option value="json">json</option>
              </select>
            </label>
            <label>
              Header
              <select value={header} disabled={busy} onChange={(e) => setHeader(e.target.value as HeaderChoice)} data-testid="import-header">
                <option value="auto">auto</option>
                <option value="yes">yes</option>
                <option value="no">no</option>
              </select>
            </label>
            <label>
              Delimiter
              <input value={delimiter} disabled={busy} maxLength={3} placeholder="auto" className="mono" onChange={(e) => setDelimiter(e.target.value)} data-testid="import-delimiter" />
            </label>
            <label className="span-all">
              Column names <span className="muted">(headerless files, e.g. C-MAPSS)</span>
              <input
                value={columnNames}
                disabled={busy}
                spellCheck={false}
                className="mono"
                placeholder="unit, cycle, setting1, …"
                onChange={(e) => setColumnNames(e.target.value)}
                data-testid="import-columns"
              />
            </label>
          </div>
        </details>
        <div className="form-actions">
          <button type="submit" className="btn btn-primary" disabled={busy || paths.length === 0 || !name.trim()} data-testid="import-submit">
            Import
          </button>
          <span className="hint">{paths.length > 1 ? `${paths.length} paths · ` : ''}paths on the engine's machine · globs work</span>
        </div>
      </form>
      <div className="import-status">
        {job && <ProgressView job={job} now={now} onCancel={() => void cancel()} />}
        {!job && outcome?.kind === 'done' && <ImportSummary result={outcome.result} onDismiss={() => setOutcome(null)} />}
        {!job && outcome?.kind === 'cancelled' && (
          <div className="notice" data-testid="import-cancelled">
            <b>Cancelled.</b> {sentence(outcome.message)}
          </div>
        )}
        {!job && outcome?.kind === 'error' && <ErrorBox title="Import failed" error={outcome.error} onDismiss={() => setOutcome(null)} testId="import-error" />}
      </div>
    </section>
  );
}

const MODE_HELP: Record<Mode, string> = {
  create: 'New dataset; fails if the name exists',
  append: 'Add rows to an existing dataset (columns matched by name)',
  replace: 'Swap the dataset for these files, atomically',
};

function ProgressView({ job, now, onCancel }: { job: RunningJob; now: number; onCancel(): void }) {
  const p = job.progress;
  const pct = p ? Math.round(p.fraction * 1000) / 10 : 0;
  let detail = 'Checking files…';
  if (p) {
    detail =
      p.phase === 'finishing'
        ? 'Finishing: writing the catalog and committing'
        : `${formatBytes(p.bytesDone)} of ${formatBytes(p.bytesTotal)}${p.files > 1 ? ` · file ${p.file + 1} of ${p.files}` : ''}${p.rowsDone > 0 ? ` · ${formatCount(p.rowsDone)} rows stored` : ''}`;
  }
  return (
    <div className="progress-box" data-testid="import-progress">
      <div className="row">
        <span>
          Importing into <b className="mono">{job.dataset}</b>
        </span>
        <span className="spacer" />
        <span className="muted">{Math.floor((now - job.started) / 1000)} s</span>
      </div>
      <div
        className={`progress${p ? '' : ' indeterminate'}`}
        role="progressbar"
        aria-valuemin={0}
        aria-valuemax={100}
        aria-valuenow={p ? pct : undefined}
        data-testid="import-progress-bar"
        data-fraction={p ? p.fraction : undefined}
      >
        {/* Keyed so the bar does not animate from the indeterminate stripe's width. */}
        <span key={p ? 'determinate' : 'indeterminate'} style={{ width: p ? `${pct}%` : undefined }} />
      </div>
      <div className="row">
        <span className="muted" data-testid="import-progress-text">
          {p ? `${pct.toFixed(1)}% · ` : ''}
          {detail}
        </span>
        <span className="spacer" />
        <button type="button" className="btn btn-small" onClick={onCancel} disabled={job.cancelling} data-testid="import-cancel">
          {job.cancelling ? 'Cancelling…' : 'Cancel'}
        </button>
      </div>
    </div>
  );
}

function ImportSummary({ result, onDismiss }: { result: ImportResult; onDismiss(): void }) {
  const d = result.dataset;
  return (
    <div className="success-box" data-testid="import-summary">
      <div className="row">
        <b>Imported {formatCount(result.rowsAdded)} rows</b>
        <span>
          into <span className="mono">{d.name}</span> in {formatDuration(result.elapsedMs)}
        </span>
        <span className="spacer" />
        <button type="button" className="icon-button" aria-label="Dismiss" onClick={onDismiss}>
          ×
        </button>
      </div>
      <div className="row">
        <span className="muted" title={d.sources.map((s) => s.path).join('\n')}>
          {formatCount(d.rowCount)} rows total · {d.columns.length} columns · {d.sources.length} source{d.sources.length === 1 ? '' : 's'} ·
        </span>
        {result.rejected > 0 ? (
          <a
            className="warn-link"
            href={routeHash('data', d.name, 'rejects')}
            onClick={(e) => {
              e.preventDefault();
              navigate(routeHash('data', d.name, 'rejects'));
            }}
            data-testid="import-rejects-link"
          >
            {formatCount(result.rejected)} rejected {result.rejected === 1 ? 'row' : 'rows'}: see Rejects
          </a>
        ) : (
          <span className="muted" data-testid="import-no-rejects">
            no rejected rows
          </span>
        )}
      </div>
    </div>
  );
}
