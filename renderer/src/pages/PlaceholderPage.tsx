/** Pages whose features land in later issues: say precisely what is coming, and what already works. */
import type { PageId } from '../route.ts';

interface Plan {
  title: string;
  issue: string;
  summary: string;
  items: string[];
}

const PLANS: Record<Exclude<PageId, 'data'>, Plan> = {
  explore: {
    title: 'Explore',
    issue: 'arrives with issue #4',
    summary: 'Look at a fleet before modelling it.',
    items: [
      'Fleet overview: rows, devices and trips, label rates by factory and model, rows over time, missing values per sensor',
      'Notable trips and devices: the most unusual by sensor statistics and label rate',
      'Trip charts: every sensor of a trip on a shared time axis, downsampled for any length',
    ],
  },
  models: {
    title: 'Models',
    issue: 'arrives with issue #5',
    summary: 'Train anomaly detectors on the sensor roles set on the Data page.',
    items: [
      'Isolation Forest first, behind one detector interface; seeded, so a run is reproducible',
      'Features per trip: rolling means and deltas of each sensor',
      'Score distributions and per-feature contributions for any flagged row',
    ],
  },
  experiments: {
    title: 'Experiments',
    issue: 'arrives with issue #5',
    summary: 'Compare runs against the label column.',
    items: [
      'Runs with their parameters, seed, dataset and metrics (precision, recall, PR-AUC against the label role)',
      'Re-running a run reproduces its metrics exactly',
      'Side-by-side comparison and export of a run report',
    ],
  },
  live: {
    title: 'Live',
    issue: 'arrives with a later issue',
    summary: 'Score telemetry as it streams in.',
    items: [
      'Connect to Azure Event Hubs, or to the local Event Hubs-compatible hub started by fleetlens hub',
      'Score each batch with a trained model; alerts as scores cross a threshold',
      'Live per-device charts with the flagged readings marked',
    ],
  },
};

export function PlaceholderPage({ page }: { page: Exclude<PageId, 'data'> }) {
  const plan = PLANS[page];
  return (
    <div className="page-pad">
      <section className="panel placeholder" data-testid={`placeholder-${page}`}>
        <h2>
          {plan.title} <span className="pill">{plan.issue}</span>
        </h2>
        <p>{plan.summary}</p>
        <ul>
          {plan.items.map((i) => (
            <li key={i}>{i}</li>
          ))}
        </ul>
        <p className="muted">Meanwhile, the Data page imports files, sets column roles and previews every row.</p>
      </section>
    </div>
  );
}
