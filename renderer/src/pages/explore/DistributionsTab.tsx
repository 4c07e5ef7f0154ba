/**
 * Distributions tab (issue #4 item 4): histogram and box plot of one sensor
 * split by the label or a categorical; a scatter of two sensors (points, or a
 * density heatmap when there are too many rows to draw honestly); and the
 * correlation matrix of all sensors. Everything is binned in DuckDB.
 */
import { useMemo } from 'react';
import type { Data, Layout } from 'plotly.js-dist-min';
import type { DatasetInfo } from '../../../../core/data/api.ts';
import type { CorrelationResponse, DistributionResponse, ScatterResponse } from '../../../../core/explore/api.ts';
import { axis, CHART_COLORS, seriesColor } from '../../components/charts/chart-theme.ts';
import { PlotlyChart } from '../../components/charts/PlotlyChart.tsx';
import { ErrorBox } from '../../components/Notices.tsx';
import { formatCount } from '../../format.ts';
import { ChartCard } from './ChartCard.tsx';
import { datasetRoles, datasetVersion, type DatasetRoles } from './dataset-roles.ts';
import { formatNumber } from './explore-format.ts';
import { useCall, useStoredState } from './use-call.ts';

/**
 * SVG draws a few thousand markers smoothly, not fifty thousand; above this the
 * engine returns a density heatmap. (WebGL scatter is not an option: Plotly's
 * WebGL layer needs eval, which the page's CSP forbids.)
 */
const MAX_POINTS = 12_000;
/** Values on correlation cells stay readable up to this many sensors. */
const MAX_CELL_TEXT = 12;

const NONE = '';

/** Display name and colour of a split/colour group. */
function groupStyle(key: string, index: number, by: string | null, roles: DatasetRoles): { name: string; color: string } {
  if (by !== null && by === roles.label) return { name: `${by} = ${key}`, color: key === '1' ? CHART_COLORS.label : CHART_COLORS.accent };
  return { name: by ? `${key}` : 'all rows', color: seriesColor(index) };
}

export function DistributionsTab({ dataset }: { dataset: DatasetInfo }) {
  const roles = useMemo(() => datasetRoles(dataset), [dataset]);
  if (roles.sensors.length === 0) {
    return (
      <div className="ex-pad">
        <div className="notice" data-testid="dist-no-sensors">
          <b>No sensor columns.</b> Mark numeric measurement columns as sensors on the Data page.
        </div>
      </div>
    );
  }
  return (
    <div className="ex-scroll" data-testid="distributions-tab">
      <div className="ex-grid">
        <DistributionCard dataset={dataset} roles={roles} />
        <ScatterCard dataset={dataset} roles={roles} />
        <CorrelationCard dataset={dataset} roles={roles} />
      </div>
    </div>
  );
}

function SplitOptions({ roles, withTrip = false }: { roles: DatasetRoles; withTrip?: boolean }) {
  return (
    <>
      <option value={NONE}>none</option>
      {roles.label && <option value={roles.label}>label ({roles.label})</option>}
      {roles.categoricals.map((c) => (
        <option key={c} value={c}>
          {c}
        </option>
      ))}
      {withTrip && roles.trip && <option value="trip">trip ({roles.trip})</option>}
    </>
  );
}

function DistributionCard({ dataset, roles }: { dataset: DatasetInfo; roles: DatasetRoles }) {
  const [sensorPref, setSensor] = useStoredState<string>(`dist.sensor.${dataset.name}`, roles.sensors[0]!);
  const sensor = roles.sensors.includes(sensorPref) ? sensorPref : roles.sensors[0]!;
  const [splitPref, setSplit] = useStoredState<string>(`dist.split.${dataset.name}`, roles.label ?? NONE);
  const split = splitPref === NONE || splitPref === roles.label || roles.categoricals.includes(splitPref) ? splitPref : NONE;
  const [normalize, setNormalize] = useStoredState<boolean>(`dist.normalize.${dataset.name}`, true);
  const dist = useCall('explore.distribution', { dataset: dataset.name, sensor, ...(split ? { splitBy: split } : {}), bins: 50 }, datasetVersion(dataset));
  const figure = useMemo(() => (dist.data ? distributionFigure(dist.data, roles, normalize && dist.data.groups.length > 1) : null), [dist.data, roles, normalize]);
  const d = dist.data;
  const empty = !d ? (dist.error ? 'No chart: see the error above' : `Binning ${sensor}…`) : d.groups.length === 0 ? `${sensor} has no values` : null;

  return (
    <ChartCard
      className="ex-span-2"
      testId="chart-distribution"
      title={`Distribution of ${sensor}`}
      note={d && d.groups.length > 0 ? `${formatCount(d.groups.reduce((a, g) => a + g.count, 0))} non-null values · ${d.edges.length - 1} bins · box: quartiles, whiskers at 1.5 IQR, dashed line = mean` : undefined}
      controls={
        <>
          <label className="ex-inline-field">
            sensor
            <select value={sensor} onChange={(e) => setSensor(e.target.value)} data-testid="dist-sensor">
              {roles.sensors.map((s) => (
                <option key={s} value={s}>
                  {s}
                </option>
              ))}
            </select>
          </label>
          <label className="ex-inline-field">
            split by
            <select value={split} onChange={(e) => setSplit(e.target.value)} data-testid="dist-split">
              <SplitOptions roles={roles} />
            </select>
          </label>
          <label className="ex-check" title="Compare shapes of groups of very different sizes (e.g. 2% labelled rows)">
            <input type="checkbox" checked={normalize} disabled={!split} onChange={(e) => setNormalize(e.target.checked)} />% of group
          </label>
        </>
      }
    >
      {dist.error !== null && <ErrorBox title="Could not compute the distribution" error={dist.error} />}
      <PlotlyChart testId="dist-chart" data={figure?.data ?? []} layout={figure?.layout ?? {}} height={330 + 16 * (d?.groups.length ?? 2)} busy={dist.loading} empty={empty} />
    </ChartCard>
  );
}

function distributionFigure(d: DistributionResponse, roles: DatasetRoles, normalize: boolean): { data: Data[]; layout: Partial<Layout> } {
  const bins = d.edges.length - 1;
  const w = bins > 0 ? d.edges[1]! - d.edges[0]! : 1;
  const centers = Array.from({ length: bins }, (_, i) => d.edges[i]! + w / 2);
  const data: Data[] = [];
  const split = d.groups.length > 1;
  // Smaller groups drawn last so they sit on top (labelled rows are usually the rare ones).
  const order = d.groups.map((g, i) => ({ g, i })).sort((a, b) => b.g.count - a.g.count);
  // Two overlaid translucent histograms read well; beyond that they turn to mud, so each group becomes a step outline.
  const outlines = d.groups.length > 2;
  for (const { g, i } of order) {
    const st = groupStyle(g.key, i, d.splitBy, roles);
    const y = Array.from(g.hist, (c) => (normalize ? (c / Math.max(1, g.count)) * 100 : c));
    const common = {
      name: `${st.name} (${formatCount(g.count)})`,
      legendgroup: g.key,
      x: centers,
      y,
      customdata: Array.from(g.hist),
      hovertemplate: `${st.name}<br>${d.sensor} %{x:.4~g} ± ${formatNumber(w / 2)}<br>%{customdata:,} rows${normalize ? ' (%{y:.2f}% of group)' : ''}<extra></extra>`,
    };
    if (outlines) data.push({ type: 'scatter', mode: 'lines', line: { color: st.color, width: 1.6, shape: 'hvh' }, ...common });
    else data.push({ type: 'bar', width: w, marker: { color: st.color, opacity: split ? 0.55 : 0.85, line: { width: 0 } }, ...common });
  }
  d.groups.forEach((g, i) => {
    const st = groupStyle(g.key, i, d.splitBy, roles);
    const b = g.box;
    data.push({
      type: 'box',
      name: st.name,
      legendgroup: g.key,
      showlegend: false,
      orientation: 'h',
      y: [st.name],
      q1: [b.q1],
      median: [b.median],
      q3: [b.q3],
      lowerfence: [b.lowerFence],
      upperfence: [b.upperFence],
      mean: [b.mean],
      xaxis: 'x',
      yaxis: 'y2',
      marker: { color: st.color },
      line: { color: st.color, width: 1.3 },
      fillcolor: st.color.startsWith('#') ? `${st.color}33` : st.color,
      boxmean: true,
      hoverinfo: 'x',
    } as Data);
    data.push({
      type: 'scatter',
      mode: 'markers',
      name: `${st.name} min / max`,
      legendgroup: g.key,
      showlegend: false,
      x: [b.min, b.max],
      y: [st.name, st.name],
      xaxis: 'x',
      yaxis: 'y2',
      marker: { symbol: 'line-ns-open', size: 10, color: st.color, line: { width: 1.5, color: st.color } },
      hovertemplate: `${st.name}<br>%{x:.4~g}<extra>min / max</extra>`,
    } as Data);
  });
  // The box strip grows with the number of groups so every group keeps a readable row.
  const boxShare = Math.min(0.42, 0.08 + 0.055 * d.groups.length);
  const names = d.groups.map((g, i) => groupStyle(g.key, i, d.splitBy, roles).name);
  const layout: Partial<Layout> = {
    showlegend: true,
    barmode: 'overlay',
    bargap: 0,
    margin: { l: 64, r: 16, t: 30, b: 44 },
    legend: { orientation: 'h', x: 0, y: 1.02, yanchor: 'bottom' },
    xaxis: axis(d.sensor, { anchor: 'y2' }),
    yaxis: axis(normalize ? '% of group rows per bin' : 'rows per bin', { domain: [boxShare + 0.08, 1], rangemode: 'tozero', ticksuffix: normalize ? '%' : '' }),
    yaxis2: axis('', { domain: [0, boxShare], type: 'category', showgrid: false, autorange: 'reversed', tickmode: 'array', tickvals: names, ticktext: names, tickfont: { size: 10, color: CHART_COLORS.muted } }),
  };
  return { data, layout };
}

function ScatterCard({ dataset, roles }: { dataset: DatasetInfo; roles: DatasetRoles }) {
  const s = roles.sensors;
  const [xPref, setX] = useStoredState<string>(`scatter.x.${dataset.name}`, s[0]!);
  const [yPref, setY] = useStoredState<string>(`scatter.y.${dataset.name}`, s[1] ?? s[0]!);
  const [colorPref, setColor] = useStoredState<string>(`scatter.color.${dataset.name}`, roles.label ?? NONE);
  const x = s.includes(xPref) ? xPref : s[0]!;
  const y = s.includes(yPref) ? yPref : (s[1] ?? s[0]!);
  const colorBy = colorPref === NONE || colorPref === roles.label || roles.categoricals.includes(colorPref) || (colorPref === 'trip' && roles.trip) ? colorPref : NONE;
  const sc = useCall('explore.scatter', { dataset: dataset.name, x, y, ...(colorBy ? { colorBy } : {}), maxPoints: MAX_POINTS }, datasetVersion(dataset));
  const figure = useMemo(() => (sc.data ? scatterFigure(sc.data, x, y, roles) : null), [sc.data, x, y, roles]);
  const r = sc.data;
  let note = '';
  if (r?.kind === 'density') note = `${formatCount(r.total)} rows: showing density (more than ${formatCount(MAX_POINTS)} points would hide the shape)`;
  else if (r?.kind === 'points') {
    const groups = r.color ? new Set(r.color).size : 0;
    note = `${formatCount(r.total)} rows, every one drawn${groups > 12 ? ` · ${formatCount(groups)} ${r.colorBy === 'trip' ? 'trips' : 'groups'}: colours repeat, hover names each` : ''}`;
  }
  const empty = !r ? (sc.error ? 'No chart: see the error above' : 'Loading…') : r.total === 0 ? `No rows with both ${x} and ${y}` : null;

  return (
    <ChartCard
      testId="chart-scatter"
      title={`${y} vs ${x}`}
      note={<span data-testid="scatter-note">{note}</span>}
      controls={
        <>
          <label className="ex-inline-field">
            x
            <select value={x} onChange={(e) => setX(e.target.value)} data-testid="scatter-x">
              {s.map((c) => (
                <option key={c}>{c}</option>
              ))}
            </select>
          </label>
          <label className="ex-inline-field">
            y
            <select value={y} onChange={(e) => setY(e.target.value)} data-testid="scatter-y">
              {s.map((c) => (
                <option key={c}>{c}</option>
              ))}
            </select>
          </label>
          <label className="ex-inline-field">
            colour
            <select value={colorBy} onChange={(e) => setColor(e.target.value)} disabled={r?.kind === 'density'} title={r?.kind === 'density' ? 'A density shows counts, not colours' : undefined} data-testid="scatter-color">
              <SplitOptions roles={roles} withTrip />
            </select>
          </label>
        </>
      }
    >
      {sc.error !== null && <ErrorBox title="Could not compute the scatter" error={sc.error} />}
      <PlotlyChart testId="scatter-chart" data={figure?.data ?? []} layout={figure?.layout ?? {}} height={400} busy={sc.loading} empty={empty} />
    </ChartCard>
  );
}

function scatterFigure(r: ScatterResponse, xName: string, yName: string, roles: DatasetRoles): { data: Data[]; layout: Partial<Layout> } {
  const base: Partial<Layout> = { margin: { l: 64, r: 16, t: 30, b: 44 }, xaxis: axis(xName), yaxis: axis(yName) };
  if (r.kind === 'density') {
    const cx = Array.from({ length: r.nx }, (_, i) => (r.xEdges[i]! + r.xEdges[i + 1]!) / 2);
    const cy = Array.from({ length: r.ny }, (_, j) => (r.yEdges[j]! + r.yEdges[j + 1]!) / 2);
    // Counts span orders of magnitude: colour by log10 so sparse tails stay visible; empty cells stay white.
    const z: (number | null)[][] = [];
    const counts: number[][] = [];
    let max = 1;
    for (let j = 0; j < r.ny; j++) {
      const row: (number | null)[] = [];
      const crow: number[] = [];
      for (let i = 0; i < r.nx; i++) {
        const c = r.counts[j * r.nx + i]!;
        max = Math.max(max, c);
        row.push(c > 0 ? Math.log10(c) : null);
        crow.push(c);
      }
      z.push(row);
      counts.push(crow);
    }
    const decades = Math.ceil(Math.log10(max));
    const tickvals = Array.from({ length: decades + 1 }, (_, k) => k);
    return {
      data: [
        {
          type: 'heatmap',
          name: 'rows',
          x: cx,
          y: cy,
          z,
          customdata: counts,
          zmin: 0,
          zmax: Math.max(1, Math.log10(max)),
          colorscale: [
            [0, '#e8f0fc'],
            [0.35, '#7fa9e8'],
            [0.7, '#2563c9'],
            [1, '#0d2c66'],
          ],
          colorbar: { title: { text: 'rows', side: 'top' }, tickvals, ticktext: tickvals.map((k) => formatCount(10 ** k)), thickness: 10, len: 0.9, outlinewidth: 0, tickfont: { size: 10 } },
          hovertemplate: `${xName} %{x:.4~g}<br>${yName} %{y:.4~g}<br>%{customdata:,} rows<extra></extra>`,
        } as Data,
      ],
      layout: base,
    };
  }
  const data: Data[] = [];
  if (r.color === null) {
    data.push({ type: 'scatter', mode: 'markers', name: 'rows', x: r.x, y: r.y, marker: { size: 4, color: CHART_COLORS.accent, opacity: 0.5 }, hovertemplate: `${xName} %{x:.4~g}<br>${yName} %{y:.4~g}<extra></extra>` });
    return { data, layout: base };
  }
  const groups = new Map<string, number[]>();
  r.color.forEach((c, i) => {
    const list = groups.get(c);
    if (list) list.push(i);
    else groups.set(c, [i]);
  });
  const keys = [...groups.keys()].sort((a, b) => groups.get(b)!.length - groups.get(a)!.length);
  if (keys.length > 12) {
    // Too many groups (trips) for a legend: one trace, a colour per group, named on hover.
    const index = new Map(keys.map((k, i) => [k, i]));
    data.push({
      type: 'scatter',
      mode: 'markers',
      name: r.colorBy ?? '',
      x: r.x,
      y: r.y,
      text: r.color,
      // Palette colours repeat across groups; neighbouring runs still tell apart, and hover names the group.
      marker: { size: 4, opacity: 0.6, color: r.color.map((c) => seriesColor(index.get(c)!)) },
      hovertemplate: `${r.colorBy} %{text}<br>${xName} %{x:.4~g}<br>${yName} %{y:.4~g}<extra></extra>`,
    } as Data);
    return { data, layout: { ...base, showlegend: false } };
  }
  keys.forEach((k, gi) => {
    const idx = groups.get(k)!;
    const st = groupStyle(k, gi, r.colorBy, roles);
    data.push({
      type: 'scatter',
      mode: 'markers',
      name: `${st.name} (${formatCount(idx.length)})`,
      x: idx.map((i) => r.x[i]!),
      y: idx.map((i) => r.y[i]!),
      marker: { size: 4, color: st.color, opacity: r.colorBy === roles.label && k === '1' ? 0.9 : 0.45 },
      hovertemplate: `${st.name}<br>${xName} %{x:.4~g}<br>${yName} %{y:.4~g}<extra></extra>`,
    });
  });
  return { data, layout: { ...base, showlegend: true, legend: { orientation: 'h', x: 0, y: 1.02, yanchor: 'bottom', itemsizing: 'constant' } } };
}

function CorrelationCard({ dataset, roles }: { dataset: DatasetInfo; roles: DatasetRoles }) {
  const corr = useCall('explore.correlation', { dataset: dataset.name }, datasetVersion(dataset));
  const figure = useMemo(() => (corr.data ? correlationFigure(corr.data) : null), [corr.data]);
  const c = corr.data;
  const undefinedCount = c ? c.sensors.filter((_, i) => Number.isNaN(c.r[i * c.sensors.length + i]!)).length : 0;
  const n = c?.sensors.length ?? roles.sensors.length;
  const empty = !c ? (corr.error ? 'No chart: see the error above' : 'Computing correlations…') : c.sensors.length < 2 ? 'Correlation needs at least two sensors' : null;
  return (
    <ChartCard
      testId="chart-correlation"
      title="Correlation of sensors"
      note={`Pearson r over all rows · blue −1 … red +1${undefinedCount ? ` · blank: undefined for ${undefinedCount} constant sensor${undefinedCount === 1 ? '' : 's'}` : ''}`}
    >
      {corr.error !== null && <ErrorBox title="Could not compute correlations" error={corr.error} />}
      <PlotlyChart testId="correlation-chart" data={figure?.data ?? []} layout={figure?.layout ?? {}} height={Math.max(400, Math.min(640, 120 + n * 22))} busy={corr.loading} empty={empty} />
    </ChartCard>
  );
}

function correlationFigure(c: CorrelationResponse): { data: Data[]; layout: Partial<Layout> } {
  const n = c.sensors.length;
  const z: (number | null)[][] = [];
  for (let i = 0; i < n; i++) {
    const row: (number | null)[] = [];
    for (let j = 0; j < n; j++) {
      const v = c.r[i * n + j]!;
      row.push(Number.isNaN(v) ? null : v);
    }
    z.push(row);
  }
  return {
    data: [
      {
        type: 'heatmap',
        name: 'Pearson r',
        x: c.sensors,
        y: c.sensors,
        z,
        zmin: -1,
        zmax: 1,
        zmid: 0,
        xgap: 1,
        ygap: 1,
        colorscale: [
          [0, '#1a4fa8'],
          [0.25, '#7fa9e8'],
          [0.5, '#f7f7f7'],
          [0.75, '#ea8a8e'],
          [1, '#a11f25'],
        ],
        colorbar: { title: { text: 'r', side: 'top' }, thickness: 10, len: 0.9, outlinewidth: 0, tickvals: [-1, -0.5, 0, 0.5, 1], tickfont: { size: 10 } },
        ...(n <= MAX_CELL_TEXT ? { texttemplate: '%{z:.2f}', textfont: { size: 10 } } : {}),
        hovertemplate: '%{y} × %{x}<br>r = %{z:.3f}<extra></extra>',
        hoverongaps: false,
      } as Data,
    ],
    layout: {
      margin: { l: 64, r: 16, t: 12, b: 44 },
      xaxis: axis('sensor', { type: 'category', showgrid: false, showline: false, tickangle: n > 4 ? -40 : 0 }),
      yaxis: axis('sensor', { type: 'category', showgrid: false, showline: false, autorange: 'reversed' }),
    },
  };
}
