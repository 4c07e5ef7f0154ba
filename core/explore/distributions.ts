/** Distributions, scatter and correlation (issue #4 item 4), binned in DuckDB. */
import { WorkbenchError } from '../api/errors.ts';
import type { CorrelationResponse, DistributionGroup, DistributionRequest, DistributionResponse, ScatterRequest, ScatterResponse } from './api.ts';
import { ident, type Workspace } from '../workspace/workspace.ts';
import { datasetContext, labelExpr, num, requireColumn, requireSensor, type DatasetContext } from './context.ts';

const MAX_GROUPS = 12;

/** SQL for a split column: the label as 0/1 text, anything else as text. */
function splitExpr(ctx: DatasetContext, col: string): string {
  if (col === ctx.label) return `${labelExpr(ctx)}::VARCHAR`;
  return `coalesce(${ident(col)}::VARCHAR, '(null)')`;
}

export async function distribution(ws: Workspace, req: DistributionRequest): Promise<DistributionResponse> {
  const ctx = await datasetContext(ws, req.dataset);
  const s = ident(requireSensor(ctx, req.sensor));
  const split = req.splitBy ? splitExpr(ctx, requireColumn(ctx, req.splitBy, 'split column')) : `'all'`;
  const bins = Math.max(5, Math.min(200, Math.floor(req.bins ?? 40)));
  const r = (await ws.query(`SELECT min(${s}) AS lo, max(${s}) AS hi FROM ${ctx.table}`))[0]!;
  if (r.lo === null) {
    return { sensor: req.sensor, splitBy: req.splitBy ?? null, edges: new Float64Array(0), groups: [] };
  }
  const lo = num(r.lo);
  const hi = num(r.hi) > lo ? num(r.hi) : lo + 1;
  const width = (hi - lo) / bins;
  const groups = await ws.query(`SELECT ${split} AS g, count(${s}) AS n FROM ${ctx.table} WHERE ${s} IS NOT NULL GROUP BY 1 ORDER BY n DESC, g LIMIT ${MAX_GROUPS}`);
  const keys = groups.map((g) => String(g.g));
  const stats = await ws.query(
    `SELECT ${split} AS g, min(${s}) AS mn, quantile_cont(${s}, 0.25) AS q1, median(${s}) AS md, quantile_cont(${s}, 0.75) AS q3, max(${s}) AS mx, avg(${s}) AS mean
     FROM ${ctx.table} WHERE ${s} IS NOT NULL GROUP BY 1`,
  );
  const hist = await ws.queryColumns(
    `SELECT ${split} AS g, least(${bins - 1}, floor((${s} - ${lo}) / ${width}))::INT AS b, count(*) AS n FROM ${ctx.table} WHERE ${s} IS NOT NULL GROUP BY 1, 2`,
  );
  const out: DistributionGroup[] = keys.map((key, gi) => {
    const st = stats.find((x) => String(x.g) === key)!;
    const q1 = num(st.q1), q3 = num(st.q3), iqr = q3 - q1;
    const h = new Float64Array(bins);
    for (let i = 0; i < hist.columns[0]!.length; i++) if (String(hist.columns[0]![i]) === key) h[num(hist.columns[1]![i])] = num(hist.columns[2]![i]);
    return {
      key,
      count: num(groups[gi]!.n),
      hist: h,
      box: { min: num(st.mn), q1, median: num(st.md), q3, max: num(st.mx), mean: num(st.mean), lowerFence: Math.max(num(st.mn), q1 - 1.5 * iqr), upperFence: Math.min(num(st.mx), q3 + 1.5 * iqr) },
    };
  });
  return { sensor: req.sensor, splitBy: req.splitBy ?? null, edges: Float64Array.from({ length: bins + 1 }, (_, i) => lo + i * width), groups: out };
}

export async function scatter(ws: Workspace, req: ScatterRequest): Promise<ScatterResponse> {
  const ctx = await datasetContext(ws, req.dataset);
  const x = ident(requireSensor(ctx, req.x));
  const y = ident(requireSensor(ctx, req.y));
  const maxPoints = Math.max(1000, Math.min(200_000, Math.floor(req.maxPoints ?? 50_000)));
  const both = `${x} IS NOT NULL AND ${y} IS NOT NULL`;
  const total = num((await ws.query(`SELECT count(*) AS n FROM ${ctx.table} WHERE ${both}`))[0]!.n);
  let color: string | null = null;
  if (req.colorBy) {
    if (req.colorBy === 'trip') {
      if (!ctx.trip) throw new WorkbenchError('INVALID_ARGUMENT', `dataset '${ctx.info.name}' has no trip column to colour by`);
      color = `${ident(ctx.trip)}::VARCHAR`;
    } else {
      color = splitExpr(ctx, requireColumn(ctx, req.colorBy, 'colour column'));
    }
  }
  if (total <= maxPoints) {
    const r = await ws.queryColumns(`SELECT ${x}::DOUBLE, ${y}::DOUBLE${color ? `, ${color}` : ''} FROM ${ctx.table} WHERE ${both}`);
    return { kind: 'points', x: Float64Array.from(r.columns[0]!, num), y: Float64Array.from(r.columns[1]!, num), color: color ? r.columns[2]!.map(String) : null, colorBy: req.colorBy ?? null, sampled: false, total };
  }
  // Beyond maxPoints a density heatmap shows the shape honestly where a sample would hide the tails.
  const nx = 120, ny = 80;
  const b = (await ws.query(`SELECT min(${x}) AS x0, max(${x}) AS x1, min(${y}) AS y0, max(${y}) AS y1 FROM ${ctx.table} WHERE ${both}`))[0]!;
  const x0 = num(b.x0), x1 = num(b.x1) > x0 ? num(b.x1) : x0 + 1, y0 = num(b.y0), y1 = num(b.y1) > y0 ? num(b.y1) : y0 + 1;
  const r = await ws.queryColumns(
    `SELECT least(${nx - 1}, floor((${x} - ${x0}) / ${(x1 - x0) / nx}))::INT AS i, least(${ny - 1}, floor((${y} - ${y0}) / ${(y1 - y0) / ny}))::INT AS j, count(*) AS n FROM ${ctx.table} WHERE ${both} GROUP BY 1, 2`,
  );
  const counts = new Float64Array(nx * ny);
  for (let k = 0; k < r.columns[0]!.length; k++) counts[num(r.columns[1]![k]) * nx + num(r.columns[0]![k])] = num(r.columns[2]![k]);
  return {
    kind: 'density',
    xEdges: Float64Array.from({ length: nx + 1 }, (_, i) => x0 + ((x1 - x0) * i) / nx),
    yEdges: Float64Array.from({ length: ny + 1 }, (_, j) => y0 + ((y1 - y0) * j) / ny),
    counts,
    nx,
    ny,
    total,
  };
}

export async function correlation(ws: Workspace, dataset: string, sensors?: string[]): Promise<CorrelationResponse> {
  const ctx = await datasetContext(ws, dataset);
  const s = (sensors?.length ? sensors : ctx.sensors).map((c) => requireSensor(ctx, c));
  const n = s.length;
  const r = new Float64Array(n * n).fill(Number.NaN);
  if (n === 0) return { sensors: s, r };
  const pairs: string[] = [];
  for (let i = 0; i < n; i++) for (let j = i; j < n; j++) pairs.push(`corr(${ident(s[i]!)}, ${ident(s[j]!)}) AS c${i}_${j}`);
  const row = (await ws.query(`SELECT ${pairs.join(', ')} FROM ${ctx.table}`))[0]!;
  for (let i = 0; i < n; i++) {
    for (let j = i; j < n; j++) {
      const v = row[`c${i}_${j}`];
      const c = v === null || v === undefined ? Number.NaN : num(v);
      r[i * n + j] = c;
      r[j * n + i] = c;
    }
  }
  return { sensors: s, r };
}
