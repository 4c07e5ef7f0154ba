/** The workspace's datasets, newest first; selecting one opens its details below. */
import type { DatasetInfo, ImportProgress } from '../../../core/data/api.ts';
import { formatCount, formatRelative } from '../format.ts';
import { navigate, routeHash } from '../route.ts';

export interface DatasetListProps {
  datasets: DatasetInfo[] | null;
  selected: string | null;
  /** Imports running that this page did not start (e.g. the first-run sample). */
  background: ImportProgress[];
  onSelect(name: string): void;
}

export function DatasetList({ datasets, selected, background, onSelect }: DatasetListProps) {
  return (
    <div className="table-scroll">
      <table className="grid selectable" data-testid="dataset-list">
        <thead>
          <tr>
            <th>name</th>
            <th className="num w-rows">rows</th>
            <th className="num w-small">columns</th>
            <th className="num w-small">sources</th>
            <th className="num w-small">rejects</th>
            <th className="w-updated">updated</th>
          </tr>
        </thead>
        <tbody>
          {background.map((p) => (
            <tr key={p.jobId} className="importing" data-testid="dataset-importing">
              <td className="mono">{p.dataset}</td>
              <td colSpan={5}>
                <span className="importing-cell">
                  {/* The engine seeds a new workspace with the sample fleet under the job id 'sample'. */}
                  {p.jobId === 'sample' ? 'loading the sample fleet' : 'importing'}… {Math.round(p.fraction * 100)}%
                  <span className="mini-progress">
                    <span style={{ width: `${Math.round(p.fraction * 100)}%` }} />
                  </span>
                </span>
              </td>
            </tr>
          ))}
          {datasets?.map((d) => (
            <tr
              key={d.name}
              className={d.name === selected ? 'selected' : undefined}
              data-testid="dataset-row"
              data-name={d.name}
              aria-selected={d.name === selected}
              tabIndex={0}
              onClick={() => onSelect(d.name)}
              onKeyDown={(e) => {
                if (e.key === 'Enter' || e.key === ' ') {
                  e.preventDefault();
                  onSelect(d.name);
                }
              }}
            >
              <td className="mono name-cell" title={d.name}>
                {d.name}
              </td>
              <td className="num" data-testid="dataset-rows">
                {formatCount(d.rowCount)}
              </td>
              <td className="num">{d.columns.length}</td>
              <td className="num">{d.sources.length}</td>
              <td className="num">
                {d.rejectCount > 0 ? (
                  <a
                    className="warn-link"
                    href={routeHash('data', d.name, 'rejects')}
                    onClick={(e) => {
                      e.stopPropagation();
                      e.preventDefault();
                      navigate(routeHash('data', d.name, 'rejects'));
                    }}
                  >
                    {formatCount(d.rejectCount)}
                  </a>
                ) : (
                  <span className="muted">0</span>
                )}
              </td>
              <td className="muted" title={d.updatedAt}>
                {formatRelative(d.updatedAt)}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {datasets !== null && datasets.length === 0 && background.length === 0 && (
        <div className="list-empty" data-testid="datasets-empty">
          <b>No datasets yet.</b> Import CSV, Parquet, JSON or whitespace-separated text files with the form on the right; DuckDB reads them straight into
          this workspace.
        </div>
      )}
      {datasets === null && <div className="list-empty muted">Loading datasets…</div>}
    </div>
  );
}
