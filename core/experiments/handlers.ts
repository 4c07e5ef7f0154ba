/** Experiments slice of the handler object (see core/app.ts). */
import { WorkbenchError } from '../api/errors.ts';
import type { ExperimentsApi } from './api.ts';
import type { EventBus } from '../api/events.ts';
import { ident, type Workspace } from '../workspace/workspace.ts';
import { scoresTable, type ExperimentStore } from './store.ts';
import { toPage } from '../data/catalog.ts';
import { filterRuns } from './filter.ts';
import type { ModelRegistry } from './registry.ts';
import { requiredColumnsOf } from '../models/score.ts';

interface TopAnomaly {
  rid: number;
  device: string;
  trip: string;
  t: number;
  label: number;
  score: number;
  alarm: boolean;
  contributions: { feature: string; weight: number; value: number }[];
}

export function experimentsHandlers(deps: { workspace: Workspace; store: ExperimentStore; events: EventBus; registry: ModelRegistry }): ExperimentsApi {
  const { workspace: ws, store, events, registry } = deps;
  return {
    'experiments.list': () => store.listExperiments(),
    'runs.list': async (req) => filterRuns(await store.listRuns(req.experiment), req.filter),
    'runs.get': async (req) => ({ ...(await store.getRun(String(req.runId))), artifacts: await store.artifactNames(String(req.runId)) }),
    'runs.artifact': (req) => store.artifact(String(req.runId), String(req.name)),
    'runs.topAnomalies': async (req) => {
      const top = (await store.artifact(String(req.runId), 'top_anomalies')) as TopAnomaly[];
      const offset = Math.max(0, Math.floor(req.offset ?? 0));
      const limit = Math.min(1000, Math.max(1, Math.floor(req.limit ?? 100)));
      const slice = top.slice(offset, offset + limit);
      const cols = ['device', 'trip', 't', 'score', 'alarm', 'label', 'top_features', 'rid'].map((name) => ({ name, type: name === 'top_features' || name === 'device' || name === 'trip' ? 'VARCHAR' : 'DOUBLE' }));
      const rows = slice.map((a) => ({
        device: a.device,
        trip: a.trip,
        t: Number.isNaN(a.t) ? null : a.t,
        score: a.score,
        alarm: a.alarm,
        label: Number.isNaN(a.label) ? null : a.label,
        top_features: a.contributions.map((c) => `${c.feature} (${c.weight.toFixed(3)})`).join(', '),
        rid: a.rid,
      }));
      return toPage(cols, rows, top.length, offset);
    },
    'runs.scoreSeries': async (req) => {
      const run = await store.getRun(String(req.runId));
      const table = `fleetlens.${ident(scoresTable(run.id))}`;
      const exists = await ws.query(`SELECT count(*) n FROM information_schema.tables WHERE table_schema = 'fleetlens' AND table_name = $t`, { t: scoresTable(run.id) });
      if (!Number(exists[0]!.n)) throw new WorkbenchError('NOT_FOUND', `run ${run.id} has no scored rows (status ${run.status})`);
      const devices = (await ws.query(`SELECT device, max(score) m FROM ${table} GROUP BY 1 ORDER BY m DESC LIMIT 500`)).map((r) => String(r.device));
      const device = req.device ?? devices[0] ?? null;
      const width = Math.max(50, Math.min(4000, Math.floor(req.width ?? 1200)));
      const model = (await store.artifact(run.id, 'model')) as { threshold: number };
      const ds = await ws.query(`SELECT min(t) lo, max(t) hi, count(*) n FROM ${table} WHERE device = $d`, { d: device ?? '' });
      const lo = Number(ds[0]!.lo), hi = Number(ds[0]!.hi), n = Number(ds[0]!.n);
      // Few rows: all of them; many: the max score per pixel bucket (alarms must stay visible).
      const q =
        n <= 2 * width
          ? `SELECT t, score, coalesce(label, 'NaN'::DOUBLE) AS label FROM ${table} WHERE device = $d ORDER BY t`
          : `SELECT arg_max(t, score) AS t, max(score) AS score, max(coalesce(label, 'NaN'::DOUBLE)) AS label FROM ${table} WHERE device = $d GROUP BY least(${width - 1}, floor((t - ${lo}) * ${width} / ${Math.max(hi - lo, 1e-9)}))::INT ORDER BY t`;
      const r = await ws.queryColumns(q, { d: device ?? '' });
      const num = (v: unknown): number => (v === null ? Number.NaN : Number(v));
      const fp = run.fingerprint;
      const timeCol = fp?.columns.find((c) => c.role === 'time');
      return {
        x: Float64Array.from(r.columns[0]!, num),
        score: Float64Array.from(r.columns[1]!, num),
        label: Float64Array.from(r.columns[2]!, num),
        threshold: model.threshold,
        temporal: timeCol ? /TIMESTAMP|DATE/i.test(timeCol.type) : false,
        devices,
        device,
      };
    },
    'runs.update': async (req) => {
      const run = await store.update(String(req.runId), req);
      events.emit('runs.updated', run);
      return run;
    },
    'runs.delete': async (req) => {
      const runIds = await store.deleteRuns((req.runIds ?? []).map(String));
      if (runIds.length) events.emit('runs.deleted', { runIds });
      return { deleted: runIds.length };
    },
    'registry.register': (req) => registry.register(String(req.runId), String(req.name), req.description ?? ''),
    'registry.list': () => registry.list(),
    'registry.setAlias': (req) => registry.setAlias(String(req.name), String(req.alias), Number(req.version)),
    'registry.deleteAlias': (req) => registry.deleteAlias(String(req.name), String(req.alias)),
    'registry.card': (req) => registry.card(String(req.ref), (id) => requiredColumnsOf(store, id)),
  };
}
