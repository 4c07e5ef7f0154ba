/**
 * What every Fleetlens Event Hubs client shares: tuned retry options, connection
 * string handling that never leaks the key, error mapping to WorkbenchError, and
 * the guard against the SDK's late uncaught TypeError
 * (shared/design/eventhubs-amqp.md §8).
 */
import { EventHubConsumerClient, MessagingError, RetryMode, parseEventHubConnectionString, type RetryOptions } from '@azure/event-hubs';
import { WorkbenchError } from '../api/errors.ts';

/**
 * Exponential 0.5 s → 4 s, 10 retries, 10 s per attempt. The SDK default (fixed 30 s, 60 s per
 * attempt) re-attaches ~28 s after a 3 s outage; these re-attach in 0.2–4 s, and the short attempt
 * timeout avoids the hung-send defect seen with 60 s (design doc §8).
 */
export const TUNED_RETRY: RetryOptions = {
  mode: RetryMode.Exponential,
  retryDelayInMs: 500,
  maxRetryDelayInMs: 4000,
  maxRetries: 10,
  timeoutInMs: 10_000,
};

/** Bound on one sendBatch: the SDK can leave a send unsettled forever after a graceful server close. */
export const SEND_TIMEOUT_MS = 15_000;

export interface HubTarget {
  /** Namespace host as the SDK reports it (checkpoint and ownership key). */
  namespace: string;
  eventHubName: string;
  /** `host[:port]/hub`: safe to show and log. */
  display: string;
}

/** Parse a connection string; errors name the problem, never the string. */
export function hubTarget(connectionString: unknown, eventHubName?: string): HubTarget {
  if (typeof connectionString !== 'string' || connectionString.trim() === '') {
    throw new WorkbenchError('INVALID_ARGUMENT', 'connectionString must be a non-empty Event Hubs connection string');
  }
  let props: ReturnType<typeof parseEventHubConnectionString>;
  try {
    props = parseEventHubConnectionString(connectionString);
  } catch {
    throw new WorkbenchError('INVALID_ARGUMENT', 'connectionString is not an Event Hubs connection string (Endpoint=sb://…;SharedAccessKeyName=…;SharedAccessKey=…)');
  }
  const hub = eventHubName ?? props.eventHubName;
  if (!hub) throw new WorkbenchError('INVALID_ARGUMENT', 'the connection string has no EntityPath; give eventHubName');
  if (eventHubName && props.eventHubName && eventHubName !== props.eventHubName) {
    throw new WorkbenchError('INVALID_ARGUMENT', `eventHubName '${eventHubName}' differs from the connection string's EntityPath`);
  }
  let hostPort = props.fullyQualifiedNamespace;
  try {
    hostPort = new URL(props.endpoint.replace(/^sb:/, 'http:')).host || hostPort;
  } catch {
    // Keep the namespace: the display string is cosmetic.
  }
  return { namespace: props.fullyQualifiedNamespace, eventHubName: hub, display: `${hostPort}/${hub}` };
}

/** Remove anything that looks like a key or token from a message (defence in depth). */
export function scrub(message: string): string {
  return message
    .replace(/SharedAccessKey=[^;\s]*/gi, 'SharedAccessKey=***')
    .replace(/SharedAccessSignature[^;\s]*/gi, 'SharedAccessSignature ***')
    .replace(/sig=[^&\s]*/gi, 'sig=***');
}

/** Map an SDK or network error to EVENTHUB_AUTH or EVENTHUB_FAILED with a scrubbed message. */
export function hubError(err: unknown, what: string): WorkbenchError {
  if (err instanceof WorkbenchError) return err;
  // The SDK reports exhausted retries as an AggregateError of the attempts; the last one says why.
  if (err instanceof AggregateError && err.errors.length) return hubError(err.errors[err.errors.length - 1], what);
  const code = err instanceof MessagingError ? err.code ?? '' : (err as { code?: unknown } | null)?.code;
  const raw = err instanceof Error ? err.message : String(err);
  const msg = scrub(err instanceof Error && err.name === 'AbortError' ? 'no answer within 20 s (wrong host or port, or the hub is down)' : raw);
  const auth = /unauthori[sz]ed|401|forbidden|invalidsignature|invalid signature/i.test(`${String(code)} ${raw}`);
  return new WorkbenchError(auth ? 'EVENTHUB_AUTH' : 'EVENTHUB_FAILED', `${what}: ${msg}`, code ? { sdkCode: String(code) } : undefined);
}

/**
 * Check that a hub is reachable and the key is accepted; returns its partition ids. A wrong key
 * fails in about a second with EVENTHUB_AUTH (the SDK would otherwise retry it for half a
 * minute and then report only a timeout); anything else is EVENTHUB_FAILED after ~20 s.
 */
export async function probeHub(connectionString: string, eventHubName: string | undefined, consumerGroup = '$Default'): Promise<string[]> {
  const target = hubTarget(connectionString, eventHubName);
  const retryOptions = { ...TUNED_RETRY, maxRetries: 3 };
  let client: EventHubConsumerClient;
  try {
    client = eventHubName ? new EventHubConsumerClient(consumerGroup, connectionString, eventHubName, { retryOptions }) : new EventHubConsumerClient(consumerGroup, connectionString, { retryOptions });
  } catch (err) {
    throw hubError(err, 'cannot create the Event Hubs client');
  }
  try {
    return await client.getPartitionIds({ abortSignal: AbortSignal.timeout(20_000) });
  } catch (err) {
    throw hubError(err, `cannot reach event hub ${target.display}`);
  } finally {
    await client.close().catch(() => undefined);
  }
}

/** Whether an uncaught error comes from the SDK/AMQP stack (rhea, rhea-promise, @azure/*). */
export function isSdkError(err: unknown): boolean {
  const stack = err instanceof Error ? err.stack ?? '' : '';
  return /node_modules[\\/](rhea|rhea-promise|@azure)[\\/]/.test(stack);
}

let guardInstalled = false;

/**
 * Keep the process alive through the SDK defect: rhea-promise's send-timeout callback can throw
 * an uncaught TypeError ~60 s after a graceful server close (design doc §8). With `all: false`
 * only errors raised inside the SDK/AMQP stack are swallowed and everything else keeps Node's
 * default behaviour (print, exit 1); `all: true` (the headless `fleetlens stream`) swallows
 * everything so that no thrown timer kills a long-running consumer. Installed once per process.
 */
export function installCrashGuard(opts: { all: boolean; log: (line: string) => void }): void {
  if (guardInstalled) return;
  guardInstalled = true;
  const handle = (err: unknown, event: 'uncaughtException' | 'unhandledRejection'): void => {
    if (opts.all || isSdkError(err)) {
      opts.log(`${event} ignored (stream kept running): ${scrub(err instanceof Error ? `${err.name}: ${err.message}` : String(err))}`);
      return;
    }
    // Another handler (a test runner, the Electron host) decides; alone, behave like Node's default.
    if (process.listenerCount(event) > 1) return;
    process.stderr.write(`${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
    process.exit(1);
  };
  process.on('uncaughtException', (err) => handle(err, 'uncaughtException'));
  process.on('unhandledRejection', (err) => handle(err, 'unhandledRejection'));
}
