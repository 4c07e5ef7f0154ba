/**
 * Overview tab (issue #4 item 1): KPI tiles, label rate by device and by every
 * categorical column, rows over time and missing values per column. One
 * `explore.overview` call (cached per dataset version by the engine).
 */
import { useMemo } from 'react';
import type { Data, Layout } from 'plotly.js-dist-min';
import type { DatasetInfo } from '../../../../core/data/api.ts';
import type { FleetOverview, GroupRate } from '../../../../core/explore/api.ts';
import { axis, CHART_COLORS } from '../../components/charts/chart-theme.ts';
import { PlotlyChart } from '../../components/charts/PlotlyChart.tsx';
import { ErrorBox } from '../../components/Notices.tsx';
import { formatCount } from '../../format.ts';
import { routeHash } from '../../route.ts';
import { ChartCard } from './ChartCard.tsx';
import { datasetRoles, datasetVersion, timeAxisTitle, type DatasetRoles } from './dataset-roles.ts';
import { formatNumber, formatPercent, formatSpanSeconds } from './explore-format.ts';
import { useCall } from './use-call.ts';

const TOP_DEVICES = 30;
const COLLATOR = new Intl.Collator('en', { numeric: true });
export const NO_LABEL_MESSAGE = 'No label column — set one on the Data page';

export function OverviewTab({ dataset }: { dataset: DatasetInfo }) {
  const roles = datasetRoles(dataset);
  const ov = useCall('explore.overview', { dataset: dataset.name }, datasetVersion(dataset));
  const o = ov.data;

  if (ov.error !== null && !o) {
    return (
      <div className="ex-pad">
        <ErrorBox title="Could not compute the overview" error={ov.error} testId="overview-error" />
      </div>
    );
  }
  return (
    <div className="ex-scroll" data-testid="overview-tab">
      {o && o.label === null && (
        <div className="notice ex-notice" data-testid="overview-no-label">
          <b>{NO_LABEL_MESSAGE}.</b> Label rates need a 0/1 column marking known anomalies or defects.{' '}
          <a href={routeHash('data', dataset.name, 'schema')}>Open the roles of {dataset.name}</a>
        </div>
      )}
      <Kpis o={o} roles={roles} />
      {o ? <OverviewCharts o={o} roles={roles} busy={ov.loading} /> : <div className="ex-empty muted">Computing the overview of {formatCount(dataset.rowCount)} rows…</div>}
    </div>
  );
}

function Kpis({ o, roles }: { o: FleetOverview | null; roles: DatasetRoles }) {
  const span = o?.timeSpan ?? null;
  let spanMain = '—';
  let spanSub = roles.time ? '' : 'no time column';
  if (span) {
    if (o!.temporal) {
      const a = Date.parse(String(span.min).replace(' ', 'T') + 'Z');
      const b = Date.parse(String(span.max).replace(' ', 'T') + 'Z');
      spanMain = formatSpanSeconds((b - a) / 1000);
      // Dates only when the span is days long: the tile is narrow and minutes add nothing there.
      const digits = b - a > 2 * 86_400_000 ? 10 : 16;
      spanSub = `${String(span.min).slice(0, digits)} → ${String(span.max).slice(0, digits)}`;
    } else {
      // A numeric axis (cycles, counters) has no unit we know of: the span, and the column it is measured in.
      spanMain = formatNumber(Number(span.max) - Number(span.min));
      spanSub = `${roles.time ?? 'time'} ${formatNumber(Number(span.min))} → ${formatNumber(Number(span.max))}`;
    }
  }
  const tiles: { key: string; label: string; value: string; sub: string; tone?: 'label' | 'muted' }[] = [
    { key: 'rows', label: 'Rows', value: o ? formatCount(o.rows) : '…', sub: `${roles.sensors.length} sensors` },
    { key: 'devices', label: 'Devices', value: o ? (o.devices === null ? '—' : formatCount(o.devices)) : '…', sub: roles.device ? roles.device : 'no device column' },
    { key: 'trips', label: 'Trips', value: o ? (o.trips === null ? '—' : formatCount(o.trips)) : '…', sub: roles.trip ? roles.trip : 'no trip column' },
    { key: 'span', label: 'Time span', value: o ? spanMain : '…', sub: spanSub },
    {
      key: 'label',
      label: 'Label rate',
      value: o ? (o.labelRate === null ? '—' : formatPercent(o.labelRate)) : '…',
      sub: o && o.labelRate !== null ? `${formatCount(Math.round(o.labelRate * o.rows))} labelled rows (${o.label})` : o ? 'no label column' : '',
      tone: o && o.labelRate !== null ? 'label' : 'muted',
    },
  ];
  return (
    <div className="ex-kpis" data-testid="overview-kpis">
      {tiles.map((t) => (
        <div key={t.key} className={`ex-kpi${t.tone ? ' ex-kpi-tone-' + t.tone : ''}`} data-testid={`kpi-${t.key}`}>
          <div className="ex-kpi-label">{t.label}</div>
          <div className="ex-kpi-value">{t.value}</div>
          <div className="ex-kpi-sub" title={t.sub}>
            {t.sub}
          </div>
        </div>
      ))}
    </div>
  );
}

/** Bars of label rate per group with the fleet rate as a dashed reference (two traces, so a legend). */
function rateChart(groups: GroupRate[], keyTitle: string, o: FleetOverview): { data: Data[]; layout: Partial<Layout> } {
  const keys = groups.map((g) => g.key);
  const data: Data[] = [
    {
      type: 'bar',
      name: `${o.label} rate per ${keyTitle}`,
      x: keys,
      y: groups.map((g) => g.rate * 100),
      customdata: groups.map((g) => [g.labelled, g.rows]),
      marker: { color: CHART_COLORS.label, opacity: 0.8 },
      hovertemplate: `<b>%{x}</b><br>%{y:.2f}% labelled<br>%{customdata[0]:,} of %{customdata[1]:,} rows<extra></extra>`,
    },
    // Legend entry only: the line itself is a shape spanning the whole plot width.
    { type: 'scatter', mode: 'lines', name: `whole fleet ${formatPercent(o.labelRate)}`, x: [null], y: [null], line: { color: CHART_COLORS.text, dash: 'dash', width: 1.2 }, hoverinfo: 'skip' },
  ];
  const fleet = (o.labelRate ?? 0) * 100;
  const layout: Partial<Layout> = {
    showlegend: true,
    shapes: [{ type: 'line', xref: 'paper', x0: 0, x1: 1, yref: 'y', y0: fleet, y1: fleet, line: { color: CHART_COLORS.text, dash: 'dash', width: 1.2 }, layer: 'above' }],
    margin: { l: 56, r: 12, t: 28, b: 40 },
    xaxis: axis(keyTitle, { type: 'category', tickangle: keys.length > 12 ? -45 : 0, showgrid: false }),
    yaxis: axis(`${o.label} rate (% of rows)`, { rangemode: 'tozero', ticksuffix: '%' }),
  };
  return { data, layout };
}

/** Rows per group when there is no label to rate. */
function rowsChart(groups: GroupRate[], keyTitle: string): { data: Data[]; layout: Partial<Layout> } {
  const keys = groups.map((g) => g.key);
  return {
    data: [{ type: 'bar', name: 'rows', x: keys, y: groups.map((g) => g.rows), marker: { color: CHART_COLORS.accent }, hovertemplate: '<b>%{x}</b><br>%{y:,} rows<extra></extra>' }],
    layout: {
      margin: { l: 56, r: 12, t: 12, b: 40 },
      xaxis: axis(keyTitle, { type: 'category', tickangle: keys.length > 12 ? -45 : 0, showgrid: false }),
      yaxis: axis('rows', { rangemode: 'tozero' }),
    },
  };
}

function OverviewCharts({ o, roles, busy }: { o: FleetOverview; roles: DatasetRoles; busy: boolean }) {
  const hasLabel = o.label !== null;
  const deviceTitle = roles.device ?? 'device';

  const device = useMemo(() => {
    const top = o.labelByDevice.slice(0, TOP_DEVICES);
    return hasLabel ? rateChart(top, deviceTitle, o) : rowsChart(top, deviceTitle);
  }, [o, hasLabel, deviceTitle]);

  // Category values in natural order (F1…F5, M-A…M-F): easier to find one than in rank order.
  const categories = useMemo(
    () =>
      o.labelByCategory.map((c) => {
        const groups = [...c.groups].sort((a, b) => COLLATOR.compare(a.key, b.key));
        return { column: c.column, n: groups.length, ...(hasLabel ? rateChart(groups, c.column, o) : rowsChart(groups, c.column)) };
      }),
    [o, hasLabel],
  );

  const overTime = useMemo(() => {
    const r = o.rowsOverTime;
    const day = r.unit === 'day';
    const x = day ? r.bucket : r.bucket.map(Number);
    const width = !day && x.length > 1 ? (x[1] as number) - (x[0] as number) : undefined;
    const data: Data[] = [
      {
        type: 'bar',
        name: 'rows',
        x,
        y: r.rows,
        width: width,
        offset: width === undefined ? undefined : 0,
        marker: { color: CHART_COLORS.accent },
        hovertemplate: day ? '%{x|%Y-%m-%d}<br>%{y:,} rows<extra></extra>' : `${roles.time ?? 'time'} %{x:.4~g}…<br>%{y:,} rows<extra></extra>`,
      },
    ];
    const layout: Partial<Layout> = {
      bargap: day ? 0.1 : 0.04,
      margin: { l: 56, r: 12, t: 12, b: 40 },
      xaxis: axis(day ? `${timeAxisTitle(roles)} (day)` : `${timeAxisTitle(roles)} (50 equal buckets)`, day ? { type: 'date', showgrid: false } : { showgrid: false }),
      yaxis: axis(day ? 'rows per day' : 'rows per bucket', { rangemode: 'tozero' }),
    };
    return { data, layout, empty: r.bucket.length === 0 ? (roles.time ? 'No rows with a time value' : 'No time column — set one on the Data page') : null };
  }, [o, roles]);

  const missing = useMemo(() => {
    const m = o.missing;
    const data: Data[] = [
      {
        type: 'bar',
        name: 'missing',
        x: m.map((c) => c.column),
        y: m.map((c) => c.rate * 100),
        marker: { color: m.map((c) => (c.rate >= 0.05 ? CHART_COLORS.warn : CHART_COLORS.accent)) },
        hovertemplate: '<b>%{x}</b><br>%{y:.3f}% missing<extra></extra>',
      },
    ];
    const layout: Partial<Layout> = {
      margin: { l: 56, r: 12, t: 12, b: 40 },
      xaxis: axis('column', { type: 'category', tickangle: m.length > 10 ? -45 : 0, showgrid: false }),
      yaxis: axis('missing (% of rows)', { rangemode: 'tozero', ticksuffix: '%' }),
    };
    return { data, layout, empty: m.every((c) => c.rate === 0) ? `No missing values in any of the ${m.length} columns` : null };
  }, [o]);

  const nDevices = o.devices ?? 0;
  const labelNote = hasLabel ? `share of rows with ${o.label} = 1` : 'rows (no label column to rate)';
  return (
    <div className="ex-grid" data-testid="overview-charts">
      <ChartCard
        className="ex-span-2"
        testId="chart-label-by-device"
        title={hasLabel ? `Label rate by device` : 'Rows by device'}
        note={roles.device ? `top ${Math.min(TOP_DEVICES, o.labelByDevice.length)} of ${formatCount(nDevices)} devices, ${hasLabel ? 'highest rate' : 'most rows'} first · ${labelNote}` : undefined}
      >
        <PlotlyChart
          data={device.data}
          layout={device.layout}
          height={280}
          busy={busy}
          empty={!roles.device ? 'No device column — set one on the Data page' : o.labelByDevice.length === 0 ? 'No devices' : null}
        />
      </ChartCard>
      <ChartCard testId="chart-rows-over-time" title={o.rowsOverTime.unit === 'day' ? 'Rows per day' : `Rows over ${roles.time ?? 'time'}`} note={`${formatCount(o.rows)} rows in all`}>
        <PlotlyChart data={overTime.data} layout={overTime.layout} height={240} busy={busy} empty={overTime.empty} />
      </ChartCard>
      <ChartCard testId="chart-missing" title="Missing values per column" note="share of NULLs · amber at 5% or more">
        <PlotlyChart data={missing.data} layout={missing.layout} height={240} busy={busy} empty={missing.empty} />
      </ChartCard>
      {categories.map((c) => (
        <ChartCard key={c.column} testId={`chart-category-${c.column}`} title={hasLabel ? `Label rate by ${c.column}` : `Rows by ${c.column}`} note={`${c.n} values · ${labelNote}`}>
          <PlotlyChart data={c.data} layout={c.layout} height={240} busy={busy} empty={c.n === 0 ? `No values in ${c.column}` : null} />
        </ChartCard>
      ))}
      {categories.length === 0 && (
        <ChartCard testId="chart-category-none" title="Label rate by category" note="categorical columns such as factory or model">
          <PlotlyChart data={[]} layout={{}} height={240} empty="No categorical columns — mark grouping columns (factory, model…) as categorical on the Data page" />
        </ChartCard>
      )}
    </div>
  );
}
