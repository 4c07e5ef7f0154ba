/**
 * Entry of the engine utility process (bundled to dist-electron/engine.mjs).
 * Electron main passes the workspace path in argv; see core/server/engine-host.ts.
 */
import { runEngineHost, type HostPort } from '../core/server/engine-host.ts';

// The SDK defect in ../shared/design/eventhubs-amqp.md §8 can throw from a timer; never let it kill the engine.
process.on('uncaughtException', (err) => process.stderr.write(`uncaught exception (kept running): ${err instanceof Error ? err.stack : String(err)}\n`));

const parentPort = (process as unknown as { parentPort: HostPort }).parentPort;
const workspace = process.argv[2]!;
await runEngineHost(parentPort, { workspace, sample: process.env.FLEETLENS_NO_SAMPLE === undefined });
