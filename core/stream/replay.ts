/**
 * `fleetlens replay` (issue #7): publish a dataset or a CSV/Parquet file as JSON
 * events with the real EventHubProducerClient, for demos, tests and benchmarks.
 *
 *   fleetlens replay (--dataset D [--workspace P] | --file F) --connection STRING
 *     [--hub NAME] [--rate N/s | --speedup X] [--batch N] [--limit N] [--loop]
 *     [--malformed-rate R] [--seed N] [--json]
 *
 * With --json, stdout carries one JSON line per second (`{"event":"progress",...}`) and a
 * last one with the summary (`{"event":"summary",...}`).
 *
 * Rows go out in time order (ties by row id), read from DuckDB in streamed chunks.
 * Each event is one row as a JSON object plus `event_id` (dataset rowid or 0-based
 * file row; with --loop, pass k adds k × rows and shifts the time column past the
 * previous pass), also set as the application property `event_id`.
 *
 * Routing: each device goes to the partition its id hashes to with the service's
 * partition-key hash (lookup3), and events are batched per partition, as
 * EventHubBufferedProducerClient does; one send per partition is in flight at a time,
 * so a device's events arrive in order. Rows without a device column go round-robin.
 *
 * Pacing: --rate is a token bucket (bursts up to one batch); --speedup replays the
 * recorded time gaps divided by X; neither = as fast as the hub takes them.
 *
 * --malformed-rate R replaces a deterministic share R of events (by event id, see
 * malformedKind) with bad ones: a non-JSON body, a missing sensor, a non-numeric
 * sensor or an unparseable time.
 *
 * Sends use the tuned retry options and are bounded by an abort timeout (the SDK can
 * leave a send unsettled after a graceful server close); a failed batch is sent again,
 * so publishing is at-least-once: a consumer may see an event twice (different
 * sequence numbers, same event_id).
 */
import { DuckDBInstance, type DuckDBConnection, type DuckDBValue } from '@duckdb/node-api';
import { EventHubProducerClient, type EventData, type EventDataBatch } from '@azure/event-hubs';
import { WorkbenchError, serializeError } from '../api/errors.ts';
import { getDataset } from '../data/catalog.ts';
import { guessRoles, isNumericType, isTemporalType } from '../data/roles.ts';
import type { ColumnInfo } from '../data/api.ts';
import { defaultWorkspacePath, ident, lit, Workspace } from '../workspace/workspace.ts';
import { SEND_TIMEOUT_MS, TUNED_RETRY, hubError, hubTarget, installCrashGuard } from './eventhub.ts';
import { partitionForKey } from './lookup3.ts';

export type MalformedKind = 'invalid_json' | 'missing_field' | 'non_numeric' | 'bad_timestamp';
const KINDS: MalformedKind[] = ['invalid_json', 'missing_field', 'non_numeric', 'bad_timestamp'];

function mix32(x: number): number {
  let h = x >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/**
 * Whether (and how) replay corrupts the event with this id at this rate and seed. Deterministic,
 * so a test can compute the expected dead letters from the ids it sent.
 */
export function malformedKind(eventId: number, rate: number, seed = 0): MalformedKind | null {
  if (!(rate > 0)) return null;
  const lo = eventId % 4294967296;
  const hi = Math.floor(eventId / 4294967296);
  const h = mix32(mix32(lo ^ Math.imul(seed, 0x9e3779b1)) ^ hi);
  if (h / 4294967296 >= rate) return null;
  return KINDS[mix32(h ^ 0x5bd1e995) % KINDS.length]!;
}

export interface ReplayOptions {
  connectionString: string;
  eventHubName?: string;
  source: { kind: 'dataset'; workspace: string; dataset: string } | { kind: 'file'; path: string };
  /** Events per second (token bucket); exclusive with speedup. */
  rate?: number;
  /** Replay recorded time gaps divided by this; exclusive with rate. */
  speedup?: number;
  /** Most events per batch; default 500. */
  batch?: number;
  /** Stop after this many events. */
  limit?: number;
  /** Start over (ids and times shifted) until `limit` events were sent. */
  loop?: boolean;
  /** Share of events replaced by malformed ones, 0..1. */
  malformedRate?: number;
  /** Seed of the malformed choice; default 0. */
  seed?: number;
  /** Called about once a second. */
  onProgress?: (p: ReplayProgress) => void;
  signal?: AbortSignal;
}

export interface ReplayProgress {
  /** Events acknowledged by the hub. */
  sent: number;
  /** Malformed events among them. */
  malformed: number;
  /** Batches sent again after a failed or timed-out send. */
  retries: number;
  elapsedMs: number;
}

export interface ReplaySummary extends ReplayProgress {
  /** Acknowledged events per partition id. */
  partitions: Record<string, number>;
  /** Achieved events per second. */
  ratePerSecond: number;
  /** Source rows per pass. */
  rows: number;
  /** Event ids are 0 … lastEventId (with loop passes, gaps never occur). */
  lastEventId: number;
}

interface SourceInfo {
  con: DuckDBConnection;
  close: () => void;
  table: string;
  columns: ColumnInfo[];
  time: ColumnInfo | null;
  device: string | null;
  sensors: string[];
  rows: number;
  /** Shift per loop pass: time span plus one step (ms for timestamps, axis units otherwise). */
  shift: number;
}

async function openSource(src: ReplayOptions['source']): Promise<SourceInfo> {
  if (src.kind === 'dataset') {
    const ws = await Workspace.open(src.workspace);
    try {
      const info = await getDataset(ws, src.dataset);
      const con = await ws.connect();
      return await describe(con, () => (con.closeSync(), ws.close()), ident(info.name), info.columns);
    } catch (err) {
      ws.close();
      throw err;
    }
  }
  const inst = await DuckDBInstance.create(':memory:');
  const con = await inst.connect();
  const close = (): void => {
    con.closeSync();
    inst.closeSync();
  };
  try {
    const reader = /\.parquet$/i.test(src.path) ? `read_parquet(${lit(src.path)})` : `read_csv(${lit(src.path)}, auto_detect = true)`;
    // A table keeps file order in rowid, which is the stable event id; spills to disk if large.
    await con.run(`SET preserve_insertion_order = true; CREATE TEMP TABLE src AS SELECT * FROM ${reader}`);
    const cols = (await con.runAndReadAll(`SELECT column_name, data_type FROM information_schema.columns WHERE table_name = 'src' ORDER BY ordinal_position`)).getRows();
    return await describe(con, close, 'src', guessRoles(cols.map((r) => ({ name: String(r[0]), type: String(r[1]) }))));
  } catch (err) {
    close();
    if (err instanceof WorkbenchError) throw err;
    throw new WorkbenchError('FILE_UNREADABLE', `cannot read ${src.path}: ${(err as Error).message.split('\n')[0]}`);
  }
}

async function describe(con: DuckDBConnection, close: () => void, table: string, columns: ColumnInfo[]): Promise<SourceInfo> {
  const time = columns.find((c) => c.role === 'time') ?? null;
  const device = columns.find((c) => c.role === 'device')?.name ?? null;
  const sensors = columns.filter((c) => c.role === 'sensor').map((c) => c.name);
  let shift = 0;
  const tx = time ? (isTemporalType(time.type) ? `epoch_ms(${ident(time.name)}::TIMESTAMP)::DOUBLE` : `${ident(time.name)}::DOUBLE`) : null;
  const stats = (await con.runAndReadAll(`SELECT count(*)${tx ? `, min(${tx}), max(${tx})` : ''} FROM ${table}`)).getRows()[0]!;
  if (tx) {
    const step = isTemporalType(time!.type) ? 60_000 : 1;
    shift = Number(stats[2] ?? 0) - Number(stats[1] ?? 0) + step;
  }
  return { con, close, table, columns, time, device, sensors, rows: Number(stats[0]), shift };
}

/** One source row ready to publish. */
interface Row {
  id: number;
  /** Time for pacing: epoch ms or axis value; NaN without a time column. */
  t: number;
  device: string | null;
  body: Record<string, unknown>;
}

/** Stream the source's rows in time order, pass after pass, shifted. */
async function* rowsOf(s: SourceInfo, loop: boolean, limit: number): AsyncGenerator<Row> {
  const time = s.time;
  const temporal = time ? isTemporalType(time.type) : false;
  const out = s.columns.filter((c) => c.name !== 'event_id');
  let emitted = 0;
  for (let pass = 0; emitted < limit; pass++) {
    const shift = pass * s.shift;
    const sel = out.map((c) => {
      const col = ident(c.name);
      if (time && c.name === time.name) {
        return temporal
          ? `strftime(${col}::TIMESTAMP + to_milliseconds(${shift}::BIGINT), '%Y-%m-%dT%H:%M:%S.%gZ') AS ${col}`
          : `(${col}::DOUBLE + ${shift}) AS ${col}`;
      }
      if (isTemporalType(c.type)) return `strftime(${col}::TIMESTAMP, '%Y-%m-%dT%H:%M:%S.%gZ') AS ${col}`;
      if (isNumericType(c.type)) return `${col}::DOUBLE AS ${col}`;
      if (/^BOOL/i.test(c.type)) return col;
      return `${col}::VARCHAR AS ${col}`;
    });
    const tx = time ? (temporal ? `epoch_ms(${ident(time.name)}::TIMESTAMP)::DOUBLE + ${shift}` : `${ident(time.name)}::DOUBLE + ${shift}`) : 'NULL::DOUBLE';
    const order = time ? `${ident(time.name)}, rowid` : 'rowid';
    const res = await s.con.stream(`SELECT rowid AS __id, ${tx} AS __t, ${sel.join(', ')} FROM ${s.table} ORDER BY ${order}`);
    const names = out.map((c) => c.name);
    const devIdx = s.device ? names.indexOf(s.device) : -1;
    for (;;) {
      const chunk = await res.fetchChunk();
      if (!chunk || chunk.rowCount === 0) break;
      for (const r of chunk.getRows()) {
        if (emitted >= limit) return;
        const id = Number(r[0]) + pass * s.rows;
        const body: Record<string, unknown> = {};
        for (let i = 0; i < names.length; i++) body[names[i]!] = plain(r[i + 2]);
        body.event_id = id;
        emitted++;
        yield { id, t: r[1] === null ? NaN : Number(r[1]), device: devIdx >= 0 && r[devIdx + 2] !== null ? String(r[devIdx + 2]) : null, body };
      }
    }
    if (!loop || s.rows === 0) return;
  }
}

function plain(v: DuckDBValue | undefined): unknown {
  if (v === null || v === undefined) return null;
  if (typeof v === 'bigint') return Number(v);
  if (typeof v === 'number' || typeof v === 'string' || typeof v === 'boolean') return v;
  return String(v);
}

/** The event for a row: JSON body, or a malformed variant. */
function toEvent(row: Row, s: SourceInfo, kind: MalformedKind | null): EventData {
  const properties = { event_id: row.id };
  if (!kind) return { body: row.body, contentType: 'application/json', properties };
  const body = { ...row.body };
  const sensor = s.sensors.length ? s.sensors[row.id % s.sensors.length]! : null;
  switch (kind) {
    case 'invalid_json':
      return { body: Buffer.from(`{"event_id": ${row.id}, "truncated": `, 'utf8'), properties };
    case 'missing_field':
      if (sensor) delete body[sensor];
      else if (s.time) delete body[s.time.name];
      break;
    case 'non_numeric':
      if (sensor) body[sensor] = 'n/a';
      else if (s.time) body[s.time.name] = 'n/a';
      break;
    case 'bad_timestamp':
      if (s.time) body[s.time.name] = 'not-a-time';
      else if (sensor) delete body[sensor];
      break;
  }
  return { body, contentType: 'application/json', properties };
}

/** Longest an event waits in an open batch, ms. */
const LINGER_MS = 10;
/** Shortest pacing sleep (timer granularity), ms. */
const MIN_SLEEP_MS = 4;

const sleep = (ms: number, signal?: AbortSignal): Promise<void> =>
  new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const onAbort = (): void => {
      clearTimeout(t);
      resolve();
    };
    // Remove the listener when the timer fires: paced loops sleep thousands of times on one signal.
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });

interface Lane {
  id: string;
  current: EventDataBatch | null;
  /** When the open batch got its first event (ms). */
  openedAt: number;
  currentCount: number;
  currentMalformed: number;
  queue: { batch: EventDataBatch; count: number; malformed: number }[];
  sending: Promise<void> | null;
  acked: number;
}

/** Publish rows as events; resolves with the summary once every event was acknowledged. */
export async function replay(opts: ReplayOptions): Promise<ReplaySummary> {
  hubTarget(opts.connectionString, opts.eventHubName);
  if (opts.rate !== undefined && opts.speedup !== undefined) throw new WorkbenchError('INVALID_ARGUMENT', 'choose one of rate and speedup');
  if (opts.rate !== undefined && !(opts.rate > 0)) throw new WorkbenchError('INVALID_ARGUMENT', 'rate must be a positive number of events per second');
  if (opts.speedup !== undefined && !(opts.speedup > 0)) throw new WorkbenchError('INVALID_ARGUMENT', 'speedup must be a positive number');
  const maxBatch = opts.batch ?? 500;
  if (!Number.isInteger(maxBatch) || maxBatch < 1) throw new WorkbenchError('INVALID_ARGUMENT', 'batch must be a positive whole number');
  const mRate = opts.malformedRate ?? 0;
  if (!(mRate >= 0 && mRate <= 1)) throw new WorkbenchError('INVALID_ARGUMENT', 'malformed rate must be between 0 and 1');
  const limit = opts.limit ?? Number.POSITIVE_INFINITY;
  const source = await openSource(opts.source);
  if (opts.speedup !== undefined && !source.time) {
    source.close();
    throw new WorkbenchError('INVALID_ARGUMENT', 'speedup needs a time column');
  }
  const producer = opts.eventHubName
    ? new EventHubProducerClient(opts.connectionString, opts.eventHubName, { retryOptions: TUNED_RETRY })
    : new EventHubProducerClient(opts.connectionString, { retryOptions: TUNED_RETRY });
  let t0 = Date.now();
  const progress: ReplayProgress = { sent: 0, malformed: 0, retries: 0, elapsedMs: 0 };
  let failure: unknown = null;
  const ticker = setInterval(() => opts.onProgress?.({ ...progress, elapsedMs: Date.now() - t0 }), 1000);
  try {
    let ids: string[];
    try {
      ids = await producer.getPartitionIds({ abortSignal: AbortSignal.timeout(30_000) });
    } catch (err) {
      throw hubError(err, 'cannot reach the event hub');
    }
    const lanes: Lane[] = ids.map((id) => ({ id, current: null, openedAt: 0, currentCount: 0, currentMalformed: 0, queue: [], sending: null, acked: 0 }));
    let queued = 0;
    let wake: (() => void) | null = null;
    const notify = (): void => {
      const w = wake;
      wake = null;
      w?.();
    };

    const sendOne = async (lane: Lane, item: Lane['queue'][number]): Promise<void> => {
      const started = Date.now();
      for (let attempt = 0; ; attempt++) {
        try {
          await producer.sendBatch(item.batch, { abortSignal: AbortSignal.timeout(SEND_TIMEOUT_MS) });
          return;
        } catch (err) {
          if (opts.signal?.aborted) throw err;
          // Give up only after a long outage; until then the hub may come back.
          if (Date.now() - started > 180_000) throw hubError(err, `sending to partition ${lane.id} failed for 3 minutes`);
          progress.retries++;
          await sleep(Math.min(4000, 250 * 2 ** attempt), opts.signal);
        }
      }
    };
    const pump = (lane: Lane): void => {
      if (lane.sending || lane.queue.length === 0 || failure) return;
      lane.sending = (async () => {
        try {
          while (lane.queue.length && !failure) {
            const item = lane.queue[0]!;
            await sendOne(lane, item);
            lane.queue.shift();
            queued -= item.count;
            lane.acked += item.count;
            progress.sent += item.count;
            progress.malformed += item.malformed;
            notify();
            // What gathered during the send goes next, without waiting for the reader to seal it.
            if (lane.queue.length === 0 && lane.currentCount > 0 && Date.now() - lane.openedAt >= LINGER_MS) {
              lane.queue.push({ batch: lane.current!, count: lane.currentCount, malformed: lane.currentMalformed });
              lane.current = null;
              lane.currentCount = 0;
              lane.currentMalformed = 0;
            }
          }
        } catch (err) {
          failure = err;
          notify();
        } finally {
          lane.sending = null;
        }
      })();
    };
    const seal = (lane: Lane): void => {
      if (!lane.current || lane.currentCount === 0) return;
      lane.queue.push({ batch: lane.current, count: lane.currentCount, malformed: lane.currentMalformed });
      lane.current = null;
      lane.currentCount = 0;
      lane.currentMalformed = 0;
      pump(lane);
    };
    const sealAll = (): void => lanes.forEach(seal);
    // Partial batches go out once their first event waited LINGER_MS: small sends at low rates, full batches at high ones.
    // A lane with a send in flight keeps filling its open batch: one big send beats a queue of small ones.
    const sealAged = (now: number): void => lanes.forEach((l) => l.currentCount > 0 && !l.sending && now - l.openedAt >= LINGER_MS && seal(l));
    const add = async (lane: Lane, ev: EventData, bad: boolean): Promise<void> => {
      lane.current ??= await producer.createBatch({ partitionId: lane.id });
      if (lane.currentCount >= maxBatch || !lane.current.tryAdd(ev)) {
        seal(lane);
        lane.current = await producer.createBatch({ partitionId: lane.id });
        if (!lane.current.tryAdd(ev)) throw new WorkbenchError('INVALID_ARGUMENT', 'an event is larger than the hub accepts in one batch');
      }
      if (lane.currentCount === 0) lane.openedAt = Date.now();
      lane.currentCount++;
      if (bad) lane.currentMalformed++;
      queued++;
      if (lane.currentCount >= maxBatch) seal(lane);
    };

    // Bound what is buffered so a slow hub slows the reader instead of filling memory.
    const maxQueued = Math.max(maxBatch * lanes.length * 4, 20_000);
    let tokens = 0;
    let lastRefill = Date.now();
    const bucket = Math.max(1, opts.rate ? Math.min(maxBatch, opts.rate / 20) : 1);
    let firstT = NaN;
    let rr = 0;
    // Pacing and the reported rate start once the hub is reachable, not at process start.
    const tStart = Date.now();
    t0 = tStart;
    for await (const row of rowsOf(source, opts.loop ?? false, limit)) {
      if (failure) throw failure;
      if (opts.signal?.aborted) throw new WorkbenchError('CANCELLED', 'replay was cancelled');
      if (opts.rate) {
        for (;;) {
          const now = Date.now();
          tokens = Math.min(bucket, tokens + ((now - lastRefill) / 1000) * opts.rate);
          lastRefill = now;
          if (tokens >= 1) break;
          sealAged(now);
          await sleep(Math.max(MIN_SLEEP_MS, ((1 - tokens) / opts.rate) * 1000), opts.signal);
        }
        tokens -= 1;
      } else if (opts.speedup && Number.isFinite(row.t)) {
        if (Number.isNaN(firstT)) firstT = row.t;
        const due = tStart + (row.t - firstT) / opts.speedup;
        for (let wait = due - Date.now(); wait > MIN_SLEEP_MS && !opts.signal?.aborted; wait = due - Date.now()) {
          sealAged(Date.now());
          await sleep(Math.min(wait, LINGER_MS), opts.signal);
        }
      }
      while (queued >= maxQueued && !failure) {
        sealAll();
        await new Promise<void>((resolve) => (wake = resolve));
      }
      const lane = row.device !== null ? lanes[partitionForKey(row.device, lanes.length)]! : lanes[rr++ % lanes.length]!;
      const kind = malformedKind(row.id, mRate, opts.seed ?? 0);
      await add(lane, toEvent(row, source, kind), kind !== null);
    }
    sealAll();
    while ((queued > 0 || lanes.some((l) => l.sending)) && !failure) {
      lanes.forEach(pump);
      await new Promise<void>((resolve) => {
        wake = resolve;
        setTimeout(resolve, 200);
      });
    }
    if (failure) throw failure;
    const elapsedMs = Date.now() - t0;
    return {
      ...progress,
      elapsedMs,
      partitions: Object.fromEntries(lanes.map((l) => [l.id, l.acked])),
      ratePerSecond: progress.sent / Math.max(0.001, elapsedMs / 1000),
      rows: source.rows,
      lastEventId: progress.sent - 1,
    };
  } finally {
    clearInterval(ticker);
    source.close();
    await producer.close().catch(() => undefined);
  }
}

function flagValue(argv: string[], i: number, flag: string): string {
  const v = argv[i + 1];
  if (v === undefined || v.startsWith('--')) throw new WorkbenchError('INVALID_ARGUMENT', `${flag} needs a value`);
  return v;
}

function positive(flag: string, v: string, integer: boolean): number {
  const n = Number(v.replace(/\/s$/, ''));
  if (!Number.isFinite(n) || n <= 0 || (integer && !Number.isInteger(n))) throw new WorkbenchError('INVALID_ARGUMENT', `${flag} needs a positive ${integer ? 'whole ' : ''}number, got '${v}'`);
  return n;
}

/** Parse `fleetlens replay` flags. The connection may also come from FLEETLENS_EVENTHUB_CONNECTION (keeps it out of `ps`). */
export function parseReplayArgs(argv: string[], env: NodeJS.ProcessEnv = process.env): ReplayOptions & { json: boolean } {
  let dataset: string | undefined;
  let file: string | undefined;
  let workspace: string | undefined;
  let json = false;
  const o: Partial<ReplayOptions> = {};
  for (let i = 0; i < argv.length; i++) {
    const f = argv[i]!;
    switch (f) {
      case '--dataset': dataset = flagValue(argv, i++, f); break;
      case '--file': file = flagValue(argv, i++, f); break;
      case '--workspace': workspace = flagValue(argv, i++, f); break;
      case '--connection': o.connectionString = flagValue(argv, i++, f); break;
      case '--hub': o.eventHubName = flagValue(argv, i++, f); break;
      case '--rate': o.rate = positive(f, flagValue(argv, i++, f), false); break;
      case '--speedup': o.speedup = positive(f, flagValue(argv, i++, f), false); break;
      case '--batch': o.batch = positive(f, flagValue(argv, i++, f), true); break;
      case '--limit': o.limit = positive(f, flagValue(argv, i++, f), true); break;
      case '--malformed-rate': {
        const v = Number(flagValue(argv, i++, f));
        if (!(v >= 0 && v <= 1)) throw new WorkbenchError('INVALID_ARGUMENT', '--malformed-rate needs a number from 0 to 1');
        o.malformedRate = v;
        break;
      }
      case '--seed': o.seed = positive(f, flagValue(argv, i++, f), true); break;
      case '--loop': o.loop = true; break;
      case '--json': json = true; break;
      default: throw new WorkbenchError('INVALID_ARGUMENT', `unknown replay option ${f}`);
    }
  }
  if ((dataset === undefined) === (file === undefined)) throw new WorkbenchError('INVALID_ARGUMENT', 'replay needs one of --dataset NAME and --file PATH');
  const connectionString = o.connectionString ?? env.FLEETLENS_EVENTHUB_CONNECTION;
  if (!connectionString) throw new WorkbenchError('INVALID_ARGUMENT', 'replay needs --connection STRING (or FLEETLENS_EVENTHUB_CONNECTION)');
  if (o.loop && o.limit === undefined) throw new WorkbenchError('INVALID_ARGUMENT', '--loop needs --limit N');
  const source: ReplayOptions['source'] = dataset !== undefined ? { kind: 'dataset', dataset, workspace: workspace ?? defaultWorkspacePath() } : { kind: 'file', path: file! };
  return { ...o, connectionString, source, json };
}

/** CLI entry: replay, print progress to stderr and the summary to stdout; resolves when done. */
export async function runReplay(argv: string[]): Promise<ReplaySummary> {
  const opts = parseReplayArgs(argv);
  installCrashGuard({ all: true, log: (line) => process.stderr.write(`replay: ${line}\n`) });
  const abort = new AbortController();
  const onSignal = (): void => abort.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    const summary = await replay({
      ...opts,
      signal: abort.signal,
      onProgress: (p) => {
        if (opts.json) process.stdout.write(JSON.stringify({ event: 'progress', ...p }) + '\n');
        else process.stderr.write(`replay: ${p.sent.toLocaleString('en-US')} events sent (${p.malformed} malformed, ${p.retries} retries), ${(p.elapsedMs / 1000).toFixed(0)} s\n`);
      },
    });
    process.stdout.write(
      opts.json
        ? JSON.stringify({ event: 'summary', ...summary }) + '\n'
        : `sent ${summary.sent.toLocaleString('en-US')} events (${summary.malformed} malformed) in ${(summary.elapsedMs / 1000).toFixed(1)} s: ${summary.ratePerSecond.toFixed(0)} events/s; ${summary.retries} batch retries\n`,
    );
    return summary;
  } catch (err) {
    throw err instanceof WorkbenchError ? err : new WorkbenchError('EVENTHUB_FAILED', serializeError(err).message);
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}
