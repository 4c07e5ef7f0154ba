/** Explore slice of the handler object (see core/app.ts). */
import type { ExploreApi } from './api.ts';
import type { Workspace } from '../workspace/workspace.ts';
import { fleetOverview } from './overview.ts';
import { notableTrips, tripSummary } from './trips.ts';
import { datasetContext } from './context.ts';
import { tripSeries } from './series.ts';
import { correlation, distribution, scatter } from './distributions.ts';
import { profileDataset } from './profile.ts';
import { SqlConsole } from './sql.ts';

export function exploreHandlers(deps: { workspace: Workspace }): ExploreApi {
  const ws = deps.workspace;
  const sql = new SqlConsole(ws);
  return {
    'explore.overview': (req) => fleetOverview(ws, req.dataset),
    'explore.trips': (req) => notableTrips(ws, req),
    'explore.series': (req) => tripSeries(ws, req),
    'explore.distribution': (req) => distribution(ws, req),
    'explore.scatter': (req) => scatter(ws, req),
    'explore.correlation': (req) => correlation(ws, req.dataset, req.sensors),
    'explore.profile': (req) => profileDataset(ws, req.dataset),
    'sql.run': (req) => sql.run(req),
    'sql.export': (req) => sql.export(req),
    'sql.history': () => sql.history(),
  };
}

/** Build the overview and trips summary of a dataset ahead of the first Explore visit. */
export async function warmExplore(ws: Workspace, dataset: string): Promise<void> {
  await fleetOverview(ws, dataset);
  const ctx = await datasetContext(ws, dataset);
  if (ctx.device || ctx.trip) await tripSummary(ws, ctx, ctx.trip ? 'trip' : 'device');
}
