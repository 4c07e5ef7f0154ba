import { spawn } from 'node:child_process';
import { appendFileSync, mkdtempSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import {
  EventHubConsumerClient,
  EventHubProducerClient,
  RetryMode,
  earliestEventPosition,
  latestEventPosition,
  type EventData,
  type EventPosition,
  type ReceivedEventData,
  type RetryOptions,
} from '@azure/event-hubs';
import { parseHubArgs } from '../../core/stream/hub-main.ts';
import { LocalEventHubServer } from '../../core/stream/hub-server.ts';
import { partitionForKey } from '../../core/stream/lookup3.ts';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function waitFor(cond: () => boolean, timeoutMs: number, what: () => string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what()}`);
    await sleep(20);
  }
}

function tempDir(): string {
  return mkdtempSync(join(tmpdir(), 'fleetlens-hub-'));
}

/** Sends `events` in as few batches as fit, routed by key, explicit partition, or neither. */
async function sendAll(producer: EventHubProducerClient, events: EventData[], route: { partitionKey?: string; partitionId?: string } = {}): Promise<void> {
  let batch = await producer.createBatch(route);
  for (const ev of events) {
    if (batch.tryAdd(ev)) continue;
    await producer.sendBatch(batch);
    batch = await producer.createBatch(route);
    if (!batch.tryAdd(ev)) throw new Error('event does not fit an empty batch');
  }
  if (batch.count > 0) await producer.sendBatch(batch);
}

function bodyId(e: ReceivedEventData): number {
  const b: unknown = e.body;
  if (typeof b === 'object' && b !== null && typeof (b as { id?: unknown }).id === 'number') return (b as { id: number }).id;
  throw new Error(`unexpected body ${JSON.stringify(b)}`);
}

interface Collected {
  events: ReceivedEventData[];
  partitionOf: Map<ReceivedEventData, string>;
  close(): Promise<void>;
}

/** Subscribes (all partitions, or one) and gathers everything until closed. */
function subscribe(consumer: EventHubConsumerClient, startPosition: EventPosition, partitionId?: string, maxBatchSize = 500): Collected {
  const events: ReceivedEventData[] = [];
  const partitionOf = new Map<ReceivedEventData, string>();
  const handlers = {
    processEvents: async (batch: ReceivedEventData[], ctx: { partitionId: string }): Promise<void> => {
      for (const e of batch) {
        events.push(e);
        partitionOf.set(e, ctx.partitionId);
      }
    },
    // Errors during a planned outage are expected; completeness is asserted on the data instead.
    processError: async (): Promise<void> => undefined,
  };
  const opts = { startPosition, maxBatchSize, maxWaitTimeInSeconds: 1 };
  const sub = partitionId === undefined ? consumer.subscribe(handlers, opts) : consumer.subscribe(partitionId, handlers, opts);
  return { events, partitionOf, close: () => sub.close() };
}

/** Receives from one partition until `expected` events arrived (plus a short quiet period to catch extras). */
async function collectPartition(consumer: EventHubConsumerClient, partitionId: string, start: EventPosition, expected: number): Promise<ReceivedEventData[]> {
  const c = subscribe(consumer, start, partitionId, 200);
  try {
    await waitFor(() => c.events.length >= expected, 20_000, () => `${c.events.length}/${expected} events from ${JSON.stringify(start)}`);
    await sleep(250);
  } finally {
    await c.close();
  }
  return c.events;
}

function expectContiguous(seqs: number[], first: number): void {
  const sorted = [...seqs].sort((a, b) => a - b);
  expect(sorted).toEqual(Array.from({ length: sorted.length }, (_, i) => first + i));
}

const quickRetry: RetryOptions = { maxRetries: 0, retryDelayInMs: 100, timeoutInMs: 5000 };

describe('LocalEventHubServer with the real @azure/event-hubs clients', () => {
  it('serves hub and partition metadata', async () => {
    const server = await LocalEventHubServer.start({ hubName: 'meta-hub', partitions: 3 });
    const producer = new EventHubProducerClient(server.connectionString, { retryOptions: quickRetry });
    try {
      expect(await producer.getPartitionIds()).toEqual(['0', '1', '2']);
      const hub = await producer.getEventHubProperties();
      expect(hub.name).toBe('meta-hub');
      expect(hub.partitionIds).toEqual(['0', '1', '2']);
      expect(hub.createdOn).toBeInstanceOf(Date);
      const empty = await producer.getPartitionProperties('1');
      expect(empty).toMatchObject({ eventHubName: 'meta-hub', partitionId: '1', isEmpty: true, lastEnqueuedSequenceNumber: -1 });
      await sendAll(producer, [{ body: { id: 1 } }, { body: { id: 2 } }], { partitionId: '1' });
      const p1 = await producer.getPartitionProperties('1');
      expect(p1).toMatchObject({ isEmpty: false, beginningSequenceNumber: 0, lastEnqueuedSequenceNumber: 1 });
      expect(p1.lastEnqueuedOffset).toBe(server.partitionInfo('1').lastEnqueuedOffset);
      expect(p1.lastEnqueuedOnUtc.getTime()).toBe(server.partitionInfo('1').lastEnqueuedOnUtc.getTime());
      await expect(producer.getPartitionProperties('7')).rejects.toThrow(/out of range/);
    } finally {
      await producer.close();
      await server.stop();
    }
  });

  it('routes and delivers 10,000 events exactly once with contiguous sequence numbers', async () => {
    const server = await LocalEventHubServer.start({ partitions: 4 });
    const producer = new EventHubProducerClient(server.connectionString);
    const consumer = new EventHubConsumerClient('$Default', server.connectionString);
    const total = 10_000;
    try {
      const keys = Array.from({ length: 40 }, (_, k) => `device-${k}`);
      let id = 0;
      for (const key of keys) {
        const evs = Array.from({ length: 225 }, (): EventData => {
          const n = id++;
          return { body: { id: n, device: key, value: n * 0.5 }, properties: { id: n, kind: 'keyed' }, contentType: 'application/json' };
        });
        await sendAll(producer, evs, { partitionKey: key });
      }
      for (const partitionId of ['0', '1', '2', '3']) {
        const evs = Array.from({ length: 250 }, (): EventData => {
          const n = id++;
          return { body: { id: n, device: `pinned-${partitionId}` }, properties: { id: n, kind: 'explicit' } };
        });
        await sendAll(producer, evs, { partitionId });
      }
      expect(id).toBe(total);
      expect(server.stats().totalEvents).toBe(total);

      const c = subscribe(consumer, earliestEventPosition);
      try {
        await waitFor(() => c.events.length >= total, 30_000, () => `${c.events.length}/${total} events`);
        await sleep(300);
      } finally {
        await c.close();
      }
      expect(c.events.length).toBe(total);
      expect(new Set(c.events.map(bodyId)).size).toBe(total);

      const byPartition = new Map<string, ReceivedEventData[]>();
      for (const e of c.events) {
        const pid = c.partitionOf.get(e)!;
        byPartition.set(pid, [...(byPartition.get(pid) ?? []), e]);
        const body = e.body as { id: number; device: string };
        expect(e.properties).toMatchObject({ id: body.id });
        expect(e.enqueuedTimeUtc).toBeInstanceOf(Date);
        if (e.properties?.['kind'] === 'keyed') {
          expect(e.partitionKey).toBe(body.device);
          expect(e.contentType).toBe('application/json');
          expect(pid).toBe(String(partitionForKey(body.device, 4)));
        } else {
          expect(e.partitionKey).toBeUndefined();
          expect(body.device).toBe(`pinned-${pid}`);
        }
      }
      for (const [pid, evs] of byPartition) {
        expectContiguous(evs.map((e) => e.sequenceNumber), 0);
        const ordered = [...evs].sort((a, b) => a.sequenceNumber - b.sequenceNumber);
        for (let i = 1; i < ordered.length; i++) expect(Number(ordered[i]!.offset)).toBeGreaterThan(Number(ordered[i - 1]!.offset));
        const props = await producer.getPartitionProperties(pid);
        expect(props.lastEnqueuedSequenceNumber).toBe(ordered.length - 1);
        expect(props.lastEnqueuedOffset).toBe(ordered[ordered.length - 1]!.offset);
        expect(server.stats().eventsPerPartition[Number(pid)]).toBe(ordered.length);
      }
    } finally {
      await consumer.close();
      await producer.close();
      await server.stop();
    }
  }, 60_000);

  it('resumes from sequence number, offset (inclusive or not), enqueued time and latest', async () => {
    const server = await LocalEventHubServer.start({ partitions: 2 });
    const producer = new EventHubProducerClient(server.connectionString);
    const consumer = new EventHubConsumerClient('$Default', server.connectionString);
    const events = (from: number, n: number): EventData[] => Array.from({ length: n }, (_, i) => ({ body: { id: from + i } }));
    try {
      await sendAll(producer, events(0, 50), { partitionId: '1' });
      const afterA = await producer.getPartitionProperties('1');
      expect(afterA.lastEnqueuedSequenceNumber).toBe(49);
      await sleep(20);
      await sendAll(producer, events(50, 50), { partitionId: '1' });

      // latest: only what is sent after the link is attached.
      const latest = subscribe(consumer, latestEventPosition, '1');
      try {
        await waitFor(() => server.stats().consumers === 1, 10_000, () => 'the latest-position receiver');
        await sendAll(producer, events(100, 10), { partitionId: '1' });
        await waitFor(() => latest.events.length >= 10, 10_000, () => `${latest.events.length}/10 latest events`);
        await sleep(250);
      } finally {
        await latest.close();
      }
      expect(latest.events.map((e) => e.sequenceNumber)).toEqual(Array.from({ length: 10 }, (_, i) => 100 + i));

      const cases: Array<[string, EventPosition, number]> = [
        ['sequence number, exclusive', { sequenceNumber: 49 }, 50],
        ['sequence number, inclusive', { sequenceNumber: 49, isInclusive: true }, 49],
        ['offset, exclusive', { offset: afterA.lastEnqueuedOffset }, 50],
        ['offset, inclusive', { offset: afterA.lastEnqueuedOffset, isInclusive: true }, 49],
        ['enqueued time', { enqueuedOn: afterA.lastEnqueuedOnUtc }, 50],
        ['earliest', earliestEventPosition, 0],
      ];
      // The SDK allows one subscription per partition per client, so each case gets its own client.
      const results = await Promise.all(
        cases.map(async ([, pos, first]) => {
          const own = new EventHubConsumerClient('$Default', server.connectionString);
          try {
            return await collectPartition(own, '1', pos, 110 - first);
          } finally {
            await own.close();
          }
        }),
      );
      cases.forEach(([name, , first], i) => {
        const seqs = results[i]!.map((e) => e.sequenceNumber);
        expect(seqs, name).toEqual(Array.from({ length: 110 - first }, (_, j) => first + j));
        expect(results[i]!.map(bodyId), name).toEqual(seqs);
      });
      expect(server.stats().eventsPerPartition).toEqual([0, 110]);
    } finally {
      await consumer.close();
      await producer.close();
      await server.stop();
    }
  }, 60_000);

  it('refuses a client signing with the wrong SAS key', async () => {
    const server = await LocalEventHubServer.start({ sharedAccessKey: 'the-right-key' });
    const wrong = server.connectionString.replace('SharedAccessKey=the-right-key', 'SharedAccessKey=not-the-key');
    const bad = new EventHubProducerClient(wrong, { retryOptions: quickRetry });
    const badConsumer = new EventHubConsumerClient('$Default', wrong, { retryOptions: quickRetry });
    const good = new EventHubProducerClient(server.connectionString, { retryOptions: quickRetry });
    try {
      const err: unknown = await bad.getEventHubProperties().then(() => null, (e: unknown) => e);
      expect(err).toMatchObject({ code: 'UnauthorizedError' });
      await expect(bad.sendBatch([{ body: { id: 1 } }], { partitionId: '0' })).rejects.toMatchObject({ code: 'UnauthorizedError' });
      await expect(badConsumer.getPartitionIds()).rejects.toMatchObject({ code: 'UnauthorizedError' });
      expect(server.stats().totalEvents).toBe(0);
      await good.sendBatch([{ body: { id: 2 } }], { partitionId: '0' });
      expect(server.stats().totalEvents).toBe(1);
    } finally {
      await Promise.all([bad.close(), badConsumer.close(), good.close()]);
      await server.stop();
    }
  }, 30_000);

  it('persists to storeFile across restarts and ignores a torn or corrupt tail', async () => {
    const dir = tempDir();
    const storeFile = join(dir, 'hub.log');
    let server = await LocalEventHubServer.start({ storeFile, partitions: 4 });
    try {
      let producer = new EventHubProducerClient(server.connectionString);
      for (let k = 0; k < 6; k++) {
        await sendAll(producer, Array.from({ length: 200 }, (_, i) => ({ body: { id: k * 200 + i }, properties: { k } })), { partitionKey: `key-${k}` });
      }
      await sendAll(producer, Array.from({ length: 100 }, (_, i) => ({ body: { id: 1200 + i } })), { partitionId: '3' });
      await producer.close();
      const before = server.stats();
      const infoBefore = server.partitionIds.map((id) => server.partitionInfo(id));
      expect(before.totalEvents).toBe(1300);
      await server.stop();

      server = await LocalEventHubServer.start({ storeFile, partitions: 4 });
      expect(server.stats().eventsPerPartition).toEqual(before.eventsPerPartition);
      expect(server.stats().discardedTailBytes).toBe(0);
      expect(server.partitionIds.map((id) => server.partitionInfo(id))).toEqual(infoBefore);
      const consumer = new EventHubConsumerClient('$Default', server.connectionString);
      const c = subscribe(consumer, earliestEventPosition);
      try {
        await waitFor(() => c.events.length >= 1300, 20_000, () => `${c.events.length}/1300 reloaded events`);
      } finally {
        await c.close();
        await consumer.close();
      }
      expect(new Set(c.events.map(bodyId)).size).toBe(1300);
      for (const info of infoBefore) {
        const evs = c.events.filter((e) => c.partitionOf.get(e) === info.partitionId);
        expectContiguous(evs.map((e) => e.sequenceNumber), 0);
        const last = evs.reduce((a, b) => (b.sequenceNumber > a.sequenceNumber ? b : a), evs[0]!);
        expect(last.offset).toBe(info.lastEnqueuedOffset);
        expect(last.enqueuedTimeUtc.getTime()).toBe(info.lastEnqueuedOnUtc.getTime());
      }
      await server.stop();

      // A crash mid-append leaves a short last record: it must be dropped, and appends continue after it.
      truncateSync(storeFile, statSync(storeFile).size - 7);
      server = await LocalEventHubServer.start({ storeFile, partitions: 4 });
      expect(server.stats().discardedTailBytes).toBeGreaterThan(0);
      expect(server.stats().totalEvents).toBe(1299);
      expect(server.partitionInfo('3').lastEnqueuedSequenceNumber).toBe(infoBefore[3]!.lastEnqueuedSequenceNumber - 1);
      producer = new EventHubProducerClient(server.connectionString);
      await sendAll(producer, [{ body: { id: 5000 } }], { partitionId: '3' });
      await producer.close();
      const lastSeq3 = server.partitionInfo('3').lastEnqueuedSequenceNumber;
      expect(lastSeq3).toBe(infoBefore[3]!.lastEnqueuedSequenceNumber);
      await server.stop();

      // A flipped byte in the last record fails its checksum; trailing garbage is ignored too.
      const bytes = readFileSync(storeFile);
      bytes[bytes.length - 3] = bytes[bytes.length - 3]! ^ 0xff;
      writeFileSync(storeFile, bytes);
      appendFileSync(storeFile, Buffer.from('garbage after the last record'));
      server = await LocalEventHubServer.start({ storeFile, partitions: 4 });
      expect(server.stats().totalEvents).toBe(1299);
      expect(server.partitionInfo('3').lastEnqueuedSequenceNumber).toBe(lastSeq3 - 1);
      await server.stop();

      await expect(LocalEventHubServer.start({ storeFile, partitions: 2 })).rejects.toMatchObject({ code: 'STORE_MISMATCH' });
      server = await LocalEventHubServer.start({ storeFile, partitions: 4 });
      expect(server.stats().discardedTailBytes).toBe(0);
    } finally {
      await server.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);

  for (const graceful of [true, false]) {
    it(`survives a${graceful ? ' graceful' : 'n abrupt'} stop and restart on the same port mid-stream without losing events`, async () => {
      const dir = tempDir();
      const storeFile = join(dir, 'hub.log');
      let server = await LocalEventHubServer.start({ storeFile, partitions: 2 });
      const port = server.port;
      const retryOptions: RetryOptions = { mode: RetryMode.Exponential, retryDelayInMs: 500, maxRetryDelayInMs: 4000, maxRetries: 10, timeoutInMs: 10_000 };
      const producer = new EventHubProducerClient(server.connectionString, { retryOptions });
      const consumer = new EventHubConsumerClient('$Default', server.connectionString, { retryOptions });
      const c = subscribe(consumer, earliestEventPosition);
      const acked = new Set<number>();
      let batchNo = 0;
      let restartedAt = -1;
      let restart: Promise<void> | null = null;
      try {
        for (; batchNo < 40; batchNo++) {
          if (batchNo === 12) {
            restart = (async () => {
              await server.stop({ graceful });
              await sleep(1000);
              server = await LocalEventHubServer.start({ storeFile, partitions: 2, port });
              restartedAt = batchNo;
            })();
          }
          const ids = Array.from({ length: 50 }, (_, i) => batchNo * 50 + i);
          await producer.sendBatch(
            ids.map((id) => ({ body: { id } })),
            { partitionKey: `k-${batchNo % 5}`, abortSignal: AbortSignal.timeout(45_000) },
          );
          for (const id of ids) acked.add(id);
          await sleep(25);
        }
        await restart;
        // The outage really was mid-stream: batches were acknowledged by both servers.
        expect(restartedAt).toBeGreaterThanOrEqual(12);
        expect(restartedAt).toBeLessThan(39);
        const missing = (): number[] => {
          const got = new Set(c.events.map(bodyId));
          return [...acked].filter((id) => !got.has(id));
        };
        await waitFor(() => missing().length === 0, 30_000, () => `${missing().length} acknowledged events`);
        await sleep(300);
        expect(acked.size).toBe(2000);
        // Graceful stops finish in-flight publishes, so nothing is stored twice; an abrupt one may
        // lose an acknowledgement and the SDK's retry then stores that batch again.
        if (graceful) expect(c.events.length).toBe(2000);
        for (const pid of ['0', '1']) {
          const seqs = c.events.filter((e) => c.partitionOf.get(e) === pid).map((e) => e.sequenceNumber);
          // The consumer resumes by sequence number: no event is delivered twice and none is skipped.
          expect(new Set(seqs).size).toBe(seqs.length);
          expectContiguous(seqs, 0);
          expect(seqs.length).toBe(server.stats().eventsPerPartition[Number(pid)]);
        }
      } finally {
        await c.close();
        await consumer.close();
        await producer.close();
        await restart?.catch(() => undefined);
        await server.stop();
        rmSync(dir, { recursive: true, force: true });
      }
    }, 80_000);
  }

  it('runs as a command: announces itself on stdout and stops on SIGTERM', async () => {
    expect(parseHubArgs(['--port', '0', '--hub', 'h', '--partitions', '2', '--store', 'f.log', '--key', 'k'])).toEqual({
      port: 0, hubName: 'h', partitions: 2, storeFile: 'f.log', sharedAccessKey: 'k',
    });
    expect(() => parseHubArgs(['--partitions', 'two'])).toThrow(/non-negative integer/);
    expect(() => parseHubArgs(['--nope', '1'])).toThrow(/unknown flag/);
    const main = fileURLToPath(new URL('../../core/stream/hub-main.ts', import.meta.url));
    const child = spawn(process.execPath, ['--import', 'tsx', main, '--port', '0', '--partitions', '2', '--key', 'cli-key'], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    try {
      const line = await new Promise<string>((resolve) => createInterface({ input: child.stdout }).once('line', resolve));
      const announced = JSON.parse(line) as { event: string; port: number; connectionString: string };
      expect(announced.event).toBe('listening');
      expect(announced.connectionString).toContain(`sb://127.0.0.1:${announced.port};`);
      const producer = new EventHubProducerClient(announced.connectionString, { retryOptions: quickRetry });
      try {
        expect(await producer.getPartitionIds()).toEqual(['0', '1']);
      } finally {
        await producer.close();
      }
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
    } finally {
      child.kill('SIGKILL');
    }
  }, 30_000);
});
