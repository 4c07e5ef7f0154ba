/**
 * Command-line entry for the local Event Hubs-compatible server:
 *   node --import tsx core/stream/hub-main.ts --port 0 [--hub NAME] [--partitions N] [--store FILE] [--key KEY]
 * Prints one JSON line `{"event":"listening","port":...,"connectionString":"..."}` on stdout once
 * ready (parents wait for it), and stops gracefully on SIGTERM/SIGINT.
 */
import { realpathSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { HubServerError, LocalEventHubServer, type HubServerOptions } from './hub-server.ts';

/** Parses the flags above into server options. @throws HubServerError INVALID_OPTION on unknown or malformed flags. */
export function parseHubArgs(argv: string[]): HubServerOptions {
  const opts: HubServerOptions = {};
  const int = (flag: string, v: string): number => {
    if (!/^\d+$/.test(v)) throw new HubServerError('INVALID_OPTION', `${flag} needs a non-negative integer, got '${v}'`);
    return Number(v);
  };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i]!;
    const value = argv[i + 1];
    if (value === undefined || value.startsWith('--')) throw new HubServerError('INVALID_OPTION', `${flag} needs a value`);
    i++;
    switch (flag) {
      case '--port': opts.port = int(flag, value); break;
      case '--hub': opts.hubName = value; break;
      case '--partitions': opts.partitions = int(flag, value); break;
      case '--store': opts.storeFile = value; break;
      case '--key': opts.sharedAccessKey = value; break;
      case '--key-name': opts.sharedAccessKeyName = value; break;
      case '--max-message-size': opts.maxMessageSize = int(flag, value); break;
      default: throw new HubServerError('INVALID_OPTION', `unknown flag ${flag}`);
    }
  }
  return opts;
}

/** Starts the server from `argv` (flags only, no node/script), announces it, and stops it on SIGTERM/SIGINT. */
export async function runHub(argv: string[]): Promise<LocalEventHubServer> {
  const server = await LocalEventHubServer.start(parseHubArgs(argv));
  const dropped = server.stats().discardedTailBytes;
  if (dropped > 0) process.stderr.write(`hub: dropped a torn ${dropped}-byte tail from the store file\n`);
  const onSignal = (): void => {
    process.off('SIGTERM', onSignal);
    process.off('SIGINT', onSignal);
    server.stop({ graceful: true }).then(
      () => process.exit(0),
      (err: unknown) => {
        process.stderr.write(`hub stop failed: ${err instanceof Error ? err.message : String(err)}\n`);
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  process.stdout.write(`${JSON.stringify({ event: 'listening', port: server.port, connectionString: server.connectionString })}\n`);
  return server;
}

function isMain(): boolean {
  const script = process.argv[1];
  if (!script) return false;
  try {
    return import.meta.url === pathToFileURL(realpathSync(script)).href;
  } catch {
    return false;
  }
}

if (isMain()) {
  runHub(process.argv.slice(2)).catch((err: unknown) => {
    process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(2);
  });
}
