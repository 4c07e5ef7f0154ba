import WebSocket from 'ws';
import { createWorkbench } from '../../core/app.ts';
import { createHttpClient, type SocketLike } from '../../core/api/http-client.ts';
import { startHttpBridge } from '../../core/server/http-bridge.ts';
import { describeContract } from './contract-suite.ts';

describeContract('http + websocket', async (workspace) => {
  const wb = await createWorkbench({ workspace, mode: 'browser' });
  const bridge = await startHttpBridge({ workbench: wb });
  const client = createHttpClient({
    baseUrl: bridge.origin,
    token: bridge.token,
    fetch: (url, init) => fetch(url, init),
    WebSocket: WebSocket as unknown as new (url: string) => SocketLike,
  });
  await client.ready();
  return {
    client,
    settle: () => new Promise((r) => setTimeout(r, 100)),
    close: async () => {
      client.close();
      await bridge.close();
      await wb.close();
    },
  };
});
