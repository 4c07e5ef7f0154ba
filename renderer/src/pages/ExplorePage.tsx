/**
 * Explore page (issue #4): look at a fleet before modelling it. A dataset
 * picker and six tabs (overview, notable trips, trip charts, distributions,
 * column profile, SQL console); dataset, tab and charted trip live in the hash
 * (`#/explore/<dataset>/<tab>/…`) so a reload comes back to the same view.
 */
import { useCallback, useEffect, useState, type ReactNode } from 'react';
import type { DatasetInfo } from '../../../core/data/api.ts';
import { call, on } from '../api/client.ts';
import { ErrorBox } from '../components/Notices.tsx';
import { formatCount } from '../format.ts';
import { navigate, routeHash } from '../route.ts';
import { datasetRoles } from './explore/dataset-roles.ts';
import { EXPLORE_TABS, exploreHash, parseExploreRoute, TAB_LABELS, type ChartTarget, type ExploreTab } from './explore/explore-route.ts';
import { formatAxisValue } from './explore/explore-format.ts';
import { DistributionsTab } from './explore/DistributionsTab.tsx';
import { OverviewTab } from './explore/OverviewTab.tsx';
import { ProfileTab } from './explore/ProfileTab.tsx';
import { SqlTab } from './explore/SqlTab.tsx';
import { TripsTab } from './explore/TripsTab.tsx';
import { TripViewTab } from './explore/TripViewTab.tsx';
import { useStoredState } from './explore/use-call.ts';
import './explore/explore.css';

export function ExplorePage({ rest }: { rest: string[] }) {
  const route = parseExploreRoute(rest);
  const [datasets, setDatasets] = useState<DatasetInfo[] | null>(null);
  const [listError, setListError] = useState<unknown>(null);

  const refresh = useCallback(async () => {
    try {
      setDatasets(await call('datasets.list', {}));
      setListError(null);
    } catch (err) {
      setListError(err);
    }
  }, []);

  useEffect(() => {
    void refresh();
    // Roles set or rows imported on the Data page change what Explore shows.
    return on('datasets.changed', () => void refresh());
  }, [refresh]);

  // With no dataset in the hash, open the newest one: an empty page helps no one.
  useEffect(() => {
    if (route.dataset === null && datasets && datasets.length > 0) navigate(exploreHash(datasets[0]!.name, route.tab), { replace: true });
  }, [route.dataset, route.tab, datasets]);

  const current = datasets?.find((d) => d.name === route.dataset) ?? null;
  const dsName = current?.name ?? '';
  // The last charted trip per dataset, so the "Trip view" tab reopens it.
  const [lastTarget, setLastTarget] = useStoredState<ChartTarget | null>(`target.${dsName}`, null);
  const target = route.tab === 'view' ? route.target : null;
  const targetKey = target ? JSON.stringify(target) : '';
  useEffect(() => {
    // Keyed on targetKey: `target` is a fresh object every render.
    if (targetKey && dsName) setLastTarget(JSON.parse(targetKey) as ChartTarget);
  }, [targetKey, dsName, setLastTarget]);

  // "#/explore/<ds>/view" alone reopens the last charted trip: put it in the hash so the address says what is shown.
  const lastKey = lastTarget ? JSON.stringify(lastTarget) : '';
  useEffect(() => {
    if (route.tab === 'view' && !route.target && lastKey && dsName) navigate(exploreHash(dsName, 'view', JSON.parse(lastKey) as ChartTarget), { replace: true });
  }, [route.tab, route.target, lastKey, dsName]);

  const openTab = (tab: ExploreTab): void => {
    if (!current) return;
    navigate(exploreHash(current.name, tab, tab === 'view' ? (route.target ?? lastTarget) : null), { replace: true });
  };
  const openTarget = useCallback((t: ChartTarget, replace = false) => navigate(exploreHash(dsName, 'view', t), { replace }), [dsName]);
  // Zoom and pan rewrite the address in place, so a reload or a copied link keeps the window.
  const routeTargetKey = route.target ? JSON.stringify(route.target) : '';
  const onWindow = useCallback(
    (w: [number, number] | null) => {
      if (routeTargetKey) navigate(exploreHash(dsName, 'view', JSON.parse(routeTargetKey) as ChartTarget, w), { replace: true });
    },
    [dsName, routeTargetKey],
  );

  const roles = current ? datasetRoles(current) : null;

  let body: ReactNode;
  if (listError !== null) {
    body = <ErrorBox title="Could not list datasets" error={listError} testId="explore-list-error" />;
  } else if (datasets === null) {
    body = <div className="ex-empty muted">Loading datasets…</div>;
  } else if (datasets.length === 0) {
    body = (
      <div className="ex-empty" data-testid="explore-no-datasets">
        No datasets yet. <a href={routeHash('data')}>Import a file on the Data page</a> to explore it here.
      </div>
    );
  } else if (!current) {
    body = (
      <div className="ex-empty" data-testid="explore-missing-dataset">
        Dataset <span className="mono">{route.dataset}</span> does not exist in this workspace. Pick another above.
      </div>
    );
  } else {
    const props = { dataset: current };
    switch (route.tab) {
      case 'overview':
        body = <OverviewTab key={current.name} {...props} />;
        break;
      case 'trips':
        body = <TripsTab key={current.name} {...props} onOpen={(t) => openTarget(t)} />;
        break;
      case 'view':
        body = <TripViewTab key={current.name} {...props} target={route.target ?? lastTarget} window={route.window} onTarget={(t) => openTarget(t, true)} onWindow={onWindow} />;
        break;
      case 'distributions':
        body = <DistributionsTab key={current.name} {...props} />;
        break;
      case 'profile':
        body = <ProfileTab key={current.name} {...props} />;
        break;
      case 'sql':
        body = <SqlTab key={current.name} {...props} />;
        break;
    }
  }

  return (
    <div className="explore-page" data-testid="explore-page">
      <section className="panel ex-head">
        <div className="ex-head-row">
          <label className="ex-picker">
            <span className="ex-picker-label">Dataset</span>
            <select
              data-testid="explore-dataset"
              value={current?.name ?? ''}
              disabled={!datasets || datasets.length === 0}
              onChange={(e) => navigate(exploreHash(e.target.value, route.tab === 'view' ? 'overview' : route.tab))}
            >
              {!current && <option value="">{datasets === null ? 'Loading…' : '(choose a dataset)'}</option>}
              {(datasets ?? []).map((d) => (
                <option key={d.name} value={d.name}>
                  {d.name}
                </option>
              ))}
            </select>
          </label>
          {current && roles && (
            <div className="ex-meta" data-testid="explore-meta">
              <span>
                <b>{formatCount(current.rowCount)}</b> rows
              </span>
              <span>
                <b>{current.columns.length}</b> columns
              </span>
              {current.timeSpan && (
                <span>
                  {formatSpan(current.timeSpan.min, roles.temporal)} → {formatSpan(current.timeSpan.max, roles.temporal)}
                </span>
              )}
              <span className="ex-roles">
                <RoleChip role="time" name={roles.time} />
                <RoleChip role="device" name={roles.device} />
                <RoleChip role="trip" name={roles.trip} />
                <RoleChip role="label" name={roles.label} />
                <span>
                  sensors <b>{roles.sensors.length}</b>
                </span>
              </span>
            </div>
          )}
        </div>
        <nav className="tabs ex-tabs" aria-label="Explore views">
          {EXPLORE_TABS.map((t) => (
            <button
              key={t}
              type="button"
              className={`tab${route.tab === t ? ' active' : ''}`}
              aria-current={route.tab === t ? 'page' : undefined}
              data-testid={`explore-tab-${t}`}
              disabled={!current}
              onClick={() => openTab(t)}
            >
              {TAB_LABELS[t]}
            </button>
          ))}
          <span className="spacer" />
          {current && (
            <a className="ex-tabs-link" href={routeHash('data', current.name, 'schema')} title="Column roles decide what Explore can chart">
              Edit roles on the Data page
            </a>
          )}
        </nav>
      </section>
      <div className={`ex-body ex-body-${route.tab}`}>{body}</div>
    </div>
  );
}

function RoleChip({ role, name }: { role: string; name: string | null }) {
  return (
    <span className={name ? '' : 'ex-role-missing'} title={name ? `${role} column` : `no ${role} column`}>
      {role} <b className={name ? `role-${role}` : undefined}>{name ?? '—'}</b>
    </span>
  );
}

/** Catalog time spans arrive as "2026-01-01 18:05:00" strings or numbers (cycles). */
function formatSpan(v: string | number, temporal: boolean): string {
  if (typeof v === 'number') return formatAxisValue(v, temporal);
  return v.replace(/:00$/, '');
}
