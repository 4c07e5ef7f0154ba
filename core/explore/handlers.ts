/** Explore slice of the handler object (see core/app.ts). */
import type { ExploreApi } from './api.ts';
import type { Workspace } from '../workspace/workspace.ts';
import { fleetOverview } from './overview.ts';
import { notableTrips } from './trips.ts';
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
