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
import { DuckDBTimestampValue, type DuckDBAppender, type DuckDBConnection, type DuckDBValue } from '@duckdb/node-api';
import { WorkbenchError } from '../api/errors.ts';
import { validateDatasetName } from '../data/catalog.ts';
import { ident, type Workspace } from '../workspace/workspace.ts';
import { CHECKPOINT_TABLE, Serial, checkpointParams, ensureCheckpointTables, upsertCheckpointSql } from './checkpoint-store.ts';
import type { DeadLetterReason, SensorContribution } from './api.ts';
import type { ScorerColumns } from './scorer.ts';

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

export interface ScoredRow extends EventOrigin {
  item: number;
  eventId: string | null;
  device: string;
  time: number;
  values: Record<string, number | string | boolean | null | undefined>;
  score: number | null;
  anomaly: boolean;
  alarm: boolean;
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
  scored: ScoredRow[];
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

  private constructor(
    private readonly con: DuckDBConnection,
    private readonly key: GroupKey,
    private readonly layout: TableLayout,
    private readonly onError: (err: unknown) => void,
  ) {}

  static async open(ws: Workspace, key: GroupKey, layout: TableLayout, onError: (err: unknown) => void): Promise<Writer> {
    return new Writer(await ws.connect(), key, layout, onError);
  }

  /** Store a partition's work; resolves once committed, or with 'conflict' when another consumer moved the partition on. */
  submit(work: PartitionWork): Promise<WorkResult> {
    if (this.closed) return Promise.reject(new WorkbenchError('CANCELLED', 'the stream writer is closed'));
    return new Promise<WorkResult>((resolve, reject) => {
      this.queue.push({ work, resolve, reject });
      if (!this.running) void this.drain();
    });
  }

  /** Read state entries of a partition (keys not stored are absent from the result). */
  loadState(partitionId: string, keys: string[]): Promise<Map<string, string>> {
    return this.serial.run(async () => {
      const out = new Map<string, string>();
      for (let i = 0; i < keys.length; i += 1000) {
        const part = keys.slice(i, i + 1000);
        const params: DuckDBValue[] = [this.key.fullyQualifiedNamespace, this.key.eventHubName, this.key.consumerGroup, partitionId, ...part];
        const marks = part.map((_, j) => `$${5 + j}`).join(', ');
        const rows = (await this.con.runAndReadAll(`SELECT key, value FROM ${STATE_TABLE} WHERE namespace = $1 AND event_hub = $2 AND consumer_group = $3 AND partition_id = $4 AND key IN (${marks})`, params)).getRows();
        for (const r of rows) out.set(String(r[0]), String(r[1]));
      }
      return out;
    });
  }

  /** Recent event ids (stored or dead-lettered) of a partition at or below `maxSequence`, oldest first. */
  recentIds(partitionId: string, maxSequence: number, limit: number): Promise<string[]> {
    return this.serial.run(async () => {
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
    await this.serial.run(async () => {
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
        // Let partitions whose batches are being scored right now join this transaction.
        await new Promise((r) => setImmediate(r));
        const batch = this.queue.splice(0);
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

  private async commit(works: PartitionWork[]): Promise<WorkResult[]> {
    const app = await this.ensureAppenders();
    const k = this.key;
    const now = Date.now();
    await this.con.run('BEGIN TRANSACTION');
    try {
      const stored = new Map<string, number>();
      const rows = (await this.con.runAndReadAll(`SELECT partition_id, stored_sequence_number FROM ${CHECKPOINT_TABLE} WHERE namespace = $1 AND event_hub = $2 AND consumer_group = $3`, [k.fullyQualifiedNamespace, k.eventHubName, k.consumerGroup])).getRows();
      for (const r of rows) stored.set(String(r[0]), Number(r[1]));
      // Two works of one partition in one commit cannot happen: a partition waits for its commit.
      const results = works.map((w): WorkResult => ((stored.get(w.partitionId) ?? -1) === w.expectedStored ? 'committed' : 'conflict'));
      const ok = works.filter((_, i) => results[i] === 'committed');
      const l = this.layout;
      const storedAt = ts(now);
      for (const w of ok) {
        for (const r of w.scored) {
          const a = app.scored;
          a.appendVarchar(r.partitionId);
          a.appendBigInt(BigInt(r.sequenceNumber));
          a.appendInteger(r.item);
          a.appendTimestamp(ts(r.enqueuedMs));
          if (r.eventId === null) a.appendNull();
          else a.appendVarchar(r.eventId);
          a.appendVarchar(r.device);
          for (const c of l.valueColumns) {
            if (c === l.timeColumn) {
              if (l.temporal) a.appendTimestamp(ts(r.time));
              else a.appendDouble(r.time);
            } else if (l.sensorSet.has(c)) {
              const v = r.values[c];
              if (typeof v === 'number' && !Number.isNaN(v)) a.appendDouble(v);
              else a.appendNull();
            } else {
              const v = r.values[c];
              if (v === null || v === undefined) a.appendNull();
              else a.appendVarchar(String(v));
            }
          }
          if (r.score === null) a.appendNull();
          else a.appendDouble(r.score);
          a.appendBoolean(r.anomaly);
          a.appendBoolean(r.alarm);
          a.appendTimestamp(storedAt);
          a.endRow();
        }
        for (const r of w.dead) {
          const a = app.dead;
          a.appendVarchar(r.partitionId);
          a.appendBigInt(BigInt(r.sequenceNumber));
          if (r.item === null) a.appendNull();
          else a.appendInteger(r.item);
          a.appendTimestamp(ts(r.enqueuedMs));
          if (r.eventId === null) a.appendNull();
          else a.appendVarchar(r.eventId);
          if (r.device === null) a.appendNull();
          else a.appendVarchar(r.device);
          a.appendVarchar(r.reason);
          a.appendVarchar(r.detail);
          a.appendVarchar(r.body);
          a.appendTimestamp(storedAt);
          a.endRow();
        }
        for (const r of w.alarms) {
          const a = app.alarms;
          a.appendVarchar(r.partitionId);
          a.appendBigInt(BigInt(r.sequenceNumber));
          a.appendInteger(r.item);
          a.appendTimestamp(ts(r.enqueuedMs));
          if (r.eventId === null) a.appendNull();
          else a.appendVarchar(r.eventId);
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
      app.scored.flushSync();
      app.dead.flushSync();
      app.alarms.flushSync();
      for (const w of ok) {
        if (!w.snapshot?.length) continue;
        const keys = w.snapshot.map((s) => s.key);
        for (let i = 0; i < keys.length; i += 1000) {
          const part = keys.slice(i, i + 1000);
          await this.con.run(
            `DELETE FROM ${STATE_TABLE} WHERE namespace = $1 AND event_hub = $2 AND consumer_group = $3 AND partition_id = $4 AND key IN (${part.map((_, j) => `$${5 + j}`).join(', ')})`,
            [k.fullyQualifiedNamespace, k.eventHubName, k.consumerGroup, w.partitionId, ...part],
          );
        }
        for (const s of w.snapshot) {
          const a = app.state;
          a.appendVarchar(k.fullyQualifiedNamespace);
          a.appendVarchar(k.eventHubName);
          a.appendVarchar(k.consumerGroup);
          a.appendVarchar(w.partitionId);
          a.appendVarchar(s.key);
          a.appendVarchar(s.value);
          a.endRow();
        }
      }
      app.state.flushSync();
      if (ok.length) {
        const cps = ok.map((w) => ({
          partitionId: w.partitionId,
          // −1 leaves the reading position where it is (positions only move forward).
          sequenceNumber: w.snapshot ? w.lastSequenceNumber : -1,
          offset: w.snapshot ? w.lastOffset : '-1',
          storedSequenceNumber: w.lastSequenceNumber,
        }));
        await this.con.run(upsertCheckpointSql(cps.length), checkpointParams(cps, k));
      }
      await this.con.run('COMMIT');
      return results;
    } catch (err) {
      await this.con.run('ROLLBACK').catch(() => undefined);
      // Rows may be left in an appender whose flush failed; start the next attempt clean.
      // A write-write conflict with another writer is retried: the stored-position check then
      // tells which partition really moved on.
      this.dropAppenders();
      throw err;
    }
  }
}
