/**
 * Trips tab (issue #4 item 2): notable trips or devices from the engine's
 * per-dataset summary. Presets and header clicks set the server-side sort, the
 * search box and "min labelled" filter on the server, and rows are fetched a
 * page at a time into the shared virtual table. Clicking a row charts it.
 */
import { useCallback, useEffect, useMemo, useRef, useState, type MouseEvent, type ReactNode } from 'react';
import type { DatasetInfo } from '../../../../core/data/api.ts';
import type { TripPreset, TripsRequest } from '../../../../core/explore/api.ts';
import { call } from '../../api/client.ts';
import { usePageErrorOverlay } from '../../components/PageErrorOverlay.tsx';
import { usePagedRows, type Cell, type PageLoader } from '../../components/use-paged-rows.ts';
import { defaultCellContent, VirtualTable, type VTColumn } from '../../components/VirtualTable.tsx';
import { formatCount } from '../../format.ts';
import { datasetRoles, datasetVersion, type DatasetRoles } from './dataset-roles.ts';
import { formatAxisValue, formatNumber, formatPercent, formatSpanSeconds, toNumber } from './explore-format.ts';
import type { ChartTarget } from './explore-route.ts';
import { useStoredState } from './use-call.ts';

const PAGE = 200;
const STAT = new Intl.NumberFormat('en-US', { maximumSignificantDigits: 4 });

/** Per-sensor min/mean/max: four significant digits keep the columns narrow (hover shows the full value). */
function formatStat(n: number): string {
  if (Number.isNaN(n)) return '—';
  if (n !== 0 && (Math.abs(n) >= 1e9 || Math.abs(n) < 1e-4)) return n.toExponential(2);
  return STAT.format(n);
}

const PRESETS: { id: TripPreset; label: string; column: string; hint: string }[] = [
  { id: 'labelled', label: 'Most labelled', column: 'labelled', hint: 'Most labelled rows first' },
  { id: 'longest', label: 'Longest', column: 'duration', hint: 'Longest time span first' },
  { id: 'missing', label: 'Most missing', column: 'missing_rate', hint: 'Highest share of missing sensor readings first' },
  { id: 'extreme', label: 'Most extreme', column: 'extreme_z', hint: 'Largest robust z-score of any sensor (|x − median| / 1.4826·MAD) first' },
];

type Sort = { column: string; desc: boolean };

interface Meta {
  key: string;
  total: number;
  columns: { name: string; type: string }[];
}

/** Header text, second header line and width of a summary column. */
function describeColumn(name: string, roles: DatasetRoles): { label: string; sub: string; width: number; align: 'left' | 'right' } {
  switch (name) {
    case 'device':
      return { label: 'device', sub: roles.device ?? '', width: 120, align: 'left' };
    case 'trip':
      return { label: 'trip', sub: roles.trip ?? '', width: 150, align: 'left' };
    case 'trips':
      return { label: 'trips', sub: 'count', width: 70, align: 'right' };
    case 'start':
      return { label: 'start', sub: roles.temporal ? 'first reading' : `first ${roles.time ?? ''}`, width: roles.temporal ? 136 : 90, align: 'right' };
    case 'duration':
      return { label: 'duration', sub: roles.temporal ? 'last − first' : `Δ ${roles.time ?? ''}`, width: 100, align: 'right' };
    case 'rows':
      return { label: 'rows', sub: 'count', width: 76, align: 'right' };
    case 'labelled':
      return { label: 'labelled', sub: roles.label ? `${roles.label} = 1` : 'no label', width: 86, align: 'right' };
    case 'label_rate':
      return { label: 'label rate', sub: '% of rows', width: 90, align: 'right' };
    case 'missing_rate':
      return { label: 'missing', sub: '% of readings', width: 96, align: 'right' };
    case 'extreme_z':
      return { label: 'extreme |z|', sub: 'robust', width: 104, align: 'right' };
    default: {
      // Per-sensor statistics: the sensor as the name, the statistic underneath.
      const m = /^(.*)_(min|mean|max)$/.exec(name);
      const label = m ? m[1]! : name;
      return { label, sub: m ? m[2]! : '', width: Math.max(100, Math.min(170, label.length * 7.4 + 26)), align: 'right' };
    }
  }
}

function renderValue(name: string, v: Cell, roles: DatasetRoles): ReactNode {
  if (v === null) return <span className="null">NULL</span>;
  const n = toNumber(v);
  switch (name) {
    case 'device':
    case 'trip':
      return String(v);
    case 'start':
      return formatAxisValue(n, roles.temporal);
    case 'duration':
      return roles.temporal ? formatSpanSeconds(n) : formatNumber(n);
    case 'rows':
    case 'labelled':
    case 'trips':
      return Number.isFinite(n) ? formatCount(n) : defaultCellContent(v);
    case 'label_rate':
    case 'missing_rate':
      return formatPercent(n);
    case 'extreme_z':
      // Astronomic scores come from near-constant sensors (MAD 0): show the magnitude rather than a cut-off number.
      return Number.isFinite(n) ? (Math.abs(n) >= 1e5 ? n.toExponential(1) : n.toFixed(1)) : '—';
    default:
      return typeof v === 'number' || Number.isFinite(n) ? formatStat(n) : String(v);
  }
}

export function TripsTab({ dataset, onOpen }: { dataset: DatasetInfo; onOpen(t: ChartTarget): void }) {
  const roles = useMemo(() => datasetRoles(dataset), [dataset]);
  const canTrip = roles.trip !== null;
  const canGroup = roles.device !== null || roles.trip !== null;
  const [unitPref, setUnit] = useStoredState<'trip' | 'device'>(`trips.unit.${dataset.name}`, 'trip');
  const unit: 'trip' | 'device' = canTrip ? unitPref : 'device';
  const [preset, setPreset] = useStoredState<TripPreset>(`trips.preset.${dataset.name}`, roles.label ? 'labelled' : 'extreme');
  const [sort, setSort] = useStoredState<Sort | null>(`trips.sort.${dataset.name}.${unit}`, null);
  const [search, setSearch] = useStoredState<string>(`trips.search.${dataset.name}`, '');
  const [minLabelled, setMinLabelled] = useStoredState<number>(`trips.min.${dataset.name}`, 0);
  const [searchDraft, setSearchDraft] = useState(search);

  // Typing filters after a short pause, not on every key.
  useEffect(() => {
    if (searchDraft === search) return;
    const t = window.setTimeout(() => setSearch(searchDraft), 250);
    return () => window.clearTimeout(t);
  }, [searchDraft, search, setSearch]);

  const query = useMemo<TripsRequest>(
    () => ({ dataset: dataset.name, unit, preset, ...(sort ? { sort } : {}), ...(search.trim() ? { search: search.trim() } : {}), ...(minLabelled > 0 ? { minLabelled } : {}) }),
    [dataset.name, unit, preset, sort, search, minLabelled],
  );
  const resetKey = `${JSON.stringify(query)}|${datasetVersion(dataset)}`;
  const [meta, setMeta] = useState<Meta | null>(null);
  const keyRef = useRef(resetKey);
  keyRef.current = resetKey;

  const loader = useCallback<PageLoader>(
    async (offset, limit) => {
      const key = resetKey;
      const page = await call('explore.trips', { ...query, offset, limit });
      if (key === keyRef.current) setMeta((m) => (m && m.key === key && m.total === page.total ? m : { key, total: page.total, columns: page.columns }));
      return { count: page.values[0]?.length ?? 0, cell: (r, c) => page.values[c]?.[r] ?? null };
    },
    [query, resetKey],
  );
  const paged = usePagedRows(loader, PAGE, resetKey);
  const overlay = usePageErrorOverlay(paged, 'Could not load trips', 'trips-error');
  const request = paged.request;
  // The table asks for rows only once it knows a total: fetch the first page to learn it.
  useEffect(() => {
    if (canGroup) request(0, 40);
  }, [resetKey, request, canGroup]);

  const current = meta && meta.key === resetKey ? meta : null;
  const shownMeta = current ?? meta;
  const allNames = useMemo(() => (shownMeta?.columns ?? []).map((c) => c.name), [shownMeta]);
  // Columns that mean nothing for this dataset (label counts without a label, trip counts without trips) are left out.
  const visible = useMemo(
    () => allNames.map((name, index) => ({ name, index })).filter(({ name }) => (roles.label || (name !== 'labelled' && name !== 'label_rate')) && (roles.trip || name !== 'trips')),
    [allNames, roles],
  );
  const colNames = useMemo(() => visible.map((v) => v.name), [visible]);
  const pagedGetCell = paged.getCell;
  const getCell = useCallback((r: number, c: number) => pagedGetCell(r, visible[c]?.index ?? -1), [pagedGetCell, visible]);
  const effectiveSort: Sort = sort ?? { column: PRESETS.find((p) => p.id === preset)!.column, desc: true };

  const columns = useMemo<VTColumn[]>(
    () =>
      colNames.map((name) => {
        const d = describeColumn(name, roles);
        const arrow = effectiveSort.column === name ? (effectiveSort.desc ? ' ▼' : ' ▲') : '';
        return { name: d.label + arrow, sub: d.sub, width: d.width, align: d.align, className: name === 'device' || name === 'trip' ? 'mono' : undefined };
      }),
    [colNames, roles, effectiveSort.column, effectiveSort.desc],
  );

  const onHeaderClick = (e: MouseEvent<HTMLDivElement>): void => {
    const target = e.target as HTMLElement;
    const cell = target.closest('.vt-hcell');
    if (cell && cell.parentElement?.classList.contains('vt-header')) {
      // VirtualTable draws its own header; map the clicked cell back to a summary column (after the "#" cell).
      const idx = Array.prototype.indexOf.call(cell.parentElement.children, cell) - 1;
      const name = colNames[idx];
      if (!name) return;
      setSort({ column: name, desc: effectiveSort.column === name ? !effectiveSort.desc : name !== 'device' && name !== 'trip' });
      return;
    }
    const row = target.closest<HTMLElement>('[data-testid="vt-row"]');
    if (!row) return;
    const r = Number(row.dataset.row);
    const dev = getCell(r, colNames.indexOf('device'));
    const trip = unit === 'trip' ? getCell(r, colNames.indexOf('trip')) : null;
    if (dev === undefined || trip === undefined) return;
    onOpen({ scope: unit === 'trip' && trip !== null ? 'trip' : 'device', device: dev === null ? null : String(dev), trip: trip === null ? null : String(trip) });
  };

  if (!canGroup) {
    return (
      <div className="ex-pad">
        <div className="notice" data-testid="trips-no-roles">
          <b>No device or trip column.</b> Notable trips need a column identifying the machine (device) or the run (trip); set one on the Data page.
        </div>
      </div>
    );
  }

  const total = shownMeta?.total ?? 0;
  const noun = unit === 'trip' ? (total === 1 ? 'trip' : 'trips') : total === 1 ? 'device' : 'devices';
  return (
    <div className="ex-fill panel" data-testid="trips-tab">
      <div className="tab-toolbar ex-toolbar">
        <div className="segmented" role="group" aria-label="Presets">
          {PRESETS.map((p) => {
            const on = effectiveSort.column === p.column && effectiveSort.desc;
            const off = p.id === 'labelled' && !roles.label;
            return (
              <button
                key={p.id}
                type="button"
                className={`seg-btn${on ? ' on' : ''}`}
                title={off ? 'No label column: set one on the Data page' : p.hint}
                disabled={off}
                data-testid={`trips-preset-${p.id}`}
                onClick={() => {
                  setPreset(p.id);
                  setSort(null);
                }}
              >
                {p.label}
              </button>
            );
          })}
        </div>
        {canTrip && (
          <div className="segmented" role="group" aria-label="One row per">
            {(['trip', 'device'] as const).map((u) => (
              <button key={u} type="button" className={`seg-btn${unit === u ? ' on' : ''}`} data-testid={`trips-unit-${u}`} onClick={() => setUnit(u)}>
                {u === 'trip' ? 'Trips' : 'Devices'}
              </button>
            ))}
          </div>
        )}
        <input
          type="search"
          className="ex-search"
          placeholder={unit === 'trip' ? 'Search device or trip id' : 'Search device id'}
          value={searchDraft}
          onChange={(e) => setSearchDraft(e.target.value)}
          data-testid="trips-search"
          aria-label="Search"
        />
        {roles.label && (
          <label className="ex-inline-field" title={`Only ${unit}s with at least this many rows where ${roles.label} = 1`}>
            min labelled
            <input
              type="number"
              min={0}
              step={1}
              value={minLabelled}
              onChange={(e) => setMinLabelled(Math.max(0, Math.floor(Number(e.target.value) || 0)))}
              data-testid="trips-min-labelled"
              className="ex-num-input"
            />
          </label>
        )}
        <span className="spacer" />
        <span className="muted" data-testid="trips-count">
          {shownMeta ? `${formatCount(total)} ${noun}` : 'Summarising…'} · click a row to chart it
        </span>
      </div>
      <div className="ex-table-wrap trips-table" onClick={onHeaderClick}>
        <VirtualTable
          testId="trips-table"
          columns={columns}
          total={total}
          getCell={getCell}
          onRangeChange={paged.request}
          version={paged.version}
          rowNumbers
          emptyText={shownMeta ? `No ${unit}s match${search.trim() ? ` “${search.trim()}”` : ''}${minLabelled > 0 ? ` with at least ${minLabelled} labelled rows` : ''}.` : 'Summarising…'}
          renderCell={(v, _r, c) => renderValue(colNames[c] ?? '', v, roles)}
          overlay={overlay}
        />
      </div>
    </div>
  );
}
