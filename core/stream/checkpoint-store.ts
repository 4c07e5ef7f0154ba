/**
 * The SDK's CheckpointStore backed by the workspace (issue #7): partition ownership and
 * checkpoints live in DuckDB tables, so every consumer of a consumer group that shares
 * the workspace shares partitions through them (load balancing with optimistic
 * concurrency on etags, like the Azure Blob store does with blob etags).
 *
 * Each checkpoint row holds two positions per partition:
 * - `sequence_number`/`offset`: where reading resumes (what the SDK sees). The live
 *   pipeline moves it only together with a snapshot of its per-device state.
 * - `stored_sequence_number`: the last event whose results (scored row or dead letter)
 *   are stored. The pipeline advances it in the same transaction as the rows it covers,
 *   and stores nothing at or below it, which makes storage idempotent on
 *   (partition, sequence number). It is never behind `sequence_number`.
 *
 * A DuckDB workspace file is opened by one process at a time, so instances that share
 * partitions through this store run in one process (tests, or several subscriptions of
 * one engine); separate processes need separate consumer groups or workspaces.
 */
import { randomUUID } from 'node:crypto';
import type { DuckDBConnection, DuckDBValue } from '@duckdb/node-api';
import type { Checkpoint, CheckpointStore, PartitionOwnership } from '@azure/event-hubs';
import { lit, type Workspace } from '../workspace/workspace.ts';

export const OWNERSHIP_TABLE = 'fleetlens.eh_ownership';
export const CHECKPOINT_TABLE = 'fleetlens.eh_checkpoints';

const SCHEMA = `
CREATE SCHEMA IF NOT EXISTS fleetlens;
CREATE TABLE IF NOT EXISTS ${OWNERSHIP_TABLE} (
  namespace VARCHAR NOT NULL, event_hub VARCHAR NOT NULL, consumer_group VARCHAR NOT NULL, partition_id VARCHAR NOT NULL,
  owner_id VARCHAR NOT NULL, last_modified_ms DOUBLE NOT NULL, etag VARCHAR NOT NULL,
  PRIMARY KEY (namespace, event_hub, consumer_group, partition_id)
);
CREATE TABLE IF NOT EXISTS ${CHECKPOINT_TABLE} (
  namespace VARCHAR NOT NULL, event_hub VARCHAR NOT NULL, consumer_group VARCHAR NOT NULL, partition_id VARCHAR NOT NULL,
  sequence_number BIGINT NOT NULL, "offset" VARCHAR NOT NULL,
  stored_sequence_number BIGINT NOT NULL,
  updated_at TIMESTAMP NOT NULL,
  PRIMARY KEY (namespace, event_hub, consumer_group, partition_id)
);
`;

/** Create the ownership and checkpoint tables when absent (idempotent). */
export async function ensureCheckpointTables(run: (sql: string) => Promise<unknown>): Promise<void> {
  await run(SCHEMA);
}

/** Both positions of one partition. */
export interface PartitionPositions {
  partitionId: string;
  /** Reading resumes after this event (SDK checkpoint). */
  sequenceNumber: number;
  offset: string;
  /** Results of every event up to this one are stored. */
  storedSequenceNumber: number;
}

/** Runs one operation at a time: a DuckDB connection runs one statement at a time. */
export class Serial {
  private tail: Promise<unknown> = Promise.resolve();
  run<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.tail.then(fn, fn);
    this.tail = next.catch(() => undefined);
    return next;
  }
}

/** Write-write conflicts between connections: a lost race, not a failure. */
export function isConflict(err: unknown): boolean {
  return /conflict/i.test(err instanceof Error ? err.message : String(err));
}

function num(v: DuckDBValue | undefined): number {
  return typeof v === 'bigint' ? Number(v) : Number(v);
}

/**
 * CheckpointStore over the workspace. Owns one DuckDB connection; call `close()` when done.
 * Methods may be called concurrently; they are serialized on the connection.
 */
export class WorkspaceCheckpointStore implements CheckpointStore {
  private readonly serial = new Serial();
  private closed = false;
  /** The positions listCheckpoints read last, per consumer group, and when. */
  private readonly lastRead = new Map<string, { at: number; positions: PartitionPositions[] }>();

  private constructor(private readonly con: DuckDBConnection) {}

  /** Open a store on `ws`, creating its tables when absent. */
  static async open(ws: Workspace): Promise<WorkspaceCheckpointStore> {
    const con = await ws.connect();
    await ensureCheckpointTables((sql) => con.run(sql));
    return new WorkspaceCheckpointStore(con);
  }

  async listOwnership(fullyQualifiedNamespace: string, eventHubName: string, consumerGroup: string): Promise<PartitionOwnership[]> {
    const rows = await this.rows(
      `SELECT partition_id, owner_id, last_modified_ms, etag FROM ${OWNERSHIP_TABLE} WHERE ${groupWhere(fullyQualifiedNamespace, eventHubName, consumerGroup)} ORDER BY partition_id`,
    );
    return rows.map((r) => ({
      fullyQualifiedNamespace,
      eventHubName,
      consumerGroup,
      partitionId: String(r[0]),
      ownerId: String(r[1]),
      lastModifiedTimeInMs: num(r[2]),
      etag: String(r[3]),
    }));
  }

  /**
   * Claim each ownership whose etag still matches the stored one (or that has no record yet,
   * when no etag is given). Returns the ones won, with their new etag and time; a lost race
   * (etag changed, or a concurrent writer) is simply left out.
   */
  async claimOwnership(partitionOwnership: PartitionOwnership[]): Promise<PartitionOwnership[]> {
    const won: PartitionOwnership[] = [];
    for (const o of partitionOwnership) {
      const etag = randomUUID();
      const now = Date.now();
      const key = [o.fullyQualifiedNamespace, o.eventHubName, o.consumerGroup, o.partitionId];
      try {
        const changed = await this.serial.run(async () => {
          this.assertOpen();
          // Literal SQL: one round trip to DuckDB instead of a prepare and an execute. The SDK
          // claims partitions one after the other, so each round trip delays the next partition.
          if (o.etag) {
            const r = await this.con.run(
              `UPDATE ${OWNERSHIP_TABLE} SET owner_id = ${lit(o.ownerId)}, last_modified_ms = ${now}, etag = ${lit(etag)} WHERE ${groupWhere(key[0]!, key[1]!, key[2]!)} AND partition_id = ${lit(o.partitionId)} AND etag = ${lit(o.etag)}`,
            );
            return r.rowsChanged;
          }
          const r = await this.con.run(`INSERT INTO ${OWNERSHIP_TABLE} VALUES (${key.map(lit).join(', ')}, ${lit(o.ownerId)}, ${now}, ${lit(etag)}) ON CONFLICT DO NOTHING`);
          return r.rowsChanged;
        });
        if (changed === 1) won.push({ ...o, etag, lastModifiedTimeInMs: now });
      } catch (err) {
        if (!isConflict(err)) throw err;
      }
    }
    return won;
  }

  async listCheckpoints(fullyQualifiedNamespace: string, eventHubName: string, consumerGroup: string): Promise<Checkpoint[]> {
    const positions = await this.positions(fullyQualifiedNamespace, eventHubName, consumerGroup);
    this.lastRead.set(JSON.stringify([fullyQualifiedNamespace, eventHubName, consumerGroup]), { at: Date.now(), positions });
    return positions.map((p) => ({
      fullyQualifiedNamespace,
      eventHubName,
      consumerGroup,
      partitionId: p.partitionId,
      sequenceNumber: p.sequenceNumber,
      offset: p.offset,
    }));
  }

  /**
   * Record that reading may resume after `checkpoint`. Positions only move forward; the
   * stored position is raised to it when behind (what the SDK checkpoints was processed).
   */
  async updateCheckpoint(checkpoint: Checkpoint): Promise<void> {
    if (!Number.isInteger(checkpoint.sequenceNumber) || typeof checkpoint.offset !== 'string') {
      throw new TypeError('updateCheckpoint needs a whole sequenceNumber and a string offset');
    }
    await this.serial.run(async () => {
      this.assertOpen();
      await this.con.run(upsertCheckpointSql(1), checkpointParams([{ ...checkpoint, storedSequenceNumber: checkpoint.sequenceNumber }], checkpoint));
    });
  }

  /**
   * The positions the SDK read through listCheckpoints at most `maxAgeMs` ago (it reads them right
   * before initializing a partition it claimed), or null. As current as reading them again: a
   * position can move on between any read and the first commit, which the writer detects.
   */
  recentPositions(fullyQualifiedNamespace: string, eventHubName: string, consumerGroup: string, maxAgeMs: number): PartitionPositions[] | null {
    const r = this.lastRead.get(JSON.stringify([fullyQualifiedNamespace, eventHubName, consumerGroup]));
    return r && Date.now() - r.at <= maxAgeMs ? r.positions : null;
  }

  /** Both positions of every partition of a consumer group that has a checkpoint. */
  async positions(fullyQualifiedNamespace: string, eventHubName: string, consumerGroup: string): Promise<PartitionPositions[]> {
    const rows = await this.rows(
      `SELECT partition_id, sequence_number, "offset", stored_sequence_number FROM ${CHECKPOINT_TABLE} WHERE ${groupWhere(fullyQualifiedNamespace, eventHubName, consumerGroup)} ORDER BY partition_id`,
    );
    return rows.map((r) => ({ partitionId: String(r[0]), sequenceNumber: num(r[1]), offset: String(r[2]), storedSequenceNumber: num(r[3]) }));
  }

  /**
   * Give up this owner's claims on `partitionIds` (all when absent) so that any consumer,
   * including a restarted one with the same owner id, can claim them at once instead of
   * waiting for them to expire.
   */
  async abandon(fullyQualifiedNamespace: string, eventHubName: string, consumerGroup: string, ownerId: string, partitionIds?: string[]): Promise<number> {
    const mine = (await this.listOwnership(fullyQualifiedNamespace, eventHubName, consumerGroup)).filter(
      (o) => o.ownerId === ownerId && (!partitionIds || partitionIds.includes(o.partitionId)),
    );
    return (await this.claimOwnership(mine.map((o) => ({ ...o, ownerId: '' })))).length;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    void this.serial.run(async () => this.con.closeSync());
  }

  private rows(sql: string): Promise<DuckDBValue[][]> {
    return this.serial.run(async () => {
      this.assertOpen();
      return (await this.con.runAndReadAll(sql)).getRows();
    });
  }

  private assertOpen(): void {
    if (this.closed) throw new Error('the checkpoint store is closed');
  }
}

/** WHERE clause selecting one consumer group of one hub (literal values: one round trip, no prepare). */
function groupWhere(namespace: string, eventHub: string, consumerGroup: string): string {
  return `namespace = ${lit(namespace)} AND event_hub = ${lit(eventHub)} AND consumer_group = ${lit(consumerGroup)}`;
}

/**
 * Upsert of `n` checkpoint rows ($1..$3 = namespace, hub, group; then 4 values per row:
 * partition, sequence number, offset, stored sequence number). Positions never move back.
 */
export function upsertCheckpointSql(n: number): string {
  return upsertCheckpointRows(
    Array.from({ length: n }, (_, i) => {
      const b = 4 + i * 4;
      return `($1, $2, $3, $${b}, $${b + 1}, $${b + 2}, $${b + 3}, now()::TIMESTAMP)`;
    }),
  );
}

/** The checkpoint upsert over rendered VALUES rows (namespace, hub, group, partition, seq, offset, stored, time). */
export function upsertCheckpointRows(rows: string[]): string {
  return `INSERT INTO ${CHECKPOINT_TABLE} VALUES ${rows.join(', ')}
    ON CONFLICT (namespace, event_hub, consumer_group, partition_id) DO UPDATE SET
      sequence_number = CASE WHEN excluded.sequence_number > ${CHECKPOINT_TABLE}.sequence_number THEN excluded.sequence_number ELSE ${CHECKPOINT_TABLE}.sequence_number END,
      "offset" = CASE WHEN excluded.sequence_number > ${CHECKPOINT_TABLE}.sequence_number THEN excluded."offset" ELSE ${CHECKPOINT_TABLE}."offset" END,
      stored_sequence_number = greatest(excluded.stored_sequence_number, ${CHECKPOINT_TABLE}.stored_sequence_number),
      updated_at = excluded.updated_at`;
}

/** Parameters for upsertCheckpointSql. */
export function checkpointParams(
  rows: { partitionId: string; sequenceNumber: number; offset: string; storedSequenceNumber: number }[],
  key: { fullyQualifiedNamespace: string; eventHubName: string; consumerGroup: string },
): DuckDBValue[] {
  const out: DuckDBValue[] = [key.fullyQualifiedNamespace, key.eventHubName, key.consumerGroup];
  for (const r of rows) out.push(r.partitionId, BigInt(r.sequenceNumber), r.offset, BigInt(r.storedSequenceNumber));
  return out;
}
