/** Column profile (issue #4 item 5): one pass per column family, constant and two-valued columns flagged. */
import type { ColumnProfile } from './api.ts';
import { ident, type Workspace } from '../workspace/workspace.ts';
import { datasetContext, num } from './context.ts';
import { isNumericType } from '../data/roles.ts';

export async function profileDataset(ws: Workspace, dataset: string): Promise<ColumnProfile[]> {
  const ctx = await datasetContext(ws, dataset);
  const cols = ctx.info.columns;
  const parts = cols.map((c, i) => {
    const v = ident(c.name);
    const numeric = isNumericType(c.type);
    return [
      `count(${v}) AS n${i}`,
      // Exact distinct is cheap to bound: it only needs to tell 0, 1, 2 and "more".
      `(count(DISTINCT ${v}) FILTER (WHERE true)) AS d${i}`,
      `min(${v})::VARCHAR AS mn${i}`,
      `max(${v})::VARCHAR AS mx${i}`,
      numeric ? `avg(${v}::DOUBLE) AS mean${i}, stddev_samp(${v}::DOUBLE) AS sd${i}, quantile_cont(${v}::DOUBLE, [0.25, 0.5, 0.75]) AS q${i}` : `NULL AS mean${i}, NULL AS sd${i}, NULL AS q${i}`,
    ].join(', ');
  });
  const row = (await ws.query(`SELECT count(*) AS total, ${parts.join(', ')} FROM ${ctx.table}`))[0]!;
  const total = num(row.total);
  return cols.map((c, i) => {
    const numeric = isNumericType(c.type);
    const distinct = num(row[`d${i}`]);
    const q = row[`q${i}`] === null ? null : String(row[`q${i}`]).replace(/[[\]]/g, '').split(',').map((x) => Number(x.trim()));
    const val = (v: unknown): string | number | null => (v === null || v === undefined ? null : numeric ? Number(v) : String(v));
    return {
      name: c.name,
      type: c.type,
      role: c.role,
      count: num(row[`n${i}`]),
      nulls: total - num(row[`n${i}`]),
      distinct,
      min: val(row[`mn${i}`]),
      max: val(row[`mx${i}`]),
      mean: row[`mean${i}`] === null ? null : num(row[`mean${i}`]),
      std: row[`sd${i}`] === null ? null : num(row[`sd${i}`]),
      q25: q ? q[0]! : null,
      q50: q ? q[1]! : null,
      q75: q ? q[2]! : null,
      constant: distinct === 1,
      binary: distinct === 2,
    };
  });
}
