/**
 * Pieces the Run page and the Experiments comparison build their chart panels
 * from: a titled panel holding one figure, and the labelled select a panel's
 * head uses to pick a device, metric or parameter.
 */
import type { ReactNode } from 'react';
import type { Data, Layout } from 'plotly.js-dist-min';
import { Plot } from './Plot.tsx';

/** One figure in a `chart-panel` under its title. */
export function ChartPanel({ title, figure, height, testId, chartTestId }: { title: string; figure: { data: Data[]; layout: Partial<Layout> }; height: number; testId: string; chartTestId: string }) {
  return (
    <section className="panel chart-panel" data-testid={testId}>
      <div className="panel-head">
        <h2>{title}</h2>
      </div>
      <Plot data={figure.data} layout={figure.layout} height={height} testId={chartTestId} />
    </section>
  );
}

/** A select with its label in front (`mx-inline`), one option per value; `optionText` words a value (default: the value itself). */
export function InlineSelect({ label, value, options, onChange, testId, optionText }: { label: string; value: string; options: readonly string[]; onChange(value: string): void; testId: string; optionText?(value: string): ReactNode }) {
  return (
    <label className="mx-inline">
      {label}
      <select value={value} onChange={(e) => onChange(e.target.value)} data-testid={testId}>
        {options.map((o) => (
          <option key={o} value={o}>
            {optionText ? optionText(o) : o}
          </option>
        ))}
      </select>
    </label>
  );
}
