/** Fleet overview (issue #4 item 1): counts, label rates by group, rows over time, missing rates. */
import type { FleetOverview, GroupRate } from './api.ts';
import { ident, type Workspace } from '../workspace/workspace.ts';
import { datasetContext, labelExpr, num } from './context.ts';

export async function fleetOverview(ws: Workspace, dataset: string): Promise<FleetOverview> {
  const ctx = await datasetContext(ws, dataset);
  const lab = labelExpr(ctx);
  const t = ctx.table;
  const cols = ctx.info.columns;
  // One scan for counts and every column's missing rate.
  const head = await ws.query(
    `SELECT count(*) AS n,
      ${ctx.device ? `count(DISTINCT ${ident(ctx.device)})` : 'NULL'} AS devices,
      ${ctx.trip ? `count(DISTINCT (${ctx.device ? ident(ctx.device) + ', ' : ''}${ident(ctx.trip)}))` : 'NULL'} AS trips,
      ${lab ? `avg(${lab})` : 'NULL'} AS rate
      ${cols.map((c, i) => `, count(${ident(c.name)}) AS c${i}`).join('')}
     FROM ${t}`,
  );
  const h = head[0]!;
  const n = num(h.n);
  const groupRates = async (col: string, order: string, limit: number): Promise<GroupRate[]> => {
    if (!lab) {
      const rows = await ws.query(`SELECT ${ident(col)}::VARCHAR AS k, count(*) AS n FROM ${t} GROUP BY 1 ORDER BY n DESC, k LIMIT ${limit}`);
      return rows.map((r) => ({ key: String(r.k), rows: num(r.n), labelled: 0, rate: 0 }));
    }
    const rows = await ws.query(
      `SELECT ${ident(col)}::VARCHAR AS k, count(*) AS n, sum(${lab}) AS l FROM ${t} GROUP BY 1 ORDER BY ${order}, k LIMIT ${limit}`,
    );
    return rows.map((r) => ({ key: String(r.k), rows: num(r.n), labelled: num(r.l), rate: num(r.n) ? num(r.l) / num(r.n) : 0 }));
  };
  const labelByDevice = ctx.device ? await groupRates(ctx.device, lab ? 'sum(' + lab + ')::DOUBLE / count(*) DESC' : 'n DESC', 500) : [];
  const labelByCategory: FleetOverview['labelByCategory'] = [];
  for (const c of ctx.categoricals) labelByCategory.push({ column: c, groups: await groupRates(c, 'n DESC', 50) });

  let rowsOverTime: FleetOverview['rowsOverTime'] = { bucket: [], rows: [], unit: 'day' };
  if (ctx.time && ctx.temporal) {
    const r = await ws.queryColumns(`SELECT date_trunc('day', ${ident(ctx.time)}::TIMESTAMP)::DATE::VARCHAR AS d, count(*) AS n FROM ${t} WHERE ${ident(ctx.time)} IS NOT NULL GROUP BY 1 ORDER BY 1`);
    rowsOverTime = { bucket: r.columns[0]!.map(String), rows: r.columns[1]!.map(num), unit: 'day' };
  } else if (ctx.timeExpr) {
    // Numeric axes (cycles): 50 equal-width buckets.
    const r = await ws.queryColumns(
      `WITH b AS (SELECT min(${ctx.timeExpr}) AS lo, max(${ctx.timeExpr}) AS hi FROM ${t})
       SELECT least(49, floor((${ctx.timeExpr} - lo) / greatest(hi - lo, 1e-9) * 50))::INT AS k, min(${ctx.timeExpr}) AS a, count(*) AS n
       FROM ${t}, b WHERE ${ctx.timeExpr} IS NOT NULL GROUP BY 1 ORDER BY 1`,
    );
    rowsOverTime = { bucket: r.columns[1]!.map((v) => String(num(v))), rows: r.columns[2]!.map(num), unit: 'bucket' };
  }
  return {
    dataset: ctx.info.name,
    rows: n,
    devices: h.devices === null ? null : num(h.devices),
    trips: h.trips === null ? null : num(h.trips),
    timeSpan: ctx.info.timeSpan,
    temporal: ctx.temporal,
    label: ctx.label,
    labelRate: h.rate === null ? null : num(h.rate),
    labelByDevice,
    labelByCategory,
    rowsOverTime,
    missing: cols.map((c, i) => ({ column: c.name, rate: n ? 1 - num(h[`c${i}`]) / n : 0 })),
  };
}
