/**
 * The workspace-backed CheckpointStore (issue #7): ownership claims with etags,
 * checkpoints that only move forward, abandoning, and two real SDK consumers of
 * one consumer group sharing the partitions of a hub through it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EventHubConsumerClient, EventHubProducerClient, earliestEventPosition, type PartitionContext, type PartitionOwnership, type ReceivedEventData } from '@azure/event-hubs';
import { Workspace } from '../../core/workspace/workspace.ts';
import { WorkspaceCheckpointStore } from '../../core/stream/checkpoint-store.ts';
import { LocalEventHubServer } from '../../core/stream/hub-server.ts';
import { TUNED_RETRY } from '../../core/stream/eventhub.ts';
import { Writer, prepareTables, tableLayout, type PartitionWork } from '../../core/stream/persist.ts';
import { columnsOf } from '../../core/stream/score-batch.ts';
import type { ScorerColumns } from '../../core/stream/scorer.ts';
import { tempDir } from '../helpers/tmp.ts';

const tmp = tempDir('fleetlens-cpstore-');
let ws: Workspace;
let a: WorkspaceCheckpointStore;
let b: WorkspaceCheckpointStore;

beforeAll(async () => {
  ws = await Workspace.open(tmp.file('ws.duckdb'));
  // Two stores = two DuckDB connections, like two consumers in one engine.
  a = await WorkspaceCheckpointStore.open(ws);
  b = await WorkspaceCheckpointStore.open(ws);
});
afterAll(() => {
  a.close();
  b.close();
  ws.close();
  tmp.cleanup();
});

const NS = 'ns.example';
const own = (partitionId: string, ownerId: string, etag?: string, hub = 'hub', cg = '$Default'): PartitionOwnership => ({
  fullyQualifiedNamespace: NS,
  eventHubName: hub,
  consumerGroup: cg,
  partitionId,
  ownerId,
  etag,
});

describe('ownership', () => {
  it('claims a free partition once, then only with the current etag', async () => {
    expect(await a.listOwnership(NS, 'hub', '$Default')).toEqual([]);
    const [first] = await a.claimOwnership([own('0', 'owner-a')]);
    expect(first).toMatchObject({ partitionId: '0', ownerId: 'owner-a' });
    expect(first!.etag).toMatch(/^[0-9a-f-]{36}$/);
    expect(first!.lastModifiedTimeInMs).toBeGreaterThan(Date.now() - 60_000);
    // A second first-claim (no etag) loses: the record exists.
    expect(await b.claimOwnership([own('0', 'owner-b')])).toEqual([]);
    // A stale etag loses.
    expect(await b.claimOwnership([own('0', 'owner-b', 'not-the-etag')])).toEqual([]);
    // The current etag wins and rotates the etag.
    const [stolen] = await b.claimOwnership([own('0', 'owner-b', first!.etag)]);
    expect(stolen!.ownerId).toBe('owner-b');
    expect(stolen!.etag).not.toBe(first!.etag);
    // The old etag is now stale for the previous owner's renewal.
    expect(await a.claimOwnership([own('0', 'owner-a', first!.etag)])).toEqual([]);
    const listed = await a.listOwnership(NS, 'hub', '$Default');
    expect(listed).toEqual([expect.objectContaining({ partitionId: '0', ownerId: 'owner-b', etag: stolen!.etag })]);
  });

  it('lets exactly one of two concurrent claims with the same etag win', async () => {
    const [base] = await a.claimOwnership([own('1', 'owner-a')]);
    for (let round = 0; round < 5; round++) {
      const cur = (await a.listOwnership(NS, 'hub', '$Default')).find((o) => o.partitionId === '1')!;
      const [ra, rb] = await Promise.all([a.claimOwnership([own('1', 'owner-a', cur.etag)]), b.claimOwnership([own('1', 'owner-b', cur.etag)])]);
      expect(ra.length + rb.length).toBe(1);
    }
    expect(base).toBeDefined();
  });

  it('returns only the won claims of a mixed request, and keeps hubs and groups apart', async () => {
    const won = await a.claimOwnership([own('2', 'owner-a'), own('0', 'owner-a', 'stale'), own('0', 'owner-a', undefined, 'other-hub'), own('0', 'owner-a', undefined, 'hub', 'other-cg')]);
    expect(won.map((o) => `${o.eventHubName}/${o.consumerGroup}/${o.partitionId}`).sort()).toEqual(['hub/$Default/2', 'hub/other-cg/0', 'other-hub/$Default/0']);
    expect((await a.listOwnership(NS, 'other-hub', '$Default')).map((o) => o.partitionId)).toEqual(['0']);
  });

  it('abandons an owner’s claims so anyone can take them with the etag', async () => {
    const before = await a.listOwnership(NS, 'hub', '$Default');
    const mine = before.filter((o) => o.ownerId === 'owner-b').map((o) => o.partitionId);
    expect(await b.abandon(NS, 'hub', '$Default', 'owner-b')).toBe(mine.length);
    const after = await a.listOwnership(NS, 'hub', '$Default');
    for (const id of mine) {
      const o = after.find((x) => x.partitionId === id)!;
      expect(o.ownerId).toBe('');
      expect((await a.claimOwnership([own(id, 'owner-a', o.etag)])).length).toBe(1);
    }
  });
});

describe('checkpoints', () => {
  it('stores, lists and only moves forward, per hub and consumer group', async () => {
    expect(await a.listCheckpoints(NS, 'hub', 'cg')).toEqual([]);
    const cp = { fullyQualifiedNamespace: NS, eventHubName: 'hub', consumerGroup: 'cg', partitionId: '0', sequenceNumber: 41, offset: '4100' };
    await a.updateCheckpoint(cp);
    await a.updateCheckpoint({ ...cp, partitionId: '1', sequenceNumber: 7, offset: '700' });
    await b.updateCheckpoint({ ...cp, sequenceNumber: 12, offset: '1200' });
    expect(await b.listCheckpoints(NS, 'hub', 'cg')).toEqual([
      { ...cp, sequenceNumber: 41, offset: '4100' },
      { ...cp, partitionId: '1', sequenceNumber: 7, offset: '700' },
    ]);
    await a.updateCheckpoint({ ...cp, sequenceNumber: 99, offset: '9900' });
    expect((await a.listCheckpoints(NS, 'hub', 'cg'))[0]).toMatchObject({ sequenceNumber: 99, offset: '9900' });
    expect(await a.listCheckpoints(NS, 'hub', 'other')).toEqual([]);
    // The stored position follows the SDK checkpoint up.
    expect((await a.positions(NS, 'hub', 'cg'))[0]).toMatchObject({ sequenceNumber: 99, storedSequenceNumber: 99 });
  });

  it('rejects a checkpoint without a whole sequence number or an offset', async () => {
    const cp = { fullyQualifiedNamespace: NS, eventHubName: 'hub', consumerGroup: 'cg', partitionId: '0', sequenceNumber: 1.5, offset: '1' };
    await expect(a.updateCheckpoint(cp)).rejects.toThrow(TypeError);
  });
});

describe('stored positions (the writer of the live pipeline)', () => {
  it('commits a partition only from the position it started at, atomically with its rows', async () => {
    const columns: ScorerColumns = { time: 't', groups: ['d'], sensors: ['x'], categoricals: [], device: 'd', all: ['x', 't', 'd'] };
    const layout = tableLayout('wt', columns, false);
    const key = { fullyQualifiedNamespace: NS, eventHubName: 'wh', consumerGroup: 'wcg' };
    await prepareTables(ws, key, layout, 'run-1');
    const errors: unknown[] = [];
    const w1 = await Writer.open(ws, key, layout, (e) => errors.push(e));
    const w2 = await Writer.open(ws, key, layout, (e) => errors.push(e));
    const work = (partitionId: string, expectedStored: number, from: number, to: number, snapshot = true): PartitionWork => ({
      partitionId,
      expectedStored,
      lastSequenceNumber: to,
      lastOffset: String(to * 100),
      scored: columnsOf(
        Array.from({ length: to - from + 1 }, (_, i) => ({
          sequenceNumber: from + i, enqueuedMs: Date.now(), item: 0, eventId: `${partitionId}-${from + i}`, device: 'dev', time: from + i,
          values: { x: 1, t: from + i, d: 'dev' }, score: 0.5, threshold: 1, anomaly: false, alarm: false, raised: false,
        })),
        layout,
      ),
      dead: [],
      alarms: [],
      snapshot: snapshot ? [{ key: 'd:dev', value: `{"at":${to}}` }] : null,
    });
    try {
      expect(await w1.submit(work('0', -1, 0, 9))).toBe('committed');
      // A second writer that also believes partition 0 is fresh loses, and stores nothing.
      expect(await w2.submit(work('0', -1, 0, 9))).toBe('conflict');
      // Two works of one partition in one commit chain; another partition commits alongside.
      const [a2, b2, c2] = await Promise.all([w2.submit(work('0', 9, 10, 14, false)), w2.submit(work('0', 14, 15, 19)), w2.submit(work('1', -1, 0, 4))]);
      expect([a2, b2, c2]).toEqual(['committed', 'committed', 'committed']);
      // Mixed: the stale partition is answered 'conflict', the other one is committed.
      const [stale, fine] = await Promise.all([w1.submit(work('0', 9, 10, 12)), w1.submit(work('1', 4, 5, 6))]);
      expect([stale, fine]).toEqual(['conflict', 'committed']);
      const counts = await ws.query(`SELECT eh_partition p, count(*) n, count(DISTINCT eh_sequence) d, max(eh_sequence) m FROM wt GROUP BY 1 ORDER BY 1`);
      expect(counts).toEqual([
        { p: '0', n: 20, d: 20, m: 19 },
        { p: '1', n: 7, d: 7, m: 6 },
      ]);
      const pos = await a.positions(NS, 'wh', 'wcg');
      expect(pos).toEqual([
        { partitionId: '0', sequenceNumber: 19, offset: '1900', storedSequenceNumber: 19 },
        { partitionId: '1', sequenceNumber: 6, offset: '600', storedSequenceNumber: 6 },
      ]);
      // The saved state entry of each partition was replaced, not duplicated.
      expect(await ws.query(`SELECT partition_id, value FROM fleetlens.stream_state WHERE consumer_group = 'wcg' ORDER BY 1`)).toEqual([
        { partition_id: '0', value: '{"at":19}' },
        { partition_id: '1', value: '{"at":6}' },
      ]);
      expect(errors).toEqual([]);
    } finally {
      await w1.close();
      await w2.close();
    }
  });
});

describe('the memory cap of running streams', () => {
  it('applies the largest cap while held and restores the limit after the last release', async () => {
    const limit = async (): Promise<string> => String((await ws.query(`SELECT current_setting('memory_limit') AS v`))[0]!.v);
    const before = await limit();
    const r1 = await ws.holdMemoryLimit(200 * 1048576);
    expect(await limit()).toBe('200.0 MiB');
    const r2 = await ws.holdMemoryLimit(300 * 1048576);
    expect(await limit()).toBe('300.0 MiB');
    await r2();
    await r2();
    expect(await limit()).toBe('200.0 MiB');
    // Under the cap DuckDB evicts cached table blocks instead of growing.
    await ws.run('CREATE TABLE capped AS SELECT range AS i, random() AS x, md5(range::VARCHAR) AS s FROM range(3000000)');
    await ws.run('CHECKPOINT');
    expect(await ws.memoryUsage()).toBeLessThanOrEqual(200 * 1048576);
    await r1();
    expect(await limit()).toBe(before);
  });
});

describe('two SDK consumers sharing one consumer group', () => {
  it('split the partitions between them and read every event exactly once', async () => {
    const server = await LocalEventHubServer.start({ partitions: 4 });
    const producer = new EventHubProducerClient(server.connectionString, { retryOptions: TUNED_RETRY });
    const lb = { strategy: 'greedy' as const, updateIntervalInMs: 300, partitionOwnershipExpirationIntervalInMs: 3000 };
    const c1 = new EventHubConsumerClient('shared', server.connectionString, a, { identifier: 'consumer-1', loadBalancingOptions: lb, retryOptions: TUNED_RETRY });
    const c2 = new EventHubConsumerClient('shared', server.connectionString, b, { identifier: 'consumer-2', loadBalancingOptions: lb, retryOptions: TUNED_RETRY });
    const seen = new Map<string, string[]>();
    const partitionsOf = { 'consumer-1': new Set<string>(), 'consumer-2': new Set<string>() };
    const handlers = (who: 'consumer-1' | 'consumer-2', store: WorkspaceCheckpointStore) => ({
      processEvents: async (events: ReceivedEventData[], ctx: PartitionContext) => {
        if (events.length === 0) return;
        // The local server has no owner-level exclusivity: a reader that lost its partition stops
        // itself (the pipeline does the same check).
        const o = (await store.listOwnership(ctx.fullyQualifiedNamespace, ctx.eventHubName, ctx.consumerGroup)).find((x) => x.partitionId === ctx.partitionId);
        if (o?.ownerId !== who) throw new Error(`${who} no longer owns partition ${ctx.partitionId}`);
        partitionsOf[who].add(ctx.partitionId);
        for (const e of events) {
          const id = String((e.body as { id: number }).id);
          seen.set(id, [...(seen.get(id) ?? []), who]);
        }
        // Checkpoint what was handed over, so a partition moving between consumers resumes after it.
        await ctx.updateCheckpoint(events.at(-1)!);
      },
      processError: async () => undefined,
    });
    const opts = { startPosition: earliestEventPosition, maxBatchSize: 100, maxWaitTimeInSeconds: 1 };
    const s1 = c1.subscribe(handlers('consumer-1', a), opts);
    try {
      // Let the first consumer take everything, then the second must steal its share.
      await new Promise((r) => setTimeout(r, 1500));
      const s2 = c2.subscribe(handlers('consumer-2', b), opts);
      try {
        const deadline = Date.now() + 30_000;
        let owners: PartitionOwnership[] = [];
        for (;;) {
          owners = await a.listOwnership(c1.fullyQualifiedNamespace, c1.eventHubName, 'shared');
          const count = (id: string) => owners.filter((o) => o.ownerId === id && Date.now() - (o.lastModifiedTimeInMs ?? 0) < 3000).length;
          if (count('consumer-1') === 2 && count('consumer-2') === 2) break;
          if (Date.now() > deadline) throw new Error(`not balanced: ${JSON.stringify(owners.map((o) => [o.partitionId, o.ownerId]))}`);
          await new Promise((r) => setTimeout(r, 200));
        }
        // Give the stolen partitions' old readers a moment to notice, then publish.
        await new Promise((r) => setTimeout(r, 1000));
        for (let p = 0; p < 4; p++) {
          const batch = await producer.createBatch({ partitionId: String(p) });
          for (let i = 0; i < 50; i++) batch.tryAdd({ body: { id: p * 1000 + i } });
          await producer.sendBatch(batch);
        }
        const until = Date.now() + 20_000;
        while (seen.size < 200 && Date.now() < until) await new Promise((r) => setTimeout(r, 100));
        await new Promise((r) => setTimeout(r, 1500));
        expect(seen.size).toBe(200);
        // Each partition's events went to one consumer only.
        const dup = [...seen.entries()].filter(([, who]) => who.length !== 1);
        expect(dup).toEqual([]);
        expect(partitionsOf['consumer-2'].size).toBeGreaterThan(0);
      } finally {
        await s2.close();
      }
    } finally {
      await s1.close();
      await c1.close();
      await c2.close();
      await producer.close();
      await server.stop();
    }
  }, 90_000);
});
