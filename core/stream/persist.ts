/**
 * Where a subscription's results go (issue #7): the scored-events table, its dead
 * letters and alarms (in `main`, next to the datasets, so the SQL console can query
 * them), the per-device scorer state (`fleetlens.stream_state`), and the group-commit
 * writer that stores them together with the partitions' checkpoints in one
 * transaction through DuckDB appenders.
 *
 * Exactly once: the writer reads each partition's stored position inside the
 * transaction and commits only when it is still the one the partition's processor
 * started from; rows and the new stored position then commit together. A crash
 * before COMMIT stores neither, so the restarted processor redoes the batch; after
 * COMMIT both are there, so it skips it.
 */
import {
  DuckDBBigIntType,
  DuckDBBooleanType,
  DuckDBDataChunk,
  DuckDBDoubleType,
  DuckDBIntegerType,
  DuckDBTimestampType,
  DuckDBTimestampValue,
  DuckDBVarCharType,
  type DuckDBAppender,
  type DuckDBConnection,
  type DuckDBType,
  type DuckDBVector,
} from '@duckdb/node-api';
import { WorkbenchError } from '../api/errors.ts';
import { validateDatasetName } from '../data/catalog.ts';
import { ident, lit, type Workspace } from '../workspace/workspace.ts';
import { CHECKPOINT_TABLE, Serial, ensureCheckpointTables } from './checkpoint-store.ts';
import type { DeadLetterReason, SensorContribution } from './api.ts';
import type { ScorerColumns } from './scorer.ts';
import { ALARM, ANOMALY, NO_SCORE, type ScoredColumns } from './score-batch.ts';

export const STATE_TABLE = 'fleetlens.stream_state';
export const SUBSCRIPTIONS_TABLE = 'fleetlens.stream_subscriptions';

const BOOK_SQL = `
CREATE TABLE IF NOT EXISTS ${STATE_TABLE} (
  namespace VARCHAR NOT NULL, event_hub VARCHAR NOT NULL, consumer_group VARCHAR NOT NULL, partition_id VARCHAR NOT NULL,
  key VARCHAR NOT NULL, value VARCHAR NOT NULL
);
CREATE TABLE IF NOT EXISTS ${SUBSCRIPTIONS_TABLE} (
  namespace VARCHAR NOT NULL, event_hub VARCHAR NOT NULL, consumer_group VARCHAR NOT NULL,
  table_name VARCHAR NOT NULL, model VARCHAR NOT NULL, created_at TIMESTAMP NOT NULL,
  PRIMARY KEY (namespace, event_hub, consumer_group)
);
`;

/** Identifies a consumer group of one hub: the key of checkpoints, state and the subscription record. */
export interface GroupKey {
  fullyQualifiedNamespace: string;
  eventHubName: string;
  consumerGroup: string;
}

/** Names of the columns of the scored table, in order, and of its companions. */
export interface TableLayout {
  table: string;
  deadLetters: string;
  alarms: string;
  /** Stored name per model column (renamed with `_value` when it clashes with a meta column). */
  valueNames: string[];
  /** Model column per stored value column. */
  valueColumns: string[];
  sensorSet: Set<string>;
  timeColumn: string;
  temporal: boolean;
}

const META_BEFORE = ['eh_partition', 'eh_sequence', 'eh_item', 'eh_enqueued_at', 'event_id', 'device_key'];
const META_AFTER = ['score', 'anomaly', 'alarm', 'stored_at'];

/** Validate the table name and work out the three tables' layout. */
export function tableLayout(table: string, columns: ScorerColumns, temporal: boolean): TableLayout {
  validateDatasetName(table);
  if (table.length > 50) throw new WorkbenchError('INVALID_ARGUMENT', `table name '${table}' is too long (at most 50 characters: '_dead_letters' is appended)`);
  const meta = new Set([...META_BEFORE, ...META_AFTER]);
  const valueNames = columns.all.map((c) => (meta.has(c.toLowerCase()) ? `${c}_value` : c));
  return { table, deadLetters: `${table}_dead_letters`, alarms: `${table}_alarms`, valueNames, valueColumns: columns.all, sensorSet: new Set(columns.sensors), timeColumn: columns.time, temporal };
}

function scoredDdl(l: TableLayout): string {
  const values = l.valueColumns.map((c, i) => `${ident(l.valueNames[i]!)} ${c === l.timeColumn ? (l.temporal ? 'TIMESTAMP' : 'DOUBLE') : l.sensorSet.has(c) ? 'DOUBLE' : 'VARCHAR'}`);
  return `CREATE TABLE IF NOT EXISTS ${ident(l.table)} (eh_partition VARCHAR NOT NULL, eh_sequence BIGINT NOT NULL, eh_item INTEGER NOT NULL, eh_enqueued_at TIMESTAMP NOT NULL, event_id VARCHAR, device_key VARCHAR NOT NULL, ${values.join(', ')}, score DOUBLE, anomaly BOOLEAN NOT NULL, alarm BOOLEAN NOT NULL, stored_at TIMESTAMP NOT NULL)`;
}

function deadDdl(l: TableLayout): string {
  return `CREATE TABLE IF NOT EXISTS ${ident(l.deadLetters)} (eh_partition VARCHAR NOT NULL, eh_sequence BIGINT NOT NULL, eh_item INTEGER, eh_enqueued_at TIMESTAMP NOT NULL, event_id VARCHAR, device_key VARCHAR, reason VARCHAR NOT NULL, detail VARCHAR NOT NULL, body VARCHAR NOT NULL, stored_at TIMESTAMP NOT NULL)`;
}

function alarmsDdl(l: TableLayout): string {
  return `CREATE TABLE IF NOT EXISTS ${ident(l.alarms)} (eh_partition VARCHAR NOT NULL, eh_sequence BIGINT NOT NULL, eh_item INTEGER NOT NULL, eh_enqueued_at TIMESTAMP NOT NULL, event_id VARCHAR, device_key VARCHAR NOT NULL, event_time DOUBLE NOT NULL, score DOUBLE NOT NULL, threshold DOUBLE NOT NULL, sensors VARCHAR NOT NULL, features VARCHAR NOT NULL, stored_at TIMESTAMP NOT NULL)`;
}

/**
 * Create the stream's tables when absent and check the existing ones: the scored table must
 * have this model's columns, no dataset may own the name, and one consumer group feeds one
 * table with one model (state and checkpoints would not fit another).
 */
export async function prepareTables(ws: Workspace, key: GroupKey, layout: TableLayout, model: string): Promise<void> {
  await ensureCheckpointTables((sql) => ws.run(sql));
  await ws.run(BOOK_SQL);
  const isDataset = await ws.query(`SELECT 1 FROM fleetlens.datasets WHERE lower(name) = lower($name)`, { name: layout.table });
  if (isDataset.length) throw new WorkbenchError('INVALID_ARGUMENT', `'${layout.table}' is a dataset; choose another table for scored events`);
  const params = [key.fullyQualifiedNamespace, key.eventHubName, key.consumerGroup];
  const prior = await ws.query(`SELECT table_name, model FROM ${SUBSCRIPTIONS_TABLE} WHERE namespace = $1 AND event_hub = $2 AND consumer_group = $3`, params);
  if (prior[0] && (String(prior[0].table_name) !== layout.table || String(prior[0].model) !== model)) {
    throw new WorkbenchError(
      'INVALID_ARGUMENT',
      `consumer group '${key.consumerGroup}' of hub '${key.eventHubName}' already feeds table '${String(prior[0].table_name)}' with model ${String(prior[0].model)} in this workspace; use the same table and model, or another consumer group`,
      { table: String(prior[0].table_name), model: String(prior[0].model) },
    );
  }
  const other = await ws.query(
    `SELECT event_hub, consumer_group FROM ${SUBSCRIPTIONS_TABLE} WHERE lower(table_name) = lower($4) AND NOT (namespace = $1 AND event_hub = $2 AND consumer_group = $3)`,
    [...params, layout.table],
  );
  if (other[0]) {
    throw new WorkbenchError('INVALID_ARGUMENT', `table '${layout.table}' is fed by consumer group '${String(other[0].consumer_group)}' of hub '${String(other[0].event_hub)}'; choose another table`);
  }
  const existing = await ws.query(`SELECT column_name FROM information_schema.columns WHERE table_schema = 'main' AND table_name = $t ORDER BY ordinal_position`, { t: layout.table });
  const expected = [...META_BEFORE, ...layout.valueNames, ...META_AFTER];
  if (existing.length && existing.map((r) => String(r.column_name)).join('\u0000') !== expected.join('\u0000')) {
    throw new WorkbenchError('INVALID_ARGUMENT', `table '${layout.table}' exists with other columns than this model stores; choose another table`, { table: layout.table });
  }
  await ws.run(scoredDdl(layout));
  await ws.run(deadDdl(layout));
  await ws.run(alarmsDdl(layout));
  if (!prior[0]) await ws.run(`INSERT INTO ${SUBSCRIPTIONS_TABLE} VALUES ($1, $2, $3, $4, $5, now()::TIMESTAMP) ON CONFLICT DO NOTHING`, [...params, layout.table, model]);
}

/** Rows in the three tables: what `status.totals` starts from. */
export async function tableTotals(ws: Workspace, layout: TableLayout): Promise<{ stored: number; deadLettered: number; alarms: number }> {
  const r = await ws.query(
    `SELECT (SELECT count(*) FROM ${ident(layout.table)}) AS s, (SELECT count(*) FROM ${ident(layout.deadLetters)}) AS d, (SELECT count(*) FROM ${ident(layout.alarms)}) AS a`,
  );
  return { stored: Number(r[0]!.s), deadLettered: Number(r[0]!.d), alarms: Number(r[0]!.a) };
}

/** Where an event came from in the hub. */
export interface EventOrigin {
  partitionId: string;
  sequenceNumber: number;
  enqueuedMs: number;
}

export interface DeadRow extends EventOrigin {
  item: number | null;
  eventId: string | null;
  device: string | null;
  reason: DeadLetterReason;
  detail: string;
  body: string;
}

export interface AlarmRow extends EventOrigin {
  item: number;
  eventId: string | null;
  device: string;
  time: number;
  score: number;
  threshold: number;
  sensors: SensorContribution[];
  features: { feature: string; weight: number; value: number }[];
}

/** One partition's share of a commit. */
export interface PartitionWork {
  partitionId: string;
  /** The stored position the partition's processor believes is committed (−1: none). */
  expectedStored: number;
  /** Last event covered by this work. */
  lastSequenceNumber: number;
  lastOffset: string;
  /** Scored rows, as columns (see score-batch.ts). */
  scored: ScoredColumns;
  dead: DeadRow[];
  alarms: AlarmRow[];
  /** State entries to save; when present, reading may resume after lastSequenceNumber. */
  snapshot: { key: string; value: string }[] | null;
}

export type WorkResult = 'committed' | 'conflict';

interface Pending {
  work: PartitionWork;
  resolve: (r: WorkResult) => void;
  reject: (e: unknown) => void;
}

function ts(ms: number): DuckDBTimestampValue {
  return new DuckDBTimestampValue(BigInt(Math.round(ms * 1000)));
}

/** Nullable text column. */
function appendText(a: DuckDBAppender, v: string | null): void {
  if (v === null) a.appendNull();
  else a.appendVarchar(v);
}

/** The columns every stored row starts with: partition, sequence number, item in the event, enqueued time, event id. */
function appendEventKey(a: DuckDBAppender, r: { partitionId: string; sequenceNumber: number; item: number | null; enqueuedMs: number; eventId: string | null }): void {
  a.appendVarchar(r.partitionId);
  a.appendBigInt(BigInt(r.sequenceNumber));
  if (r.item === null) a.appendNull();
  else a.appendInteger(r.item);
  a.appendTimestamp(ts(r.enqueuedMs));
  appendText(a, r.eventId);
}

/**
 * Group commit: works submitted while a transaction runs are committed together in the next
 * one, so partitions share transactions without waiting on a timer. A failed transaction is
 * retried with the same rows (they are still in memory) until it commits or the writer closes;
 * `onError` hears about each failure.
 */
export class Writer {
  private queue: Pending[] = [];
  private running = false;
  private closed = false;
  private appenders: { scored: DuckDBAppender; dead: DuckDBAppender; alarms: DuckDBAppender; state: DuckDBAppender } | null = null;
  private readonly serial = new Serial();
  private lastCommitAt = 0;
  /** Reused for every chunk of scored rows. */
  private chunk: DuckDBDataChunk | null = null;
  /** A transaction is open on the connection (begun by the previous commit's script). */
  private inTx = false;
  private idleTimer: NodeJS.Timeout | null = null;

  private constructor(
    private readonly con: DuckDBConnection,
    private readonly key: GroupKey,
    private readonly layout: TableLayout,
    private readonly onError: (err: unknown) => void,
  ) {}

  static async open(ws: Workspace, key: GroupKey, layout: TableLayout, onError: (err: unknown) => void, opts: { minIntervalMs?: number } = {}): Promise<Writer> {
    const w = new Writer(await ws.connect(), key, layout, onError);
    w.minIntervalMs = opts.minIntervalMs ?? MIN_COMMIT_INTERVAL_MS;
    // Now rather than at the first commit, when the event loop is busy with the first batches.
    await w.serial.run(() => w.ensureAppenders());
    return w;
  }

  /** Shortest time between the starts of two commits, ms. */
  private minIntervalMs = MIN_COMMIT_INTERVAL_MS;

  /** Store a partition's work; resolves once committed, or with 'conflict' when another consumer moved the partition on. */
  submit(work: PartitionWork): Promise<WorkResult> {
    if (this.closed) return Promise.reject(new WorkbenchError('CANCELLED', 'the stream writer is closed'));
    return new Promise<WorkResult>((resolve, reject) => {
      this.queue.push({ work, resolve, reject });
      if (!this.running) void this.drain();
    });
  }

  /**
   * End the open transaction when no commit follows soon: an idle open transaction would keep
   * old row versions and hold back checkpoints of the workspace.
   */
  private armIdle(): void {
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.idleTimer = setTimeout(() => {
      this.idleTimer = null;
      void this.serial.run(() => this.endTx()).catch(() => undefined);
    }, IDLE_TX_MS);
    this.idleTimer.unref();
  }

  /** End the open (empty) transaction, if any. Runs inside `serial`. */
  private async endTx(): Promise<void> {
    if (!this.inTx) return;
    this.inTx = false;
    await this.con.run('ROLLBACK');
  }

  /** Read state entries of a partition (keys not stored are absent from the result). */
  loadState(partitionId: string, keys: string[]): Promise<Map<string, string>> {
    return this.serial.run(async () => {
      // Read the latest committed state, not the open transaction's snapshot.
      await this.endTx();
      const out = new Map<string, string>();
      const where = `namespace = ${lit(this.key.fullyQualifiedNamespace)} AND event_hub = ${lit(this.key.eventHubName)} AND consumer_group = ${lit(this.key.consumerGroup)} AND partition_id = ${lit(partitionId)}`;
      for (let i = 0; i < keys.length; i += 1000) {
        const part = keys.slice(i, i + 1000).map(lit).join(', ');
        const rows = (await this.con.runAndReadAll(`SELECT key, value FROM ${STATE_TABLE} WHERE ${where} AND key IN (${part})`)).getRows();
        for (const r of rows) out.set(String(r[0]), String(r[1]));
      }
      return out;
    });
  }

  /** Recent event ids (stored or dead-lettered) of a partition at or below `maxSequence`, oldest first. */
  recentIds(partitionId: string, maxSequence: number, limit: number): Promise<string[]> {
    return this.serial.run(async () => {
      await this.endTx();
      const sql = `SELECT event_id FROM (
          SELECT event_id, eh_sequence FROM ${ident(this.layout.table)} WHERE eh_partition = $1 AND eh_sequence <= $2 AND event_id IS NOT NULL
          UNION ALL
          SELECT event_id, eh_sequence FROM ${ident(this.layout.deadLetters)} WHERE eh_partition = $1 AND eh_sequence <= $2 AND event_id IS NOT NULL
        ) ORDER BY eh_sequence DESC LIMIT ${Math.floor(limit)}`;
      const rows = (await this.con.runAndReadAll(sql, [partitionId, BigInt(maxSequence)])).getRows();
      return rows.map((r) => String(r[0])).reverse();
    });
  }

  /** Finish queued work, then release the connection. */
  async close(): Promise<void> {
    while (this.running || this.queue.length) await new Promise((r) => setTimeout(r, 10));
    this.closed = true;
    if (this.idleTimer) clearTimeout(this.idleTimer);
    await this.serial.run(async () => {
      await this.endTx().catch(() => undefined);
      this.dropAppenders();
      this.con.closeSync();
    });
  }

  /** Give up: queued and future work fails with CANCELLED. */
  abort(): void {
    this.closed = true;
    for (const p of this.queue.splice(0)) p.reject(new WorkbenchError('CANCELLED', 'the stream writer was aborted'));
  }

  private async drain(): Promise<void> {
    this.running = true;
    let delay = 250;
    try {
      while (this.queue.length && !this.closed) {
        // Each commit costs a few ms of CPU whatever its size: at low rates, gather a little
        // longer rather than commit every partition's trickle on its own.
        const wait = this.lastCommitAt + this.minIntervalMs - Date.now();
        const rows = this.queue.reduce((n, p) => n + p.work.scored.n + p.work.dead.length, 0);
        if (wait > 0 && rows < EAGER_ROWS) await new Promise((r) => setTimeout(r, wait));
        // Let partitions whose batches are being scored right now join this transaction.
        else await new Promise((r) => setImmediate(r));
        const batch = this.queue.splice(0);
        this.lastCommitAt = Date.now();
        for (;;) {
          try {
            const results = await this.serial.run(() => this.commit(batch.map((p) => p.work)));
            batch.forEach((p, i) => p.resolve(results[i]!));
            delay = 250;
            break;
          } catch (err) {
            this.onError(err);
            if (this.closed) {
              for (const p of batch) p.reject(err);
              break;
            }
            await new Promise((r) => setTimeout(r, delay));
            delay = Math.min(delay * 2, 5000);
          }
        }
      }
    } finally {
      this.running = false;
    }
    if (this.queue.length && !this.closed) void this.drain();
  }

  private async ensureAppenders(): Promise<NonNullable<Writer['appenders']>> {
    if (!this.appenders) {
      const l = this.layout;
      this.appenders = {
        scored: await this.con.createAppender(l.table, 'main'),
        dead: await this.con.createAppender(l.deadLetters, 'main'),
        alarms: await this.con.createAppender(l.alarms, 'main'),
        state: await this.con.createAppender('stream_state', 'fleetlens'),
      };
    }
    return this.appenders;
  }

  /**
   * Append scored rows through data chunks: column by column into vectors, one native call per
   * chunk of up to 2048 rows (plus one per text value), instead of one per value. Returns the
   * rows appended.
   */
  private appendScored(a: DuckDBAppender, partitionId: string, c: ScoredColumns, storedAt: DuckDBTimestampValue): number {
    const total = c.n;
    if (total === 0) return 0;
    const l = this.layout;
    this.chunk ??= DuckDBDataChunk.create(scoredTypes(l));
    const chunk = this.chunk;
    const size = CHUNK_ROWS;
    const storedMicros = Number(storedAt.micros);
    for (let from = 0; from < total; from += size) {
      const n = Math.min(size, total - from);
      const to = from + n;
      chunk.reset();
      chunk.rowCount = n;
      let col = 0;
      const next = (): DuckDBVector => chunk.getColumnVector(col++);
      let v = next();
      for (let i = 0; i < n; i++) v.setItem(i, partitionId);
      v.flush();
      setInt64(next(), c.seq, from, to, 1);
      v = next();
      for (let i = from; i < to; i++) v.setItem(i - from, c.item[i]!);
      v.flush();
      setInt64(next(), c.enqueuedMs, from, to, 1000);
      v = next();
      for (let i = from; i < to; i++) v.setItem(i - from, c.eventId[i] ?? null);
      v.flush();
      v = next();
      for (let i = from; i < to; i++) v.setItem(i - from, c.device[i]!);
      v.flush();
      for (let k = 0; k < l.valueColumns.length; k++) {
        const num = c.num[k];
        const text = c.text[k];
        if (l.valueColumns[k] === l.timeColumn) {
          if (l.temporal) setInt64(next(), c.time, from, to, 1000);
          else setDoubles(next(), c.time, from, to, null);
        } else if (num) {
          setDoubles(next(), num, from, to, null);
        } else {
          v = next();
          if (text) for (let i = from; i < to; i++) v.setItem(i - from, text[i] ?? null);
          else for (let i = 0; i < n; i++) v.setItem(i, null);
          v.flush();
        }
      }
      setDoubles(next(), c.score, from, to, c.flags);
      v = next();
      for (let i = from; i < to; i++) v.setItem(i - from, (c.flags[i]! & ANOMALY) !== 0);
      v.flush();
      v = next();
      for (let i = from; i < to; i++) v.setItem(i - from, (c.flags[i]! & ALARM) !== 0);
      v.flush();
      setInt64(next(), null, 0, n, storedMicros);
      a.appendDataChunk(chunk);
    }
    return total;
  }

  private dropAppenders(): void {
    if (!this.appenders) return;
    for (const a of Object.values(this.appenders)) {
      try {
        a.closeSync();
      } catch {
        // An appender whose flush failed may refuse to close; it is discarded either way.
      }
    }
    this.appenders = null;
  }

  /**
   * One transaction for all `works`, in two round trips: BEGIN (with the deletion of the state
   * entries being replaced), then, after the appenders flushed rows and state, one script that
   * moves every partition's positions, checking each is still the expected one, and commits.
   * When a position moved the script fails; then the positions are read, the moved partitions
   * are answered 'conflict', and the rest is committed again. Works of one partition arrive in
   * order, each starting where the one before it ends.
   */
  private async commit(works: PartitionWork[]): Promise<WorkResult[]> {
    const k = this.key;
    const firstExpected = new Map<string, number>();
    const chainEnd = new Map<string, number>();
    const results = works.map((w): WorkResult => {
      const prev = chainEnd.get(w.partitionId);
      if (prev !== undefined && prev !== w.expectedStored) return 'conflict';
      if (prev === undefined) firstExpected.set(w.partitionId, w.expectedStored);
      chainEnd.set(w.partitionId, Math.max(w.expectedStored, w.lastSequenceNumber));
      return 'committed';
    });
    const ok = works.filter((_, i) => results[i] === 'committed');
    try {
      await this.transaction(ok, firstExpected);
      return results;
    } catch (err) {
      const msg = String((err as Error).message);
      // A duplicate key means a partition got its checkpoint row meanwhile (the checkpoint table is
      // the only one with a key that this transaction writes): a conflict too.
      if (!msg.includes(CONFLICT) && !/duplicate key/i.test(msg)) throw err;
    }
    // Rare: another consumer stored some partition meanwhile. Find which, commit the others.
    const rows = (await this.con.runAndReadAll(`SELECT partition_id, stored_sequence_number FROM ${CHECKPOINT_TABLE} WHERE namespace = $1 AND event_hub = $2 AND consumer_group = $3`, [k.fullyQualifiedNamespace, k.eventHubName, k.consumerGroup])).getRows();
    const stored = new Map(rows.map((r) => [String(r[0]), Number(r[1])]));
    const moved = new Set([...firstExpected].filter(([pid, e]) => (stored.get(pid) ?? -1) !== e).map(([pid]) => pid));
    const keep = works.map((w, i) => results[i] === 'committed' && !moved.has(w.partitionId));
    const retry = works.filter((_, i) => keep[i]);
    const sub = retry.length ? await this.commit(retry) : [];
    let j = 0;
    return works.map((_, i) => (keep[i] ? sub[j++]! : 'conflict'));
  }

  private async transaction(ok: PartitionWork[], firstExpected: Map<string, number>): Promise<void> {
    const app = await this.ensureAppenders();
    const k = this.key;
    const now = Date.now();
    const keyWhere = `namespace = ${lit(k.fullyQualifiedNamespace)} AND event_hub = ${lit(k.eventHubName)} AND consumer_group = ${lit(k.consumerGroup)}`;
    // The transaction is usually open already (each commit script begins the next one, saving a
    // round trip through the event loop per commit). Old versions of the state entries saved here
    // go first, so the appended ones replace them.
    const begin = this.inTx ? [] : ['BEGIN TRANSACTION'];
    for (const w of ok) {
      const keys = (w.snapshot ?? []).map((x) => lit(x.key));
      for (let i = 0; i < keys.length; i += 1000) {
        begin.push(`DELETE FROM ${STATE_TABLE} WHERE ${keyWhere} AND partition_id = ${lit(w.partitionId)} AND key IN (${keys.slice(i, i + 1000).join(', ')})`);
      }
    }
    try {
      if (begin.length) await this.con.run(begin.join(';\n'));
      this.inTx = true;
      const storedAt = ts(now);
      for (const w of ok) {
        for (const r of w.dead) {
          const a = app.dead;
          appendEventKey(a, r);
          appendText(a, r.device);
          a.appendVarchar(r.reason);
          a.appendVarchar(r.detail);
          a.appendVarchar(r.body);
          a.appendTimestamp(storedAt);
          a.endRow();
        }
        for (const r of w.alarms) {
          const a = app.alarms;
          appendEventKey(a, r);
          a.appendVarchar(r.device);
          a.appendDouble(r.time);
          a.appendDouble(r.score);
          a.appendDouble(r.threshold);
          a.appendVarchar(JSON.stringify(r.sensors));
          a.appendVarchar(JSON.stringify(r.features));
          a.appendTimestamp(storedAt);
          a.endRow();
        }
      }
      let scored = 0;
      for (const w of ok) scored += this.appendScored(app.scored, w.partitionId, w.scored, storedAt);
      let states = 0;
      for (const w of ok) {
        for (const x of w.snapshot ?? []) {
          const a = app.state;
          a.appendVarchar(k.fullyQualifiedNamespace);
          a.appendVarchar(k.eventHubName);
          a.appendVarchar(k.consumerGroup);
          a.appendVarchar(w.partitionId);
          a.appendVarchar(x.key);
          a.appendVarchar(x.value);
          a.endRow();
          states++;
        }
      }
      // A flush blocks the event loop for a few ms even when empty: flush only what has rows.
      if (scored) app.scored.flushSync();
      if (ok.some((w) => w.dead.length)) app.dead.flushSync();
      if (ok.some((w) => w.alarms.length)) app.alarms.flushSync();
      if (states) app.state.flushSync();
      // One row per partition: the furthest stored position, and the reading position of the
      // latest snapshot (−1 leaves it where it is: positions only move forward).
      const cpOf = new Map<string, { partitionId: string; sequenceNumber: number; offset: string; storedSequenceNumber: number }>();
      for (const w of ok) {
        const cp = cpOf.get(w.partitionId) ?? { partitionId: w.partitionId, sequenceNumber: -1, offset: '-1', storedSequenceNumber: -1 };
        cp.storedSequenceNumber = Math.max(cp.storedSequenceNumber, w.lastSequenceNumber);
        if (w.snapshot && w.lastSequenceNumber >= cp.sequenceNumber) {
          cp.sequenceNumber = w.lastSequenceNumber;
          cp.offset = w.lastOffset;
        }
        cpOf.set(w.partitionId, cp);
      }
      const script: string[] = [];
      const cps = [...cpOf.values()];
      const updates = cps.filter((c) => (firstExpected.get(c.partitionId) ?? -1) >= 0);
      const inserts = cps.filter((c) => (firstExpected.get(c.partitionId) ?? -1) < 0);
      // The position check rides on the writes: a row not at the expected position raises in the
      // UPDATE, and a partition that should have no row yet violates the key in the INSERT. A plain
      // UPDATE costs a fraction of INSERT … ON CONFLICT DO UPDATE in DuckDB.
      if (updates.length) {
        const values = updates
          .map((c) => `(${lit(c.partitionId)}, ${Math.trunc(firstExpected.get(c.partitionId)!)}, ${Math.trunc(c.sequenceNumber)}, ${lit(c.offset)}, ${Math.trunc(c.storedSequenceNumber)})`)
          .join(', ');
        script.push(
          `UPDATE ${CHECKPOINT_TABLE} AS c SET
             "offset" = CASE WHEN v.seq > c.sequence_number THEN v.off ELSE c."offset" END,
             sequence_number = greatest(c.sequence_number, v.seq),
             stored_sequence_number = CASE WHEN c.stored_sequence_number = v.expected THEN greatest(c.stored_sequence_number, v.stored) ELSE error('${CONFLICT}') END,
             updated_at = now()::TIMESTAMP
           FROM (VALUES ${values}) AS v(pid, expected, seq, off, stored)
           WHERE c.namespace = ${lit(k.fullyQualifiedNamespace)} AND c.event_hub = ${lit(k.eventHubName)} AND c.consumer_group = ${lit(k.consumerGroup)} AND c.partition_id = v.pid`,
        );
      }
      if (inserts.length) {
        const head = `${lit(k.fullyQualifiedNamespace)}, ${lit(k.eventHubName)}, ${lit(k.consumerGroup)}`;
        script.push(`INSERT INTO ${CHECKPOINT_TABLE} VALUES ${inserts.map((c) => `(${head}, ${lit(c.partitionId)}, ${Math.trunc(c.sequenceNumber)}, ${lit(c.offset)}, ${Math.trunc(c.storedSequenceNumber)}, now()::TIMESTAMP)`).join(', ')}`);
      }
      script.push('COMMIT', 'BEGIN TRANSACTION');
      await this.con.run(script.join(';\n'));
      this.armIdle();
    } catch (err) {
      // Closing an appender flushes what it holds: close them while the failed transaction is still
      // open, so that ROLLBACK discards those rows too (closed after it, they would autocommit).
      this.dropAppenders();
      await this.con.run('ROLLBACK').catch(() => undefined);
      this.inTx = false;
      throw err;
    }
  }
}

/** The vector's values as a typed array of the given kind, when the vector keeps them in one (else null). */
function itemsOf<T extends Float64Array | BigInt64Array>(v: DuckDBVector, kind: new (...args: never[]) => T): T | null {
  const items = (v as unknown as { items?: unknown }).items;
  return items instanceof kind ? items : null;
}

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/**
 * Write whole numbers (< 2^53 in magnitude) into a BIGINT or TIMESTAMP vector: `src[i] * scale`
 * for rows from..to, or `scale` itself for every row when `src` is null. Straight into the
 * vector's memory as two 32-bit halves, so no BigInt is made per value.
 */
function setInt64(v: DuckDBVector, src: Float64Array | null, from: number, to: number, scale: number): void {
  const items = itemsOf(v, BigInt64Array);
  if (items && LITTLE_ENDIAN) {
    const words = new Int32Array(items.buffer, items.byteOffset, items.length * 2);
    for (let i = from; i < to; i++) {
      const x = Math.round(src ? src[i]! * scale : scale);
      const hi = Math.floor(x / 4294967296);
      words[2 * (i - from)] = x - hi * 4294967296;
      words[2 * (i - from) + 1] = hi;
    }
  } else {
    const big = (x: number): bigint => BigInt(Math.round(x));
    const ts = v.type.typeId === DuckDBTimestampType.instance.typeId;
    for (let i = from; i < to; i++) {
      const x = big(src ? src[i]! * scale : scale);
      v.setItem(i - from, ts ? new DuckDBTimestampValue(x) : x);
    }
  }
  v.flush();
}

/** Write doubles into a DOUBLE vector, NaN as NULL; with `flags`, rows flagged NO_SCORE are NULL. */
function setDoubles(v: DuckDBVector, src: Float64Array, from: number, to: number, flags: Uint8Array | null): void {
  const items = itemsOf(v, Float64Array);
  for (let i = from; i < to; i++) {
    const x = src[i]!;
    if (Number.isNaN(x) || (flags !== null && (flags[i]! & NO_SCORE) !== 0)) v.setItem(i - from, null);
    else if (items) items[i - from] = x;
    else v.setItem(i - from, x);
  }
  v.flush();
}

/** A transaction left open after a commit is ended when no commit follows within this time, ms. */
const IDLE_TX_MS = 250;

/** Rows per data chunk: DuckDB's vector size. */
const CHUNK_ROWS = 2048;

/** Column types of the scored table, in order (see scoredDdl). */
function scoredTypes(l: TableLayout): DuckDBType[] {
  const values = l.valueColumns.map((c) =>
    c === l.timeColumn ? (l.temporal ? DuckDBTimestampType.instance : DuckDBDoubleType.instance) : l.sensorSet.has(c) ? DuckDBDoubleType.instance : DuckDBVarCharType.instance,
  );
  return [
    DuckDBVarCharType.instance,
    DuckDBBigIntType.instance,
    DuckDBIntegerType.instance,
    DuckDBTimestampType.instance,
    DuckDBVarCharType.instance,
    DuckDBVarCharType.instance,
    ...values,
    DuckDBDoubleType.instance,
    DuckDBBooleanType.instance,
    DuckDBBooleanType.instance,
    DuckDBTimestampType.instance,
  ];
}

/** Default shortest time between commit starts, ms: bounds commits to ~33/s at low rates. */
const MIN_COMMIT_INTERVAL_MS = 30;
/** Queued rows that make a commit start without waiting for the interval. */
const EAGER_ROWS = 2000;

/** Raised inside a commit script when a partition's stored position is not the expected one. */
const CONFLICT = 'fleetlens-stream-conflict';

