/** Preview tab: every row of a dataset, virtualized and fetched 500 rows at a time as the user scrolls. */
import { useCallback, useMemo, useState } from 'react';
import type { DatasetInfo } from '../../../core/data/api.ts';
import { call } from '../api/client.ts';
import { formatCount, isNumericType } from '../format.ts';
import { usePagedRows, type LoadedPage, type PageLoader } from './use-paged-rows.ts';
import { VirtualTable, type VTColumn } from './VirtualTable.tsx';
import { usePageErrorOverlay } from './PageErrorOverlay.tsx';

const PAGE = 500;
/** Rough glyph widths of the 12 px table font, to size columns without measuring text. */
const CHAR_W = 7;
const HEADER_CHAR_W = 7.4;

/** Column widths from the names, the types and the values of the first page. */
function sizeColumns(columns: { name: string; type: string }[], first: LoadedPage | null): VTColumn[] {
  return columns.map((c, i) => {
    const numeric = isNumericType(c.type);
    let longest = 0;
    if (first) {
      for (let r = 0; r < Math.min(first.count, 200); r++) {
        const v = first.cell(r, i);
        longest = Math.max(longest, v === null ? 4 : String(v).length);
      }
    } else {
      longest = numeric ? 8 : /TIMESTAMP/i.test(c.type) ? 19 : 12;
    }
    const width = Math.round(Math.min(320, Math.max(72, c.name.length * HEADER_CHAR_W + 22, c.type.length * 6 + 22, longest * CHAR_W + 20)));
    return { name: c.name, sub: c.type, width, align: numeric ? 'right' : 'left' };
  });
}

/** Identity of the rows a preview shows: a new import or replace must not reuse cached pages. */
export function contentKey(d: DatasetInfo): string {
  return `${d.name}|${d.rowCount}|${d.columns.map((c) => c.name).join(',')}|${d.sources.map((s) => s.addedAt).join(',')}`;
}

export function PreviewTab({ dataset }: { dataset: DatasetInfo }) {
  const name = dataset.name;
  const loader = useCallback<PageLoader>(
    async (offset, limit) => {
      const page = await call('datasets.preview', { name, offset, limit });
      const count = page.values[0]?.length ?? 0;
      return { count, cell: (r, c) => page.values[c]?.[r] ?? null };
    },
    [name],
  );
  const paged = usePagedRows(loader, PAGE, contentKey(dataset));
  const columns = useMemo(() => sizeColumns(dataset.columns, paged.firstPage), [dataset.columns, paged.firstPage]);
  const [range, setRange] = useState<{ first: number; last: number }>({ first: 0, last: 0 });
  const request = paged.request;
  const onRange = useCallback(
    (first: number, last: number) => {
      setRange({ first, last });
      request(first, last);
    },
    [request],
  );

  const overlay = usePageErrorOverlay(paged, 'Could not load rows', 'preview-error');

  return (
    <div className="tab-fill">
      <div className="tab-toolbar">
        <span data-testid="preview-range">
          {dataset.rowCount === 0
            ? 'No rows'
            : `Rows ${formatCount(range.first + 1)}–${formatCount(Math.min(dataset.rowCount, range.last + 1))} of ${formatCount(dataset.rowCount)}`}
        </span>
        <span className="muted">{dataset.columns.length} columns · storage order · fetched {formatCount(PAGE)} rows at a time</span>
      </div>
      <VirtualTable
        // New contents (append, replace) remount the grid: its scroll scale depends on the row count.
        key={contentKey(dataset)}
        testId="preview-table"
        columns={columns}
        total={dataset.rowCount}
        getCell={paged.getCell}
        onRangeChange={onRange}
        version={paged.version}
        rowNumbers
        emptyText="This dataset has no rows."
        overlay={overlay}
      />
    </div>
  );
}
