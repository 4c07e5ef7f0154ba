/** Models slice of the handler object (see core/app.ts). */
import type { ModelsApi } from './api.ts';
import type { Workspace } from '../workspace/workspace.ts';
import type { ExperimentStore } from '../experiments/store.ts';
import { detectors } from './registry.ts';
import { defaultRecipe } from '../features/recipe.ts';
import { getDataset, validateDatasetName } from '../data/catalog.ts';
import type { Trainer } from './train.ts';
import { scoreDataset } from './score.ts';

export function modelsHandlers(deps: { workspace: Workspace; store: ExperimentStore; trainer: Trainer }): ModelsApi {
  const { workspace: ws, store, trainer } = deps;
  return {
    'models.detectors': async () => Object.values(detectors).map((d) => ({ kind: d.kind, label: d.label, help: d.help, params: d.params })),
    'models.defaultRecipe': async (req) => defaultRecipe(await getDataset(ws, validateDatasetName(req.dataset))),
    'models.train': (req) => trainer.start(req),
    'models.wait': async (req) => {
      await trainer.wait(String(req.runId));
      return { status: (await store.getRun(String(req.runId))).status };
    },
    'models.cancel': async (req) => trainer.cancel(String(req.runId)),
    'models.score': (req) => scoreDataset(ws, store, String(req.model), validateDatasetName(req.dataset), String(req.out)),
  };
}
