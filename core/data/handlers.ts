/** Datasets slice of the handler object (see core/app.ts). */
import type { DatasetsApi } from './api.ts';
import type { EventBus } from '../api/events.ts';
import type { Workspace } from '../workspace/workspace.ts';
import type { Ingestor } from './ingest.ts';
import { datasetRejects, deleteDataset, getDataset, listDatasets, previewDataset, setRoles, validateDatasetName } from './catalog.ts';

export function datasetsHandlers(deps: { workspace: Workspace; events: EventBus; ingestor: Ingestor; afterImport?: (dataset: string) => void }): DatasetsApi {
  const { workspace: ws, events, ingestor } = deps;
  return {
    'datasets.list': () => listDatasets(ws),
    'datasets.get': (req) => getDataset(ws, validateDatasetName(req.name)),
    'datasets.import': async (req) => {
      const res = await ingestor.import(req);
      events.emit('datasets.changed', { name: res.dataset.name });
      deps.afterImport?.(res.dataset.name);
      return res;
    },
    'datasets.cancelImport': async (req) => ingestor.cancel(String(req.jobId)),
    'datasets.setRoles': async (req) => {
      const info = await setRoles(ws, validateDatasetName(req.name), req.roles ?? {});
      events.emit('datasets.changed', { name: info.name });
      return info;
    },
    'datasets.preview': (req) => previewDataset(ws, validateDatasetName(req.name), req.offset, req.limit),
    'datasets.rejects': (req) => datasetRejects(ws, validateDatasetName(req.name), req.offset, req.limit),
    'datasets.delete': async (req) => {
      await deleteDataset(ws, validateDatasetName(req.name));
      events.emit('datasets.changed', { name: req.name });
    },
  };
}
