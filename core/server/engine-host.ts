/**
 * Engine host: runs the whole engine in its own process (Electron's
 * utilityProcess), so that no engine work, not even DuckDB result conversion,
 * runs on the Electron main process. Speaks a tiny message protocol over the
 * parent port: {id, method, req} → {id, ok, data | error}; events go out as
 * {event, payload}. Electron main only relays.
 */
import { createWorkbench, type Workbench } from '../app.ts';
import { serializeError } from '../api/errors.ts';
import { ensureSampleDataset } from '../data/sample.ts';

/** The slice of Electron's parentPort (or a worker port) this host uses. */
export interface HostPort {
  on(event: 'message', cb: (e: { data: unknown }) => void): void;
  postMessage(msg: unknown): void;
}

export type HostRequest = { id: number; method: string; req: unknown };
export type HostReply = { id: number; ok: true; data: unknown } | { id: number; ok: false; error: ReturnType<typeof serializeError> } | { event: string; payload: unknown } | { ready: true; workspace: string };

export async function runEngineHost(port: HostPort, opts: { workspace: string; sample: boolean }): Promise<Workbench> {
  const wb = await createWorkbench({ workspace: opts.workspace, mode: 'electron' });
  wb.events.onAny((event, payload) => port.postMessage({ event, payload } satisfies HostReply));
  port.on('message', (e) => {
    const msg = e.data as HostRequest;
    if (!msg || typeof msg.id !== 'number' || typeof msg.method !== 'string') return;
    wb.dispatch(msg.method, msg.req ?? {}).then(
      (data) => port.postMessage({ id: msg.id, ok: true, data: data ?? null } satisfies HostReply),
      (err: unknown) => port.postMessage({ id: msg.id, ok: false, error: serializeError(err) } satisfies HostReply),
    );
  });
  port.postMessage({ ready: true, workspace: wb.workspace.path } satisfies HostReply);
  if (opts.sample) {
    ensureSampleDataset(wb).catch((err: unknown) => process.stderr.write(`could not load the sample fleet: ${serializeError(err).message}\n`));
  }
  return wb;
}
