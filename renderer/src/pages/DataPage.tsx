/**
 * Data page (issue #3 item 6): the dataset list and the import form side by
 * side, the selected dataset's details below. The selection and tab live in the
 * hash (`#/data/<dataset>/<tab>`) so a reload comes back to the same view.
 */
import { useCallback, useEffect, useRef, useState } from 'react';
import type { DatasetInfo, ImportProgress } from '../../../core/data/api.ts';
import { call, on } from '../api/client.ts';
import { DatasetDetails, DETAIL_TABS, type DetailTab } from '../components/DatasetDetails.tsx';
import { DatasetList } from '../components/DatasetList.tsx';
import { ImportPanel } from '../components/ImportPanel.tsx';
import { ErrorBox } from '../components/Notices.tsx';
import { formatCount } from '../format.ts';
import { navigate, routeHash } from '../route.ts';

/** A background import with no news for this long is assumed over (failures send no final event). */
const BACKGROUND_STALE_MS = 30_000;

export function DataPage({ rest }: { rest: string[] }) {
  const [datasets, setDatasets] = useState<DatasetInfo[] | null>(null);
  const [listError, setListError] = useState<unknown>(null);
  const [background, setBackground] = useState<Map<string, ImportProgress & { seen: number }>>(new Map());
  const ownJobs = useRef(new Set<string>());
  const listSeq = useRef(0);

  const selected = rest[0] ?? null;
  const tab: DetailTab = (DETAIL_TABS as readonly string[]).includes(rest[1] ?? '') ? (rest[1] as DetailTab) : 'schema';

  const refresh = useCallback(async () => {
    // Events can trigger overlapping refreshes; only the newest answer is shown.
    const seq = ++listSeq.current;
    try {
      const list = await call('datasets.list', {});
      if (seq !== listSeq.current) return;
      setDatasets(list);
      setListError(null);
    } catch (err) {
      if (seq === listSeq.current) setListError(err);
    }
  }, []);

  useEffect(() => {
    void refresh();
    const offChanged = on('datasets.changed', ({ name }) => {
      setBackground((m) => {
        const next = new Map([...m].filter(([, p]) => p.dataset !== name));
        return next.size === m.size ? m : next;
      });
      void refresh();
    });
    const offProgress = on('datasets.importProgress', (p) => {
      if (ownJobs.current.has(p.jobId)) return;
      setBackground((m) => new Map(m).set(p.jobId, { ...p, seen: Date.now() }));
    });
    const sweep = window.setInterval(() => {
      setBackground((m) => {
        const now = Date.now();
        const next = new Map([...m].filter(([, p]) => now - p.seen < BACKGROUND_STALE_MS));
        return next.size === m.size ? m : next;
      });
    }, 5000);
    return () => {
      offChanged();
      offProgress();
      window.clearInterval(sweep);
    };
  }, [refresh]);

  // With nothing selected, open the newest dataset: an empty details pane helps no one.
  useEffect(() => {
    if (selected === null && datasets && datasets.length > 0) navigate(routeHash('data', datasets[0]!.name), { replace: true });
  }, [selected, datasets]);

  const replaceInfo = useCallback((info: DatasetInfo) => {
    setDatasets((list) => {
        if (!list) return [info];
        const i = list.findIndex((d) => d.name === info.name);
      return i < 0 ? [info, ...list] : list.map((d) => (d.name === info.name ? info : d));
    });
  }, []);

  const onDeleted = useCallback(
    (name: string) => {
      // Drop it locally before leaving its route, so the auto-selection below picks a dataset that still exists.
      setDatasets((list) => (list ? list.filter((d) => d.name !== name) : list));
      navigate(routeHash('data'));
      void refresh();
    },
    [refresh],
  );

  const onImported = useCallback(
    (info: DatasetInfo) => {
      replaceInfo(info);
      navigate(routeHash('data', info.name, selected === info.name ? tab : 'schema'));
    },
    [replaceInfo, selected, tab],
  );

  const current = datasets?.find((d) => d.name === selected) ?? null;
  const totalRows = (datasets ?? []).reduce((a, d) => a + d.rowCount, 0);

  return (
    <div className="data-page" data-testid="data-page">
      <section className="panel list-panel" data-testid="datasets-panel">
        <div className="panel-head">
          <h2>Datasets</h2>
          {datasets && (
            <span className="muted" data-testid="datasets-count">
              {datasets.length} {datasets.length === 1 ? 'dataset' : 'datasets'} · {formatCount(totalRows)} rows
            </span>
          )}
          <span className="spacer" />
          <button type="button" className="btn btn-small" onClick={() => void refresh()} title="Reload the list from the workspace">
            Refresh
          </button>
        </div>
        {listError !== null && <ErrorBox title="Could not list datasets" error={listError} testId="list-error" />}
        <DatasetList datasets={datasets} selected={selected} background={[...background.values()]} onSelect={(n) => navigate(routeHash('data', n, tab))} />
      </section>
      <ImportPanel
        datasets={datasets}
        onImported={onImported}
        onJob={(id) => {
          ownJobs.current.add(id);
        }}
      />
      {current ? (
        <DatasetDetails key={current.name} dataset={current} tab={tab} onChanged={replaceInfo} onDeleted={onDeleted} />
      ) : (
        <section className="panel details details-empty" data-testid="details-empty">
          {selected !== null && datasets !== null ? (
            <span>
              Dataset <span className="mono">{selected}</span> does not exist in this workspace.
            </span>
          ) : (
            <span className="muted">
              {datasets === null
                ? 'Loading…'
                : background.size > 0
                  ? `Importing ${[...background.values()].map((p) => p.dataset).join(', ')}: it opens here when it lands.`
                  : 'Import a file to see its schema, roles and rows here.'}
            </span>
          )}
        </section>
      )}
    </div>
  );
}
