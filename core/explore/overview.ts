/**
 * Fleet overview (issue #4 item 1): counts, label rates by group, rows over time,
 * missing rates. Two scans in all (one GROUPING SETS aggregate for every group
 * and one for counts), and the result is kept per dataset version, so opening
 * Explore again is instant.
 */
import { createHash } from 'node:crypto';
import type { FleetOverview, GroupRate } from './api.ts';
import { ident, type Workspace } from '../workspace/workspace.ts';
import { datasetContext, labelExpr, num, type DatasetContext } from './context.ts';

const cache = new Map<string, FleetOverview>();
const MAX_DEVICES = 500;
const MAX_CATEGORIES = 50;

function versionKey(ws: Workspace, ctx: DatasetContext): string {
  return ws.path + '\u0000' + createHash('sha1').update(JSON.stringify([ctx.info.name, ctx.info.updatedAt, ctx.info.rowCount, ctx.info.columns])).digest('hex');
}

export async function fleetOverview(ws: Workspace, dataset: string): Promise<FleetOverview> {
  const ctx = await datasetContext(ws, dataset);
  const key = versionKey(ws, ctx);
  const hit = cache.get(key);
  if (hit) return hit;
  const lab = labelExpr(ctx) ?? '0';
  const t = ctx.table;
  const cols = ctx.info.columns;
  const head = (
    await ws.query(
      `SELECT count(*) AS n,
        ${ctx.trip ? `count(DISTINCT (${ctx.device ? ident(ctx.device) + ', ' : ''}${ident(ctx.trip)}))` : 'NULL'} AS trips,
        ${ctx.label ? `avg(${lab})` : 'NULL'} AS rate
        ${cols.map((c, i) => `, count(${ident(c.name)}) AS c${i}`).join('')}
       FROM ${t}`,
    )
  )[0]!;
  const n = num(head.n);

  // Every grouping in one pass: per device, per categorical, per time bucket.
  const dims: { name: string; expr: string }[] = [];
  if (ctx.device) dims.push({ name: 'device', expr: `${ident(ctx.device)}::VARCHAR` });
  ctx.categoricals.forEach((c, i) => dims.push({ name: `cat${i}`, expr: `${ident(c)}::VARCHAR` }));
  let timeUnit: 'day' | 'bucket' = 'day';
  if (ctx.time && ctx.temporal) {
    dims.push({ name: 'time', expr: `date_trunc('day', ${ident(ctx.time)}::TIMESTAMP)::DATE::VARCHAR` });
  } else if (ctx.timeExpr && ctx.info.timeSpan) {
    timeUnit = 'bucket';
    const lo = Number(ctx.info.timeSpan.min), hi = Number(ctx.info.timeSpan.max);
    const w = Math.max(hi - lo, 1e-9) / 50;
    dims.push({ name: 'time', expr: `round(${lo} + least(49, floor((${ctx.timeExpr} - ${lo}) / ${w})) * ${w}, 6)::VARCHAR` });
  }
  const byDim = new Map<string, GroupRate[]>(dims.map((d) => [d.name, []]));
  if (dims.length) {
    const sets = dims.map((d) => `(${d.name})`).join(', ');
    const rows = await ws.query(
      `SELECT ${dims.map((d) => `${d.expr} AS ${d.name}`).join(', ')}, ${dims.map((d) => `GROUPING(${d.name}) AS g_${d.name}`).join(', ')}, count(*) AS n, sum(${lab}) AS l
       FROM ${t} GROUP BY GROUPING SETS (${sets})`,
    );
    for (const r of rows) {
      const d = dims.find((x) => r[`g_${x.name}`] === 0 || r[`g_${x.name}`] === false);
      if (!d) continue;
      const rn = num(r.n), rl = num(r.l);
      byDim.get(d.name)!.push({ key: r[d.name] === null ? '(null)' : String(r[d.name]), rows: rn, labelled: rl, rate: rn ? rl / rn : 0 });
    }
  }
  const byRows = (a: GroupRate, b: GroupRate): number => b.rows - a.rows || (a.key < b.key ? -1 : 1);
  const byRate = (a: GroupRate, b: GroupRate): number => b.rate - a.rate || byRows(a, b);
  const devices = byDim.get('device') ?? [];
  const timeRows = (byDim.get('time') ?? []).filter((g) => g.key !== '(null)').sort((a, b) => (timeUnit === 'day' ? (a.key < b.key ? -1 : 1) : Number(a.key) - Number(b.key)));
  const result: FleetOverview = {
    dataset: ctx.info.name,
    rows: n,
    devices: ctx.device ? devices.length : null,
    trips: head.trips === null ? null : num(head.trips),
    timeSpan: ctx.info.timeSpan,
    temporal: ctx.temporal,
    label: ctx.label,
    labelRate: head.rate === null ? null : num(head.rate),
    labelByDevice: [...devices].sort(ctx.label ? byRate : byRows).slice(0, MAX_DEVICES),
    labelByCategory: ctx.categoricals.map((c, i) => ({ column: c, groups: (byDim.get(`cat${i}`) ?? []).sort(byRows).slice(0, MAX_CATEGORIES) })),
    rowsOverTime: { bucket: timeRows.map((g) => g.key), rows: timeRows.map((g) => g.rows), unit: timeUnit },
    missing: cols.map((c, i) => ({ column: c.name, rate: n ? 1 - num(head[`c${i}`]) / n : 0 })),
  };
  if (cache.size >= 64) cache.delete(cache.keys().next().value!);
  cache.set(key, result);
  return result;
}
