/**
 * The runs table of an experiment (issue #6): chosen param and metric columns,
 * sort, selection, parents that expand to their children, inline rename, tags
 * and notes. Rows are virtualized and memoized per run, so a runs.updated event
 * re-renders one row, not five hundred.
 */
import { memo, useEffect, useRef, useState, type KeyboardEvent, type ReactNode } from 'react';
import { useVirtualizer } from '@tanstack/react-virtual';
import type { RunInfo } from '../../../../core/experiments/api.ts';
import { formatDuration, formatRelative } from '../../format.ts';
import { runHash } from '../models/links.ts';
import { formatMetricOf, formatParam, metricLabel, parentKind, statusClass } from '../models/run-format.ts';

export const ROW_HEIGHT = 30;

export type SortKey = { key: string; desc: boolean };

export interface Columns {
  params: string[];
  metrics: string[];
}

/** One visible line of the tree. */
export interface TreeRow {
  run: RunInfo;
  depth: number;
  childCount: number;
  expanded: boolean;
}

export interface RowActions {
  toggleSelect(id: string, shift: boolean): void;
  toggleExpand(id: string): void;
  rename(id: string, name: string): void;
  setNotes(id: string, notes: string): void;
  setTags(id: string, tags: string[]): void;
}

/**
 * Fixed pixel widths, so the sticky header and the absolutely placed rows line
 * up exactly. Metrics come right after the name: they are what runs are compared by.
 */
const LEAD = [32, 280, 84];
const TAIL = [92, 84, 160, 200];
const PARAM_W = 112;
const METRIC_W = 134;

export function gridTemplate(cols: Columns): string {
  return [...LEAD, ...cols.metrics.map(() => METRIC_W), ...cols.params.map(() => PARAM_W), ...TAIL].map((w) => `${w}px`).join(' ');
}

/** Total row width in pixels. */
export function rowWidth(cols: Columns): number {
  return [...LEAD, ...TAIL].reduce((a, b) => a + b, 0) + cols.params.length * PARAM_W + cols.metrics.length * METRIC_W;
}

/** Text that turns into an input on click; Enter saves, Escape cancels, blur saves. */
function InlineEdit({ value, onSave, placeholder, testId, className, display }: { value: string; onSave(v: string): void; placeholder: string; testId: string; className?: string; display?: ReactNode }) {
  const [editing, setEditing] = useState(false);
  const [text, setText] = useState(value);
  const ref = useRef<HTMLInputElement>(null);
  useEffect(() => {
    if (editing) ref.current?.select();
  }, [editing]);
  if (!editing) {
    return (
      <span
        className={`inline-edit ${className ?? ''}${value ? '' : ' empty'}`}
        title={value ? `${value}\n(click to edit)` : 'Click to edit'}
        data-testid={testId}
        role="button"
        tabIndex={0}
        onClick={(e) => {
          e.stopPropagation();
          setText(value);
          setEditing(true);
        }}
        onKeyDown={(e) => {
          if (e.key === 'Enter') {
            setText(value);
            setEditing(true);
          }
        }}
      >
        {display ?? (value || placeholder)}
      </span>
    );
  }
  const finish = (save: boolean): void => {
    setEditing(false);
    if (save && text !== value) onSave(text);
  };
  return (
    <input
      ref={ref}
      className="inline-input"
      value={text}
      data-testid={`${testId}-input`}
      onChange={(e) => setText(e.target.value)}
      onClick={(e) => e.stopPropagation()}
      onBlur={() => finish(true)}
      onKeyDown={(e: KeyboardEvent<HTMLInputElement>) => {
        if (e.key === 'Enter') finish(true);
        if (e.key === 'Escape') finish(false);
      }}
    />
  );
}

function Tags({ run, onChange }: { run: RunInfo; onChange(tags: string[]): void }) {
  const [adding, setAdding] = useState(false);
  const [text, setText] = useState('');
  return (
    <span className="tags-cell">
      {run.tags.map((t) => (
        <span key={t} className={`tag${t === 'best' ? ' tag-best' : ''}`} data-testid="run-tag">
          {t}
          <button type="button" className="tag-x" aria-label={`Remove tag ${t}`} onClick={() => onChange(run.tags.filter((x) => x !== t))}>
            ×
          </button>
        </span>
      ))}
      {adding ? (
        <input
          autoFocus
          className="inline-input tag-input"
          value={text}
          placeholder="tag"
          data-testid="tag-input"
          onChange={(e) => setText(e.target.value)}
          onBlur={() => {
            setAdding(false);
            if (text.trim()) onChange([...run.tags, text.trim()]);
            setText('');
          }}
          onKeyDown={(e) => {
            if (e.key === 'Enter') (e.target as HTMLInputElement).blur();
            if (e.key === 'Escape') {
              setText('');
              setAdding(false);
            }
          }}
        />
      ) : (
        <button type="button" className="tag-add" onClick={() => setAdding(true)} title="Add a tag" data-testid="tag-add">
          +
        </button>
      )}
    </span>
  );
}

/** Props are the run object and primitives, so memo skips rows whose run did not change (TreeRow objects are rebuilt on every flatten). */
interface RowProps {
  run: RunInfo;
  depth: number;
  childCount: number;
  expanded: boolean;
  selected: boolean;
  cols: Columns;
  template: string;
  odd: boolean;
  actions: RowActions;
}

const RunRow = memo(function RunRow({ run, depth, childCount, expanded, selected, cols, template, odd, actions }: RowProps) {
  const kind = parentKind(run);
  return (
    <div
      className={`rt-row${odd ? ' odd' : ''}${selected ? ' selected' : ''}${run.tags.includes('best') ? ' best' : ''}`}
      style={{ gridTemplateColumns: template }}
      data-testid="run-row"
      data-run-id={run.id}
      data-status={run.status}
      data-depth={depth}
      role="row"
      aria-selected={selected}
    >
      <span className="rt-cell">
        <input type="checkbox" checked={selected} aria-label={`Select ${run.name}`} data-testid="run-select" onChange={(e) => actions.toggleSelect(run.id, (e.nativeEvent as MouseEvent).shiftKey === true)} />
      </span>
      <span className="rt-cell rt-name" style={{ paddingLeft: 6 + depth * 18 }}>
        {childCount > 0 ? (
          <button type="button" className="expander" aria-label={expanded ? 'Collapse' : 'Expand'} aria-expanded={expanded} onClick={() => actions.toggleExpand(run.id)} data-testid="run-expand">
            {expanded ? '▾' : '▸'}
          </button>
        ) : (
          <span className="expander-space" />
        )}
        <a href={runHash(run.id)} className="rt-link" title="Open the run" data-testid="run-link">
          ↗
        </a>
        {run.tags.includes('best') && (
          <span className="best-star" title="Best trial of its sweep">
            ★
          </span>
        )}
        <InlineEdit value={run.name} onSave={(v) => v.trim() && actions.rename(run.id, v.trim())} placeholder="(unnamed)" testId="run-name" className="rt-name-text" />
        {kind && (
          <span className="pill kind-pill" title={`${childCount} child runs`}>
            {kind} · {childCount}
          </span>
        )}
      </span>
      <span className="rt-cell">
        <span className={statusClass(run.status)} title={run.error ?? run.phase} data-testid="run-status">
          {run.status === 'running' ? `${Math.round(run.progress * 100)}%` : run.status}
        </span>
      </span>
      {cols.metrics.map((m) => (
        <span key={m} className="rt-cell num" data-testid={`cell-${m}`}>
          {formatMetricOf(run, m)}
        </span>
      ))}
      {cols.params.map((p) => (
        <span key={p} className="rt-cell mono" title={`${p} = ${formatParam(run.params[p])}`}>
          {formatParam(run.params[p])}
        </span>
      ))}
      <span className="rt-cell muted" title={run.startedAt}>
        {formatRelative(run.startedAt)}
      </span>
      <span className="rt-cell num muted">{run.durationMs === null ? '—' : formatDuration(run.durationMs)}</span>
      <span className="rt-cell">
        <Tags run={run} onChange={(tags) => actions.setTags(run.id, tags)} />
      </span>
      <span className="rt-cell">
        <InlineEdit value={run.notes} onSave={(v) => actions.setNotes(run.id, v)} placeholder="add a note" testId="run-notes" className="notes-text" />
      </span>
    </div>
  );
});

function HeaderCell({ label, sortKey, sort, onSort, num, title }: { label: string; sortKey: string | null; sort: SortKey; onSort(k: SortKey): void; num?: boolean; title?: string }) {
  const active = sortKey !== null && sort.key === sortKey;
  return (
    <span
      className={`rt-hcell${num ? ' num' : ''}${sortKey ? ' sortable' : ''}${active ? ' active' : ''}`}
      title={title ?? label}
      role="columnheader"
      aria-sort={active ? (sort.desc ? 'descending' : 'ascending') : 'none'}
      data-testid={sortKey ? `sort-${sortKey}` : undefined}
      onClick={() => sortKey && onSort({ key: sortKey, desc: active ? !sort.desc : sortKey.startsWith('m:') || sortKey === 'startedAt' })}
    >
      {label}
      {active ? (sort.desc ? ' ↓' : ' ↑') : ''}
    </span>
  );
}

export interface RunsTableProps {
  rows: TreeRow[];
  selected: Set<string>;
  cols: Columns;
  sort: SortKey;
  onSort(s: SortKey): void;
  actions: RowActions;
  allSelected: boolean;
  onSelectAll(on: boolean): void;
  empty: ReactNode;
}

export function RunsTable({ rows, selected, cols, sort, onSort, actions, allSelected, onSelectAll, empty }: RunsTableProps) {
  const scrollRef = useRef<HTMLDivElement>(null);
  const template = gridTemplate(cols);
  const width = rowWidth(cols);
  const virtualizer = useVirtualizer({ count: rows.length, getScrollElement: () => scrollRef.current, estimateSize: () => ROW_HEIGHT, overscan: 12 });
  return (
    <div className="rt" data-testid="runs-table" data-rows={rows.length}>
      <div className="rt-scroll" ref={scrollRef}>
        <div className="rt-header" style={{ gridTemplateColumns: template, width }} role="row">
          <span className="rt-hcell">
            <input type="checkbox" checked={allSelected} aria-label="Select all shown runs" onChange={(e) => onSelectAll(e.target.checked)} />
          </span>
          <HeaderCell label="Run" sortKey="name" sort={sort} onSort={onSort} />
          <HeaderCell label="Status" sortKey="status" sort={sort} onSort={onSort} />
          {cols.metrics.map((m) => (
            <HeaderCell key={m} label={metricLabel(m)} sortKey={`m:${m}`} sort={sort} onSort={onSort} num title={`metric ${m}`} />
          ))}
          {cols.params.map((p) => (
            <HeaderCell key={p} label={p} sortKey={`p:${p}`} sort={sort} onSort={onSort} title={`param ${p}`} />
          ))}
          <HeaderCell label="Started" sortKey="startedAt" sort={sort} onSort={onSort} />
          <HeaderCell label="Took" sortKey="duration" sort={sort} onSort={onSort} num />
          <HeaderCell label="Tags" sortKey={null} sort={sort} onSort={onSort} />
          <HeaderCell label="Notes" sortKey={null} sort={sort} onSort={onSort} />
        </div>
        {rows.length === 0 ? (
          <div className="rt-empty">{empty}</div>
        ) : (
          <div className="rt-body" style={{ height: virtualizer.getTotalSize(), width }}>
            {virtualizer.getVirtualItems().map((v) => {
              const row = rows[v.index]!;
              return (
                <div key={row.run.id} className="rt-abs" style={{ transform: `translateY(${v.start}px)` }}>
                  <RunRow run={row.run} depth={row.depth} childCount={row.childCount} expanded={row.expanded} selected={selected.has(row.run.id)} cols={cols} template={template} odd={v.index % 2 === 1} actions={actions} />
                </div>
              );
            })}
          </div>
        )}
      </div>
    </div>
  );
}
