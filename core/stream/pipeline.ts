/**
 * A live subscription (issue #7): the real EventHubConsumerClient with the workspace
 * checkpoint store, one scorer per owned partition, and the group-commit writer.
 *
 * Per partition, a batch goes: decode → load the state entries it needs → score
 * (synchronously) → commit rows, dead letters, alarms and the new stored position in
 * one transaction → figures, alerts, charts. The next batch may be scored while the
 * previous one commits (at most MAX_INFLIGHT uncommitted); each commit names the stored
 * position it extends, so a lost or failed commit can never be skipped over.
 *
 * Restart: every few seconds (and on close) a partition also saves the state entries
 * that changed and moves its reading position there. After a crash the SDK resumes at
 * that position; events up to the stored position are replayed through the scorer to
 * rebuild the state, without storing anything twice; later events are processed
 * normally. So nothing is lost, nothing is stored twice, and scores continue exactly
 * as if there had been no crash.
 */
import { createHash, randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import {
  CloseReason,
  EventHubConsumerClient,
  earliestEventPosition,
  latestEventPosition,
  type PartitionContext,
  type ReceivedEventData,
  type Subscription,
} from '@azure/event-hubs';
import { WorkbenchError, serializeError } from '../api/errors.ts';
import type { ExperimentStore } from '../experiments/store.ts';
import { isTemporalType } from '../data/roles.ts';
import type { RunModel } from '../models/train.ts';
import { ident, type Workspace } from '../workspace/workspace.ts';
import type { AlarmRule, DeviceSeries, PartitionStatus, StartPosition, StreamAlert, StreamState, StreamStatus } from './api.ts';
import { WorkspaceCheckpointStore } from './checkpoint-store.ts';
import { TUNED_RETRY, hubError, hubTarget, probeHub, scrub, type HubTarget } from './eventhub.ts';
import { LatencyHistogram, LiveWindow } from './metrics.ts';
import { Writer, prepareTables, tableLayout, tableTotals, type GroupKey, type PartitionWork, type TableLayout } from './persist.ts';
import { ID_FIELD, createScorer, enginesOf, type LiveModel, type ScorerOptions } from './scorer.ts';
import { ANOMALY, RAISED, packBatch, type BatchResult, type ScoredColumns } from './score-batch.ts';
import { InlineScoring, WorkerScoring, type ScoringEngine } from './scoring.ts';
import type { PerGroupModel } from '../experiments/orchestrate.ts';

/** A run's model with what live scoring needs to know about its training data. */
export interface ResolvedModel {
  runId: string;
  /** The model, or a per-group parent's routing over its children's models. */
  live: LiveModel;
  /** Model-side column naming the device, or null (the group key stands in). */
  deviceColumn: string | null;
  /** Whether the time axis is a date-time. */
  temporal: boolean;
  /** Training dataset (may no longer exist). */
  dataset: string;
}

/**
 * Load a run's model artifact and what its training data says about devices and time.
 * NOT_FOUND for an unknown run or one without a model (registry references are resolved
 * to run ids by the caller).
 */
export async function resolveModel(store: ExperimentStore, ref: string, deviceField?: string): Promise<ResolvedModel> {
  if (typeof ref !== 'string' || ref.trim() === '') throw new WorkbenchError('INVALID_ARGUMENT', 'model must be a run id');
  const run = await store.getRun(ref);
  const load = async (runId: string): Promise<unknown> => {
    try {
      return await store.artifact(runId, 'model');
    } catch {
      throw new WorkbenchError('NOT_FOUND', `run ${runId} has no model (status ${(await store.getRun(runId)).status}); train it to the end first`, { runId });
    }
  };
  const art = (await load(ref)) as RunModel | PerGroupModel;
  let live: LiveModel;
  if ('kind' in art && art.kind === 'per-group') {
    const routes: Record<string, { runId: string; model: RunModel }> = {};
    for (const [v, id] of Object.entries(art.routes)) routes[v] = { runId: id, model: (await load(id)) as RunModel };
    const fallback = art.fallback ? { runId: art.fallback, model: (await load(art.fallback)) as RunModel } : null;
    live = { kind: 'per-group', column: art.column, routes, fallback, fallbackGroups: art.fallbackGroups };
  } else {
    live = { kind: 'single', engine: { runId: ref, model: art as RunModel } };
  }
  const first = enginesOf(live)[0];
  if (!first) throw new WorkbenchError('MODEL_FAILED', `per-group run ${ref} has no finished child model`);
  const cols = run.fingerprint?.columns ?? [];
  const timeCol = cols.find((c) => c.name === first.model.recipe.columns.time);
  const deviceRole = cols.find((c) => c.role === 'device')?.name ?? null;
  const deviceColumn = deviceField ?? deviceRole ?? first.model.recipe.columns.groups[0] ?? null;
  return { runId: ref, live, deviceColumn, temporal: timeCol ? isTemporalType(timeCol.type) : true, dataset: run.dataset };
}

/**
 * How unknown devices are treated. Per-device models (the device column routes a per-group model,
 * or is one-hot encoded) dead-letter them by default; others accept them.
 */
function unknownMode(rm: ResolvedModel, mode: 'accept' | 'dead-letter' | undefined): 'accept' | 'dead-letter' {
  if (mode !== undefined && mode !== 'accept' && mode !== 'dead-letter') throw new WorkbenchError('INVALID_ARGUMENT', `unknownDevices must be 'accept' or 'dead-letter', got '${String(mode)}'`);
  const dev = rm.deviceColumn;
  const perDevice = dev !== null && (rm.live.kind === 'per-group' ? rm.live.column === dev : rm.live.engine.model.recipe.recipe.categoricals.includes(dev));
  return mode ?? (perDevice ? 'dead-letter' : 'accept');
}

/** Per-group models: what becomes of group values without a model of their own. */
export function unknownGroups(rm: ResolvedModel, mode: 'accept' | 'dead-letter' | undefined): 'fallback' | 'dead-letter' {
  return rm.live.kind === 'per-group' && rm.live.column === rm.deviceColumn && unknownMode(rm, mode) === 'dead-letter' ? 'dead-letter' : 'fallback';
}

/**
 * The devices a model accepts when unknown devices are dead-lettered, or null to accept all.
 * Models with the device one-hot encoded know their training categories; per-group models routed
 * by device decide in the scorer; otherwise the training dataset's devices are read
 * (INVALID_ARGUMENT when it is gone).
 */
export async function knownDevices(ws: Workspace, rm: ResolvedModel, mode: 'accept' | 'dead-letter' | undefined): Promise<Set<string> | null> {
  const dev = rm.deviceColumn;
  if (unknownMode(rm, mode) === 'accept') return null;
  if (!dev) throw new WorkbenchError('INVALID_ARGUMENT', 'unknown devices cannot be told apart: the model has no device column; set deviceField');
  // A per-group model routed by device knows its devices itself (routes and fallback groups).
  if (rm.live.kind === 'per-group' && rm.live.column === dev) return null;
  const oneHot = rm.live.kind === 'single' ? rm.live.engine.model.recipe.categories.find((c) => c.column === dev) : undefined;
  if (oneHot) return new Set(oneHot.values);
  try {
    const rows = await ws.query(`SELECT DISTINCT ${ident(dev)}::VARCHAR AS d FROM ${ident(rm.dataset)} WHERE ${ident(dev)} IS NOT NULL`);
    return new Set(rows.map((r) => String(r.d)));
  } catch {
    throw new WorkbenchError('INVALID_ARGUMENT', `cannot list the known devices: training dataset '${rm.dataset}' or its column '${dev}' is gone; use unknownDevices 'accept'`);
  }
}

export interface PipelineOptions {
  workspace: Workspace;
  /** Held in memory only; never logged. */
  connectionString: string;
  eventHubName?: string;
  /** Default `$Default`. */
  consumerGroup?: string;
  /** Default 'checkpoint'. */
  startPosition?: StartPosition;
  model: ResolvedModel;
  mapping?: Record<string, string>;
  alarmRule?: AlarmRule;
  knownDevices?: Set<string> | null;
  /** Per-group models: group values without a model of their own. Default 'fallback'. */
  unknownGroups?: 'fallback' | 'dead-letter';
  dedupeField?: string | null;
  /** Default `live_scores`. */
  table?: string;
  /** Default 1000. */
  maxBatchSize?: number;
  /** Owner id in the ownership table. Default: stable per host and workspace, so a restarted process takes its partitions back at once. */
  ownerId?: string;
  /** How often a partition saves its scorer state and moves its reading position, ms. Default 5000. */
  snapshotIntervalMs?: number;
  /** SDK load balancing: loop interval and ownership expiry, ms. Default 2000 / 10000. */
  loadBalancing?: { updateIntervalInMs?: number; expirationMs?: number };
  subscriptionId?: string;
  /** Called every second with the status, and once when stopped. */
  onStats?: (s: StreamStatus) => void;
  /** Called per raised alarm, at most 50 per second. */
  onAlert?: (a: StreamAlert) => void;
  /**
   * DuckDB memory the stream may add to what the workspace used when it started, MiB; null: no
   * cap. DuckDB keeps the blocks it writes cached until its memory limit (80% of RAM by default),
   * so without a cap a stream left running grows the process by what it stores. While streams
   * run, the workspace's limit is their largest cap (other work in the engine spills sooner).
   * Default 48: three times what DuckDB holds uncheckpointed at most (wal_autocheckpoint, 16 MiB).
   * Not applied to in-memory workspaces.
   */
  memoryBudgetMb?: number | null;
  /** Score in a worker thread (default) or on the engine's event loop. */
  scoreInWorker?: boolean;
  /** Called per stored scored event with its end-to-end latency, ms (benchmarks). */
  onScored?: (latencyMs: number) => void;
  /** Operational messages (never contain the connection string). */
  log?: (line: string) => void;
}

/** Default owner id: the same for a given host and workspace file. */
export function defaultOwnerId(ws: Workspace): string {
  if (ws.path === ':memory:') return `fleetlens-${randomUUID()}`;
  return `fleetlens-${createHash('sha256').update(`${hostname()}|${ws.path}`).digest('hex').slice(0, 16)}`;
}

const RING_POINTS = 600;
const RING_DEVICES = 1000;
const ALERTS_PER_SECOND = 50;
/**
 * State not used for this long leaves memory (it is saved and reloads on demand). Far above the
 * snapshot interval, so an entry whose latest snapshot is still being committed is never evicted.
 */
const STATE_IDLE_MS = 10 * 60_000;
/**
 * Event ids remembered per partition for de-duplication. A retried send follows the original in
 * its partition closely (one send per partition is in flight), so thousands suffice.
 */
const DEDUPE_WINDOW = 10_000;

/** The last RING_POINTS scored events of one device, for charts. */
class DeviceRing {
  readonly time = new Float64Array(RING_POINTS);
  readonly score = new Float64Array(RING_POINTS);
  /** bit 0: anomaly, bit 1: alarm raised. */
  readonly flags = new Uint8Array(RING_POINTS);
  readonly values: Float64Array[];
  n = 0;
  head = 0;
  /** Threshold of the model that scored the newest point. */
  threshold = NaN;
  /** When the device last had a point (ms): the least recent ring goes first past the cap. */
  usedAt = 0;

  constructor(sensors: number) {
    this.values = Array.from({ length: sensors }, () => new Float64Array(RING_POINTS));
  }

  /** Row `row` of scored columns; `sensorCols` holds the value-column index of each sensor. */
  push(c: ScoredColumns, row: number, flags: number, sensorCols: number[]): void {
    const i = this.head;
    this.time[i] = c.time[row]!;
    this.score[i] = c.score[row]!;
    this.flags[i] = flags;
    for (let s = 0; s < sensorCols.length; s++) this.values[s]![i] = c.num[sensorCols[s]!]?.[row] ?? NaN;
    this.head = (i + 1) % RING_POINTS;
    if (this.n < RING_POINTS) this.n++;
  }

  /** Index of the k-th newest-but-`count` point: oldest first over the last `count`. */
  index(k: number, count: number): number {
    return (this.head - count + k + RING_POINTS * 2) % RING_POINTS;
  }
}

interface Runner {
  partitionId: string;
  /** Key of this partition's scorer in the scoring engine. */
  scorerKey: string;
  /** The scorer holds state changes not saved yet. */
  dirty: boolean;
  /** Stored position when the partition was taken: events up to it are replayed, not stored. */
  replayUpTo: number;
  /** Last event whose results are committed (−1: none). */
  storedSeq: number;
  /** Last event covered by submitted work (committed or in flight). */
  submittedSeq: number;
  /** Last event run through the scorer (stored, or replayed after a restart) and its offset. */
  processedSeq: number;
  processedOffset: string | null;
  /** Reading resumes after this event once the submitted snapshots commit (−1: start). */
  readSeq: number;
  lastSnapshotAt: number;
  lastEnqueued: number | null;
  lost: boolean;
  /** Last event handed to the scorer (its batch may still be in flight). */
  queuedSeq: number;
  /** Batches in flight (being scored or committed), oldest first. They never reject. */
  pending: Promise<void>[];
  /** Settles when the latest batch in flight has submitted its work: works are submitted in order. */
  submitted: Promise<void>;
  /** When ownership was last confirmed in the store (ms). */
  ownerCheckedAt: number;
}

/**
 * How often a partition confirms in the store that it still owns the partition, ms. The service
 * disconnects a reader whose partition was taken over (owner level); the local server does not,
 * so without this check a consumer would keep reading a partition it lost.
 */
const OWNER_CHECK_MS = 2000;

/**
 * Batches of one partition in flight (being scored, or waiting for their commit) while the SDK
 * hands over the next one. Receiving, scoring and committing overlap; works are submitted in
 * batch order, and the state snapshot of a batch is serialized when the batch is scored, so it
 * matches that batch's position whatever is scored after it.
 */
const MAX_INFLIGHT = 8;

/** Default DuckDB memory budget of a stream above the workspace's use at its start, MiB (see PipelineOptions). */
const MEMORY_BUDGET_MB = 48;

/** How often the owned partitions' last enqueued sequence numbers are read, s. */
const ENQUEUED_POLL_S = 2;

/** No scored rows (a work that only saves state). */
const EMPTY_SCORED: ScoredColumns = {
  n: 0,
  seq: new Float64Array(0),
  enqueuedMs: new Float64Array(0),
  item: new Int32Array(0),
  eventId: [],
  device: [],
  time: new Float64Array(0),
  score: new Float64Array(0),
  threshold: new Float64Array(0),
  flags: new Uint8Array(0),
  num: [],
  text: [],
};

/** A running subscription. Create with {@link StreamPipeline.start}. */
export class StreamPipeline {
  readonly id: string;
  private state: StreamState = 'starting';
  private readonly startedAt = new Date();
  private readonly window = new LiveWindow();
  readonly histogram = new LatencyHistogram();
  private readonly counts = { received: 0, stored: 0, deadLettered: 0, duplicates: 0, alarms: 0 };
  private baseTotals = { stored: 0, deadLettered: 0, alarms: 0 };
  private readonly runners = new Map<string, Runner>();
  private readonly lastKnown = new Map<string, { stored: number | null; enqueued: number | null }>();
  private readonly rings = new Map<string, DeviceRing>();
  private partitionIds: string[] = [];
  private lastError: StreamStatus['lastError'] = null;
  private gate: Promise<void> | null = null;
  private openGate: (() => void) | null = null;
  private subscription: Subscription | null = null;
  private client: EventHubConsumerClient | null = null;
  private store: WorkspaceCheckpointStore | null = null;
  private writer: Writer | null = null;
  private statsTimer: NodeJS.Timeout | null = null;
  private statsTicks = 0;
  private polling = false;
  private alertSecond = 0;
  private alertsThisSecond = 0;
  private stopping: Promise<void> | null = null;
  private readonly scorerOptions: ScorerOptions;
  private readonly snapshotMs: number;
  private key!: GroupKey;
  private layout!: TableLayout;
  private sensorNames: string[] = [];
  /** Value-column index of each sensor (for the charts' rings). */
  private sensorCols: number[] = [];
  private scoring: ScoringEngine | null = null;
  private releaseMemory: (() => Promise<void>) | null = null;
  private scorerSerial = 0;
  private ownerId = '';
  private defaultThreshold = NaN;

  private constructor(
    private readonly opts: PipelineOptions,
    readonly target: HubTarget,
    readonly consumerGroup: string,
    readonly table: string,
  ) {
    this.id = opts.subscriptionId ?? randomUUID();
    this.snapshotMs = opts.snapshotIntervalMs ?? 5000;
    this.scorerOptions = {
      mapping: opts.mapping,
      deviceColumn: opts.model.deviceColumn,
      temporal: opts.model.temporal,
      alarmRule: opts.alarmRule,
      knownDevices: opts.knownDevices ?? null,
      unknownGroups: opts.unknownGroups,
      dedupeField: opts.dedupeField ?? null,
      dedupeWindow: DEDUPE_WINDOW,
    };
  }

  /**
   * Validate everything, connect, prepare the tables and start reading. Throws
   * INVALID_ARGUMENT, EVENTHUB_AUTH or EVENTHUB_FAILED before anything runs in the background.
   */
  static async start(opts: PipelineOptions): Promise<StreamPipeline> {
    const target = hubTarget(opts.connectionString, opts.eventHubName);
    const consumerGroup = opts.consumerGroup ?? '$Default';
    if (typeof consumerGroup !== 'string' || consumerGroup.trim() === '') throw new WorkbenchError('INVALID_ARGUMENT', 'consumerGroup must be a non-empty name');
    const maxBatch = opts.maxBatchSize ?? 1000;
    if (!Number.isInteger(maxBatch) || maxBatch < 1 || maxBatch > 5000) throw new WorkbenchError('INVALID_ARGUMENT', `maxBatchSize must be a whole number from 1 to 5000, got ${String(maxBatch)}`);
    const start = opts.startPosition ?? 'checkpoint';
    if (!['checkpoint', 'earliest', 'latest'].includes(start)) throw new WorkbenchError('INVALID_ARGUMENT', `startPosition must be 'checkpoint', 'earliest' or 'latest', got '${String(start)}'`);
    const p = new StreamPipeline(opts, target, consumerGroup, opts.table ?? 'live_scores');
    // Fail fast on a bad mapping, rule or model before connecting.
    const probe = createScorer(opts.model.live, p.scorerOptions);
    p.layout = tableLayout(p.table, probe.columns, opts.model.temporal);
    p.sensorNames = probe.sensors;
    p.sensorCols = probe.sensors.map((x) => probe.columns.all.indexOf(x));
    p.defaultThreshold = enginesOf(opts.model.live)[0]!.model.threshold;
    try {
      await p.connect(start, maxBatch);
    } catch (err) {
      await p.teardown();
      throw err;
    }
    return p;
  }

  private log(line: string): void {
    this.opts.log?.(scrub(line));
  }

  private noteError(err: unknown, where: string): void {
    const e = serializeError(err);
    this.lastError = { ...e, message: scrub(`${where}: ${e.message}`), at: new Date().toISOString() };
    this.log(`${where}: ${e.message}`);
  }

  private async connect(start: StartPosition, maxBatch: number): Promise<void> {
    const ws = this.opts.workspace;
    this.scoring = this.opts.scoreInWorker === false ? new InlineScoring(this.opts.model.live, this.scorerOptions) : new WorkerScoring(this.opts.model.live, this.scorerOptions);
    const scoringReady = this.scoring.ready();
    // Awaited below; a failure meanwhile must not surface as an unhandled rejection.
    scoringReady.catch(() => undefined);
    const ownerId = this.opts.ownerId ?? defaultOwnerId(ws);
    this.ownerId = ownerId;
    this.store = await WorkspaceCheckpointStore.open(ws);
    const lb = this.opts.loadBalancing ?? {};
    const clientOpts = {
      retryOptions: TUNED_RETRY,
      identifier: ownerId,
      // Greedy with a short loop: the balanced default claims one partition per 10 s (design doc §9).
      loadBalancingOptions: { strategy: 'greedy' as const, updateIntervalInMs: lb.updateIntervalInMs ?? 2000, partitionOwnershipExpirationIntervalInMs: lb.expirationMs ?? 10_000 },
    };
    try {
      this.client = this.opts.eventHubName
        ? new EventHubConsumerClient(this.consumerGroup, this.opts.connectionString, this.opts.eventHubName, this.store, clientOpts)
        : new EventHubConsumerClient(this.consumerGroup, this.opts.connectionString, this.store, clientOpts);
    } catch (err) {
      throw hubError(err, 'cannot create the Event Hubs client');
    }
    const client = this.client;
    this.partitionIds = await probeHub(this.opts.connectionString, this.opts.eventHubName, this.consumerGroup);
    this.key = { fullyQualifiedNamespace: client.fullyQualifiedNamespace, eventHubName: client.eventHubName, consumerGroup: this.consumerGroup };
    await prepareTables(ws, this.key, this.layout, this.opts.model.runId);
    const budget = this.opts.memoryBudgetMb === undefined ? MEMORY_BUDGET_MB : this.opts.memoryBudgetMb;
    if (budget !== null && ws.path !== ':memory:') {
      if (!(budget > 0)) throw new WorkbenchError('INVALID_ARGUMENT', `memoryBudgetMb must be a positive number of MiB or null, got ${String(budget)}`);
      this.releaseMemory = await ws.holdMemoryLimit((await ws.memoryUsage()) + budget * 1048576);
    }
    const existing = await this.store.positions(this.key.fullyQualifiedNamespace, this.key.eventHubName, this.key.consumerGroup);
    if (start === 'earliest' && existing.length) {
      throw new WorkbenchError('INVALID_ARGUMENT', `consumer group '${this.consumerGroup}' already has checkpoints in this workspace; start from 'checkpoint' to resume, or use another consumer group to read from the start`);
    }
    if (start === 'latest') await this.skipToLatest(client);
    this.baseTotals = await tableTotals(ws, this.layout);
    for (const p of existing) this.lastKnown.set(p.partitionId, { stored: p.storedSequenceNumber, enqueued: null });
    this.writer = await Writer.open(ws, this.key, this.layout, (err) => this.noteError(err, 'storing results failed, retrying'));
    // The worker started loading at the beginning of connect: partitions are claimed one after
    // the other, each waiting for its initialization, so a worker starting at the first claim
    // would delay them all.
    await scoringReady;
    // Our own claims from a previous run of this process are stale: free them so we take them back now.
    await this.store.abandon(this.key.fullyQualifiedNamespace, this.key.eventHubName, this.key.consumerGroup, ownerId);
    this.subscription = client.subscribe(
      {
        processInitialize: (ctx) => this.initPartition(ctx),
        processEvents: (events, ctx) => this.processEvents(events, ctx),
        processError: async (err, ctx) => this.noteError(hubError(err, 'event hub'), ctx.partitionId ? `partition ${ctx.partitionId}` : 'subscription'),
        processClose: (reason, ctx) => this.closePartition(reason, ctx, ownerId),
      },
      {
        startPosition: start === 'latest' ? latestEventPosition : earliestEventPosition,
        maxBatchSize: maxBatch,
        maxWaitTimeInSeconds: 1,
        prefetchCount: maxBatch * 3,
        skipParsingBodyAsJson: true,
      },
    );
    this.state = 'running';
    this.statsTimer = setInterval(() => {
      this.opts.onStats?.(this.status());
      if (++this.statsTicks % ENQUEUED_POLL_S === 0) void this.pollEnqueued();
    }, 1000);
    this.statsTimer.unref();
  }

  /** Move every non-empty partition's positions to its last event: reading starts after it. */
  private async skipToLatest(client: EventHubConsumerClient): Promise<void> {
    for (const id of this.partitionIds) {
      let props;
      try {
        props = await client.getPartitionProperties(id, { abortSignal: AbortSignal.timeout(20_000) });
      } catch (err) {
        throw hubError(err, `cannot read partition ${id}`);
      }
      if (props.isEmpty || props.lastEnqueuedSequenceNumber < 0) continue;
      await this.store!.updateCheckpoint({ ...this.key, partitionId: id, sequenceNumber: props.lastEnqueuedSequenceNumber, offset: props.lastEnqueuedOffset });
    }
  }

  /**
   * Read each owned partition's last enqueued sequence number (for the backlog figures). A
   * management request per partition every few seconds costs far less than the SDK's per-event
   * runtime metrics (trackLastEnqueuedEventProperties), which the hub would encode and the
   * client decode on every event.
   */
  private async pollEnqueued(): Promise<void> {
    const client = this.client;
    if (this.polling || !client) return;
    this.polling = true;
    try {
      for (const r of [...this.runners.values()]) {
        try {
          const props = await client.getPartitionProperties(r.partitionId, { abortSignal: AbortSignal.timeout(10_000) });
          r.lastEnqueued = props.isEmpty ? null : props.lastEnqueuedSequenceNumber;
          this.lastKnown.set(r.partitionId, { stored: r.storedSeq, enqueued: r.lastEnqueued });
        } catch {
          // The hub is unreachable: the receive loop reports that; the figures stay as they were.
        }
      }
    } finally {
      this.polling = false;
    }
  }

  private async initPartition(ctx: PartitionContext): Promise<void> {
    const id = ctx.partitionId;
    // The SDK read the positions an instant ago to start the partition: reuse them (one round trip
    // less per partition; partitions are started one after the other).
    const positions =
      this.store!.recentPositions(ctx.fullyQualifiedNamespace, ctx.eventHubName, ctx.consumerGroup, 1000) ??
      (await this.store!.positions(ctx.fullyQualifiedNamespace, ctx.eventHubName, ctx.consumerGroup));
    const pos = positions.find((p) => p.partitionId === id);
    const scorerKey = `${id}#${++this.scorerSerial}`;
    await this.scoring!.open(scorerKey);
    const readSeq = pos?.sequenceNumber ?? -1;
    if (this.scorerOptions.dedupeField && readSeq >= 0) this.scoring!.seed(scorerKey, await this.writer!.recentIds(id, readSeq, DEDUPE_WINDOW));
    this.runners.set(id, {
      partitionId: id,
      scorerKey,
      dirty: false,
      replayUpTo: pos?.storedSequenceNumber ?? -1,
      storedSeq: pos?.storedSequenceNumber ?? -1,
      submittedSeq: pos?.storedSequenceNumber ?? -1,
      processedSeq: readSeq,
      processedOffset: null,
      readSeq,
      lastSnapshotAt: Date.now(),
      lastEnqueued: null,
      lost: false,
      queuedSeq: readSeq,
      pending: [],
      submitted: Promise.resolve(),
      ownerCheckedAt: Date.now(),
    });
    this.log(`partition ${id}: reading after sequence ${readSeq}, stored up to ${pos?.storedSequenceNumber ?? -1}`);
    void this.pollEnqueued();
  }

  private async processEvents(events: ReceivedEventData[], ctx: PartitionContext): Promise<void> {
    const r = this.runners.get(ctx.partitionId);
    // Without a runner (initialization failed) nothing can be stored safely: stop the partition; it is claimed again later.
    if (!r) throw new WorkbenchError('INTERNAL', `partition ${ctx.partitionId} is not initialized`);
    while (this.gate) await this.gate;
    if (this.state === 'stopping' || this.state === 'stopped') return;
    while (r.pending.length >= MAX_INFLIGHT) await r.pending[0];
    if (!r.lost && Date.now() - r.ownerCheckedAt >= OWNER_CHECK_MS && this.store) {
      r.ownerCheckedAt = Date.now();
      const o = (await this.store.listOwnership(ctx.fullyQualifiedNamespace, ctx.eventHubName, ctx.consumerGroup)).find((x) => x.partitionId === r.partitionId);
      if (o && o.ownerId !== '' && o.ownerId !== this.ownerId) r.lost = true;
    }
    if (r.lost) throw new WorkbenchError('INTERNAL', `partition ${r.partitionId} was taken over by another consumer or could not store a batch; it is read again from its stored position`);
    const now = Date.now();
    let first = 0;
    while (first < events.length && events[first]!.sequenceNumber <= r.queuedSeq) first++;
    const fresh = first === 0 ? events : events.slice(first);
    if (fresh.length === 0) {
      // Idle: still save changed state now and then, so a restart replays little.
      if (r.processedOffset !== null && now - r.lastSnapshotAt >= this.snapshotMs) {
        await Promise.all(r.pending);
        if (!r.lost && r.dirty) await this.saveState(r, now);
      }
      return;
    }
    // The batch is scored (in the worker) and stored in the background: the SDK may hand over
    // the next batch meanwhile, up to MAX_INFLIGHT batches per partition.
    const job = this.runBatch(r, fresh, now).catch((err: unknown) => {
      // Not stored: the partition stops at its next batch and is read again from its stored position.
      r.lost = true;
      this.noteError(err, `partition ${r.partitionId}: batch not stored`);
    });
    const tracked = job.finally(() => {
      const i = r.pending.indexOf(tracked);
      if (i >= 0) r.pending.splice(i, 1);
    });
    r.pending.push(tracked);
  }

  /** Score a batch, then submit its work in order with the partition's other batches and wait for the commit. */
  private async runBatch(r: Runner, fresh: ReceivedEventData[], now: number): Promise<void> {
    let live = 0;
    for (const e of fresh) if (e.sequenceNumber > r.replayUpTo) live++;
    this.window.addReceived(live, now);
    this.counts.received += live;
    const lastEv = fresh[fresh.length - 1]!;
    r.queuedSeq = lastEv.sequenceNumber;
    const snapshot = r.lastSnapshotAt === 0 || now - r.lastSnapshotAt >= this.snapshotMs;
    if (snapshot) r.lastSnapshotAt = now;
    const batch = packBatch(r.partitionId, fresh, this.scorerOptions.dedupeField ?? ID_FIELD, r.replayUpTo);
    const before = r.submitted;
    let release!: () => void;
    r.submitted = new Promise<void>((resolve) => (release = resolve));
    let res: BatchResult;
    try {
      // With a snapshot, the scorer's state is serialized right after this batch, so it matches
      // this batch's position whatever is scored after it.
      res = await this.scoring!.score(r.scorerKey, batch, { snapshot, evictIdleMs: Math.max(STATE_IDLE_MS, this.snapshotMs * 4) }, (keys) => this.writer!.loadState(r.partitionId, keys));
      await before;
    } catch (err) {
      release();
      throw err;
    }
    for (const e of res.stateErrors) this.noteError(new WorkbenchError('INVALID_ARGUMENT', e), `partition ${r.partitionId}`);
    if (r.lost) {
      release();
      return;
    }
    r.dirty = res.dirty;
    r.processedSeq = lastEv.sequenceNumber;
    r.processedOffset = lastEv.offset;
    const work: PartitionWork = {
      partitionId: r.partitionId,
      expectedStored: r.submittedSeq,
      lastSequenceNumber: lastEv.sequenceNumber,
      lastOffset: lastEv.offset,
      scored: res.scored,
      dead: res.dead,
      alarms: res.alarms,
      snapshot: res.snapshot,
    };
    const writes = work.scored.n + work.dead.length > 0 || work.lastSequenceNumber > r.submittedSeq;
    if (!writes && !work.snapshot) {
      release();
      this.afterCommit(r, res);
      return;
    }
    if (work.lastSequenceNumber > r.submittedSeq) r.submittedSeq = work.lastSequenceNumber;
    const commit = this.writer!.submit(work);
    release();
    // Only a closed writer rejects (it retries everything else): then the batch is not stored.
    const out = await commit;
    if (out === 'conflict') {
      r.lost = true;
      this.noteError(new WorkbenchError('INTERNAL', 'stored by another consumer meanwhile; leaving it to that consumer'), `partition ${r.partitionId}`);
      return;
    }
    if (work.lastSequenceNumber > r.storedSeq) r.storedSeq = work.lastSequenceNumber;
    if (work.snapshot && work.lastSequenceNumber > r.readSeq) r.readSeq = work.lastSequenceNumber;
    this.afterCommit(r, res);
  }

  /** Save changed state and move the reading position to the last processed event (no commit in flight). */
  private async saveState(r: Runner, now: number): Promise<void> {
    if (r.processedOffset === null) return;
    r.lastSnapshotAt = now;
    const work: PartitionWork = {
      partitionId: r.partitionId,
      expectedStored: r.submittedSeq,
      lastSequenceNumber: r.processedSeq,
      lastOffset: r.processedOffset,
      scored: EMPTY_SCORED,
      dead: [],
      alarms: [],
      snapshot: await this.scoring!.snapshot(r.scorerKey),
    };
    r.dirty = false;
    const res = await this.writer!.submit(work);
    if (res === 'conflict') {
      r.lost = true;
      throw new WorkbenchError('INTERNAL', `partition ${r.partitionId} was stored by another consumer meanwhile; leaving it to that consumer`);
    }
    if (r.processedSeq > r.submittedSeq) r.submittedSeq = r.processedSeq;
    if (r.processedSeq > r.storedSeq) r.storedSeq = r.processedSeq;
    r.readSeq = r.processedSeq;
  }

  private afterCommit(r: Runner, res: BatchResult): void {
    const now = Date.now();
    const c = res.scored;
    this.counts.duplicates += res.duplicates;
    this.counts.deadLettered += res.dead.length;
    this.counts.alarms += res.alarms.length;
    this.counts.stored += c.n;
    const sensorCols = this.sensorCols;
    const onScored = this.opts.onScored;
    let ring: DeviceRing | undefined;
    let ringDevice: string | null = null;
    for (let i = 0; i < c.n; i++) {
      const lat = now - c.enqueuedMs[i]!;
      const flags = c.flags[i]!;
      this.histogram.observe(lat);
      onScored?.(lat);
      this.window.addScored(lat, (flags & ANOMALY) !== 0, now);
      const device = c.device[i]!;
      if (device !== ringDevice) {
        ring = this.rings.get(device);
        if (!ring) {
          if (this.rings.size >= RING_DEVICES) this.evictRing();
          ring = new DeviceRing(sensorCols.length);
          this.rings.set(device, ring);
        }
        ringDevice = device;
      }
      ring!.usedAt = now;
      ring!.threshold = c.threshold[i]!;
      ring!.push(c, i, (flags & ANOMALY ? 1 : 0) | (flags & RAISED ? 2 : 0), sensorCols);
    }
    const sec = Math.floor(now / 1000);
    if (sec !== this.alertSecond) {
      this.alertSecond = sec;
      this.alertsThisSecond = 0;
    }
    for (const a of res.alarms) {
      if (this.alertsThisSecond >= ALERTS_PER_SECOND) break;
      this.alertsThisSecond++;
      this.opts.onAlert?.({
        subscriptionId: this.id,
        device: a.device,
        time: a.time,
        enqueuedAt: new Date(a.enqueuedMs).toISOString(),
        eventId: a.eventId,
        partitionId: a.partitionId,
        sequenceNumber: a.sequenceNumber,
        score: a.score,
        threshold: a.threshold,
        sensors: a.sensors,
        features: a.features,
      });
    }
    this.lastKnown.set(r.partitionId, { stored: r.storedSeq, enqueued: r.lastEnqueued });
  }

  private async closePartition(reason: CloseReason, ctx: PartitionContext, ownerId: string): Promise<void> {
    const r = this.runners.get(ctx.partitionId);
    if (!r) return;
    await Promise.all(r.pending);
    // A new pump of this partition may already have its own runner.
    if (this.runners.get(ctx.partitionId) === r) this.runners.delete(ctx.partitionId);
    this.lastKnown.set(r.partitionId, { stored: r.storedSeq, enqueued: r.lastEnqueued });
    // Save the state so the next owner resumes here instead of replaying since the last snapshot.
    if (!r.lost && this.writer && r.processedSeq > r.readSeq) {
      await this.saveState(r, Date.now()).catch((err: unknown) => this.noteError(err, `partition ${r.partitionId}: final checkpoint failed`));
    }
    this.scoring?.drop(r.scorerKey);
    this.log(`partition ${r.partitionId} closed (${reason})`);
    if (reason === CloseReason.Shutdown && this.state === 'running' && this.store) {
      // Stopped by an error, not by us: free it so the next balancing loop takes it back at once.
      await this.store.abandon(ctx.fullyQualifiedNamespace, ctx.eventHubName, ctx.consumerGroup, ownerId, [ctx.partitionId]).catch(() => 0);
    }
  }

  /** Drop the ring of the device seen least recently (a scan, only when a new device exceeds the cap). */
  private evictRing(): void {
    let oldest: string | null = null;
    let at = Infinity;
    for (const [d, r] of this.rings) {
      if (r.usedAt < at) {
        at = r.usedAt;
        oldest = d;
      }
    }
    if (oldest !== null) this.rings.delete(oldest);
  }

  /** Stop taking events; the hub keeps them. */
  pause(): StreamStatus {
    if (this.state === 'running') {
      this.state = 'paused';
      this.gate = new Promise<void>((resolve) => (this.openGate = resolve));
    }
    return this.status();
  }

  resume(): StreamStatus {
    if (this.state === 'paused') {
      this.state = 'running';
      this.releaseGate();
    }
    return this.status();
  }

  private releaseGate(): void {
    const open = this.openGate;
    this.gate = null;
    this.openGate = null;
    open?.();
  }

  /** Store what is in hand, checkpoint every partition, release them and disconnect. Idempotent. */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      if (this.state === 'stopped') return;
      this.state = 'stopping';
      this.releaseGate();
      try {
        await this.subscription?.close();
      } catch (err) {
        this.noteError(err, 'closing the subscription');
      }
      await Promise.all([...this.runners.values()].flatMap((r) => r.pending));
      await this.teardown();
      this.state = 'stopped';
      this.opts.onStats?.(this.status());
    })();
    return this.stopping;
  }

  private async teardown(): Promise<void> {
    if (this.statsTimer) clearInterval(this.statsTimer);
    this.statsTimer = null;
    await this.client?.close().catch(() => undefined);
    this.client = null;
    await this.writer?.close().catch(() => undefined);
    this.writer = null;
    await this.scoring?.close().catch(() => undefined);
    this.scoring = null;
    await this.releaseMemory?.().catch(() => undefined);
    this.releaseMemory = null;
    this.store?.close();
    this.store = null;
  }

  /** The current figures. */
  status(): StreamStatus {
    const now = Date.now();
    const partitions: PartitionStatus[] = this.partitionIds.map((id) => {
      const r = this.runners.get(id);
      const k = this.lastKnown.get(id);
      const stored = r ? r.storedSeq : k?.stored ?? null;
      const enqueued = r ? r.lastEnqueued : k?.enqueued ?? null;
      const s = stored !== null && stored >= 0 ? stored : null;
      return {
        partitionId: id,
        owned: r !== undefined,
        lastSequenceNumber: s,
        lastEnqueuedSequenceNumber: enqueued,
        backlog: enqueued === null ? null : Math.max(0, enqueued - (s ?? -1)),
      };
    });
    return {
      subscriptionId: this.id,
      state: this.state,
      endpoint: this.target.display,
      eventHubName: this.target.eventHubName,
      consumerGroup: this.consumerGroup,
      model: this.opts.model.runId,
      table: this.table,
      startedAt: this.startedAt.toISOString(),
      eventsPerSecond: this.window.rate(5, now),
      latencyMs: { p50: this.window.quantile(0.5, 10, now), p99: this.window.quantile(0.99, 10, now) },
      anomalyRate: this.window.anomalyRate(10, now),
      counts: { ...this.counts },
      totals: {
        stored: this.baseTotals.stored + this.counts.stored,
        deadLettered: this.baseTotals.deadLettered + this.counts.deadLettered,
        alarms: this.baseTotals.alarms + this.counts.alarms,
      },
      partitions,
      lastError: this.lastError,
    };
  }

  /** Recent points of one device from memory (see StreamApi 'stream.deviceSeries'). */
  deviceSeries(device: string, sensors?: string[], points = 300): DeviceSeries {
    const all = this.sensorNames;
    const names = sensors ?? all;
    for (const s of names) if (!all.includes(s)) throw new WorkbenchError('INVALID_ARGUMENT', `'${s}' is not a sensor of the model (it has ${all.join(', ')})`);
    if (!Number.isInteger(points) || points < 1) throw new WorkbenchError('INVALID_ARGUMENT', 'points must be a positive whole number');
    const ring = this.rings.get(device);
    const n = Math.min(ring?.n ?? 0, points, RING_POINTS);
    const out: DeviceSeries = {
      device,
      time: new Float64Array(n),
      sensors: names.map((name) => ({ name, values: new Float64Array(n) })),
      score: new Float64Array(n),
      anomaly: new Uint8Array(n),
      threshold: ring?.threshold ?? this.defaultThreshold,
      alarms: [],
    };
    if (!ring) return out;
    const idx = names.map((s) => all.indexOf(s));
    for (let k = 0; k < n; k++) {
      const i = ring.index(k, n);
      out.time[k] = ring.time[i]!;
      out.score[k] = ring.score[i]!;
      out.anomaly[k] = ring.flags[i]! & 1;
      idx.forEach((si, j) => (out.sensors[j]!.values[k] = ring.values[si]![i]!));
      if (ring.flags[i]! & 2) out.alarms.push({ time: ring.time[i]!, score: ring.score[i]! });
    }
    return out;
  }

  /** Layout of the tables this subscription writes. */
  get tables(): TableLayout {
    return this.layout;
  }
}

/** Recent alarms from `<table>_alarms`, newest first. */
export async function readAlerts(ws: Workspace, table: string, opts: { device?: string; limit?: number; subscriptionId?: string }): Promise<StreamAlert[]> {
  const limit = opts.limit ?? 50;
  if (!Number.isInteger(limit) || limit < 1 || limit > 1000) throw new WorkbenchError('INVALID_ARGUMENT', 'limit must be a whole number from 1 to 1000');
  const alarms = `${table}_alarms`;
  const exists = await ws.query(`SELECT 1 FROM information_schema.tables WHERE table_schema = 'main' AND table_name = $t`, { t: alarms });
  if (!exists.length) throw new WorkbenchError('NOT_FOUND', `no alarms table for '${table}' (no stream has written to it)`);
  const rows = await ws.query(
    `SELECT eh_partition, eh_sequence, eh_enqueued_at::VARCHAR AS enq, event_id, device_key, event_time, score, threshold, sensors, features
       FROM ${ident(alarms)} ${opts.device !== undefined ? 'WHERE device_key = $device' : ''}
       ORDER BY stored_at DESC, eh_sequence DESC LIMIT ${limit}`,
    opts.device !== undefined ? { device: opts.device } : undefined,
  );
  return rows.map((r) => ({
    subscriptionId: opts.subscriptionId ?? '',
    device: String(r.device_key),
    time: Number(r.event_time),
    enqueuedAt: new Date(String(r.enq).replace(' ', 'T') + 'Z').toISOString(),
    eventId: r.event_id === null ? null : String(r.event_id),
    partitionId: String(r.eh_partition),
    sequenceNumber: Number(r.eh_sequence),
    score: Number(r.score),
    threshold: Number(r.threshold),
    sensors: JSON.parse(String(r.sensors)) as StreamAlert['sensors'],
    features: JSON.parse(String(r.features)) as StreamAlert['features'],
  }));
}
