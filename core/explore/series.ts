/**
 * Trip and device charts that stay fast at any size (issue #4 item 3). For the
 * visible window, DuckDB splits the time axis into one bucket per pixel column
 * and returns, per sensor and bucket, the first, last, minimum and maximum
 * reading (M4, Jugel et al. 2014). Drawn as lines these are pixel-identical to
 * the raw series, so every spike stays visible, while a trace never carries more
 * than 4 × width points. Windows with few rows are returned raw.
 */
import { WorkbenchError } from '../api/errors.ts';
import type { SeriesRequest, SeriesResponse, SeriesTrace } from './api.ts';
import { ident, lit, type Workspace } from '../workspace/workspace.ts';
import { datasetContext, labelExpr, num, requireSensor } from './context.ts';

const MAX_WIDTH = 4000;
const MAX_SENSORS = 24;

export async function tripSeries(ws: Workspace, req: SeriesRequest): Promise<SeriesResponse> {
  const ctx = await datasetContext(ws, req.dataset);
  if (!ctx.timeExpr) throw new WorkbenchError('INVALID_ARGUMENT', `dataset '${ctx.info.name}' has no time column; set the time role on the Data page`);
  const sensors = (req.sensors ?? []).slice(0, MAX_SENSORS).map((s) => requireSensor(ctx, s));
  const width = Math.max(50, Math.min(MAX_WIDTH, Math.floor(req.width ?? 1000)));
  const where: string[] = [];
  if (req.device !== undefined) {
    if (!ctx.device) throw new WorkbenchError('INVALID_ARGUMENT', `dataset '${ctx.info.name}' has no device column`);
    where.push(`${ident(ctx.device)}::VARCHAR = ${lit(String(req.device))}`);
  }
  if (req.trip !== undefined) {
    if (!ctx.trip) throw new WorkbenchError('INVALID_ARGUMENT', `dataset '${ctx.info.name}' has no trip column`);
    where.push(`${ident(ctx.trip)}::VARCHAR = ${lit(String(req.trip))}`);
  }
  if (where.length === 0) throw new WorkbenchError('INVALID_ARGUMENT', 'choose a device or a trip to chart');
  const t = ctx.timeExpr;
  const sel = where.join(' AND ');
  const ext = (await ws.query(`SELECT min(${t}) AS lo, max(${t}) AS hi, count(*) AS n FROM ${ctx.table} WHERE ${sel}`))[0]!;
  const extent: [number, number] | null = ext.lo === null ? null : [num(ext.lo), num(ext.hi)];
  let [lo, hi] = req.range && Number.isFinite(req.range[0]) && Number.isFinite(req.range[1]) ? req.range : extent ?? [0, 0];
  if (hi < lo) [lo, hi] = [hi, lo];
  const win = `${sel} AND ${t} BETWEEN ${lo} AND ${hi}`;
  const rawRows = num((await ws.query(`SELECT count(*) AS n FROM ${ctx.table} WHERE ${win}`))[0]!.n);
  const lab = labelExpr(ctx);
  const empty = (): SeriesResponse => ({ temporal: ctx.temporal, rawRows, downsampled: false, extent, traces: sensors.map((s) => ({ sensor: s, x: new Float64Array(0), y: new Float64Array(0) })), labelled: new Float64Array(0), tripStarts: [] });
  if (rawRows === 0 || !extent) return empty();

  const downsampled = rawRows > 4 * width;
  const traces: SeriesTrace[] = [];
  if (!downsampled) {
    const r = await ws.queryColumns(`SELECT ${t} AS x${sensors.map((s, i) => `, ${ident(s)}::DOUBLE AS s${i}`).join('')} FROM ${ctx.table} WHERE ${win} ORDER BY x`);
    const x = Float64Array.from(r.columns[0]!, num);
    sensors.forEach((s, i) => traces.push({ sensor: s, x, y: Float64Array.from(r.columns[i + 1]!, num) }));
  } else {
    // Bucket k in [0, width): first/last by time, and the times of min and max, per sensor.
    const span = Math.max(hi - lo, 1e-9);
    const bucket = `least(${width - 1}, floor((${t} - ${lo}) * ${width} / ${span}))::INT`;
    const aggs = sensors.map((s, i) => {
      const v = ident(s);
      return `arg_min(${t}, ${t}) FILTER (WHERE ${v} IS NOT NULL) AS f${i}_t, arg_min(${v}, ${t}) FILTER (WHERE ${v} IS NOT NULL) AS f${i}_v,
              arg_max(${t}, ${t}) FILTER (WHERE ${v} IS NOT NULL) AS l${i}_t, arg_max(${v}, ${t}) FILTER (WHERE ${v} IS NOT NULL) AS l${i}_v,
              arg_min(${t}, ${v}) AS n${i}_t, min(${v}) AS n${i}_v, arg_max(${t}, ${v}) AS x${i}_t, max(${v}) AS x${i}_v`;
    });
    const r = await ws.queryColumns(`SELECT ${bucket} AS k, ${aggs.join(', ')} FROM ${ctx.table} WHERE ${win} GROUP BY k ORDER BY k`);
    const col = (name: string): number[] => r.columns[r.names.indexOf(name)]!.map(num);
    sensors.forEach((s, i) => {
      const parts = ['f', 'n', 'x', 'l'].map((p) => ({ t: col(`${p}${i}_t`), v: col(`${p}${i}_v`) }));
      const xs: number[] = [];
      const ys: number[] = [];
      for (let b = 0; b < r.columns[0]!.length; b++) {
        // Up to four points per bucket, in time order, without repeating a point.
        const pts: [number, number][] = [];
        for (const p of parts) {
          const pt = p.t[b]!, pv = p.v[b]!;
          if (Number.isNaN(pt)) continue;
          if (!pts.some(([a, c]) => a === pt && c === pv)) pts.push([pt, pv]);
        }
        pts.sort((a, b2) => a[0] - b2[0]);
        for (const [a, c] of pts) {
          xs.push(a);
          ys.push(c);
        }
      }
      traces.push({ sensor: s, x: Float64Array.from(xs), y: Float64Array.from(ys) });
    });
  }

  let labelled = new Float64Array(0);
  if (lab) {
    const q = downsampled
      ? `SELECT min(${t}) AS x FROM ${ctx.table} WHERE ${win} AND ${lab} = 1 GROUP BY least(${width - 1}, floor((${t} - ${lo}) * ${width} / ${Math.max(hi - lo, 1e-9)}))::INT ORDER BY x`
      : `SELECT ${t} AS x FROM ${ctx.table} WHERE ${win} AND ${lab} = 1 ORDER BY x`;
    labelled = Float64Array.from((await ws.queryColumns(q)).columns[0]!, num);
  }
  let tripStarts: SeriesResponse['tripStarts'] = [];
  if (ctx.trip && req.trip === undefined) {
    const r = await ws.query(`SELECT ${ident(ctx.trip)}::VARCHAR AS trip, min(${t}) AS x FROM ${ctx.table} WHERE ${sel} GROUP BY 1 HAVING min(${t}) BETWEEN ${lo} AND ${hi} ORDER BY x LIMIT 2000`);
    tripStarts = r.map((row) => ({ trip: String(row.trip), x: num(row.x) }));
  }
  return { temporal: ctx.temporal, rawRows, downsampled, extent, traces, labelled, tripStarts };
}
