/**
 * SQL console (issue #4 item 6) over the whole workspace. Read-only unless the
 * analyst unlocks writing for one query (the checkbox resets after each run);
 * DuckDB's own error text is shown verbatim next to the query, LINE and caret
 * included; results land in the virtual table; a query exports to CSV or
 * Parquet; the history (kept by the engine) reloads any earlier query.
 */
import { useCallback, useEffect, useMemo, useRef, useState, type KeyboardEvent } from 'react';
import type { DatasetInfo } from '../../../../core/data/api.ts';
import type { SqlHistoryEntry, SqlResult } from '../../../../core/explore/api.ts';
import { WorkbenchError } from '../../../../core/api/errors.ts';
import { call } from '../../api/client.ts';
import { describeError, useToasts } from '../../components/Notices.tsx';
import type { Cell } from '../../components/use-paged-rows.ts';
import { VirtualTable, type VTColumn } from '../../components/VirtualTable.tsx';
import { formatCount, formatDuration, isNumericType } from '../../format.ts';
import { useStoredState } from './use-call.ts';

type SaveFile = (opts: { defaultName: string; filters: { name: string; extensions: string[] }[] }) => Promise<string | null>;

/** The desktop save dialog when the Electron preload offers it; browser mode types a path instead. */
function desktopSaveFile(): SaveFile | null {
  const desk = window.fleetlensDesktop as { saveFile?: unknown } | undefined;
  return typeof desk?.saveFile === 'function' ? (desk.saveFile as SaveFile) : null;
}

const isMac = typeof navigator !== 'undefined' && /Mac|iPhone|iPad/.test(navigator.platform);

/** Result columns sized from name, type and the first values (no text measuring). */
function sizeColumns(r: SqlResult): VTColumn[] {
  return r.columns.map((c, i) => {
    let longest = 0;
    const col = r.values[i] ?? [];
    for (let k = 0; k < Math.min(col.length, 200); k++) longest = Math.max(longest, col[k] === null ? 4 : String(col[k]).length);
    const width = Math.round(Math.min(360, Math.max(72, c.name.length * 7.4 + 22, c.type.length * 6 + 22, longest * 7 + 20)));
    return { name: c.name, sub: c.type, width, align: isNumericType(c.type) ? 'right' : 'left' };
  });
}

interface RunOutcome {
  sql: string;
  result: SqlResult | null;
  error: unknown;
  seq: number;
}

export function SqlTab({ dataset }: { dataset: DatasetInfo }) {
  const toasts = useToasts();
  const [sql, setSql] = useStoredState<string>('sql.draft', `SELECT *\nFROM ${dataset.name}\nLIMIT 100;`);
  const [unlock, setUnlock] = useState(false);
  const [running, setRunning] = useState(false);
  const [outcome, setOutcome] = useState<RunOutcome | null>(null);
  const [history, setHistory] = useState<SqlHistoryEntry[] | null>(null);
  const [historyError, setHistoryError] = useState<unknown>(null);
  const [format, setFormat] = useStoredState<'csv' | 'parquet'>('sql.exportFormat', 'csv');
  const [path, setPath] = useStoredState<string>('sql.exportPath', '');
  const [exporting, setExporting] = useState(false);
  const [exportError, setExportError] = useState<unknown>(null);
  const seq = useRef(0);
  const editor = useRef<HTMLTextAreaElement>(null);
  const saveFile = desktopSaveFile();

  const loadHistory = useCallback(async () => {
    try {
      setHistory(await call('sql.history', {}));
      setHistoryError(null);
    } catch (err) {
      setHistoryError(err);
    }
  }, []);
  useEffect(() => void loadHistory(), [loadHistory]);

  const run = async (): Promise<void> => {
    const text = sql.trim();
    if (!text || running) return;
    const mine = ++seq.current;
    const allowWrite = unlock;
    // Unlocking is for one query only: clear it as soon as it is spent.
    setUnlock(false);
    setRunning(true);
    try {
      const result = await call('sql.run', { sql: text, ...(allowWrite ? { allowWrite: true } : {}) });
      setOutcome({ sql: text, result, error: null, seq: mine });
    } catch (err) {
      setOutcome((o) => ({ sql: text, result: o?.result ?? null, error: err, seq: mine }));
    } finally {
      setRunning(false);
      void loadHistory();
    }
  };

  const onKeyDown = (e: KeyboardEvent<HTMLTextAreaElement>): void => {
    if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) {
      e.preventDefault();
      void run();
    }
  };

  const doExport = async (): Promise<void> => {
    const text = sql.trim();
    if (!text) return;
    let target = path.trim();
    if (saveFile) {
      const chosen = await saveFile({ defaultName: `query.${format}`, filters: [format === 'csv' ? { name: 'CSV', extensions: ['csv'] } : { name: 'Parquet', extensions: ['parquet'] }] });
      if (!chosen) return;
      target = chosen;
    }
    if (!target) {
      setExportError(new WorkbenchError('INVALID_ARGUMENT', 'type the path of the file to write (on the engine’s machine)'));
      return;
    }
    setExporting(true);
    setExportError(null);
    try {
      const r = await call('sql.export', { sql: text, path: target, format });
      toasts.notify('success', `Exported ${formatCount(r.rows)} rows`, r.path);
    } catch (err) {
      setExportError(err);
    } finally {
      setExporting(false);
    }
  };

  const result = outcome?.result ?? null;
  const columns = useMemo(() => (result ? sizeColumns(result) : []), [result]);
  const getCell = useCallback((r: number, c: number): Cell | undefined => result?.values[c]?.[r] ?? null, [result]);
  const noop = useCallback(() => undefined, []);
  const error = outcome?.error ?? null;

  return (
    <div className="ex-sql" data-testid="sql-tab">
      <section className="panel ex-sql-main">
        <div className="ex-sql-editor">
          <textarea
            ref={editor}
            className="mono ex-sql-text"
            spellCheck={false}
            value={sql}
            onChange={(e) => setSql(e.target.value)}
            onKeyDown={onKeyDown}
            rows={7}
            aria-label="SQL query"
            data-testid="sql-editor"
            placeholder={`SELECT * FROM ${dataset.name} LIMIT 100`}
          />
          <div className="ex-sql-actions">
            <button type="button" className="btn btn-primary" onClick={() => void run()} disabled={running || !sql.trim()} data-testid="sql-run">
              {running ? 'Running…' : 'Run'}
              <span className="ex-kbd">{isMac ? '⌘↵' : 'Ctrl+↵'}</span>
            </button>
            <label className={`ex-check${unlock ? ' ex-unlocked' : ''}`} title="Statements that change the workspace (INSERT, UPDATE, DELETE, CREATE, DROP, ALTER, COPY…) are refused unless unlocked. Applies to the next run only.">
              <input type="checkbox" checked={unlock} onChange={(e) => setUnlock(e.target.checked)} data-testid="sql-unlock" />
              Unlock writing for this query
            </label>
            <span className="spacer" />
            <span className="muted ex-sql-hint">all datasets are tables · read-only by default · up to 10,000 rows shown</span>
          </div>
          {error !== null && <SqlError error={error} />}
        </div>
        <div className="tab-toolbar ex-toolbar ex-sql-status" data-testid="sql-status">
          {result ? (
            <>
              <span>
                <b data-testid="sql-row-count">{formatCount(result.total)}</b> {result.total === 1 ? 'row' : 'rows'} · {formatDuration(result.elapsedMs)} · <span className="mono">{result.statementType}</span>
              </span>
              {result.truncated && (
                <span className="hint warn" data-testid="sql-truncated">
                  Showing the first {formatCount(result.total)} rows; export writes the full result.
                </span>
              )}
              {error !== null && <span className="muted">(result of the previous successful query)</span>}
            </>
          ) : (
            <span className="muted">{running ? 'Running…' : 'Run a query to see its result here.'}</span>
          )}
          <span className="spacer" />
          <div className="ex-export">
            <select value={format} onChange={(e) => setFormat(e.target.value as 'csv' | 'parquet')} aria-label="Export format" data-testid="sql-export-format">
              <option value="csv">CSV</option>
              <option value="parquet">Parquet</option>
            </select>
            {!saveFile && (
              <input
                className="mono ex-export-path"
                value={path}
                onChange={(e) => setPath(e.target.value)}
                placeholder={`/path/to/result.${format}`}
                aria-label="Export path"
                data-testid="sql-export-path"
              />
            )}
            <button type="button" className="btn btn-small" onClick={() => void doExport()} disabled={exporting || !sql.trim()} data-testid="sql-export">
              {exporting ? 'Exporting…' : saveFile ? 'Export…' : 'Export'}
            </button>
          </div>
        </div>
        {exportError !== null && (
          <div className="ex-sql-export-error">
            <SqlError error={exportError} title="Export failed" />
          </div>
        )}
        <div className="ex-table-wrap">
          {result ? (
            <VirtualTable
              key={outcome?.seq ?? 0}
              testId="sql-result"
              columns={columns}
              total={result.total}
              getCell={getCell}
              onRangeChange={noop}
              version={outcome?.seq ?? 0}
              rowNumbers
              emptyText="The query returned no rows."
            />
          ) : (
            <div className="ex-result-empty" data-testid="sql-result-empty">
              {running ? 'Running…' : `Write a query above and press Run (${isMac ? '⌘' : 'Ctrl'}+Enter). Every dataset is a table of that name, e.g. ${dataset.name}.`}
            </div>
          )}
        </div>
      </section>
      <aside className="panel ex-sql-history" data-testid="sql-history">
        <div className="panel-head">
          <h2>History</h2>
          <span className="muted">{history ? `${history.length} recent` : ''}</span>
          <span className="spacer" />
          <button type="button" className="btn btn-small" onClick={() => void loadHistory()}>
            Refresh
          </button>
        </div>
        {historyError !== null && <SqlError error={historyError} title="Could not load the history" />}
        <ol className="ex-history-list">
          {(history ?? []).map((h, i) => (
            <li key={`${h.at}-${i}`}>
              <button
                type="button"
                className={`ex-history-item${h.ok ? '' : ' failed'}`}
                title={h.error ?? 'Load into the editor'}
                data-testid="sql-history-item"
                onClick={() => {
                  setSql(h.sql);
                  editor.current?.focus();
                }}
              >
                <span className="mono ex-history-sql">{h.sql}</span>
                <span className="ex-history-meta">
                  <span className={h.ok ? 'ok' : 'bad'}>{h.ok ? '✓' : '✗'}</span> {h.at.slice(5, 19)}
                  {h.ok && h.rows !== null ? ` · ${formatCount(h.rows)} rows` : ''} · {formatDuration(h.elapsedMs)}
                </span>
              </button>
            </li>
          ))}
          {history && history.length === 0 && <li className="muted ex-history-empty">Queries you run appear here.</li>}
        </ol>
      </aside>
    </div>
  );
}

/** DuckDB's message as it wrote it: monospace, line breaks and the caret under LINE kept. */
function SqlError({ error, title }: { error: unknown; title?: string }) {
  const e = describeError(error);
  const write = e.code === 'WRITE_NOT_ALLOWED';
  return (
    <div className="error-box ex-sql-error" role="alert" data-testid="sql-error">
      <div className="error-box-head">
        <span className="error-box-title">{title ?? (write ? 'Refused: this query would modify the workspace' : 'Query failed')}</span>
        {e.code && (
          <span className="code-chip" data-testid="sql-error-code">
            {e.code}
          </span>
        )}
      </div>
      <pre className="ex-sql-error-text" data-testid="sql-error-message">
        {e.message}
      </pre>
      {write && <div className="hint">Tick “Unlock writing for this query” and run it again if you mean it.</div>}
    </div>
  );
}
