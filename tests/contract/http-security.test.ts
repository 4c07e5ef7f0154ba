import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { request } from 'node:http';
import { createWorkbench, type Workbench } from '../../core/app.ts';
import { startHttpBridge, type Bridge } from '../../core/server/http-bridge.ts';

let wb: Workbench;
let bridge: Bridge;

beforeAll(async () => {
  wb = await createWorkbench({ workspace: ':memory:', mode: 'browser' });
  bridge = await startHttpBridge({ workbench: wb });
});
afterAll(async () => {
  await bridge.close();
  await wb.close();
});

/** Raw request so that Host and Origin can be forged the way a hostile page or DNS rebinding would. */
function raw(path: string, headers: Record<string, string>, body = '{}'): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: bridge.port, path, method: 'POST', headers: { 'content-type': 'application/json', ...headers } }, (res) => {
      let text = '';
      res.on('data', (c: Buffer) => (text += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

describe('browser-mode bridge security', () => {
  it('uses a fresh random token per launch', async () => {
    const other = await startHttpBridge({ workbench: wb });
    expect(other.token).not.toBe(bridge.token);
    expect(bridge.token.length).toBeGreaterThanOrEqual(32);
    await other.close();
  });

  it('accepts a call with the token', async () => {
    const r = await raw('/api/app.info', { authorization: `Bearer ${bridge.token}` });
    expect(r.status).toBe(200);
    expect(JSON.parse(r.body).data.name).toBe('Fleetlens');
  });

  it('refuses a call without the token or with a wrong one', async () => {
    const none = await raw('/api/datasets.list', {});
    expect(none.status).toBe(401);
    expect(JSON.parse(none.body).error.code).toBe('UNAUTHORIZED');
    const wrong = await raw('/api/datasets.list', { authorization: 'Bearer ' + 'x'.repeat(bridge.token.length) });
    expect(wrong.status).toBe(401);
  });

  it('refuses a foreign Origin even with the token', async () => {
    const r = await raw('/api/datasets.list', { authorization: `Bearer ${bridge.token}`, origin: 'http://evil.example' });
    expect(r.status).toBe(403);
    expect(JSON.parse(r.body).error.code).toBe('FORBIDDEN');
    const own = await raw('/api/datasets.list', { authorization: `Bearer ${bridge.token}`, origin: bridge.origin });
    expect(own.status).toBe(200);
  });

  it('refuses a foreign Host header (DNS rebinding)', async () => {
    const r = await raw('/api/datasets.list', { authorization: `Bearer ${bridge.token}`, host: `evil.example:${bridge.port}` });
    expect(r.status).toBe(403);
  });

  it('refuses the event socket without the token or from a foreign origin', async () => {
    const attempt = (url: string, origin?: string) =>
      new Promise<string>((resolve) => {
        const ws = new WebSocket(url, origin ? { origin } : {});
        ws.on('open', () => { ws.close(); resolve('open'); });
        ws.on('unexpected-response', (_req, res) => resolve(String(res.statusCode)));
        ws.on('error', () => resolve('error'));
      });
    const base = `ws://127.0.0.1:${bridge.port}/api/events`;
    expect(await attempt(base)).toBe('401');
    expect(await attempt(`${base}?token=${bridge.token}`, 'http://evil.example')).toBe('403');
    expect(await attempt(`${base}?token=${bridge.token}`, bridge.origin)).toBe('open');
  });
});
