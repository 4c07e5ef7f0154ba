/**
 * Assembles the engine: opens the workspace, builds the handler object that
 * implements the whole WorkbenchApi, and exposes the event bus. Transports
 * (Electron IPC, the HTTP/WebSocket bridge, the in-process client) take this
 * object as-is and add no per-method code.
 */
import { readFileSync } from 'node:fs';
import { WorkbenchError } from './api/errors.ts';
import type { AppInfo, MethodName, RequestOf, ResponseOf, WorkbenchApi } from './api/contract.ts';
import { EventBus } from './api/events.ts';
import { datasetsHandlers } from './data/handlers.ts';
import { exploreHandlers, warmExplore } from './explore/handlers.ts';
import { ExperimentStore } from './experiments/store.ts';
import { experimentsHandlers } from './experiments/handlers.ts';
import { modelsHandlers } from './models/handlers.ts';
import { Trainer } from './models/train.ts';
import { dropStalePreparations } from './models/prepare.ts';
import { Orchestrator } from './experiments/orchestrate.ts';
import { ModelRegistry } from './experiments/registry.ts';
import { Ingestor } from './data/ingest.ts';
import { pendingSorts, sortInBackground, stopSorting } from './data/order.ts';
import { StreamManager, streamHandlers } from './stream/handlers.ts';
import { shareHandlers } from './experiments/share.ts';
import { reportsHandlers } from './reports/handlers.ts';
import { Workspace } from './workspace/workspace.ts';
import { releaseKeptShared } from './util/shared-buffers.ts';

export interface WorkbenchOptions {
  /** Workspace file; ':memory:' for throwaway tests. */
  workspace: string;
  mode: AppInfo['mode'];
}

export interface Workbench {
  readonly api: WorkbenchApi;
  readonly events: EventBus;
  readonly workspace: Workspace;
  readonly store: ExperimentStore;
  readonly registry: ModelRegistry;
  readonly trainer: Trainer;
  /** Dispatch by name with runtime checks: the entry point of every transport. */
  dispatch(method: string, req: unknown): Promise<unknown>;
  close(): Promise<void>;
}

export function appVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

export async function createWorkbench(opts: WorkbenchOptions): Promise<Workbench> {
  const workspace = await Workspace.open(opts.workspace);
  const events = new EventBus();
  const ingestor = new Ingestor(workspace, (p) => events.emit('datasets.importProgress', p));
  const version = appVersion();
  // Background work (cache warming) is awaited on close: closing DuckDB under a running query would crash.
  const inFlight = new Set<Promise<unknown>>();
  let closing = false;
  const background = (p: Promise<unknown>): void => {
    const q = p.catch(() => undefined).finally(() => inFlight.delete(q));
    inFlight.add(q);
  };
  const store = new ExperimentStore(workspace);
  const trainer = new Trainer(workspace, store, events, version);
  // Tables of preparations a killed engine never dropped, runs it left running, and sorts it never finished.
  await dropStalePreparations(workspace);
  await store.endInterrupted();
  for (const name of await pendingSorts(workspace)) background(sortInBackground(workspace, name));
  const orchestrator = new Orchestrator(workspace, store, trainer);
  const registry = new ModelRegistry(workspace, store);
  const streams = new StreamManager({ workspace, store, events, resolveRef: async (ref) => (await registry.resolve(ref)).runId });
  const api = {
    'app.info': async () => ({
      name: 'Fleetlens' as const,
      version,
      workspace: workspace.path,
      mode: opts.mode,
      sampleDataset: await workspace.getMeta('sample_dataset'),
    }),
    ...datasetsHandlers({
      workspace,
      events,
      ingestor,
      // Sort the rows (data/order.ts), then warm the Explore caches, in the background: the first
      // preparation and the first Explore visit after an import need not wait for an import that did both.
      afterImport: (name) => background(sortInBackground(workspace, name).finally(() => (closing ? undefined : warmExplore(workspace, name)))),
    }),
    ...exploreHandlers({ workspace }),
    ...modelsHandlers({ workspace, store, trainer, orchestrator, registry }),
    ...experimentsHandlers({ workspace, store, events, registry }),
    ...shareHandlers({ workspace, store, events, appVersion: version }),
    ...reportsHandlers({ store, appVersion: version }),
    ...streamHandlers(streams),
  } satisfies WorkbenchApi;

  const dispatch = async (method: string, req: unknown): Promise<unknown> => {
    if (!Object.prototype.hasOwnProperty.call(api, method)) {
      throw new WorkbenchError('UNKNOWN_METHOD', `unknown method '${method}'`);
    }
    if (req === null || typeof req !== 'object' || Array.isArray(req)) {
      throw new WorkbenchError('INVALID_ARGUMENT', `method '${method}' takes one object argument`);
    }
    const fn = api[method as MethodName] as (r: RequestOf<MethodName>) => Promise<ResponseOf<MethodName>>;
    return fn(req as RequestOf<MethodName>);
  };

  return {
    api,
    events,
    workspace,
    store,
    registry,
    trainer,
    dispatch,
    close: async () => {
      closing = true;
      await streams.closeAll();
      await orchestrator.drain();
      await trainer.drain();
      await stopSorting(workspace);
      await Promise.all([...inFlight]);
      workspace.close();
      // Memory kept for a next preparation goes with the engine.
      releaseKeptShared();
    },
  };
}
