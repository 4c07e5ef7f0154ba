/**
 * The chart look shared by every Plotly chart: the fonts, greys and accent of
 * styles.css, thin grids, titled axes. Pages build layouts from these helpers
 * so that a chart on any page reads like the tables around it.
 */
import type { Config, Layout, LayoutAxis } from 'plotly.js-dist-min';

/** The same stack as `--font` in styles.css (Plotly draws SVG text and cannot read CSS variables). */
export const CHART_FONT = "system-ui, -apple-system, 'Segoe UI', Roboto, 'Helvetica Neue', Arial, 'Noto Sans', sans-serif";

/** styles.css colours, for SVG. */
export const CHART_COLORS = {
  text: '#1d2129',
  muted: '#646b77',
  faint: '#9aa1ad',
  grid: '#eef0f3',
  axis: '#c5cad2',
  accent: '#2563c9',
  accentSoft: 'rgba(37, 99, 201, 0.14)',
  /** Labelled rows (anomalies, defects): the danger red, never used for ordinary series. */
  label: '#c0262d',
  labelBand: 'rgba(192, 38, 45, 0.10)',
  warn: '#d69e16',
} as const;

/** Categorical series colours: distinct on white, none of them the label red. */
export const PALETTE = ['#2563c9', '#e8830c', '#2b8a3e', '#862e9c', '#0b7285', '#a61e4d', '#5c940d', '#364fc7', '#c2255c', '#8d6e00', '#495057', '#1098ad'];

/** Colour of the i-th series, cycling. */
export function seriesColor(i: number): string {
  return PALETTE[i % PALETTE.length]!;
}

/** Base layout merged under every chart's own layout. */
export const BASE_LAYOUT: Partial<Layout> = {
  font: { family: CHART_FONT, size: 11, color: CHART_COLORS.text },
  paper_bgcolor: '#ffffff',
  plot_bgcolor: '#ffffff',
  margin: { l: 56, r: 16, t: 12, b: 44 },
  showlegend: false,
  legend: { orientation: 'h', x: 0, xanchor: 'left', y: 1.02, yanchor: 'bottom', font: { size: 11 }, bgcolor: 'rgba(255,255,255,0)' },
  hoverlabel: { font: { family: CHART_FONT, size: 11 }, bgcolor: '#ffffff', bordercolor: CHART_COLORS.axis },
  hovermode: 'closest',
  bargap: 0.18,
};

/** Every chart: no Plotly logo or cloud links; a trimmed mode bar that appears on hover. */
export const BASE_CONFIG: Partial<Config> = {
  displaylogo: false,
  responsive: false,
  displayModeBar: 'hover',
  // Plotly's "double-click to zoom back out" notifier floats over the page header; charts say it themselves.
  showTips: false,
  modeBarButtonsToRemove: ['lasso2d', 'select2d', 'autoScale2d'],
};

/** An axis with a title (column name and unit), light grid and small ticks. */
export function axis(title: string, extra: Partial<LayoutAxis> = {}): Partial<LayoutAxis> {
  return {
    title: { text: title, font: { size: 11, color: CHART_COLORS.muted }, standoff: 6 },
    gridcolor: CHART_COLORS.grid,
    linecolor: CHART_COLORS.axis,
    showline: true,
    zeroline: false,
    ticks: 'outside',
    ticklen: 3,
    tickcolor: CHART_COLORS.axis,
    tickfont: { size: 10.5, color: CHART_COLORS.muted },
    automargin: true,
    // 6e-4 rather than SI's "600μ", which reads like a unit.
    exponentformat: 'e',
    ...extra,
  };
}
