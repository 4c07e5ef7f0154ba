/** One dataset: summary line, delete, and the Schema & roles / Preview / Rejects / Sources tabs. */
import { useState } from 'react';
import type { DatasetInfo } from '../../../core/data/api.ts';
import { call } from '../api/client.ts';
import { formatCount, formatDateTime } from '../format.ts';
import { navigate, routeHash } from '../route.ts';
import { ConfirmDialog } from './ConfirmDialog.tsx';
import { useToasts } from './Notices.tsx';
import { PreviewTab } from './PreviewTab.tsx';
import { RejectsTab } from './RejectsTab.tsx';
import { SchemaTab } from './SchemaTab.tsx';
import { SourcesTab } from './SourcesTab.tsx';

/** The details tabs; the route's third segment (`#/data/<name>/<tab>`). */
export type DetailTab = 'schema' | 'preview' | 'rejects' | 'sources';
export const DETAIL_TABS: readonly DetailTab[] = ['schema', 'preview', 'rejects', 'sources'];

/** A time-span end: timestamps as DuckDB prints them, cycles as numbers. */
function spanText(v: string | number): string {
  return typeof v === 'number' ? formatCount(v) : v.replace(/\.\d+$/, '');
}

export interface DatasetDetailsProps {
  dataset: DatasetInfo;
  tab: DetailTab;
  /** The engine returned a new description of this dataset (e.g. after a role edit). */
  onChanged(info: DatasetInfo): void;
  /** The dataset was deleted. */
  onDeleted(name: string): void;
}

export function DatasetDetails({ dataset, tab, onChanged, onDeleted }: DatasetDetailsProps) {
  const toasts = useToasts();
  const [confirming, setConfirming] = useState(false);
  const [deleting, setDeleting] = useState(false);
  const [deleteError, setDeleteError] = useState<unknown>(null);
  const d = dataset;

  const doDelete = async (): Promise<void> => {
    setDeleting(true);
    setDeleteError(null);
    try {
      await call('datasets.delete', { name: d.name });
      setConfirming(false);
      onDeleted(d.name);
      toasts.notify('success', 'Dataset deleted', `${d.name} and its rejects were removed from the workspace`);
    } catch (err) {
      setDeleteError(err);
    } finally {
      setDeleting(false);
    }
  };

  const tabLabel: Record<DetailTab, string> = { schema: 'Schema & roles', preview: 'Preview', rejects: 'Rejects', sources: 'Sources' };
  const badge: Partial<Record<DetailTab, number>> = { rejects: d.rejectCount, sources: d.sources.length };

  return (
    <section className="panel details" data-testid="dataset-details" data-name={d.name}>
      <div className="details-head">
        <div className="details-title">
          <h2 className="mono" data-testid="details-name">
            {d.name}
          </h2>
          <span className="details-meta" data-testid="details-meta">
            <span>
              <b>{formatCount(d.rowCount)}</b> rows
            </span>
            <span>
              <b>{d.columns.length}</b> columns
            </span>
            {d.timeSpan && (
              <span title="Range of the time column">
                {spanText(d.timeSpan.min)} → {spanText(d.timeSpan.max)}
              </span>
            )}
            <span className="muted" title={d.createdAt}>
              created {formatDateTime(d.createdAt)}
            </span>
          </span>
        </div>
        <button type="button" className="btn btn-danger-outline" onClick={() => {
            setDeleteError(null);
            setConfirming(true);
          }} data-testid="delete-dataset">
          Delete…
        </button>
      </div>
      <div className="tabs" role="tablist">
        {DETAIL_TABS.map((t) => (
          <button
            key={t}
            type="button"
            role="tab"
            aria-selected={t === tab}
            className={`tab${t === tab ? ' active' : ''}`}
            data-testid={`tab-${t}`}
            onClick={() => navigate(routeHash('data', d.name, t), { replace: true })}
          >
            {tabLabel[t]}
            {badge[t] !== undefined && <span className={`tab-badge${t === 'rejects' && (badge[t] ?? 0) > 0 ? ' warn' : ''}`}>{formatCount(badge[t] ?? 0)}</span>}
          </button>
        ))}
      </div>
      <div className="tab-content" role="tabpanel">
        {tab === 'schema' && <SchemaTab key={d.name} dataset={d} onSaved={onChanged} />}
        {tab === 'preview' && <PreviewTab key={d.name} dataset={d} />}
        {tab === 'rejects' && <RejectsTab key={d.name} dataset={d} />}
        {tab === 'sources' && <SourcesTab dataset={d} />}
      </div>
      {confirming && (
        <ConfirmDialog
          title={`Delete dataset ${d.name}?`}
          confirmLabel="Delete dataset"
          busy={deleting}
          error={deleteError}
          onConfirm={() => void doDelete()}
          onCancel={() => setConfirming(false)}
        >
          This drops its {formatCount(d.rowCount)} rows{d.rejectCount > 0 ? `, ${formatCount(d.rejectCount)} rejected rows` : ''} and its catalog entry from the workspace. The
          source files on disk are not touched. This cannot be undone.
        </ConfirmDialog>
      )}
    </section>
  );
}
