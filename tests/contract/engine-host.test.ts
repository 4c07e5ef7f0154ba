/**
 * The contract suite over the Electron transport's engine protocol: the engine
 * host runs in a child process (as in Electron's utility process) and this
 * client relays calls and events the way electron/ipc.ts and the preload do.
 */
import { engineClient, forkEngine } from '../helpers/engine-client.ts';
import { describeContract } from './contract-suite.ts';

describeContract('engine host (Electron transport protocol)', async (workspace) => {
  const child = forkEngine(workspace);
  const client = engineClient(child);
  await client.ready;
  return {
    client,
    settle: () => new Promise((r) => setTimeout(r, 50)),
    close: async () => {
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
    },
  };
});
