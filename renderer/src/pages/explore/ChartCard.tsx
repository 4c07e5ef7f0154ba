/** A titled card around a chart (or table): title, a muted note, optional controls on the right. */
import type { ReactNode } from 'react';

export interface ChartCardProps {
  title: ReactNode;
  note?: ReactNode;
  controls?: ReactNode;
  children: ReactNode;
  testId?: string;
  className?: string;
}

export function ChartCard({ title, note, controls, children, testId, className }: ChartCardProps) {
  return (
    <section className={`panel ex-card${className ? ' ' + className : ''}`} data-testid={testId}>
      <div className="ex-card-head">
        <div className="ex-card-titles">
          <h3 className="ex-card-title">{title}</h3>
          {note && <div className="ex-card-note">{note}</div>}
        </div>
        {controls && <div className="ex-card-controls">{controls}</div>}
      </div>
      <div className="ex-card-body">{children}</div>
    </section>
  );
}
