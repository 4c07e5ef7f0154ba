/**
 * Profile tab (issue #4 item 5): one row per column with its statistics. Constant
 * columns (one distinct value) and two-valued ones are flagged loudly: a constant
 * sensor carries no information for a detector (C-MAPSS FD001 has seven).
 */
import { useMemo } from 'react';
import type { DatasetInfo } from '../../../../core/data/api.ts';
import type { ColumnProfile } from '../../../../core/explore/api.ts';
import { ErrorBox } from '../../components/Notices.tsx';
import { formatCount } from '../../format.ts';
import { routeHash } from '../../route.ts';
import { datasetVersion } from './dataset-roles.ts';
import { formatNumber, formatPercent } from './explore-format.ts';
import { useCall, useStoredState } from './use-call.ts';

function value(v: string | number | null): string {
  if (v === null) return '—';
  return typeof v === 'number' ? formatNumber(v) : v;
}

export function ProfileTab({ dataset }: { dataset: DatasetInfo }) {
  const prof = useCall('explore.profile', { dataset: dataset.name }, datasetVersion(dataset));
  const [filter, setFilter] = useStoredState<'all' | 'flagged'>(`profile.filter.${dataset.name}`, 'all');
  const cols = prof.data;
  const constant = useMemo(() => (cols ?? []).filter((c) => c.constant), [cols]);
  const binary = useMemo(() => (cols ?? []).filter((c) => c.binary), [cols]);
  const shown = (cols ?? []).filter((c) => filter === 'all' || c.constant || c.binary);

  if (prof.error !== null && !cols) {
    return (
      <div className="ex-pad">
        <ErrorBox title="Could not profile the dataset" error={prof.error} testId="profile-error" />
      </div>
    );
  }
  if (!cols) return <div className="ex-empty muted">Profiling {dataset.columns.length} columns of {formatCount(dataset.rowCount)} rows…</div>;

  return (
    <div className="ex-fill panel" data-testid="profile-tab">
      <div className="tab-toolbar ex-toolbar">
        <div className="segmented" role="group" aria-label="Columns shown">
          <button type="button" className={`seg-btn${filter === 'all' ? ' on' : ''}`} onClick={() => setFilter('all')}>
            All {cols.length} columns
          </button>
          <button type="button" className={`seg-btn${filter === 'flagged' ? ' on' : ''}`} onClick={() => setFilter('flagged')} data-testid="profile-flagged-only">
            Flagged only ({constant.length + binary.length})
          </button>
        </div>
        <span className="muted">{formatCount(dataset.rowCount)} rows · exact counts and quartiles</span>
      </div>
      {(constant.length > 0 || binary.length > 0) && (
        <div className="ex-profile-summary" data-testid="profile-summary">
          {constant.length > 0 && (
            <div>
              <span className="ex-badge ex-badge-constant">CONSTANT</span> <b>{constant.length}</b> {constant.length === 1 ? 'column has' : 'columns have'} a single value:{' '}
              <span className="mono" data-testid="profile-constant-list">
                {constant.map((c) => c.name).join(', ')}
              </span>
              . They carry no information for a detector; consider the <i>ignore</i> role on the <a href={routeHash('data', dataset.name, 'schema')}>Data page</a>.
            </div>
          )}
          {binary.length > 0 && (
            <div>
              <span className="ex-badge ex-badge-binary">TWO VALUES</span> <b>{binary.length}</b> {binary.length === 1 ? 'column takes' : 'columns take'} only two values:{' '}
              <span className="mono" data-testid="profile-binary-list">
                {binary.map((c) => c.name).join(', ')}
              </span>{' '}
              — near-constant (or a flag), worth a look.
            </div>
          )}
        </div>
      )}
      <div className="table-scroll ex-profile-scroll">
        <table className="grid ex-profile-table" data-testid="profile-table">
          <thead>
            <tr>
              <th className="num">#</th>
              <th>column</th>
              <th>type</th>
              <th>role</th>
              <th className="num">count</th>
              <th className="num">nulls</th>
              <th className="num">distinct</th>
              <th className="num">min</th>
              <th className="num">max</th>
              <th className="num">mean</th>
              <th className="num">std</th>
              <th className="num">q25</th>
              <th className="num">median</th>
              <th className="num">q75</th>
              <th>flags</th>
            </tr>
          </thead>
          <tbody>
            {shown.map((c) => (
              <ProfileRow key={c.name} c={c} index={cols.indexOf(c)} />
            ))}
            {shown.length === 0 && (
              <tr>
                <td colSpan={15} className="muted">
                  No constant or two-valued columns.
                </td>
              </tr>
            )}
          </tbody>
        </table>
      </div>
    </div>
  );
}

function ProfileRow({ c, index }: { c: ColumnProfile; index: number }) {
  const total = c.count + c.nulls;
  return (
    <tr className={c.constant ? 'ex-row-constant' : c.binary ? 'ex-row-binary' : undefined} data-testid="profile-row" data-column={c.name} data-constant={String(c.constant)} data-binary={String(c.binary)}>
      <td className="num muted">{index + 1}</td>
      <td className="mono ex-profile-name">{c.name}</td>
      <td className="mono muted">{c.type}</td>
      <td className={`role-${c.role}`}>{c.role}</td>
      <td className="num">{formatCount(c.count)}</td>
      <td className={`num${c.nulls > 0 ? '' : ' muted'}`} title={total ? `${formatPercent(c.nulls / total)} of rows` : undefined}>
        {formatCount(c.nulls)}
        {c.nulls > 0 && total > 0 && <span className="ex-sub"> {formatPercent(c.nulls / total)}</span>}
      </td>
      <td className="num">{formatCount(c.distinct)}</td>
      <td className="num" title={String(c.min ?? '')}>
        {value(c.min)}
      </td>
      <td className="num" title={String(c.max ?? '')}>
        {value(c.max)}
      </td>
      <td className="num">{formatNumber(c.mean)}</td>
      <td className="num">{formatNumber(c.std)}</td>
      <td className="num">{formatNumber(c.q25)}</td>
      <td className="num">{formatNumber(c.q50)}</td>
      <td className="num">{formatNumber(c.q75)}</td>
      <td>
        {c.constant && (
          <span className="ex-badge ex-badge-constant" title="Exactly one distinct non-null value" data-testid="badge-constant">
            CONSTANT
          </span>
        )}
        {c.binary && (
          <span className="ex-badge ex-badge-binary" title="Only two distinct values: near-constant or a flag" data-testid="badge-binary">
            TWO VALUES
          </span>
        )}
        {c.count === 0 && <span className="ex-badge ex-badge-empty">ALL NULL</span>}
      </td>
    </tr>
  );
}
