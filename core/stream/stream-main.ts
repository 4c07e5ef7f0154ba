/**
 * `fleetlens stream` (issue #7): the live pipeline headless, for servers and tests.
 *
 *   fleetlens stream --connection STRING --model RUN_ID|name@alias [--hub NAME]
 *     [--consumer-group G] [--workspace PATH] [--table NAME] [--start checkpoint|earliest|latest]
 *     [--mapping JSON] [--alarm K/N] [--dedupe-field FIELD] [--unknown-devices accept|dead-letter]
 *     [--max-batch N] [--metrics-port P] [--json]
 *
 * Prints `{"event":"started",...}` once reading (with the metrics port), then the status:
 * one JSON line per second with --json, a short line every 5 s otherwise. With
 * --metrics-port, Prometheus text is served at http://127.0.0.1:P/metrics. SIGTERM or
 * SIGINT stores what is in hand, checkpoints every partition and exits 0. The
 * connection string may come from FLEETLENS_EVENTHUB_CONNECTION instead of the
 * command line (which `ps` shows); it is never printed.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WorkbenchError } from '../api/errors.ts';
import { ExperimentStore } from '../experiments/store.ts';
import { ModelRegistry } from '../experiments/registry.ts';
import { defaultWorkspacePath, Workspace } from '../workspace/workspace.ts';
import type { AlarmRule, StartPosition, StreamStatus } from './api.ts';
import { installCrashGuard } from './eventhub.ts';
import { prometheusText } from './metrics.ts';
import { StreamPipeline, knownDevices, resolveModel, unknownGroups } from './pipeline.ts';

export interface StreamArgs {
  connectionString: string;
  model: string;
  eventHubName?: string;
  consumerGroup?: string;
  workspace: string;
  table?: string;
  startPosition?: StartPosition;
  mapping?: Record<string, string>;
  alarmRule?: AlarmRule;
  dedupeField?: string;
  unknownDevices?: 'accept' | 'dead-letter';
  maxBatchSize?: number;
  /** DuckDB memory the stream may add (MiB), or null for no cap. */
  memoryBudgetMb?: number | null;
  metricsPort?: number;
  json: boolean;
}

function value(argv: string[], i: number, flag: string): string {
  const v = argv[i + 1];
  if (v === undefined || v.startsWith('--')) throw new WorkbenchError('INVALID_ARGUMENT', `${flag} needs a value`);
  return v;
}

/** Parse `fleetlens stream` flags. */
export function parseStreamArgs(argv: string[], env: NodeJS.ProcessEnv = process.env): StreamArgs {
  const a: Partial<StreamArgs> = { json: false };
  for (let i = 0; i < argv.length; i++) {
    const f = argv[i]!;
    switch (f) {
      case '--connection': a.connectionString = value(argv, i++, f); break;
      case '--model': a.model = value(argv, i++, f); break;
      case '--hub': a.eventHubName = value(argv, i++, f); break;
      case '--consumer-group': a.consumerGroup = value(argv, i++, f); break;
      case '--workspace': a.workspace = value(argv, i++, f); break;
      case '--table': a.table = value(argv, i++, f); break;
      case '--start': {
        const v = value(argv, i++, f);
        if (v !== 'checkpoint' && v !== 'earliest' && v !== 'latest') throw new WorkbenchError('INVALID_ARGUMENT', '--start must be checkpoint, earliest or latest');
        a.startPosition = v;
        break;
      }
      case '--mapping': {
        const v = value(argv, i++, f);
        let m: unknown;
        try {
          m = JSON.parse(v);
        } catch {
          throw new WorkbenchError('INVALID_ARGUMENT', '--mapping needs a JSON object of event path → model column');
        }
        if (typeof m !== 'object' || m === null || Array.isArray(m) || Object.values(m).some((x) => typeof x !== 'string')) {
          throw new WorkbenchError('INVALID_ARGUMENT', '--mapping needs a JSON object of event path → model column');
        }
        a.mapping = m as Record<string, string>;
        break;
      }
      case '--alarm': {
        const m = /^(\d+)\/(\d+)$/.exec(value(argv, i++, f));
        if (!m) throw new WorkbenchError('INVALID_ARGUMENT', '--alarm needs K/N, e.g. 3/5 (3 anomalous of the last 5 events)');
        a.alarmRule = { k: Number(m[1]), n: Number(m[2]) };
        break;
      }
      case '--dedupe-field': a.dedupeField = value(argv, i++, f); break;
      case '--unknown-devices': {
        const v = value(argv, i++, f);
        if (v !== 'accept' && v !== 'dead-letter') throw new WorkbenchError('INVALID_ARGUMENT', '--unknown-devices must be accept or dead-letter');
        a.unknownDevices = v;
        break;
      }
      case '--max-batch': a.maxBatchSize = Number(value(argv, i++, f)); break;
      case '--memory-budget': {
        const v = value(argv, i++, f);
        const n = Number(v);
        if (v !== 'none' && !(Number.isFinite(n) && n > 0)) throw new WorkbenchError('INVALID_ARGUMENT', '--memory-budget needs MiB (DuckDB memory the stream may add) or none');
        a.memoryBudgetMb = v === 'none' ? null : n;
        break;
      }
      case '--metrics-port': {
        const v = Number(value(argv, i++, f));
        if (!Number.isInteger(v) || v < 0 || v > 65535) throw new WorkbenchError('INVALID_ARGUMENT', '--metrics-port needs a port number (0 = any free port)');
        a.metricsPort = v;
        break;
      }
      case '--json': a.json = true; break;
      default: throw new WorkbenchError('INVALID_ARGUMENT', `unknown stream option ${f}`);
    }
  }
  a.connectionString ??= env.FLEETLENS_EVENTHUB_CONNECTION;
  if (!a.connectionString) throw new WorkbenchError('INVALID_ARGUMENT', 'stream needs --connection STRING (or FLEETLENS_EVENTHUB_CONNECTION)');
  if (!a.model) throw new WorkbenchError('INVALID_ARGUMENT', 'stream needs --model RUN_ID');
  a.workspace ??= defaultWorkspacePath();
  return a as StreamArgs;
}

function line(s: StreamStatus): string {
  const lat = s.latencyMs.p99 === null ? '-' : `${s.latencyMs.p50?.toFixed(0)}/${s.latencyMs.p99.toFixed(0)} ms`;
  const backlog = s.partitions.reduce((acc, p) => acc + (p.backlog ?? 0), 0);
  return `stream ${s.state}: ${s.eventsPerSecond.toFixed(0)} ev/s, p50/p99 ${lat}, stored ${s.totals.stored}, dead-lettered ${s.totals.deadLettered}, alarms ${s.totals.alarms}, backlog ${backlog}${s.lastError ? `, last error: ${s.lastError.message}` : ''}`;
}

/** Run until SIGTERM/SIGINT; resolves after a clean stop. */
export async function runStream(argv: string[]): Promise<void> {
  const args = parseStreamArgs(argv);
  let uncaught = 0;
  const log = (msg: string): void => void process.stderr.write(`fleetlens stream: ${msg}\n`);
  // Headless: no thrown timer (the SDK's late TypeError, design doc §8) may end the process.
  installCrashGuard({
    all: true,
    log: (msg) => {
      uncaught++;
      log(msg);
    },
  });
  const ws = await Workspace.open(args.workspace);
  let pipeline: StreamPipeline | null = null;
  let metrics: Server | null = null;
  try {
    const store = new ExperimentStore(ws);
    const runId = (await new ModelRegistry(ws, store).resolve(args.model)).runId;
    const model = await resolveModel(store, runId);
    const known = await knownDevices(ws, model, args.unknownDevices);
    let ticks = 0;
    pipeline = await StreamPipeline.start({
      workspace: ws,
      connectionString: args.connectionString,
      eventHubName: args.eventHubName,
      consumerGroup: args.consumerGroup,
      startPosition: args.startPosition,
      model,
      mapping: args.mapping,
      alarmRule: args.alarmRule,
      knownDevices: known,
      unknownGroups: unknownGroups(model, args.unknownDevices),
      dedupeField: args.dedupeField ?? null,
      table: args.table,
      maxBatchSize: args.maxBatchSize,
      memoryBudgetMb: args.memoryBudgetMb,
      log,
      onStats: (s) => {
        if (args.json) process.stdout.write(JSON.stringify({ event: 'stats', ...s }) + '\n');
        else if (ticks++ % 5 === 0) log(line(s));
      },
    });
    const p = pipeline;
    if (args.metricsPort !== undefined) {
      metrics = createServer((req, res) => {
        if (req.method === 'GET' && (req.url === '/metrics' || req.url === '/')) {
          res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' });
          res.end(prometheusText(p.status(), p.histogram, { uncaught }));
        } else {
          res.writeHead(404).end();
        }
      });
      await new Promise<void>((resolve, reject) => {
        metrics!.once('error', reject);
        metrics!.listen(args.metricsPort, '127.0.0.1', () => resolve());
      });
    }
    const port = metrics ? (metrics.address() as AddressInfo).port : null;
    process.stdout.write(JSON.stringify({ event: 'started', subscriptionId: p.id, endpoint: p.target.display, consumerGroup: p.consumerGroup, table: p.table, metricsPort: port }) + '\n');
    await new Promise<void>((resolve) => {
      process.once('SIGTERM', resolve);
      process.once('SIGINT', resolve);
    });
    log('stopping: storing what is in hand and checkpointing');
    await pipeline.stop();
    const final = pipeline.status();
    process.stdout.write(JSON.stringify({ event: 'stopped', ...final }) + '\n');
  } finally {
    await pipeline?.stop().catch(() => undefined);
    if (metrics) await new Promise<void>((resolve) => metrics!.close(() => resolve()));
    ws.close();
  }
}
