/**
 * A child process that runs the engine host exactly as Electron's utility
 * process does, with Node's IPC channel standing in for Electron's parentPort.
 */
import { runEngineHost } from '../../core/server/engine-host.ts';

const listeners: ((e: { data: unknown }) => void)[] = [];
process.on('message', (data) => listeners.forEach((l) => l({ data })));
await runEngineHost(
  {
    on: (_event, cb) => listeners.push(cb),
    postMessage: (msg) => process.send!(msg),
  },
  { workspace: process.argv[2]!, sample: false },
);
