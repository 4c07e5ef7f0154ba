/**
 * Live charts of one device: the chosen sensors stacked over the anomaly score,
 * with the threshold, anomalous events and alarms marked. Polls
 * `stream.deviceSeries` about once a second while the stream is live and the
 * window is visible (a hidden window has nobody to draw for), one request at a
 * time, and redraws only when the series actually changed.
 */
import { memo, useEffect, useMemo, useRef, useState } from 'react';
import type { Annotation, Data, Layout, LayoutAxis, Shape } from 'plotly.js-dist-min';
import type { DeviceSeries } from '../../../../core/stream/api.ts';
import { call } from '../../api/client.ts';
import { PlotlyChart } from '../../components/charts/PlotlyChart.tsx';
import { axis, CHART_COLORS, seriesColor } from '../../components/charts/chart-theme.ts';
import { describeError } from '../../components/Notices.tsx';
import { formatEventTime } from './live-format.ts';

const POLL_MS = 1000;
/** Points per device: about five minutes at one event a second, and cheap to redraw every second. */
const POINTS = 300;
/** Sensors charted before the analyst picks: enough to see a pattern, few enough to read. */
const DEFAULT_SENSORS = 3;
const MARGIN = { l: 64, r: 16, t: 34, b: 40 };
const ROW_PX = { sensor: 92, score: 120 };

export interface DeviceChartsProps {
  subscriptionId: string;
  /** Poll while true; otherwise read once (a stopped stream's last points stay charted). */
  live: boolean;
  /** Time axis is epoch ms of naive timestamps (drawn as UTC wall clock, like Explore). */
  temporal: boolean;
  timeTitle: string;
  device: string;
  /** Devices to offer: the training dataset's and those seen in alarms. */
  devices: string[];
  onDevice(device: string): void;
}

/** Changes when a poll brings new points or alarms; equal answers skip the redraw. */
function signature(s: DeviceSeries): string {
  const n = s.time.length;
  return `${s.device}|${n}|${n ? s.time[n - 1] : ''}|${n ? s.score[n - 1] : ''}|${s.alarms.length}|${s.sensors.map((x) => x.name).join(',')}`;
}

export const DeviceCharts = memo(function DeviceCharts({ subscriptionId, live, temporal, timeTitle, device, devices, onDevice }: DeviceChartsProps) {
  const [allSensors, setAllSensors] = useState<string[] | null>(null);
  const [chosen, setChosen] = useState<string[] | null>(null);
  const [series, setSeries] = useState<DeviceSeries | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [polledAt, setPolledAt] = useState<number | null>(null);
  const last = useRef('');

  // Every sensor of the model, once per subscription: deviceSeries without `sensors` returns them all.
  useEffect(() => {
    let alive = true;
    setAllSensors(null);
    setChosen(null);
    call('stream.deviceSeries', { subscriptionId, device: '', points: 1 }).then(
      (s) => {
        if (!alive) return;
        const names = s.sensors.map((x) => x.name);
        setAllSensors(names);
        setChosen((cur) => cur ?? names.slice(0, DEFAULT_SENSORS));
      },
      (err: unknown) => alive && setError(err),
    );
    return () => {
      alive = false;
    };
    // The sensor list is the model's, not the device's: fetched once per subscription.
  }, [subscriptionId]);

  const sensorsKey = (chosen ?? []).join('\u0001');
  useEffect(() => {
    if (!device || chosen === null) return;
    let alive = true;
    let inFlight = false;
    last.current = '';
    setSeries(null);
    setError(null);
    const poll = async (): Promise<void> => {
      if (inFlight || document.hidden) return;
      inFlight = true;
      try {
        const s = await call('stream.deviceSeries', { subscriptionId, device, sensors: chosen, points: POINTS });
        if (!alive) return;
        setPolledAt(Date.now());
        const sig = signature(s);
        if (sig !== last.current) {
          last.current = sig;
          setSeries(s);
        }
        setError(null);
      } catch (err) {
        if (alive) setError(err);
      } finally {
        inFlight = false;
      }
    };
    void poll();
    const timer = live ? window.setInterval(() => void poll(), POLL_MS) : 0;
    // Coming back to a hidden window: catch up at once instead of up to a second later.
    const onVisible = (): void => void (document.hidden ? undefined : poll());
    document.addEventListener('visibilitychange', onVisible);
    return () => {
      alive = false;
      if (timer) window.clearInterval(timer);
      document.removeEventListener('visibilitychange', onVisible);
    };
    // sensorsKey stands for `chosen` (a new array each time it is set).
  }, [subscriptionId, device, sensorsKey, live]);

  const toggle = (name: string): void => {
    setChosen((cur) => {
      const set = new Set(cur ?? []);
      if (set.has(name)) set.delete(name);
      else set.add(name);
      // Keep the model's order so colours stay put when a sensor is added.
      return (allSensors ?? []).filter((s) => set.has(s));
    });
  };

  const figure = useMemo(() => (series && series.time.length > 0 ? buildFigure(series, temporal, timeTitle) : null), [series, temporal, timeTitle]);
  const options = useMemo(() => (device && !devices.includes(device) ? [device, ...devices] : devices), [device, devices]);

  let empty: string | null = null;
  if (!device) empty = 'Choose a device to chart its live readings.';
  else if (chosen !== null && chosen.length === 0) empty = 'Choose at least one sensor.';
  else if (series && series.time.length === 0) empty = `No events from ${device} yet in this subscription. Charts fill in as its events are scored.`;
  else if (!series) empty = error ? 'Could not read the device’s events.' : 'Reading…';

  const n = series?.time.length ?? 0;
  return (
    <section className="panel lv-charts" data-testid="live-charts">
      <div className="panel-head">
        <h2>Device</h2>
        <select value={device} onChange={(e) => onDevice(e.target.value)} data-testid="live-device" aria-label="Device">
          <option value="">choose a device…</option>
          {options.map((d) => (
            <option key={d} value={d}>
              {d}
            </option>
          ))}
        </select>
        <span className="spacer" />
        {n > 0 && series && (
          <span className="hint" data-testid="live-chart-info" data-points={n} data-last-time={series.time[n - 1]}>
            last {n} events · latest {formatEventTime(series.time[n - 1]!, temporal)} · threshold {series.threshold.toPrecision(3)}
            {polledAt && live ? ' · live' : ''}
          </span>
        )}
      </div>
      <div className="lv-sensors" role="group" aria-label="Sensors" data-testid="live-sensors">
        <span className="lv-label">Sensors</span>
        {allSensors === null ? (
          <span className="hint">…</span>
        ) : (
          allSensors.map((s) => {
            const on = (chosen ?? []).includes(s);
            const color = on ? seriesColor((chosen ?? []).indexOf(s)) : undefined;
            return (
              <label key={s} className={`lv-chip${on ? ' on' : ''}`} style={color ? { borderColor: color, color } : undefined}>
                <input type="checkbox" checked={on} onChange={() => toggle(s)} data-testid={`live-sensor-${s}`} />
                {s}
              </label>
            );
          })
        )}
      </div>
      {error !== null && series !== null && <div className="hint warn lv-chart-error">Last update failed: {describeError(error).message}</div>}
      <PlotlyChart data={figure?.data ?? EMPTY_DATA} layout={figure?.layout ?? EMPTY_LAYOUT} height={figure?.height ?? 260} empty={figure ? null : empty} testId="live-chart" />
    </section>
  );
});

const EMPTY_DATA: Data[] = [];
const EMPTY_LAYOUT: Partial<Layout> = {};

/**
 * Break the lines where the device was silent (between trips, or a pause): a NaN point
 * wherever the step is more than GAP_STEPS median steps, so no straight line is drawn
 * across hours without data.
 */
const GAP_STEPS = 5;

function withGaps(time: Float64Array, series: Float64Array[]): { x: Float64Array; ys: Float64Array[] } {
  const n = time.length;
  if (n < 3) return { x: time, ys: series };
  const steps: number[] = [];
  for (let i = 1; i < n; i++) steps.push(time[i]! - time[i - 1]!);
  const median = steps.slice().sort((a, b) => a - b)[steps.length >> 1]!;
  const limit = median > 0 ? median * GAP_STEPS : Number.POSITIVE_INFINITY;
  const breaks = steps.filter((d) => d > limit).length;
  if (breaks === 0) return { x: time, ys: series };
  const x = new Float64Array(n + breaks);
  const ys = series.map(() => new Float64Array(n + breaks));
  let j = 0;
  for (let i = 0; i < n; i++) {
    if (i > 0 && steps[i - 1]! > limit) {
      x[j] = (time[i - 1]! + time[i]!) / 2;
      for (const y of ys) y[j] = Number.NaN;
      j++;
    }
    x[j] = time[i]!;
    series.forEach((src, k) => (ys[k]![j] = src[i]!));
    j++;
  }
  return { x, ys };
}

/**
 * When one silence takes up most of the window (a device back after hours or a replay jumping
 * ahead), autorange would squeeze the recent points against the edge: show the stretch after
 * the longest gap instead, with a little room. Null when autorange reads fine. Zooming out
 * still reaches the older points.
 */
function latestSegment(time: Float64Array): [number, number] | null {
  const n = time.length;
  if (n < 3) return null;
  const span = time[n - 1]! - time[0]!;
  let gapAt = -1;
  let gap = 0;
  for (let i = 1; i < n; i++) {
    const d = time[i]! - time[i - 1]!;
    if (d > gap) {
      gap = d;
      gapAt = i;
    }
  }
  if (!(span > 0) || gap < span * 0.5 || n - gapAt < 2) return null;
  const a = time[gapAt]!;
  const b = time[n - 1]!;
  const pad = Math.max((b - a) * 0.03, 1);
  return [a - pad, b + pad];
}

/** Stacked rows (sensor i on x{i+1}/y{i+1}, all x axes matching 'x'), the score row last. */
function buildFigure(s: DeviceSeries, temporal: boolean, timeTitle: string): { data: Data[]; layout: Partial<Layout>; height: number } {
  const rows = s.sensors.length + 1;
  const height = MARGIN.t + MARGIN.b + s.sensors.length * ROW_PX.sensor + ROW_PX.score + (rows - 1) * 10;
  const plotH = height - MARGIN.t - MARGIN.b;
  const gap = 10 / plotH;
  const sensorH = ROW_PX.sensor / plotH;
  const data: Data[] = [];
  const layout: Partial<Layout> = {
    margin: MARGIN,
    showlegend: true,
    hovermode: 'x',
    // A zoom survives the per-second updates; another device or sensor set starts fresh.
    uirevision: `${s.device}|${s.sensors.map((x) => x.name).join(',')}`,
    legend: { orientation: 'h', x: 0, xanchor: 'left', yref: 'container', y: 1, yanchor: 'top', font: { size: 11 } },
  };
  const xType: Partial<LayoutAxis> = temporal ? { type: 'date', hoverformat: '%Y-%m-%d %H:%M:%S' } : { type: 'linear' };
  const focus = latestSegment(s.time);
  const xRange: Partial<LayoutAxis> = focus ? { range: focus, autorange: false } : { autorange: true };
  let top = 1;
  const place = (i: number, h: number, title: string, color: string, lastRow: boolean): string => {
    const id = i === 0 ? '' : String(i + 1);
    layout[`xaxis${id}` as 'xaxis'] = axis(lastRow ? timeTitle : '', { ...xType, ...xRange, anchor: `y${id}` as 'y', ...(i === 0 ? {} : { matches: 'x' }), showticklabels: lastRow } as Partial<LayoutAxis>);
    layout[`yaxis${id}` as 'yaxis'] = axis(title, {
      domain: [Math.max(0, top - h), top],
      anchor: `x${id}` as 'x',
      fixedrange: true,
      nticks: 4,
      title: { text: title, font: { size: 11, color }, standoff: 4 },
    } as Partial<LayoutAxis>);
    top -= h + gap;
    return id;
  };

  // Anomalous events, as indices, for the markers on every row.
  const hot: number[] = [];
  for (let i = 0; i < s.anomaly.length; i++) if (s.anomaly[i] === 1) hot.push(i);
  const pick = (arr: Float64Array): number[] => hot.map((i) => arr[i]!);
  const hx = pick(s.time);
  const lines = withGaps(s.time, [...s.sensors.map((x) => x.values), s.score]);

  s.sensors.forEach((sensor, i) => {
    const color = seriesColor(i);
    const id = place(i, sensorH, sensor.name, color, false);
    data.push({ type: 'scatter', mode: 'lines', name: sensor.name, x: lines.x, y: lines.ys[i], xaxis: `x${id}`, yaxis: `y${id}`, line: { color, width: 1.3 }, connectgaps: false, hovertemplate: `${sensor.name}: %{y:.4~g}<extra></extra>` } as Data);
    if (hot.length) {
      data.push({ type: 'scatter', mode: 'markers', name: 'anomalous event', legendgroup: 'hot', showlegend: false, x: hx, y: pick(sensor.values), xaxis: `x${id}`, yaxis: `y${id}`, marker: { color: CHART_COLORS.label, size: 5 }, hoverinfo: 'skip' } as Data);
    }
  });

  const sid = place(s.sensors.length, 1 - (sensorH + gap) * s.sensors.length, 'anomaly score', CHART_COLORS.text, true);
  const ax = { xaxis: `x${sid}`, yaxis: `y${sid}` };
  data.push({ type: 'scatter', mode: 'lines', name: 'anomaly score', x: lines.x, y: lines.ys[s.sensors.length], ...ax, line: { color: '#495057', width: 1.3 }, connectgaps: false, hovertemplate: 'score: %{y:.4~g}<extra></extra>' } as Data);
  const n = s.time.length;
  data.push({ type: 'scatter', mode: 'lines', name: `threshold ${s.threshold.toPrecision(3)}`, x: [s.time[0]!, s.time[n - 1]!], y: [s.threshold, s.threshold], ...ax, line: { color: CHART_COLORS.warn, width: 1.2, dash: 'dash' }, hoverinfo: 'skip' } as Data);
  data.push({ type: 'scatter', mode: 'markers', name: 'anomalous event (score ≥ threshold)', legendgroup: 'hot', x: hx, y: pick(s.score), ...ax, marker: { color: CHART_COLORS.label, size: 6 }, hovertemplate: 'anomalous: %{y:.4~g}<extra></extra>', visible: hot.length ? true : 'legendonly' } as Data);

  // Alarms: a line through every row, and a marked point on the score row (shapes have no legend entry).
  const shapes: Partial<Shape>[] = s.alarms.map((a) => ({ type: 'line', xref: 'x', yref: 'paper', x0: a.time, x1: a.time, y0: 0, y1: 1, line: { color: CHART_COLORS.label, width: 1, dash: 'dot' }, layer: 'below' }));
  data.push({
    type: 'scatter',
    mode: 'markers',
    name: 'alarm',
    x: s.alarms.map((a) => a.time),
    y: s.alarms.map((a) => a.score),
    ...ax,
    marker: { color: CHART_COLORS.label, size: 11, symbol: 'triangle-down', line: { color: '#fff', width: 1 } },
    hovertemplate: 'alarm · score %{y:.4~g}<extra></extra>',
    visible: s.alarms.length ? true : 'legendonly',
  } as Data);
  layout.shapes = shapes as Shape[];
  layout.annotations = [] as Annotation[];
  return { data, layout, height };
}
