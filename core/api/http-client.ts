/**
 * Client of the browser-mode bridge: POST /api/<method> with a bearer token, and
 * one WebSocket for events. Transport-neutral: the caller passes fetch and a
 * WebSocket constructor (the browser's, or `ws` in Node tests), so the renderer
 * and the contract tests run the very same code.
 */
import type { EventName, MethodName, RequestOf, ResponseOf, WorkbenchClient, WorkbenchEvents } from './contract.ts';
import { deserializeError, isSerializedError, WorkbenchError } from './errors.ts';
import { decodeWire, encodeWire } from './codec.ts';

/** The slice of the WebSocket interface this client uses. */
export interface SocketLike {
  onmessage: ((ev: { data: unknown }) => void) | null;
  onclose: ((ev: unknown) => void) | null;
  onopen: ((ev: unknown) => void) | null;
  onerror: ((ev: unknown) => void) | null;
  close(): void;
}

export interface HttpClientOptions {
  /** e.g. http://127.0.0.1:5173 */
  baseUrl: string;
  token: string;
  fetch: (url: string, init: { method: string; headers: Record<string, string>; body: string }) => Promise<{ status: number; text(): Promise<string> }>;
  /** Constructs a WebSocket for events; omit to use calls only. */
  WebSocket?: new (url: string) => SocketLike;
  /** Reconnect delay after the event socket drops, ms. */
  reconnectMs?: number;
}

export interface HttpClient extends WorkbenchClient {
  /** Resolves once the event socket is open (immediately without WebSocket). */
  ready(): Promise<void>;
  close(): void;
}

export function createHttpClient(opts: HttpClientOptions): HttpClient {
  const listeners = new Map<string, Set<(p: unknown) => void>>();
  let socket: SocketLike | null = null;
  let closed = false;
  let readyResolve: () => void = () => undefined;
  let readyPromise: Promise<void> = Promise.resolve();

  const connect = (): void => {
    if (!opts.WebSocket || closed) return;
    readyPromise = new Promise<void>((res) => (readyResolve = res));
    const wsUrl = opts.baseUrl.replace(/^http/, 'ws') + '/api/events?token=' + encodeURIComponent(opts.token);
    const s = new opts.WebSocket(wsUrl);
    socket = s;
    s.onopen = () => readyResolve();
    s.onmessage = (ev) => {
      const msg = decodeWire(String(ev.data)) as { event: string; payload: unknown };
      for (const cb of listeners.get(msg.event) ?? []) cb(msg.payload);
    };
    s.onerror = () => undefined;
    s.onclose = () => {
      socket = null;
      // Keep events flowing across a server restart or a sleep/wake.
      if (!closed) setTimeout(connect, opts.reconnectMs ?? 1000);
    };
  };
  connect();

  return {
    async call<M extends MethodName>(method: M, req: RequestOf<M>): Promise<ResponseOf<M>> {
      let res: { status: number; text(): Promise<string> };
      try {
        res = await opts.fetch(`${opts.baseUrl}/api/${method}`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${opts.token}` },
          body: encodeWire(req ?? {}),
        });
      } catch (err) {
        throw new WorkbenchError('INTERNAL', `Fleetlens engine is not reachable (${err instanceof Error ? err.message : String(err)})`);
      }
      const text = await res.text();
      let body: unknown;
      try {
        body = decodeWire(text);
      } catch {
        throw new WorkbenchError('INTERNAL', `unexpected reply from the engine (HTTP ${res.status})`);
      }
      const b = body as { ok?: boolean; data?: unknown; error?: unknown };
      if (b.ok === true) return b.data as ResponseOf<M>;
      if (isSerializedError(b.error)) throw deserializeError(b.error);
      throw new WorkbenchError('INTERNAL', `unexpected reply from the engine (HTTP ${res.status})`);
    },
    on<E extends EventName>(event: E, cb: (payload: WorkbenchEvents[E]) => void): () => void {
      let set = listeners.get(event);
      if (!set) listeners.set(event, (set = new Set()));
      const l = cb as (p: unknown) => void;
      set.add(l);
      return () => set.delete(l);
    },
    ready: () => readyPromise,
    close() {
      closed = true;
      socket?.close();
    },
  };
}
