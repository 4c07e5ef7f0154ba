/**
 * A virtualized, read-only grid for tables of any length (preview, rejects).
 * Only the rows on screen are in the DOM; the header stays sticky and scrolls
 * sideways with the body; an optional row-number column stays pinned left.
 *
 * Browsers cap an element's height (~33.5M px in Chromium, ~17.9M px in
 * Firefox), i.e. about 1.4M rows of 24 px. Beyond MAX_BODY_PX the scroll space
 * is compressed: a row occupies `s < ROW_H` scroll pixels, the virtualizer
 * works in those scroll pixels (its viewport is reported scaled to match), and
 * rows are drawn at real height relative to the scroll position. Past
 * MAX_ITEMS rows, each virtual item stands for a block of rows so the
 * virtualizer's own bookkeeping (O(items)) stays small.
 */
import { memo, useEffect, useMemo, useRef, useState, type ReactNode } from 'react';
import { useVirtualizer, type Rect, type Virtualizer } from '@tanstack/react-virtual';
import type { Cell } from './use-paged-rows.ts';
import { formatCount } from '../format.ts';

export interface VTColumn {
  name: string;
  /** Second header line, e.g. the DuckDB type. */
  sub?: string;
  width: number;
  align: 'left' | 'right';
  /** Extra class on every cell of the column (e.g. monospace). */
  className?: string;
}

export interface VirtualTableProps {
  columns: VTColumn[];
  total: number;
  /** Cell value, or undefined while not loaded (drawn as a placeholder). */
  getCell(row: number, col: number): Cell | undefined;
  /** Visible rows changed (inclusive range); fetch what is missing. */
  onRangeChange(first: number, last: number): void;
  /** Bumped by the data source when rows arrive; only used to re-render. */
  version: number;
  rowNumbers?: boolean;
  testId: string;
  emptyText?: string;
  /** Custom cell rendering; default shows the value, NULL in grey. */
  renderCell?(value: Cell, row: number, col: number): ReactNode;
  /** Overlay shown above the rows (e.g. a fetch error). */
  overlay?: ReactNode;
}

export const ROW_H = 24;
const MAX_BODY_PX = 8_000_000;
const MAX_ITEMS = 500_000;
const ROW_NUMBER_MIN_W = 56;

/** Default cell content: NULL marked, booleans spelled out. */
export function defaultCellContent(v: Cell): ReactNode {
  if (v === null) return <span className="null">NULL</span>;
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  return String(v);
}

/**
 * Memoized: the owner re-renders on every range change (e.g. to show "rows a–b"),
 * which must not redraw the grid a second time per scroll frame.
 */
export const VirtualTable = memo(function VirtualTable(props: VirtualTableProps) {
  const { columns, total, getCell, onRangeChange, rowNumbers = false, testId, emptyText, renderCell, overlay } = props;
  const scrollRef = useRef<HTMLDivElement>(null);
  const hasSub = columns.some((c) => c.sub);
  const headerH = hasSub ? 40 : 28;
  const [clientH, setClientH] = useState(0);
  const bodyViewport = Math.max(ROW_H, clientH - headerH);

  // Scroll pixels per row, and rows per virtual item (see the module comment).
  const s = total * ROW_H > MAX_BODY_PX ? MAX_BODY_PX / total : ROW_H;
  const block = Math.max(1, Math.ceil(total / MAX_ITEMS));
  const itemCount = Math.ceil(total / block);
  const scaled = s < ROW_H;
  const geometry = useRef({ s, headerH });
  geometry.current = { s, headerH };

  const rowNoWidth = rowNumbers ? Math.max(ROW_NUMBER_MIN_W, formatCount(total).length * 7.5 + 18) : 0;
  const totalWidth = rowNoWidth + columns.reduce((a, c) => a + c.width, 0);

  const virtualizer = useVirtualizer<HTMLDivElement, HTMLDivElement>({
    count: itemCount,
    getScrollElement: () => scrollRef.current,
    estimateSize: (i) => Math.min(block, total - i * block) * s,
    overscan: Math.max(2, Math.ceil(6 / block)),
    // Report the body viewport (minus the sticky header) in scroll pixels, so the
    // virtualizer's idea of "visible" matches the compressed scroll space.
    observeElementRect: (instance: Virtualizer<HTMLDivElement, HTMLDivElement>, cb: (rect: Rect) => void) => {
      const el = instance.scrollElement;
      if (!el) return;
      const report = (): void => {
        const g = geometry.current;
        setClientH(el.clientHeight);
        cb({ width: el.clientWidth, height: (Math.max(ROW_H, el.clientHeight - g.headerH) * g.s) / ROW_H });
      };
      report();
      const ro = new ResizeObserver(report);
      ro.observe(el);
      return () => ro.disconnect();
    },
  });

  const y = virtualizer.scrollOffset ?? 0;
  const rowsOnScreen = Math.ceil(bodyViewport / ROW_H);
  const first = Math.min(Math.max(0, total - 1), Math.floor(y / s));
  const last = Math.min(total - 1, first + rowsOnScreen);

  useEffect(() => {
    if (total > 0) onRangeChange(first, last);
  }, [first, last, total, onRangeChange]);

  // In compressed mode a native wheel step would skip dozens of rows; scroll by
  // the rows the user asked for instead (keeps the wheel usable on 10M rows).
  useEffect(() => {
    const el = scrollRef.current;
    if (!el || !scaled) return;
    let carry = 0;
    const onWheel = (e: WheelEvent): void => {
      if (e.ctrlKey || Math.abs(e.deltaY) < Math.abs(e.deltaX)) return;
      e.preventDefault();
      const px = e.deltaMode === 1 ? e.deltaY * ROW_H : e.deltaMode === 2 ? e.deltaY * bodyViewport : e.deltaY;
      carry += (px / ROW_H) * s;
      const step = Math.trunc(carry);
      carry -= step;
      if (step !== 0) el.scrollTop += step;
    };
    el.addEventListener('wheel', onWheel, { passive: false });
    return () => el.removeEventListener('wheel', onWheel);
  }, [scaled, s, bodyViewport]);

  // The body is as tall as the scroll space needs: rows × s, plus in compressed
  // mode the part of the viewport that real-height rows occupy beyond s each.
  const bodyHeight = total * s + (scaled ? bodyViewport * (1 - s / ROW_H) : 0);

  const rowTop = (r: number): number => (scaled ? y + (r - y / s) * ROW_H : r * ROW_H);

  const rows: ReactNode[] = [];
  for (const item of virtualizer.getVirtualItems()) {
    const start = item.index * block;
    const end = Math.min(total, start + block);
    for (let r = start; r < end; r++) {
      const top = rowTop(r);
      // Blocks can reach far off screen; draw only what can be seen.
      if (block > 1 && (top + ROW_H < y - ROW_H * 4 || top > y + bodyViewport + ROW_H * 4)) continue;
      let loaded = true;
      const cells: ReactNode[] = [];
      for (let c = 0; c < columns.length; c++) {
        const col = columns[c]!;
        const v = getCell(r, c);
        if (v === undefined) loaded = false;
        const text = v === undefined || v === null ? undefined : String(v);
        cells.push(
          <div
            key={c}
            className={`vt-cell${col.align === 'right' ? ' num' : ''}${col.className ? ' ' + col.className : ''}`}
            style={{ width: col.width }}
            title={text !== undefined && text.length > 12 ? text : undefined}
          >
            {v === undefined ? <span className="skeleton" /> : renderCell ? renderCell(v, r, c) : defaultCellContent(v)}
          </div>,
        );
      }
      rows.push(
        <div
          key={r}
          className={`vt-row${r % 2 ? ' odd' : ''}`}
          style={{ top, width: totalWidth }}
          data-testid="vt-row"
          data-row={r}
          data-loaded={loaded ? 'true' : 'false'}
        >
          {rowNumbers && (
            <div className="vt-cell vt-rowno" style={{ width: rowNoWidth }}>
              {formatCount(r + 1)}
            </div>
          )}
          {cells}
        </div>,
      );
    }
  }

  const header = useMemo(
    () => (
      <div className="vt-header" style={{ width: totalWidth, height: headerH }} data-testid="vt-header">
        {rowNumbers && <div className="vt-hcell vt-rowno" style={{ width: rowNoWidth }}>#</div>}
        {columns.map((c) => (
          <div key={c.name} className={`vt-hcell${c.align === 'right' ? ' num' : ''}`} style={{ width: c.width }} title={c.sub ? `${c.name} (${c.sub})` : c.name}>
            <span className="vt-hname">{c.name}</span>
            {c.sub && <span className="vt-htype">{c.sub}</span>}
          </div>
        ))}
      </div>
    ),
    [columns, totalWidth, headerH, rowNumbers, rowNoWidth],
  );

  return (
    <div className="vt" data-testid={testId} data-total={total}>
      <div className="vt-scroll" ref={scrollRef} tabIndex={0}>
        {header}
        <div className="vt-body" style={{ height: Math.max(bodyHeight, total === 0 ? ROW_H * 2 : 0), width: totalWidth }}>
          {total === 0 ? <div className="vt-empty">{emptyText ?? 'No rows'}</div> : rows}
        </div>
      </div>
      {overlay && <div className="vt-overlay">{overlay}</div>}
    </div>
  );
});
