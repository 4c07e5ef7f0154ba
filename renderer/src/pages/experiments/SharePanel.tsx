/**
 * Reports and sharing (issue #6): export an experiment (or the selected runs) as
 * a self-contained HTML or PDF report, and move runs between workspaces as
 * archives. Browser mode types a path (the engine writes the file); the desktop
 * app offers its save dialog when the preload provides `saveFile`.
 */
import { useEffect, useState } from 'react';
import { call } from '../../api/client.ts';
import { ErrorBox } from '../../components/Notices.tsx';
import { formatBytes } from '../../format.ts';

/** The desktop save dialog, when this build's preload has one (it is not declared in desktop.d.ts yet). */
type SaveFile = (opts: { defaultPath?: string; filters?: { name: string; extensions: string[] }[] }) => Promise<string | null>;

function desktopSaveFile(): SaveFile | null {
  const desk = window.fleetlensDesktop as { saveFile?: unknown } | undefined;
  return typeof desk?.saveFile === 'function' ? (desk.saveFile as SaveFile) : null;
}

function slug(s: string): string {
  return s.replace(/[^A-Za-z0-9._-]+/g, '-').replace(/^-+|-+$/g, '') || 'experiment';
}

/** The folder holding the workspace file, for default output paths. */
function useWorkspaceDir(): string {
  const [dir, setDir] = useState('');
  useEffect(() => {
    call('app.info', {}).then(
      (info) => setDir(info.workspace.replace(/[\\/][^\\/]*$/, '')),
      () => undefined,
    );
  }, []);
  return dir;
}

function PathField({ value, onChange, ext, testId }: { value: string; onChange(v: string): void; ext: string; testId: string }) {
  const save = desktopSaveFile();
  return (
    <span className="row grow">
      <input className="grow mono" value={value} onChange={(e) => onChange(e.target.value)} placeholder={`/path/to/file.${ext}`} data-testid={testId} />
      {save && (
        <button
          type="button"
          className="btn"
          onClick={() => {
            void save({ defaultPath: value, filters: [{ name: ext.toUpperCase(), extensions: [ext] }] }).then((p) => p && onChange(p));
          }}
        >
          Choose…
        </button>
      )}
    </span>
  );
}

export function SharePanel({ experiment, selectedIds, topLevelIds, onImported }: { experiment: string; selectedIds: string[]; topLevelIds: string[]; onImported(experiment: string | null): void }) {
  const dir = useWorkspaceDir();
  const [format, setFormat] = useState<'html' | 'pdf'>('html');
  const [scope, setScope] = useState<'experiment' | 'selected'>('experiment');
  const [reportPath, setReportPath] = useState('');
  const [reportBusy, setReportBusy] = useState(false);
  const [reportResult, setReportResult] = useState<{ path: string; bytes: number; runs: number } | null>(null);
  const [reportError, setReportError] = useState<unknown>(null);

  const [archivePath, setArchivePath] = useState('');
  const [archiveBusy, setArchiveBusy] = useState(false);
  const [archiveResult, setArchiveResult] = useState<string | null>(null);
  const [archiveError, setArchiveError] = useState<unknown>(null);
  const [importPath, setImportPath] = useState('');
  const [importInto, setImportInto] = useState('');

  useEffect(() => {
    if (!dir) return;
    const base = `${dir}/reports/${slug(experiment)}`;
    setReportPath((p) => (p && !p.startsWith(`${dir}/reports/`) ? p : `${base}.${format}`));
    setArchivePath((p) => p || `${dir}/archives/${slug(experiment)}.fleetlens-runs.gz`);
  }, [dir, experiment, format]);

  const hasSelection = selectedIds.length > 0;

  const exportReport = async (): Promise<void> => {
    setReportBusy(true);
    setReportError(null);
    setReportResult(null);
    try {
      const req = scope === 'selected' && hasSelection ? { experiment, runIds: selectedIds, path: reportPath, format } : { experiment, path: reportPath, format };
      setReportResult(await call('reports.export', req));
    } catch (err) {
      setReportError(err);
    } finally {
      setReportBusy(false);
    }
  };

  const exportArchive = async (): Promise<void> => {
    setArchiveBusy(true);
    setArchiveError(null);
    setArchiveResult(null);
    try {
      const ids = hasSelection ? selectedIds : topLevelIds;
      const r = await call('runs.exportArchive', { runIds: ids, path: archivePath });
      setArchiveResult(`Wrote ${r.runs} runs (${formatBytes(r.bytes)}) to ${r.path}`);
    } catch (err) {
      setArchiveError(err);
    } finally {
      setArchiveBusy(false);
    }
  };

  const importArchive = async (): Promise<void> => {
    setArchiveBusy(true);
    setArchiveError(null);
    setArchiveResult(null);
    try {
      const r = await call('runs.importArchive', importInto.trim() ? { path: importPath, experiment: importInto.trim() } : { path: importPath });
      const renamed = r.imported.filter((x) => x.from !== x.to).length;
      setArchiveResult(`Imported ${r.imported.length} runs${renamed ? ` (${renamed} got new ids: theirs were taken here)` : ''}.`);
      onImported(importInto.trim() || null);
    } catch (err) {
      setArchiveError(err);
    } finally {
      setArchiveBusy(false);
    }
  };

  return (
    <div className="share" data-testid="share-panel">
      <section className="panel">
        <div className="panel-head">
          <h2>Export report</h2>
          <span className="hint">one self-contained file with every chart; opens offline</span>
        </div>
        <div className="mx-body share-form">
          <div className="row wrap">
            <div className="segmented">
              {(['html', 'pdf'] as const).map((f) => (
                <label key={f} className={format === f ? 'on' : ''} data-testid={`report-format-${f}`}>
                  <input type="radio" checked={format === f} onChange={() => setFormat(f)} />
                  {f.toUpperCase()}
                </label>
              ))}
            </div>
            <div className="segmented">
              <label className={scope === 'experiment' ? 'on' : ''}>
                <input type="radio" checked={scope === 'experiment'} onChange={() => setScope('experiment')} />
                whole experiment
              </label>
              <label className={scope === 'selected' ? 'on' : ''} title={hasSelection ? '' : 'Select runs in the Runs tab first'}>
                <input type="radio" checked={scope === 'selected'} disabled={!hasSelection} onChange={() => setScope('selected')} />
                selected runs ({selectedIds.length})
              </label>
            </div>
          </div>
          <div className="row">
            <span className="muted">Save to</span>
            <PathField value={reportPath} onChange={setReportPath} ext={format} testId="report-path" />
            <button type="button" className="btn btn-primary" disabled={reportBusy || !reportPath.trim()} onClick={() => void exportReport()} data-testid="report-export">
              {reportBusy ? 'Exporting…' : `Export ${format.toUpperCase()}`}
            </button>
          </div>
          {format === 'pdf' && <div className="hint">PDF is printed from the same HTML with a headless Chromium on the engine's machine.</div>}
          {reportResult && (
            <div className="success-box" data-testid="report-result">
              <b>Report written</b>
              <span className="mono" data-testid="report-result-path">
                {reportResult.path}
              </span>
              <span className="hint">
                {reportResult.runs} runs · {formatBytes(reportResult.bytes)}
              </span>
            </div>
          )}
          {reportError !== null && <ErrorBox title="The report was not written" error={reportError} testId="report-error" />}
        </div>
      </section>
      <section className="panel">
        <div className="panel-head">
          <h2>Share runs as an archive</h2>
          <span className="hint">runs with their children, artifacts and scores, for another workspace</span>
        </div>
        <div className="mx-body share-form">
          <div className="row">
            <span className="muted">Export</span>
            <span className="hint">{hasSelection ? `${selectedIds.length} selected runs` : `all ${topLevelIds.length} top-level runs`} to</span>
            <PathField value={archivePath} onChange={setArchivePath} ext="gz" testId="archive-path" />
            <button type="button" className="btn" disabled={archiveBusy || !archivePath.trim() || (!hasSelection && topLevelIds.length === 0)} onClick={() => void exportArchive()} data-testid="archive-export">
              Export archive
            </button>
          </div>
          <div className="row">
            <span className="muted">Import</span>
            <input className="grow mono" value={importPath} onChange={(e) => setImportPath(e.target.value)} placeholder="/path/to/runs.fleetlens-runs.gz" data-testid="archive-import-path" />
            <input value={importInto} onChange={(e) => setImportInto(e.target.value)} placeholder="into experiment (default: keep theirs)" className="import-into" />
            <button type="button" className="btn" disabled={archiveBusy || !importPath.trim()} onClick={() => void importArchive()} data-testid="archive-import">
              Import archive
            </button>
          </div>
          {archiveResult && (
            <div className="success-box" data-testid="archive-result">
              {archiveResult}
            </div>
          )}
          {archiveError !== null && <ErrorBox title="Archive operation failed" error={archiveError} testId="archive-error" />}
        </div>
      </section>
    </div>
  );
}
