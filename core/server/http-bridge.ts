/**
 * Browser-mode transport: serves the built renderer and the whole WorkbenchApi
 * on 127.0.0.1 as POST /api/<method>, plus a WebSocket at /api/events for events.
 * No per-method code: every call goes through Workbench.dispatch.
 *
 * Security (issue #3): a per-launch random token is required on every API call
 * and on the event socket; the Host header must name this loopback server (so a
 * DNS-rebinding page cannot reach it); an Origin, when sent, must be this server.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { createReadStream, existsSync, statSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { extname, join, normalize, resolve, sep } from 'node:path';
import { WebSocketServer, type WebSocket } from 'ws';
import type { Workbench } from '../app.ts';
import { serializeError, WorkbenchError } from '../api/errors.ts';
import { decodeWire, encodeWire } from '../api/codec.ts';

export interface BridgeOptions {
  workbench: Workbench;
  /** Folder of the built renderer (index.html + assets); omit to serve the API only. */
  staticDir?: string;
  /** 0 (default) picks a free port. */
  port?: number;
  /** Token to require; a fresh random one by default. */
  token?: string;
}

export interface Bridge {
  port: number;
  token: string;
  /** Base URL without the token. */
  origin: string;
  /** URL to open in a browser: carries the token once; the page moves it to sessionStorage. */
  url: string;
  close(): Promise<void>;
}

const MAX_BODY = 16 * 1024 * 1024;
const MIME: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json',
  '.woff2': 'font/woff2',
};

/** CSP for the renderer in browser mode: same-origin scripts only; Plotly needs inline styles. */
const CSP = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; connect-src 'self' ws://127.0.0.1:* ws://localhost:*; object-src 'none'; base-uri 'none'; frame-ancestors 'none'";

function tokenMatches(given: string | undefined | null, token: string): boolean {
  if (!given) return false;
  const a = Buffer.from(given);
  const b = Buffer.from(token);
  return a.length === b.length && timingSafeEqual(a, b);
}

export async function startHttpBridge(opts: BridgeOptions): Promise<Bridge> {
  const token = opts.token ?? randomBytes(24).toString('base64url');
  const wb = opts.workbench;
  let port = 0;
  const allowedHosts = (): Set<string> => new Set([`127.0.0.1:${port}`, `localhost:${port}`]);
  const allowedOrigins = (): Set<string> => new Set([`http://127.0.0.1:${port}`, `http://localhost:${port}`]);

  /** Host/Origin check shared by HTTP and the WebSocket upgrade; returns the refusal or null. */
  const refuse = (req: IncomingMessage): WorkbenchError | null => {
    if (!allowedHosts().has(String(req.headers.host ?? ''))) {
      return new WorkbenchError('FORBIDDEN', `host '${String(req.headers.host ?? '')}' is not this Fleetlens server`);
    }
    const origin = req.headers.origin;
    if (origin !== undefined && !allowedOrigins().has(origin)) {
      return new WorkbenchError('FORBIDDEN', `origin '${origin}' may not use this Fleetlens server`);
    }
    return null;
  };

  const sendJson = (res: ServerResponse, status: number, body: unknown): void => {
    const text = encodeWire(body);
    res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', 'x-content-type-options': 'nosniff' });
    res.end(text);
  };

  const handleApi = async (req: IncomingMessage, res: ServerResponse, method: string): Promise<void> => {
    if (req.method !== 'POST') return sendJson(res, 405, { ok: false, error: { code: 'INVALID_ARGUMENT', message: 'use POST' } });
    const auth = String(req.headers.authorization ?? '');
    if (!tokenMatches(auth.startsWith('Bearer ') ? auth.slice(7) : null, token)) {
      return sendJson(res, 401, { ok: false, error: { code: 'UNAUTHORIZED', message: 'missing or wrong Fleetlens token; open the URL printed by `fleetlens web`' } });
    }
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const c of req) {
      size += (c as Buffer).length;
      if (size > MAX_BODY) return sendJson(res, 413, { ok: false, error: { code: 'INVALID_ARGUMENT', message: 'request body too large' } });
      chunks.push(c as Buffer);
    }
    let body: unknown;
    try {
      body = chunks.length ? decodeWire(Buffer.concat(chunks).toString('utf8')) : {};
    } catch {
      return sendJson(res, 400, { ok: false, error: { code: 'INVALID_ARGUMENT', message: 'request body is not valid JSON' } });
    }
    try {
      const data = await wb.dispatch(method, body);
      sendJson(res, 200, { ok: true, data: data ?? null });
    } catch (err) {
      const e = serializeError(err);
      sendJson(res, e.code === 'UNKNOWN_METHOD' ? 404 : e.code === 'INTERNAL' ? 500 : 400, { ok: false, error: e });
    }
  };

  const serveStatic = (req: IncomingMessage, res: ServerResponse, pathname: string): void => {
    const root = opts.staticDir ? resolve(opts.staticDir) : null;
    if (!root || !existsSync(join(root, 'index.html'))) {
      res.writeHead(404, { 'content-type': 'text/plain' });
      res.end('Fleetlens renderer is not built: run `npm run build` (or use `npm run web`, which builds it).');
      return;
    }
    let rel = decodeURIComponent(pathname);
    if (rel === '/' || rel === '') rel = '/index.html';
    let file = normalize(join(root, rel));
    if (!file.startsWith(root + sep)) {
      res.writeHead(403);
      res.end();
      return;
    }
    // Client-side routes fall back to the app shell.
    if (!existsSync(file) || statSync(file).isDirectory()) file = join(root, 'index.html');
    const headers: Record<string, string> = {
      'content-type': MIME[extname(file)] ?? 'application/octet-stream',
      'x-content-type-options': 'nosniff',
      'cache-control': file.endsWith('index.html') ? 'no-store' : 'max-age=3600',
    };
    if (file.endsWith('.html')) {
      headers['content-security-policy'] = CSP;
      headers['x-frame-options'] = 'DENY';
    }
    res.writeHead(200, headers);
    if (req.method === 'HEAD') return void res.end();
    createReadStream(file).pipe(res);
  };

  const server: Server = createServer((req, res) => {
    const refusal = refuse(req);
    if (refusal) return sendJson(res, 403, { ok: false, error: refusal.toJSON() });
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    if (url.pathname.startsWith('/api/')) {
      handleApi(req, res, url.pathname.slice(5)).catch((err: unknown) => sendJson(res, 500, { ok: false, error: serializeError(err) }));
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') return sendJson(res, 405, { ok: false, error: { code: 'INVALID_ARGUMENT', message: 'method not allowed' } });
    serveStatic(req, res, url.pathname);
  });
  // Imports and training calls can legitimately run for many minutes.
  server.requestTimeout = 0;
  server.headersTimeout = 60_000;

  const wss = new WebSocketServer({ noServer: true, maxPayload: 1024 * 1024 });
  const sockets = new Set<WebSocket>();
  server.on('upgrade', (req, socket, head) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const refusal = refuse(req);
    if (refusal || url.pathname !== '/api/events' || !tokenMatches(url.searchParams.get('token'), token)) {
      socket.write(`HTTP/1.1 ${refusal ? '403 Forbidden' : '401 Unauthorized'}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
      socket.destroy();
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      sockets.add(ws);
      ws.on('close', () => sockets.delete(ws));
    });
  });
  const offEvents = wb.events.onAny((event, payload) => {
    if (sockets.size === 0) return;
    const text = encodeWire({ event, payload });
    for (const s of sockets) if (s.readyState === s.OPEN) s.send(text);
  });

  await new Promise<void>((res, rej) => {
    server.once('error', rej);
    server.listen(opts.port ?? 0, '127.0.0.1', () => res());
  });
  port = (server.address() as AddressInfo).port;
  const origin = `http://127.0.0.1:${port}`;
  return {
    port,
    token,
    origin,
    url: `${origin}/?token=${token}`,
    async close() {
      offEvents();
      for (const s of sockets) s.terminate();
      wss.close();
      server.closeAllConnections();
      await new Promise<void>((res) => server.close(() => res()));
    },
  };
}
