/**
 * The one Plotly wrapper (issue #4). Plotly (~4.8 MB) is imported on first
 * use, so pages without charts never load it. Data and layout changes go
 * through `Plotly.react` (Plotly diffs them, keeping zoom where `uirevision`
 * says so); the chart follows its container's width; unmounting purges the
 * plot and its listeners. With nothing to draw it says why instead of leaving
 * an empty frame.
 */
import { useEffect, useRef, useState } from 'react';
import type { Config, Data, Layout, PlotlyHTMLElement, PlotMouseEvent, PlotRelayoutEvent } from 'plotly.js-dist-min';
import { BASE_CONFIG, BASE_LAYOUT } from './chart-theme.ts';
import './charts.css';

export type PlotlyModule = typeof import('plotly.js-dist-min').default;

let loading: Promise<PlotlyModule> | null = null;

/** The Plotly module, imported once (a separate chunk); a failed import is retried by the next caller. */
export function loadPlotly(): Promise<PlotlyModule> {
  loading ??= import('plotly.js-dist-min').then(
    (m) => {
      // The bundle is UMD: depending on the bundler's CJS interop the API is the default export or the namespace itself.
      const mod = m as unknown as { default?: PlotlyModule } & PlotlyModule;
      return mod.default ?? mod;
    },
    (err: unknown) => {
      loading = null;
      throw err;
    },
  );
  return loading;
}

export interface PlotlyChartProps {
  data: Data[];
  layout: Partial<Layout>;
  config?: Partial<Config>;
  /** Pixel height; the width follows the container. */
  height: number;
  /** When set, this message is shown instead of the chart (no data, nothing chosen…). */
  empty?: string | null;
  /** Dim the chart while newer data is on its way. */
  busy?: boolean;
  testId?: string;
  className?: string;
  /** Zoom, pan, autorange: Plotly's relayout event. */
  onRelayout?(e: PlotRelayoutEvent): void;
  onClick?(e: PlotMouseEvent): void;
}

export function PlotlyChart(props: PlotlyChartProps) {
  const { data, layout, config, height, empty = null, busy = false, testId, className } = props;
  const ref = useRef<HTMLDivElement>(null);
  const plotted = useRef(false);
  const [error, setError] = useState<string | null>(null);
  const [ready, setReady] = useState(false);
  // Handlers may change every render; the Plotly listeners are bound once and read the latest.
  const handlers = useRef({ onRelayout: props.onRelayout, onClick: props.onClick });
  handlers.current = { onRelayout: props.onRelayout, onClick: props.onClick };

  useEffect(() => {
    const el = ref.current;
    if (!el) return;
    let alive = true;
    void loadPlotly().then(
      async (Plotly) => {
        if (!alive) return;
        if (empty !== null) {
          if (plotted.current) Plotly.purge(el);
          plotted.current = false;
          return;
        }
        try {
          const gd: PlotlyHTMLElement = await Plotly.react(el, data, { ...BASE_LAYOUT, ...layout, height }, { ...BASE_CONFIG, ...config });
          if (!alive) return;
          if (!plotted.current) {
            // A fresh graph div (first plot or after a purge) has no listeners yet.
            gd.on('plotly_relayout', (e) => handlers.current.onRelayout?.(e));
            gd.on('plotly_click', (e) => handlers.current.onClick?.(e));
            plotted.current = true;
          }
          setError(null);
          setReady(true);
        } catch (err) {
          if (alive) setError(err instanceof Error ? err.message : String(err));
        }
      },
      (err: unknown) => alive && setError(`Could not load the chart library: ${err instanceof Error ? err.message : String(err)}`),
    );
    return () => {
      alive = false;
    };
  }, [data, layout, config, height, empty]);

  // Follow the container's width (window resizes, side panels); one resize per frame at most.
  useEffect(() => {
    const el = ref.current;
    if (!el) return;
    let frame = 0;
    let lastWidth = el.clientWidth;
    const ro = new ResizeObserver(() => {
      if (el.clientWidth === lastWidth) return;
      lastWidth = el.clientWidth;
      cancelAnimationFrame(frame);
      frame = requestAnimationFrame(() => {
        if (!plotted.current) return;
        void loadPlotly().then((Plotly) => {
          if (el.isConnected && plotted.current) Plotly.Plots.resize(el);
        });
      });
    });
    ro.observe(el);
    return () => {
      cancelAnimationFrame(frame);
      ro.disconnect();
    };
  }, []);

  useEffect(() => {
    const el = ref.current;
    return () => {
      if (el && plotted.current) void loadPlotly().then((Plotly) => Plotly.purge(el));
      plotted.current = false;
    };
  }, []);

  const showEmpty = empty !== null;
  return (
    <div className={`chart${busy ? ' chart-busy' : ''}${className ? ' ' + className : ''}`} data-testid={testId} data-state={showEmpty ? 'empty' : error ? 'error' : ready ? 'ready' : 'loading'} style={{ minHeight: height }}>
      <div ref={ref} className="chart-plot" style={{ height, display: showEmpty ? 'none' : undefined }} />
      {showEmpty && (
        <div className="chart-empty" style={{ height }} data-testid={testId ? `${testId}-empty` : undefined}>
          {empty}
        </div>
      )}
      {!showEmpty && !ready && error === null && <div className="chart-loading">Drawing chart…</div>}
      {error !== null && <div className="chart-error">Chart failed: {error}</div>}
    </div>
  );
}
