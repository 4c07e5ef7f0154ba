/**
 * The renderer's one door to the engine (STYLE.md §5.5): `call(name, req)` and
 * `on(event, cb)`, typed from the contract. In Electron it rides the preload's
 * `window.workbench` bridge; in browser mode it talks HTTP + WebSocket to the
 * loopback bridge with the per-launch token taken from the page URL.
 */
import type { EventName, MethodName, RequestOf, ResponseOf, WorkbenchBridge, WorkbenchClient, WorkbenchEvents } from '../../../core/api/contract.ts';
import { createHttpClient, type SocketLike } from '../../../core/api/http-client.ts';
import { deserializeError, isSerializedError, WorkbenchError } from '../../../core/api/errors.ts';

/** How the page reaches the engine, decided once at boot. */
export type Connection = { kind: 'electron' } | { kind: 'http'; origin: string } | { kind: 'no-token' };

/** Shown when browser mode has no token: the server refuses every call without it. */
export const NO_TOKEN_MESSAGE = 'Open the URL printed by `npm run web` (it carries the access token)';

const TOKEN_KEY = 'fleetlens.token';

let client: WorkbenchClient | null = null;
let connection: Connection | null = null;
let closeHttp: (() => void) | null = null;

/** Electron's invoke() wraps thrown errors as "Error invoking remote method 'wb:x': Error: msg"; keep only msg. */
const IPC_PREFIX = /^Error invoking remote method '[^']*':\s*(?:[A-Za-z]*Error:\s*)?/;

/** Anything thrown by a transport, as a WorkbenchError (code + message, never a stack). */
export function toWorkbenchError(err: unknown): WorkbenchError {
  if (err instanceof WorkbenchError) return err;
  if (isSerializedError(err)) return deserializeError(err);
  const message = err instanceof Error ? err.message : String(err);
  return new WorkbenchError('INTERNAL', message.replace(IPC_PREFIX, ''));
}

function bridgeClient(bridge: WorkbenchBridge): WorkbenchClient {
  return {
    async call<M extends MethodName>(method: M, req: RequestOf<M>): Promise<ResponseOf<M>> {
      try {
        return (await bridge.invoke(method, req ?? {})) as ResponseOf<M>;
      } catch (err) {
        throw toWorkbenchError(err);
      }
    },
    on<E extends EventName>(event: E, cb: (payload: WorkbenchEvents[E]) => void): () => void {
      return bridge.on(event, (payload) => cb(payload as WorkbenchEvents[E]));
    },
  };
}

/**
 * The browser-mode token: taken from `?token=` on first load, then kept in
 * sessionStorage (so reloads work) and removed from the address bar (so it is
 * not left in history, bookmarks or screenshots).
 */
function takeToken(): string | null {
  const url = new URL(window.location.href);
  const fromUrl = url.searchParams.get('token');
  if (fromUrl) {
    try {
      window.sessionStorage.setItem(TOKEN_KEY, fromUrl);
    } catch {
      // Storage can be disabled; the token still works for this page load.
    }
    url.searchParams.delete('token');
    window.history.replaceState(window.history.state, '', url.pathname + url.search + url.hash);
    return fromUrl;
  }
  try {
    return window.sessionStorage.getItem(TOKEN_KEY);
  } catch {
    return null;
  }
}

/** Decide the transport and build the client; idempotent. Call once before rendering. */
export function connect(): Connection {
  if (connection) return connection;
  if (window.workbench) {
    client = bridgeClient(window.workbench);
    connection = { kind: 'electron' };
    return connection;
  }
  const token = takeToken();
  if (!token) {
    connection = { kind: 'no-token' };
    return connection;
  }
  const origin = window.location.origin;
  const http = createHttpClient({
    baseUrl: origin,
    token,
    fetch: (url, init) => window.fetch(url, init),
    // The DOM WebSocket's handler signatures are wider than SocketLike's; the shape used is the same.
    WebSocket: window.WebSocket as unknown as new (url: string) => SocketLike,
  });
  client = http;
  closeHttp = () => http.close();
  connection = { kind: 'http', origin };
  return connection;
}

/** Drop a token the server refused (e.g. from an earlier server run), so the page explains instead of failing every call. */
export function forgetToken(): void {
  try {
    window.sessionStorage.removeItem(TOKEN_KEY);
  } catch {
    // Nothing stored, nothing to forget.
  }
  closeHttp?.();
  closeHttp = null;
  client = null;
  connection = { kind: 'no-token' };
}

/** Call one contract method. Rejects with a WorkbenchError only. */
export async function call<M extends MethodName>(method: M, req: RequestOf<M>): Promise<ResponseOf<M>> {
  if (!client) connect();
  if (!client) throw new WorkbenchError('UNAUTHORIZED', NO_TOKEN_MESSAGE);
  try {
    return await client.call(method, req);
  } catch (err) {
    throw toWorkbenchError(err);
  }
}

/** Listen to one contract event; returns the unsubscribe function. */
export function on<E extends EventName>(event: E, cb: (payload: WorkbenchEvents[E]) => void): () => void {
  if (!client) connect();
  if (!client) return () => undefined;
  return client.on(event, cb);
}

/** The desktop file dialog when the Electron preload offers one, else null (browser mode types paths). */
export function desktopFilePicker(): (() => Promise<string[]>) | null {
  const open = window.fleetlensDesktop?.openFiles;
  return typeof open === 'function' ? () => open() : null;
}

/**
 * The desktop "File › Add files…" menu item. It arrives on the bridge as the
 * event `app.menu`, which is not (yet) part of WorkbenchEvents, so it is read
 * from the raw bridge here; a no-op in browser mode.
 */
export function onDesktopMenu(cb: (action: string) => void): () => void {
  const bridge = window.workbench;
  if (!bridge) return () => undefined;
  return bridge.on('app.menu', (payload) => {
    const action = (payload as { action?: unknown } | null)?.action;
    if (typeof action === 'string') cb(action);
  });
}
