/**
 * The one door between the renderer and the engine. Every method takes one
 * object and returns a Promise; every event is a name → payload. Electron IPC
 * and the browser-mode HTTP/WebSocket bridge both carry exactly this contract.
 * Types only: transport-neutral, importable with `import type` anywhere.
 */
import type { DatasetsApi, DatasetsEvents } from '../data/api.ts';
import type { ExploreApi } from '../explore/api.ts';
import type { ModelsApi } from '../models/api.ts';
import type { ExperimentsApi, ExperimentsEvents } from '../experiments/api.ts';
import type { ShareApi } from '../experiments/share-api.ts';
import type { ReportsApi } from '../reports/api.ts';
import type { StreamApi, StreamEvents } from '../stream/api.ts';

export interface AppInfo {
  name: 'Fleetlens';
  version: string;
  /** Absolute path of the open workspace file. */
  workspace: string;
  /** Which transport the renderer is served through. */
  mode: 'electron' | 'browser' | 'in-process';
  /** Whether the bundled sample was loaded into this workspace on first run. */
  sampleDataset: string | null;
}

/** Events of the shell itself. */
export interface AppEvents {
  /** A desktop menu item the page should act on (Electron only), e.g. File › Add files…. */
  'app.menu': { action: 'addFiles' };
}

export interface AppApi {
  /** Version, workspace path and transport. */
  'app.info': (req: Record<string, never>) => Promise<AppInfo>;
}

export type WorkbenchApi = AppApi & DatasetsApi & ExploreApi & ModelsApi & ExperimentsApi & StreamApi & ShareApi & ReportsApi;
export type WorkbenchEvents = AppEvents & DatasetsEvents & ExperimentsEvents & StreamEvents;

export type MethodName = keyof WorkbenchApi;
export type EventName = keyof WorkbenchEvents;
export type RequestOf<M extends MethodName> = Parameters<WorkbenchApi[M]>[0];
export type ResponseOf<M extends MethodName> = Awaited<ReturnType<WorkbenchApi[M]>>;

/** What a transport client offers: call a method, listen to an event (returns unsubscribe). */
export interface WorkbenchClient {
  call<M extends MethodName>(method: M, req: RequestOf<M>): Promise<ResponseOf<M>>;
  on<E extends EventName>(event: E, cb: (payload: WorkbenchEvents[E]) => void): () => void;
}

/** What the Electron preload exposes as window.workbench: raw invoke and on, nothing else. */
export interface WorkbenchBridge {
  invoke(method: string, req: unknown): Promise<unknown>;
  on(event: string, cb: (payload: unknown) => void): () => void;
}
