/**
 * The Models and Experiments pages' chart: the shared PlotlyChart (which landed
 * with the Explore page) with what these pages add — legends on (run names and
 * AUCs live there) and room for them above the plot.
 */
import { useMemo } from 'react';
import type { Data, Layout } from 'plotly.js-dist-min';
import { PlotlyChart } from '../../components/charts/PlotlyChart.tsx';
import { PALETTE } from '../../components/charts/chart-theme.ts';

/** Colours for series (runs, curves): the shared palette, so runs read the same as Explore's series. */
export const SERIES_COLORS = PALETTE;

let webglTraces: boolean | null = null;

/**
 * Whether WebGL-backed traces (parcoords) can draw here. Plotly's regl layer
 * compiles its draw calls with `new Function`, which the page's CSP
 * (`script-src 'self'`, no 'unsafe-eval') forbids; it then shows "WebGL is not
 * supported" instead of the chart, so callers pick an SVG fallback up front.
 */
export function canDrawWebglTraces(): boolean {
  if (webglTraces !== null) return webglTraces;
  try {
    // The probe for eval itself: throws an EvalError under the CSP.
    const f = new Function('return 1') as () => number;
    const canvas = document.createElement('canvas');
    webglTraces = f() === 1 && canvas.getContext('webgl') !== null;
  } catch {
    webglTraces = false;
  }
  return webglTraces;
}

const LEGEND_LAYOUT: Partial<Layout> = { showlegend: true, margin: { l: 56, r: 16, t: 30, b: 44 } };

export interface PlotProps {
  data: Data[];
  layout?: Partial<Layout>;
  /** Pixel height; the width follows the container. */
  height?: number;
  testId?: string;
  className?: string;
}

export function Plot({ data, layout, height = 260, testId, className }: PlotProps) {
  // A stable layout object: PlotlyChart re-plots whenever its layout prop changes identity.
  const merged = useMemo(() => ({ ...LEGEND_LAYOUT, ...layout }), [layout]);
  return <PlotlyChart data={data} layout={merged} height={height} testId={testId} className={className} />;
}
