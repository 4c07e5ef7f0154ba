/** Rejects tab: rows DuckDB could not parse, with file, line and reason; paged like the preview. */
import { useCallback, useMemo } from 'react';
import type { DatasetInfo, RejectRow } from '../../../core/data/api.ts';
import { call } from '../api/client.ts';
import { baseName, formatCount } from '../format.ts';
import { usePagedRows, type Cell, type PageLoader } from './use-paged-rows.ts';
import { VirtualTable, defaultCellContent, type VTColumn } from './VirtualTable.tsx';
import { usePageErrorOverlay } from './PageErrorOverlay.tsx';
import { contentKey } from './PreviewTab.tsx';

const PAGE = 500;

const COLUMNS: VTColumn[] = [
  { name: 'file', width: 180, align: 'left' },
  { name: 'line', width: 72, align: 'right' },
  { name: 'column', width: 130, align: 'left' },
  { name: 'type', width: 150, align: 'left' },
  { name: 'message', width: 420, align: 'left' },
  { name: 'raw line', width: 640, align: 'left', className: 'mono' },
];

function rejectCell(r: RejectRow, c: number): Cell {
  switch (c) {
    case 0:
      return r.file;
    case 1:
      return r.line;
    case 2:
      return r.column;
    case 3:
      return r.errorType;
    case 4:
      return r.message;
    default:
      return r.rawLine;
  }
}

export function RejectsTab({ dataset }: { dataset: DatasetInfo }) {
  const name = dataset.name;
  const loader = useCallback<PageLoader>(
    async (offset, limit) => {
      const res = await call('datasets.rejects', { name, offset, limit });
      return { count: res.rows.length, cell: (r, c) => rejectCell(res.rows[r]!, c) };
    },
    [name],
  );
  const paged = usePagedRows(loader, PAGE, `${contentKey(dataset)}|${dataset.rejectCount}`);
  const renderCell = useMemo(
    () =>
      (v: Cell, _row: number, col: number) => {
        // The file column shows the base name (full path on hover); the message drops the
        // "file <path>: " prefix the file column already says, so the reason stays visible.
        if (col === 0 && typeof v === 'string') return <span title={v}>{baseName(v)}</span>;
        if (col === 4 && typeof v === 'string') return <span title={v}>{v.replace(/^file .*?: /, '')}</span>;
        if (v === null) return <span className="null">—</span>;
        return defaultCellContent(v);
      },
    [],
  );

  const overlay = usePageErrorOverlay(paged, 'Could not load rejects', 'rejects-error');

  if (dataset.rejectCount === 0) {
    return (
      <div className="tab-empty" data-testid="rejects-empty">
        No rejected rows: every line of every source file was stored.
      </div>
    );
  }
  return (
    <div className="tab-fill">
      <div className="tab-toolbar">
        <span data-testid="rejects-count">
          {formatCount(dataset.rejectCount)} rejected {dataset.rejectCount === 1 ? 'row' : 'rows'}
        </span>
        <span className="muted">Lines DuckDB could not parse; they are not in the dataset. Fix the file and import again with Replace.</span>
      </div>
      <VirtualTable
        key={`${contentKey(dataset)}|${dataset.rejectCount}`}
        testId="rejects-table"
        columns={COLUMNS}
        total={dataset.rejectCount}
        getCell={paged.getCell}
        onRangeChange={paged.request}
        version={paged.version}
        renderCell={renderCell}
        overlay={overlay}
      />
    </div>
  );
}
