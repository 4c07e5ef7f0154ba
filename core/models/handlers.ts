/** Models slice of the handler object (see core/app.ts). */
import type { ModelsApi } from './api.ts';
import type { Workspace } from '../workspace/workspace.ts';
import type { ExperimentStore } from '../experiments/store.ts';
import type { ModelRegistry } from '../experiments/registry.ts';
import type { Orchestrator } from '../experiments/orchestrate.ts';
import { detectors } from './registry.ts';
import { defaultRecipe } from '../features/recipe.ts';
import { getDataset, validateDatasetName } from '../data/catalog.ts';
import type { Trainer } from './train.ts';
import { scoreDataset } from './score.ts';

export function modelsHandlers(deps: { workspace: Workspace; store: ExperimentStore; trainer: Trainer; orchestrator: Orchestrator; registry: ModelRegistry }): ModelsApi {
  const { workspace: ws, store, trainer, orchestrator, registry } = deps;
  return {
    'models.detectors': async () => Object.values(detectors).map((d) => ({ kind: d.kind, label: d.label, help: d.help, params: d.params })),
    'models.defaultRecipe': async (req) => defaultRecipe(await getDataset(ws, validateDatasetName(req.dataset))),
    'models.train': (req) => trainer.start(req),
    'models.wait': async (req) => {
      const id = String(req.runId);
      if (!(await orchestrator.wait(id))) await trainer.wait(id);
      return { status: (await store.getRun(id)).status };
    },
    'models.cancel': async (req) => orchestrator.cancel(String(req.runId)) || trainer.cancel(String(req.runId)),
    'models.repeat': (req) => orchestrator.repeat(req),
    'models.sweep': (req) => orchestrator.sweep(req),
    'models.trainPerGroup': (req) => orchestrator.perGroup(req),
    'models.score': async (req) => {
      const { runId } = await registry.resolve(String(req.model));
      return scoreDataset(ws, store, runId, validateDatasetName(req.dataset), String(req.out));
    },
  };
}
