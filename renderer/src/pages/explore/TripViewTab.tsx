/**
 * Trip view (issue #4 item 3): every chosen sensor of one trip (or one device
 * across its trips) on stacked subplots whose x axes are linked. The engine
 * sends at most ~4 points per pixel column (M4), so on zoom or pan the chart
 * asks again for just the visible window at the plot's pixel width and
 * re-renders at finer detail; a double-click goes back to the whole extent.
 */
import { useCallback, useEffect, useMemo, useRef, useState } from 'react';
import type { Data, Layout, LayoutAxis, PlotRelayoutEvent, Shape, Annotation } from 'plotly.js-dist-min';
import type { DatasetInfo } from '../../../../core/data/api.ts';
import type { SeriesRequest, SeriesResponse } from '../../../../core/explore/api.ts';
import { call } from '../../api/client.ts';
import { axis, CHART_COLORS, seriesColor } from '../../components/charts/chart-theme.ts';
import { PlotlyChart } from '../../components/charts/PlotlyChart.tsx';
import { ErrorBox } from '../../components/Notices.tsx';
import { formatCount } from '../../format.ts';
import { datasetRoles, datasetVersion, timeAxisTitle, type DatasetRoles } from './dataset-roles.ts';
import { formatAxisValue, parseAxisValue } from './explore-format.ts';
import { addressWindow, type ChartTarget } from './explore-route.ts';
import { useCall, useStoredState } from './use-call.ts';

/** Wait this long after the last zoom/pan step before asking the engine (a drag emits many). */
const DEBOUNCE_MS = 150;
const MARGIN = { l: 72, r: 20, t: 36, b: 48 };
const DEFAULT_SENSORS = 4;
/** Trip names drawn above the plot at most (the dashed lines are always drawn). */
const MAX_TRIP_NAMES = 24;

type TimeWindow = [number, number] | null;

interface Loaded {
  res: SeriesResponse;
  /** The window this answer was asked for (null: whole extent). */
  window: TimeWindow;
  width: number;
  sensors: string[];
}

export interface TripViewProps {
  dataset: DatasetInfo;
  target: ChartTarget | null;
  /** Zoom window from the address (null: whole extent). */
  window: [number, number] | null;
  onTarget(t: ChartTarget): void;
  /** The user zoomed, panned or reset. */
  onWindow(w: [number, number] | null): void;
}

export function TripViewTab({ dataset, target, window: routeWindow, onTarget, onWindow }: TripViewProps) {
  const roles = useMemo(() => datasetRoles(dataset), [dataset]);
  if (!roles.time) {
    return (
      <div className="ex-pad">
        <div className="notice" data-testid="view-no-time">
          <b>No time column.</b> Trip charts need a time axis (a timestamp or a number such as a cycle); set the time role on the Data page.
        </div>
      </div>
    );
  }
  if (!target) return <PickTarget dataset={dataset} roles={roles} onTarget={onTarget} />;
  return <TripChart key={`${target.device}|${target.trip}|${target.scope}`} dataset={dataset} roles={roles} target={target} routeWindow={routeWindow} onTarget={onTarget} onWindow={onWindow} />;
}

/** No trip chosen yet: offer the most notable one, and say where the list is. */
function PickTarget({ dataset, roles, onTarget }: { dataset: DatasetInfo; roles: DatasetRoles; onTarget(t: ChartTarget): void }) {
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const openTop = async (): Promise<void> => {
    setBusy(true);
    try {
      const unit = roles.trip ? 'trip' : 'device';
      const page = await call('explore.trips', { dataset: dataset.name, unit, preset: roles.label ? 'labelled' : 'extreme', limit: 1 });
      const col = (n: string): string | null => {
        const i = page.columns.findIndex((c) => c.name === n);
        const v = i < 0 ? null : page.values[i]?.[0];
        return v === null || v === undefined ? null : String(v);
      };
      if (page.total === 0) throw new Error('the dataset has no trips');
      onTarget({ scope: unit, device: col('device'), trip: unit === 'trip' ? col('trip') : null });
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  return (
    <div className="ex-pad">
      <div className="panel ex-pick" data-testid="view-pick">
        <h3>Choose a {roles.trip ? 'trip' : 'device'} to chart</h3>
        <p className="muted">
          Click a row in the <b>Trips</b> tab, or start with the {roles.label ? 'most labelled' : 'most extreme'} {roles.trip ? 'trip' : 'device'}.
        </p>
        <button type="button" className="btn btn-primary" disabled={busy || (!roles.device && !roles.trip)} onClick={() => void openTop()} data-testid="view-open-top">
          {busy ? 'Finding…' : `Open the ${roles.label ? 'most labelled' : 'most extreme'} ${roles.trip ? 'trip' : 'device'}`}
        </button>
        {error !== null && <ErrorBox title="Could not find a trip" error={error} />}
      </div>
    </div>
  );
}

/** Index of the x value nearest to t in an ascending array. */
function nearest(x: Float64Array, t: number): number {
  let lo = 0;
  let hi = x.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (x[mid]! < t) lo = mid + 1;
    else hi = mid;
  }
  if (lo > 0 && Math.abs(x[lo - 1]! - t) <= Math.abs(x[lo]! - t)) return lo - 1;
  return lo;
}

/** Labelled times merged into bands: neighbours closer than `gap` join one band. */
function bands(times: Float64Array, gap: number): [number, number][] {
  const out: [number, number][] = [];
  for (const t of times) {
    const last = out[out.length - 1];
    if (last && t - last[1] <= gap) last[1] = t;
    else out.push([t, t]);
  }
  return out;
}

/** The x window of a relayout event: a range, 'reset' (autorange), or null when x did not change. */
function windowOf(e: PlotRelayoutEvent, temporal: boolean): TimeWindow | 'reset' | null {
  const rec = e as unknown as Record<string, unknown>;
  for (const key of Object.keys(rec)) {
    let m = /^xaxis(\d*)\.autorange$/.exec(key);
    if (m && rec[key] === true) return 'reset';
    m = /^xaxis(\d*)\.range\[0\]$/.exec(key);
    if (m) {
      const a = parseAxisValue(rec[key], temporal);
      const b = parseAxisValue(rec[`xaxis${m[1]}.range[1]`], temporal);
      if (Number.isFinite(a) && Number.isFinite(b)) return a < b ? [a, b] : [b, a];
    }
    m = /^xaxis(\d*)\.range$/.exec(key);
    if (m && Array.isArray(rec[key])) {
      const [a0, b0] = rec[key] as unknown[];
      const a = parseAxisValue(a0, temporal);
      const b = parseAxisValue(b0, temporal);
      if (Number.isFinite(a) && Number.isFinite(b)) return a < b ? [a, b] : [b, a];
    }
  }
  return null;
}

interface TripChartProps {
  dataset: DatasetInfo;
  roles: DatasetRoles;
  target: ChartTarget;
  routeWindow: TimeWindow;
  onTarget(t: ChartTarget): void;
  onWindow(w: TimeWindow): void;
}

function TripChart({ dataset, roles, target, routeWindow, onTarget, onWindow }: TripChartProps) {
  const [stored, setSensors] = useStoredState<string[] | null>(`view.sensors.${dataset.name}`, null);
  // First visit: default to sensors that vary. A sensor whose correlation with itself is undefined has zero
  // variance (C-MAPSS has seven); charting it draws a flat line. The correlation call is a cheap way to know.
  const needDefault = stored === null && roles.sensors.length > DEFAULT_SENSORS;
  const corr = useCall('explore.correlation', needDefault ? { dataset: dataset.name } : null, datasetVersion(dataset));
  const sensors = useMemo(() => {
    if (stored !== null) return roles.sensors.filter((s) => stored.includes(s));
    if (!needDefault) return roles.sensors;
    if (corr.data) {
      const c = corr.data;
      const varying = c.sensors.filter((_, i) => Number.isFinite(c.r[i * c.sensors.length + i]!));
      return roles.sensors.filter((s) => varying.includes(s)).slice(0, DEFAULT_SENSORS);
    }
    return corr.error !== null ? roles.sensors.slice(0, DEFAULT_SENSORS) : [];
  }, [roles.sensors, stored, needDefault, corr.data, corr.error]);
  const choosing = stored === null && needDefault && !corr.data && corr.error === null;
  const [win, setWinState] = useState<TimeWindow>(routeWindow);
  const setWin = useCallback(
    (w: TimeWindow) => {
      const at = w ? addressWindow(w) : null;
      setWinState(at);
      onWindow(at);
    },
    [onWindow],
  );
  // The address changed under us (back button, a link from Models or Live to the same trip): follow it.
  const routeKey = routeWindow ? routeWindow.join(',') : '';
  useEffect(() => {
    setWinState((w) => ((w ? w.join(',') : '') === routeKey ? w : routeKey ? (routeKey.split(',').map(Number) as [number, number]) : null));
  }, [routeKey]);
  const [width, setWidth] = useState(0);
  const [loaded, setLoaded] = useState<Loaded | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [loading, setLoading] = useState(false);
  const seq = useRef(0);
  const boxRef = useRef<HTMLDivElement>(null);
  const version = datasetVersion(dataset);

  // The plot's pixel width decides how many points the engine sends (about 4 per pixel column).
  useEffect(() => {
    const el = boxRef.current;
    if (!el) return;
    const measure = (): void => setWidth(Math.max(100, Math.round(el.clientWidth - MARGIN.l - MARGIN.r)));
    measure();
    const ro = new ResizeObserver(measure);
    ro.observe(el);
    return () => ro.disconnect();
  }, []);

  // Keyed on the sensor names: `sensors` is a fresh array whenever the stored choice is re-read.
  const sensorsKey = sensors.join('\u0000');
  const sensorsRef = useRef(sensors);
  sensorsRef.current = sensors;
  useEffect(() => {
    const sensors = sensorsRef.current;
    const mine = ++seq.current;
    if (width === 0 || sensors.length === 0) {
      setLoading(false);
      return;
    }
    const req: SeriesRequest = {
      dataset: dataset.name,
      ...(target.device !== null ? { device: target.device } : {}),
      ...(target.scope === 'trip' && target.trip !== null ? { trip: target.trip } : {}),
      sensors,
      width,
      ...(win ? { range: win } : {}),
    };
    setLoading(true);
    // Debounced: a drag or a wheel zoom fires relayout many times; only the last window is fetched.
    const timer = window.setTimeout(() => {
      call('explore.series', req).then(
        (res) => {
          // An answer for a window the user has already left is dropped.
          if (mine !== seq.current) return;
          setLoaded({ res, window: win, width, sensors });
          setError(null);
          setLoading(false);
        },
        (err: unknown) => {
          if (mine !== seq.current) return;
          setError(err);
          setLoading(false);
        },
      );
    }, DEBOUNCE_MS);
    return () => window.clearTimeout(timer);
  }, [dataset.name, target.device, target.trip, target.scope, sensorsKey, width, win, version]);

  const onRelayout = useCallback(
    (e: PlotRelayoutEvent) => {
      const w = windowOf(e, roles.temporal);
      if (w === 'reset') setWin(null);
      else if (w) setWin(w);
    },
    [roles.temporal, setWin],
  );

  const figure = useMemo(() => (loaded ? buildFigure(loaded, roles, target) : null), [loaded, roles, target]);

  const toggleSensor = (s: string): void => {
    const next = sensors.includes(s) ? sensors.filter((x) => x !== s) : roles.sensors.filter((x) => x === s || sensors.includes(x));
    setSensors(next);
  };

  const res = loaded?.res ?? null;
  const points = res ? Math.max(0, ...res.traces.map((t) => t.x.length)) : 0;
  const hasDevice = target.device !== null;
  const canTripScope = target.trip !== null;

  let empty: string | null = null;
  if (choosing) empty = 'Choosing sensors…';
  else if (sensors.length === 0) empty = 'Choose at least one sensor above';
  else if (!res) empty = error ? 'No chart: see the error above' : 'Loading the series…';
  else if (res.rawRows === 0) empty = res.extent ? 'No rows in this window — press “Whole extent” above' : `No rows for this ${target.scope}`;

  return (
    <div className="ex-scroll" data-testid="view-tab">
      <section className="panel ex-view">
        <div className="ex-view-head">
          <div className="ex-view-title">
            <span className="muted">{target.scope === 'trip' ? 'Trip' : 'Device'}</span>
            <span className="mono ex-view-id" data-testid="view-title">
              {target.scope === 'trip' ? target.trip : target.device}
            </span>
            {target.scope === 'trip' && target.device !== null && (
              <span className="muted">
                on device <span className="mono">{target.device}</span>
              </span>
            )}
          </div>
          {hasDevice && canTripScope && (
            <div className="segmented" role="group" aria-label="Chart one trip or the whole device">
              <button type="button" className={`seg-btn${target.scope === 'trip' ? ' on' : ''}`} data-testid="view-scope-trip" onClick={() => onTarget({ ...target, scope: 'trip' })}>
                This trip
              </button>
              <button type="button" className={`seg-btn${target.scope === 'device' ? ' on' : ''}`} data-testid="view-scope-device" onClick={() => onTarget({ ...target, scope: 'device' })}>
                Whole device
              </button>
            </div>
          )}
          <span className="spacer" />
          <button type="button" className="btn btn-small" disabled={win === null} onClick={() => setWin(null)} data-testid="view-reset" title="Show the whole extent (or double-click the chart)">
            Whole extent
          </button>
        </div>
        <div className="ex-sensor-chips" role="group" aria-label="Sensors" data-testid="view-sensors">
          <span className="ex-chips-label">Sensors</span>
          {roles.sensors.map((s) => {
            const i = sensors.indexOf(s);
            const on = i >= 0;
            return (
              <button key={s} type="button" className={`ex-chip${on ? ' on' : ''}`} aria-pressed={on} onClick={() => toggleSensor(s)} data-testid={`view-sensor-${s}`}>
                <span className="ex-chip-dot" style={{ background: on ? seriesColor(i) : undefined }} />
                {s}
              </button>
            );
          })}
          {roles.sensors.length > 6 && (
            <>
              <button type="button" className="btn btn-small ex-chip-action" onClick={() => setSensors(roles.sensors.slice(0, 12))}>
                First 12
              </button>
              <button type="button" className="btn btn-small ex-chip-action" onClick={() => setSensors([])}>
                None
              </button>
            </>
          )}
        </div>
        <div className="ex-view-status" data-testid="series-status" data-raw-rows={res?.rawRows ?? ''} data-points={points} data-downsampled={res ? String(res.downsampled) : ''} data-loading={String(loading)}>
          {res ? (
            <>
              <b>{formatCount(res.rawRows)}</b> rows in view ·{' '}
              {res.downsampled ? (
                <>
                  downsampled (M4) to <b>{formatCount(points)}</b> points per sensor
                </>
              ) : (
                <>
                  all rows drawn (<b>{formatCount(points)}</b> points per sensor)
                </>
              )}
              {' · '}
              {loaded?.window ? (
                <span data-testid="view-window">
                  window {formatAxisValue(loaded.window[0], roles.temporal)} → {formatAxisValue(loaded.window[1], roles.temporal)} · double-click to reset
                </span>
              ) : (
                <span data-testid="view-window">whole extent · drag across the chart to zoom in</span>
              )}
              {res.labelled.length > 0 && (
                <span className="ex-label-key">
                  {' · '}
                  <span className="ex-swatch" /> {roles.label} = 1
                </span>
              )}
            </>
          ) : (
            <span className="muted">{sensors.length || choosing ? 'Loading…' : 'No sensors chosen'}</span>
          )}
          {loading && res && <span className="muted"> · refining…</span>}
        </div>
        {error !== null && <ErrorBox title="Could not load the series" error={error} testId="view-error" />}
        <div ref={boxRef} className="ex-view-chart">
          <PlotlyChart
            testId="trip-chart"
            data={figure?.data ?? []}
            layout={figure?.layout ?? {}}
            height={figure?.height ?? chartHeight(Math.max(1, sensors.length))}
            empty={empty}
            busy={loading}
            onRelayout={onRelayout}
          />
        </div>
      </section>
    </div>
  );
}

function chartHeight(n: number): number {
  // Four sensors fit a 900 px window under the page header; more scroll.
  const per = n <= 2 ? 180 : n <= 4 ? 128 : n <= 8 ? 104 : 88;
  return MARGIN.t + MARGIN.b + n * per;
}

/**
 * Break the line where readings pause (between trips, outages): a NaN point
 * where the step is far longer than usual, so Plotly does not draw a straight
 * line across hours without data. `minGap` is the smallest step that counts.
 */
function breakGaps(x: Float64Array, y: Float64Array, minGap: number): { x: Float64Array; y: Float64Array } {
  if (x.length < 3) return { x, y };
  const steps: number[] = [];
  const stride = Math.max(1, Math.floor(x.length / 2000));
  for (let i = stride; i < x.length; i += stride) steps.push(x[i]! - x[i - stride]!);
  steps.sort((a, b) => a - b);
  const median = (steps[steps.length >> 1] ?? 0) / stride;
  const gap = Math.max(median * 10, minGap);
  const cuts: number[] = [];
  for (let i = 1; i < x.length; i++) if (x[i]! - x[i - 1]! > gap) cuts.push(i);
  if (cuts.length === 0) return { x, y };
  const nx = new Float64Array(x.length + cuts.length);
  const ny = new Float64Array(x.length + cuts.length);
  let o = 0;
  let c = 0;
  for (let i = 0; i < x.length; i++) {
    if (c < cuts.length && cuts[c] === i) {
      nx[o] = (x[i - 1]! + x[i]!) / 2;
      ny[o] = Number.NaN;
      o++;
      c++;
    }
    nx[o] = x[i]!;
    ny[o] = y[i]!;
    o++;
  }
  return { x: nx, y: ny };
}

/** Stacked subplots (sensor i on x{i+1}/y{i+1}, every x axis matching 'x'), labelled rows and trip starts. */
function buildFigure(loaded: Loaded, roles: DatasetRoles, target: ChartTarget): { data: Data[]; layout: Partial<Layout>; height: number } {
  const { res, window: win } = loaded;
  const n = res.traces.length;
  const height = chartHeight(n);
  const plotH = height - MARGIN.t - MARGIN.b;
  const gap = Math.min(0.06, 14 / plotH);
  const slot = (1 - gap * (n - 1)) / n;
  const data: Data[] = [];
  // Labelled-row markers go after the sensors, so the legend lists every sensor first.
  const marks: Data[] = [];
  const layout: Partial<Layout> = {
    margin: MARGIN,
    showlegend: true,
    hovermode: 'x',
    dragmode: 'zoom',
    // Keep the user's zoom across data updates; a new trip or sensor set starts fresh.
    uirevision: `${target.scope}|${target.device}|${target.trip}|${loaded.sensors.join(',')}`,
    // Pinned to the top of the figure, above the row of trip names.
    legend: { orientation: 'h', x: 0, xanchor: 'left', yref: 'container', y: 1, yanchor: 'top', font: { size: 11 } },
  };
  const xType: Partial<LayoutAxis> = roles.temporal ? { type: 'date', hoverformat: '%Y-%m-%d %H:%M:%S' } : { type: 'linear' };
  const range: Partial<LayoutAxis> = win ? { range: [win[0], win[1]], autorange: false } : { autorange: true };
  const shapes: Partial<Shape>[] = [];
  const annotations: Partial<Annotation>[] = [];

  // The gap under which labelled times form one band: ~3 pixel columns, or 1.5 sampling steps when zoomed in far.
  const xs = res.traces[0]?.x ?? new Float64Array(0);
  const span = win ? win[1] - win[0] : res.extent ? res.extent[1] - res.extent[0] : 0;
  let step = 0;
  if (xs.length > 1) step = (xs[xs.length - 1]! - xs[0]!) / (xs.length - 1);
  const bandGap = Math.max((span / Math.max(1, loaded.width)) * 3, step * 1.5);
  const labelBands = bands(res.labelled, bandGap);
  const halfStep = Math.max(step / 2, span / Math.max(1, loaded.width) / 2);
  for (const [a, b] of labelBands) {
    shapes.push({ type: 'rect', xref: 'x', yref: 'paper', x0: a - halfStep, x1: b + halfStep, y0: 0, y1: 1, fillcolor: CHART_COLORS.labelBand, line: { width: 0 }, layer: 'below' });
  }

  const unitsPerPx = span / Math.max(1, loaded.width);
  res.traces.forEach((t, i) => {
    const id = i === 0 ? '' : String(i + 1);
    const top = 1 - i * (slot + gap);
    const color = seriesColor(i);
    // M4 buckets are about a pixel wide: only pauses of several pixels are real gaps.
    const line = breakGaps(t.x, t.y, unitsPerPx * 4);
    data.push({
      type: 'scatter',
      mode: t.x.length <= 60 ? 'lines+markers' : 'lines',
      name: t.sensor,
      x: line.x,
      y: line.y,
      xaxis: `x${id}`,
      yaxis: `y${id}`,
      line: { color, width: 1.3 },
      marker: { size: 4, color },
      connectgaps: false,
      hovertemplate: `${t.sensor}: %{y:.4~g}<extra></extra>`,
    } as Data);
    if (res.labelled.length > 0 && t.x.length > 0) {
      const lx: number[] = [];
      const ly: number[] = [];
      for (const tl of res.labelled) {
        const k = nearest(t.x, tl);
        lx.push(tl);
        ly.push(t.y[k]!);
      }
      marks.push({
        type: 'scatter',
        mode: 'markers',
        name: `${roles.label ?? 'label'} = 1 (labelled row)`,
        legendgroup: 'labelled',
        showlegend: i === 0,
        x: lx,
        y: ly,
        xaxis: `x${id}`,
        yaxis: `y${id}`,
        marker: { color: CHART_COLORS.label, size: 5, line: { width: 0 } },
        hovertemplate: `${roles.label} = 1<br>${t.sensor}: %{y:.4~g}<extra></extra>`,
      } as Data);
    }
    const last = i === n - 1;
    layout[`xaxis${id}` as 'xaxis'] = axis(last ? timeAxisTitle(roles) : '', {
      ...xType,
      ...range,
      anchor: `y${id}` as 'y',
      ...(i === 0 ? {} : { matches: 'x' }),
      showticklabels: last,
      showspikes: true,
      spikemode: 'across',
      spikethickness: 1,
      spikecolor: CHART_COLORS.faint,
      spikedash: 'dot',
    } as Partial<LayoutAxis>);
    layout[`yaxis${id}` as 'yaxis'] = axis(t.sensor, {
      domain: [Math.max(0, top - slot), top],
      anchor: `x${id}` as 'x',
      // Zoom is along time only: a box drag picks a window, y follows the data.
      fixedrange: true,
      autorange: true,
      nticks: Math.max(3, Math.round((slot * plotH) / 34)),
      title: { text: t.sensor, font: { size: 11, color: color }, standoff: 4 },
    } as Partial<LayoutAxis>);
  });

  data.push(...marks);
  if (res.tripStarts.length > 0) {
    // Dozens of boundaries in view would hide the data behind them: draw them fainter the more there are.
    const many = res.tripStarts.length > 40;
    const boundary = { color: many ? 'rgba(100, 107, 119, 0.35)' : CHART_COLORS.muted, width: many ? 0.8 : 1, dash: 'dash' as const };
    for (const st of res.tripStarts) {
      shapes.push({ type: 'line', xref: 'x', yref: 'paper', x0: st.x, x1: st.x, y0: 0, y1: 1, line: boundary });
    }
    // Trip names above the plot where they fit: the charted trip first, then left to right without overlaps.
    const lo = win ? win[0] : (res.extent?.[0] ?? 0);
    const pxOf = (x: number): number => (x - lo) / Math.max(unitsPerPx, 1e-12);
    const taken: [number, number][] = [];
    const ordered = [...res.tripStarts].sort((a, b) => Number(b.trip === target.trip) - Number(a.trip === target.trip) || a.x - b.x);
    for (const st of ordered.slice(0, 400)) {
      const a = pxOf(st.x);
      const b = a + st.trip.length * 6 + 10;
      if (a < 0 || b > loaded.width + 8 || taken.some(([p, q]) => a < q && b > p) || taken.length >= MAX_TRIP_NAMES) continue;
      taken.push([a, b]);
      const mine = st.trip === target.trip;
      annotations.push({ xref: 'x', yref: 'paper', x: st.x, y: 1, yanchor: 'bottom', xanchor: 'left', text: mine ? `<b>${st.trip}</b>` : st.trip, showarrow: false, font: { size: 9.5, color: mine ? CHART_COLORS.accent : CHART_COLORS.muted }, xshift: 2 });
    }
    // A legend entry for the dashed lines (shapes have none of their own).
    data.push({ type: 'scatter', mode: 'lines', name: 'trip start', x: [null], y: [null], line: { color: CHART_COLORS.muted, width: 1, dash: 'dash' }, hoverinfo: 'skip' } as Data);
    if (annotations.length > 0) layout.margin = { ...MARGIN, t: MARGIN.t + 16 };
  }
  layout.shapes = shapes as Shape[];
  layout.annotations = annotations as Annotation[];
  return { data, layout, height };
}
