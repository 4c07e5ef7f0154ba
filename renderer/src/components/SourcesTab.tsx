/** Sources tab: the files a dataset was built from, with size, rows and fingerprint. */
import type { DatasetInfo } from '../../../core/data/api.ts';
import { formatBytes, formatCount, formatDateTime } from '../format.ts';

export function SourcesTab({ dataset }: { dataset: DatasetInfo }) {
  if (dataset.sources.length === 0) return <div className="tab-empty">No source files recorded.</div>;
  return (
    <div className="tab-scroll">
      <table className="grid" data-testid="sources-table">
        <thead>
          <tr>
            <th>path</th>
            <th className="num">bytes</th>
            <th className="num">rows</th>
            <th>checksum</th>
            <th>added</th>
          </tr>
        </thead>
        <tbody>
          {dataset.sources.map((s) => (
            <tr key={`${s.path}|${s.addedAt}`}>
              <td className="mono path-cell" title={s.path}>
                {s.path}
              </td>
              <td className="num" title={`${formatCount(s.bytes)} bytes`}>
                {formatBytes(s.bytes)}
              </td>
              <td className="num">{formatCount(s.rows)}</td>
              <td className="mono" title={`SHA-256 of size + first and last MiB: ${s.checksum}`}>
                {s.checksum.slice(0, 12)}
              </td>
              <td title={s.addedAt}>{formatDateTime(s.addedAt)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
