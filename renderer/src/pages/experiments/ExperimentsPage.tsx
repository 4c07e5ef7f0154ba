/**
 * Experiments page (issue #6): the experiment list, an experiment's runs
 * (columns, sort, filter language, tags, notes, parents with children), and
 * tabs to compare runs, manage the model registry and export reports/archives.
 * State in the hash: `#/experiments/<name>/<tab>[/<run ids for compare>]`.
 */
import { useCallback, useEffect, useMemo, useRef, useState } from 'react';
import type { ExperimentInfo, RunInfo } from '../../../../core/experiments/api.ts';
import { WorkbenchError } from '../../../../core/api/errors.ts';
import { call } from '../../api/client.ts';
import { loadPlotly } from '../../components/charts/PlotlyChart.tsx';
import { ConfirmDialog } from '../../components/ConfirmDialog.tsx';
import { describeError, ErrorBox, useToasts } from '../../components/Notices.tsx';
import { formatRelative } from '../../format.ts';
import { navigate } from '../../route.ts';
import { experimentsHash } from '../models/links.ts';
import { metricNames, metricOf, parentKind } from '../models/run-format.ts';
import { mergeRuns, useRunEvents } from '../models/use-runs.ts';
import { ComparePanel, MAX_COMPARE } from './ComparePanel.tsx';
import { RegisterForm, RegistryPanel } from './RegistryPanel.tsx';
import { RunsTable, type Columns, type RowActions, type SortKey, type TreeRow } from './RunsTable.tsx';
import { SharePanel } from './SharePanel.tsx';
import '../models/models.css';
import './experiments.css';

type Tab = 'runs' | 'compare' | 'registry' | 'share';
const TABS: { id: Tab; label: string }[] = [
  { id: 'runs', label: 'Runs' },
  { id: 'compare', label: 'Compare' },
  { id: 'registry', label: 'Model registry' },
  { id: 'share', label: 'Reports & sharing' },
];

const COLUMNS_KEY = 'fleetlens.runs.columns';
const FILTER_DEBOUNCE_MS = 300;

/** Params worth a column by default: the detector and what varies, without the recipe's long strings. */
function defaultColumns(runs: RunInfo[]): Columns {
  const leaves = runs.filter((r) => parentKind(r) === null);
  const keys = [...new Set(leaves.flatMap((r) => Object.keys(r.params)))];
  // Row filters, seeds and dataset names vary per child but say little as columns.
  const varying = keys.filter((k) => k !== 'detector' && new Set(leaves.map((r) => String(r.params[k]))).size > 1 && !/^(recipe\.sensors|dataset|filter|label|seeds?)$/.test(k));
  const params = ['detector', ...varying.filter((k) => !k.startsWith('recipe.')), ...varying.filter((k) => k.startsWith('recipe.'))].slice(0, 4);
  const metrics = metricNames(runs).filter((m) => ['roc_auc', 'pr_auc', 'f1'].includes(m));
  return { params, metrics: metrics.length ? metrics : metricNames(runs).slice(0, 3) };
}

function loadSavedColumns(experiment: string): Columns | null {
  try {
    const all = JSON.parse(window.localStorage.getItem(COLUMNS_KEY) ?? '{}') as Record<string, Columns>;
    return all[experiment] ?? null;
  } catch {
    return null;
  }
}

function saveColumns(experiment: string, cols: Columns): void {
  try {
    const all = JSON.parse(window.localStorage.getItem(COLUMNS_KEY) ?? '{}') as Record<string, Columns>;
    all[experiment] = cols;
    window.localStorage.setItem(COLUMNS_KEY, JSON.stringify(all));
  } catch {
    // Column choice is a convenience; without storage it lasts for this page only.
  }
}

function sortValue(r: RunInfo, key: string): string | number {
  if (key === 'name') return r.name.toLowerCase();
  if (key === 'status') return r.status;
  if (key === 'startedAt') return r.startedAt;
  if (key === 'duration') return r.durationMs ?? -1;
  if (key.startsWith('m:')) return metricOf(r, key.slice(2))?.value ?? Number.NaN;
  const v = r.params[key.slice(2)];
  return typeof v === 'number' ? v : v === undefined ? '' : String(v);
}

function compareRuns(sort: SortKey): (a: RunInfo, b: RunInfo) => number {
  return (a, b) => {
    const x = sortValue(a, sort.key);
    const y = sortValue(b, sort.key);
    // Missing values (NaN, '') go last in either direction.
    const xm = (typeof x === 'number' && Number.isNaN(x)) || x === '';
    const ym = (typeof y === 'number' && Number.isNaN(y)) || y === '';
    if (xm !== ym) return xm ? 1 : -1;
    const c = typeof x === 'number' && typeof y === 'number' ? x - y : String(x).localeCompare(String(y));
    return (sort.desc ? -c : c) || b.startedAt.localeCompare(a.startedAt);
  };
}

function ColumnPicker({ runs, cols, onChange, onReset }: { runs: RunInfo[]; cols: Columns; onChange(c: Columns): void; onReset(): void }) {
  const params = useMemo(() => [...new Set(runs.flatMap((r) => Object.keys(r.params)))].sort(), [runs]);
  const metrics = useMemo(() => metricNames(runs), [runs]);
  const toggle = (list: string[], k: string, on: boolean, order: string[]): string[] => order.filter((x) => (x === k ? on : list.includes(x)));
  return (
    <div className="column-picker" data-testid="column-picker">
      <div className="picker-col">
        <h3>Metrics</h3>
        {metrics.map((m) => (
          <label key={m} className="check">
            <input type="checkbox" checked={cols.metrics.includes(m)} onChange={(e) => onChange({ ...cols, metrics: toggle(cols.metrics, m, e.target.checked, metrics) })} data-testid={`col-metric-${m}`} />
            <span className="mono">{m}</span>
          </label>
        ))}
      </div>
      <div className="picker-col">
        <h3>Parameters</h3>
        {params.map((p) => (
          <label key={p} className="check">
            <input type="checkbox" checked={cols.params.includes(p)} onChange={(e) => onChange({ ...cols, params: toggle(cols.params, p, e.target.checked, params) })} data-testid={`col-param-${p}`} />
            <span className="mono">{p}</span>
          </label>
        ))}
      </div>
      <button type="button" className="btn btn-small" onClick={onReset}>
        Reset to defaults
      </button>
    </div>
  );
}

/** The query with a caret under the error position, and the message without its echo of the query. */
function FilterError({ query, error }: { query: string; error: unknown }) {
  const e = describeError(error);
  const pos = error instanceof WorkbenchError && typeof error.details?.position === 'number' ? error.details.position : null;
  const message = e.message.replace(/ at position \d+: [\s\S]*$/, '');
  return (
    <div className="filter-error" role="alert" data-testid="filter-error" data-position={pos ?? ''}>
      {pos !== null && (
        <pre className="filter-caret" data-testid="filter-caret">
          {query}
          {'\n'}
          {' '.repeat(pos)}^
        </pre>
      )}
      <span data-testid="filter-error-message">
        {pos !== null ? `Position ${pos + 1}: ` : ''}
        {message}
      </span>
    </div>
  );
}

const FILTER_HELP = `Examples:
  metrics.f1 > 0.5 and params.detector = 'pca'
  (tags contains 'baseline' or name ~ 'iforest') and not status = 'failed'
Fields: metrics.<name>, params.<name>, name, status, dataset, seed, id, notes, tags, parent
Operators: = != < <= > >= ~ (substring), contains · and, or, not, ( )`;

export function ExperimentsPage({ rest }: { rest: string[] }) {
  const toasts = useToasts();
  const [experiments, setExperiments] = useState<ExperimentInfo[] | null>(null);
  const [listError, setListError] = useState<unknown>(null);
  const experiment = rest[0] ?? null;
  const tab: Tab = (TABS.map((t) => t.id) as string[]).includes(rest[1] ?? '') ? (rest[1] as Tab) : 'runs';
  const compareFromHash = useMemo(() => (rest[2] ? rest[2].split(',').filter(Boolean) : []), [rest]);

  const [runs, setRuns] = useState<Map<string, RunInfo> | null>(null);
  const [runsError, setRunsError] = useState<unknown>(null);
  const [filter, setFilter] = useState('');
  const [filterIds, setFilterIds] = useState<Set<string> | null>(null);
  const [filterError, setFilterError] = useState<unknown>(null);
  const [selected, setSelected] = useState<string[]>([]);
  const [expanded, setExpanded] = useState<Set<string>>(new Set());
  const [sort, setSort] = useState<SortKey>({ key: 'startedAt', desc: true });
  const [cols, setCols] = useState<Columns | null>(null);
  const [picker, setPicker] = useState(false);
  const [registerRun, setRegisterRun] = useState<RunInfo | null>(null);
  const [confirmDelete, setConfirmDelete] = useState(false);
  const [deleting, setDeleting] = useState(false);
  const [deleteError, setDeleteError] = useState<unknown>(null);
  const [registryKey, setRegistryKey] = useState(0);
  const [tagText, setTagText] = useState('');
  const lastClicked = useRef<string | null>(null);

  // Warm the chart library now: run pages and comparisons are the next stop, and their charts then draw at once.
  useEffect(() => {
    void loadPlotly().catch(() => undefined);
  }, []);

  const loadExperiments = useCallback(() => {
    call('experiments.list', {}).then((xs) => {
      setExperiments(xs);
      setListError(null);
    }, setListError);
  }, []);
  useEffect(loadExperiments, [loadExperiments]);

  // No experiment in the hash: open the most recently used one.
  useEffect(() => {
    if (!experiments || experiments.length === 0) return;
    if (experiment === null || !experiments.some((x) => x.name === experiment)) {
      const recent = [...experiments].sort((a, b) => (b.lastRunAt ?? b.createdAt).localeCompare(a.lastRunAt ?? a.createdAt))[0]!;
      if (experiment === null) navigate(experimentsHash(recent.name, tab), { replace: true });
    }
  }, [experiments, experiment, tab]);

  // Only the latest list counts: opening the page selects the most recent experiment and a click may
  // pick another before its list arrives; a slower, earlier answer must not replace the later one.
  const loadSeq = useRef(0);
  const loadRuns = useCallback(() => {
    if (!experiment) return;
    const seq = ++loadSeq.current;
    call('runs.list', { experiment }).then(
      (list) => {
        if (seq !== loadSeq.current) return;
        setRuns(new Map(list.map((r) => [r.id, r])));
        setRunsError(null);
      },
      (err: unknown) => seq === loadSeq.current && setRunsError(err),
    );
  }, [experiment]);

  useEffect(() => {
    setRuns(null);
    setSelected([]);
    setExpanded(new Set());
    setFilter('');
    setFilterIds(null);
    setFilterError(null);
    setCols(experiment ? loadSavedColumns(experiment) : null);
    loadRuns();
  }, [experiment, loadRuns]);

  // A compare link opened directly selects its runs.
  useEffect(() => {
    if (compareFromHash.length) setSelected(compareFromHash);
  }, [compareFromHash]);

  // The filter runs on the engine (it owns the language and its errors), debounced while typing.
  const filterSeq = useRef(0);
  const runFilter = useCallback(
    (q: string) => {
      const seq = ++filterSeq.current;
      if (!experiment || !q.trim()) {
        setFilterIds(null);
        setFilterError(null);
        return;
      }
      call('runs.list', { experiment, filter: q }).then(
        (list) => {
          if (seq !== filterSeq.current) return;
          setFilterIds(new Set(list.map((r) => r.id)));
          setFilterError(null);
          // Show matching children under their (possibly collapsed) parents.
          setExpanded((e) => new Set([...e, ...list.map((r) => r.parentId).filter((p): p is string => p !== null)]));
        },
        (err: unknown) => {
          if (seq !== filterSeq.current) return;
          setFilterError(err);
        },
      );
    },
    [experiment],
  );
  useEffect(() => {
    const t = window.setTimeout(() => runFilter(filter), FILTER_DEBOUNCE_MS);
    return () => window.clearTimeout(t);
  }, [filter, runFilter]);

  const filterRef = useRef(filter);
  filterRef.current = filter;
  const runsRef = useRef(runs);
  runsRef.current = runs;
  const refilterTimer = useRef(0);
  useRunEvents((batch, deleted) => {
    const mine = batch.filter((r) => r.experiment === experiment);
    const other = batch.some((r) => r.experiment !== experiment);
    const known = runsRef.current;
    const unknown = known !== null && mine.some((r) => !known.has(r.id));
    setRuns((m) => (m ? mergeRuns(m, mine, () => true, deleted) : m));
    // New runs or experiments change the sidebar counts; re-filter so new runs are judged by the query.
    if (unknown || other || deleted.size > 0 || mine.some((r) => r.status !== 'running')) {
      window.clearTimeout(refilterTimer.current);
      refilterTimer.current = window.setTimeout(() => {
        loadExperiments();
        if (filterRef.current.trim()) runFilter(filterRef.current);
      }, 800);
    }
  });

  const all = useMemo(() => [...(runs?.values() ?? [])], [runs]);
  // Default columns are recomputed as runs change; keep the same object while they read the same, or every memoized row would re-render on each event.
  const defaultsRef = useRef<Columns | null>(null);
  const effectiveCols = useMemo(() => {
    if (cols) return cols;
    const d = defaultColumns(all);
    if (!defaultsRef.current || JSON.stringify(defaultsRef.current) !== JSON.stringify(d)) defaultsRef.current = d;
    return defaultsRef.current;
  }, [cols, all]);
  const setColumns = (c: Columns): void => {
    setCols(c);
    if (experiment) saveColumns(experiment, c);
  };

  const rows: TreeRow[] = useMemo(() => {
    const shown = filterIds ? all.filter((r) => filterIds.has(r.id)) : all;
    const ids = new Set(shown.map((r) => r.id));
    const kids = new Map<string, RunInfo[]>();
    const top: RunInfo[] = [];
    for (const r of shown) {
      if (r.parentId !== null && ids.has(r.parentId)) kids.set(r.parentId, [...(kids.get(r.parentId) ?? []), r]);
      else top.push(r);
    }
    const cmp = compareRuns(sort);
    const out: TreeRow[] = [];
    const walk = (list: RunInfo[], depth: number): void => {
      for (const r of [...list].sort(cmp)) {
        const children = kids.get(r.id) ?? [];
        const open = expanded.has(r.id);
        out.push({ run: r, depth, childCount: children.length || r.children, expanded: open });
        if (open) walk(children, depth + 1);
      }
    };
    walk(top, 0);
    return out;
  }, [all, filterIds, sort, expanded]);

  const rowsRef = useRef(rows);
  rowsRef.current = rows;

  const update = useCallback(
    (runId: string, patch: { name?: string; notes?: string; tags?: string[] }, what: string) => {
      call('runs.update', { runId, ...patch }).then(
        (r) => setRuns((m) => (m ? new Map(m).set(r.id, r) : m)),
        (err: unknown) => toasts.notifyError(`Could not ${what}`, err),
      );
    },
    [toasts],
  );

  // Stable callbacks: rows are memoized and must not re-render because the parent did.
  const actions: RowActions = useMemo(
    () => ({
      toggleSelect: (id, shift) => {
        setSelected((sel) => {
          if (shift && lastClicked.current) {
            const order = rowsRef.current.map((r) => r.run.id);
            const a = order.indexOf(lastClicked.current);
            const b = order.indexOf(id);
            if (a >= 0 && b >= 0) {
              const range = order.slice(Math.min(a, b), Math.max(a, b) + 1);
              return [...new Set([...sel, ...range])];
            }
          }
          lastClicked.current = id;
          return sel.includes(id) ? sel.filter((x) => x !== id) : [...sel, id];
        });
      },
      toggleExpand: (id) =>
        setExpanded((e) => {
          const n = new Set(e);
          if (n.has(id)) n.delete(id);
          else n.add(id);
          return n;
        }),
      rename: (id, name) => update(id, { name }, 'rename the run'),
      setNotes: (id, notes) => update(id, { notes }, 'save the note'),
      setTags: (id, tags) => update(id, { tags }, 'save the tags'),
    }),
    [update],
  );

  const selectedRuns = selected.map((id) => runs?.get(id)).filter((r): r is RunInfo => r !== undefined);
  const deleteCount = selectedRuns.reduce((a, r) => a + 1 + r.children, 0);

  const doDelete = async (): Promise<void> => {
    setDeleting(true);
    setDeleteError(null);
    try {
      const { deleted } = await call('runs.delete', { runIds: selected });
      toasts.notify('success', `Deleted ${deleted} run${deleted === 1 ? '' : 's'}`);
      setConfirmDelete(false);
      setSelected([]);
      loadRuns();
      loadExperiments();
      if (filter.trim()) runFilter(filter);
    } catch (err) {
      setDeleteError(err);
    } finally {
      setDeleting(false);
    }
  };

  const shownIds = rows.map((r) => r.run.id);
  const allShownSelected = shownIds.length > 0 && shownIds.every((id) => selected.includes(id));
  const registryNames = useMemo(() => [...new Set(all.map((r) => String(r.params.detector ?? '')))].filter(Boolean), [all]);

  return (
    <div className="experiments-page" data-testid="experiments-page">
      <aside className="panel exp-list" data-testid="experiment-list">
        <div className="panel-head">
          <h2>Experiments</h2>
          <span className="spacer" />
          <button type="button" className="btn btn-small" onClick={loadExperiments} title="Reload">
            Refresh
          </button>
        </div>
        {listError !== null && <ErrorBox title="Could not list experiments" error={listError} />}
        {experiments !== null && experiments.length === 0 && <div className="list-empty">No experiments yet: every training run files itself under one (the Models page sets its name).</div>}
        <ul>
          {(experiments ?? []).map((x) => (
            <li key={x.name}>
              <a href={experimentsHash(x.name, tab === 'registry' ? 'registry' : 'runs')} className={`exp-item${x.name === experiment ? ' active' : ''}`} data-testid="experiment-item" data-name={x.name}>
                <span className="exp-name">{x.name}</span>
                <span className="hint">
                  {x.runs} runs · {x.lastRunAt ? formatRelative(x.lastRunAt) : 'never'}
                </span>
              </a>
            </li>
          ))}
        </ul>
      </aside>

      <section className="panel exp-main">
        <div className="tabs">
          {TABS.map((t) => (
            <button
              key={t.id}
              type="button"
              className={`tab${tab === t.id ? ' active' : ''}`}
              disabled={experiment === null}
              onClick={() => navigate(experimentsHash(experiment ?? '', t.id, t.id === 'compare' ? selected.join(',') : undefined), { replace: true })}
              data-testid={`exp-tab-${t.id}`}
            >
              {t.label}
              {t.id === 'runs' && runs && <span className="tab-badge">{runs.size}</span>}
              {t.id === 'compare' && selected.length > 0 && <span className="tab-badge">{selected.length}</span>}
            </button>
          ))}
          <span className="spacer" />
          <span className="exp-title mono">{experiment}</span>
        </div>

        {tab === 'runs' && (
          <div className="tab-fill">
            <div className="runs-toolbar">
              <div className="filter-box">
                <input
                  className={`grow mono${filterError !== null ? ' invalid' : ''}`}
                  value={filter}
                  placeholder="filter: metrics.roc_auc > 0.8 and params.detector = 'pca'"
                  onChange={(e) => setFilter(e.target.value)}
                  onKeyDown={(e) => e.key === 'Enter' && runFilter(filter)}
                  data-testid="runs-filter"
                  spellCheck={false}
                  aria-invalid={filterError !== null}
                />
                <span className="filter-help" title={FILTER_HELP}>
                  ?
                </span>
                {filterIds && (
                  <span className="hint" data-testid="filter-count">
                    {filterIds.size} match
                  </span>
                )}
              </div>
              <button type="button" className={`btn btn-small${picker ? ' btn-on' : ''}`} onClick={() => setPicker((p) => !p)} data-testid="columns-button">
                Columns…
              </button>
            </div>
            {filterError !== null && <FilterError query={filter} error={filterError} />}
            {picker && <ColumnPicker runs={all} cols={effectiveCols} onChange={setColumns} onReset={() => setColumns(defaultColumns(all))} />}
            <div className="selection-bar" data-testid="selection-bar">
              <span className="hint">{selected.length ? `${selected.length} selected` : 'Select runs to compare, register, tag or delete them.'}</span>
              <button
                type="button"
                className="btn btn-small btn-primary"
                disabled={selected.length < 2 || selected.length > MAX_COMPARE}
                title={selected.length > MAX_COMPARE ? `At most ${MAX_COMPARE} runs` : ''}
                onClick={() => experiment && navigate(experimentsHash(experiment, 'compare', selected.join(',')))}
                data-testid="compare-button"
              >
                Compare{selected.length >= 2 ? ` ${selected.length}` : ''}
              </button>
              <button type="button" className="btn btn-small" disabled={selectedRuns.length !== 1 || selectedRuns[0]!.status !== 'finished'} onClick={() => setRegisterRun(selectedRuns[0] ?? null)} data-testid="register-button">
                Register…
              </button>
              <span className="row tag-bulk">
                <input value={tagText} onChange={(e) => setTagText(e.target.value)} placeholder="tag" className="tag-input" data-testid="bulk-tag-input" />
                <button
                  type="button"
                  className="btn btn-small"
                  disabled={!selected.length || !tagText.trim()}
                  data-testid="bulk-tag-button"
                  onClick={() => {
                    for (const r of selectedRuns) if (!r.tags.includes(tagText.trim())) update(r.id, { tags: [...r.tags, tagText.trim()] }, 'tag the run');
                    setTagText('');
                  }}
                >
                  Tag
                </button>
              </span>
              <button type="button" className="btn btn-small btn-danger-outline" disabled={!selected.length} onClick={() => setConfirmDelete(true)} data-testid="delete-button">
                Delete…
              </button>
              {selected.length > 0 && (
                <button type="button" className="link-button" onClick={() => setSelected([])}>
                  clear selection
                </button>
              )}
            </div>
            {registerRun && (
              <RegisterForm
                run={registerRun}
                names={registryNames}
                onCancel={() => setRegisterRun(null)}
                onDone={(v) => {
                  setRegisterRun(null);
                  setRegistryKey((k) => k + 1);
                  toasts.notify('success', `Registered ${v.name} v${v.version}`, v.aliases.length ? `Aliases: ${v.aliases.join(', ')}` : '');
                }}
              />
            )}
            {runsError !== null && <ErrorBox title="Could not list the runs" error={runsError} />}
            <RunsTable
              rows={rows}
              selected={new Set(selected)}
              cols={effectiveCols}
              sort={sort}
              onSort={setSort}
              actions={actions}
              allSelected={allShownSelected}
              onSelectAll={(on) => setSelected(on ? [...new Set([...selected, ...shownIds])] : selected.filter((id) => !shownIds.includes(id)))}
              empty={runs === null ? 'Loading…' : filterIds ? 'No run matches the filter.' : 'No runs in this experiment.'}
            />
          </div>
        )}
        {tab === 'compare' && (
          <div className="tab-scroll-pad">
            <ComparePanel allRuns={all} selectedIds={compareFromHash.length ? compareFromHash : selected} />
          </div>
        )}
        {tab === 'registry' && (
          <div className="tab-scroll-pad">
            <RegistryPanel refreshKey={registryKey} />
          </div>
        )}
        {tab === 'share' && experiment && (
          <div className="tab-scroll-pad">
            <SharePanel
              experiment={experiment}
              selectedIds={selected}
              topLevelIds={all.filter((r) => r.parentId === null).map((r) => r.id)}
              onImported={(into) => {
                loadExperiments();
                if (!into || into === experiment) loadRuns();
              }}
            />
          </div>
        )}
      </section>

      {confirmDelete && (
        <ConfirmDialog
          title={`Delete ${selected.length} run${selected.length === 1 ? '' : 's'}?`}
          confirmLabel="Delete"
          busy={deleting}
          error={deleteError}
          onCancel={() => {
            setConfirmDelete(false);
            setDeleteError(null);
          }}
          onConfirm={() => void doDelete()}
          testId="delete-dialog"
        >
          {deleteCount > selected.length ? `This removes ${deleteCount} runs (child runs included)` : selected.length === 1 ? 'This removes the run' : `This removes the ${selected.length} runs`}, with
          their artifacts and scored rows, from the workspace. Registered versions pointing at them stop working. This cannot be undone.
        </ConfirmDialog>
      )}
    </div>
  );
}
