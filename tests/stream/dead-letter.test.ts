/**
 * Bad events (issue #7): each kind goes to the dead-letter table with its reason,
 * detail and raw body, is counted, and never stops the stream. Driven through the
 * stream.* API against the local hub server, plus scorer-level cases that need a
 * special model (per-group routing).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EventHubProducerClient, type EventData } from '@azure/event-hubs';
import type { Workbench } from '../../core/app.ts';
import { LocalEventHubServer } from '../../core/stream/hub-server.ts';
import { TUNED_RETRY } from '../../core/stream/eventhub.ts';
import { createScorer, decodeBody, type LiveModel } from '../../core/stream/scorer.ts';
import type { RunModel } from '../../core/models/train.ts';
import type { StreamAlert, StreamStatus } from '../../core/stream/api.ts';
import { tempDir } from '../helpers/tmp.ts';
import { openSampleFleet } from '../helpers/fleet.ts';

const tmp = tempDir('fleetlens-deadletter-');
let wb: Workbench;
let server: LocalEventHubServer;
let runId: string;
let model: RunModel;

beforeAll(async () => {
  wb = await openSampleFleet(tmp);
  ({ runId } = await wb.api['models.train']({ dataset: 'fleet', detector: 'robust-z', seed: 3 }));
  await wb.api['models.wait']({ runId });
  model = (await wb.api['runs.artifact']({ runId, name: 'model' })) as RunModel;
  server = await LocalEventHubServer.start({ partitions: 2 });
});
afterAll(async () => {
  await wb.close();
  await server.stop();
  tmp.cleanup();
});

const T0 = Date.UTC(2026, 5, 1);
let clock = 0;
/** A valid reading of a device one minute after the previous one built here. */
function reading(device: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  clock++;
  return {
    device_id: device,
    trip_id: `${device}-t9999`,
    factory_id: 'F1',
    model_id: 'M-A',
    timestamp: new Date(T0 + clock * 60_000).toISOString(),
    airflow_rate: 500 + clock,
    rotation_speed: 1100,
    air_pressure: 106.5,
    temperature: 19 + (clock % 5) * 0.1,
    delay: 25,
    density: 1.34,
    ...extra,
  };
}

async function send(producer: EventHubProducerClient, events: EventData[]): Promise<void> {
  // One partition keeps the order the out-of-order case depends on.
  const batch = await producer.createBatch({ partitionId: '0' });
  for (const e of events) expect(batch.tryAdd(e)).toBe(true);
  await producer.sendBatch(batch);
}

async function until(cond: () => Promise<boolean>, what: string, ms = 30_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('dead letters through the stream API', () => {
  it('stores each bad kind with reason and raw body, counts it, and keeps scoring', async () => {
    const stats: StreamStatus[] = [];
    const alerts: StreamAlert[] = [];
    const offStats = wb.events.on('stream.stats', (s) => stats.push(s));
    const offAlert = wb.events.on('stream.alert', (a) => alerts.push(a));
    const limit = async (): Promise<string> => String((await wb.workspace.query(`SELECT current_setting('memory_limit') AS v`))[0]!.v);
    const before = await limit();
    const { subscriptionId } = await wb.api['stream.start']({
      connectionString: server.connectionString,
      model: runId,
      consumerGroup: 'dl',
      startPosition: 'earliest',
      table: 'dl_scores',
      dedupeField: 'event_id',
      unknownDevices: 'dead-letter',
    });
    // While the stream runs, DuckDB's memory is capped (its cached blocks would grow with the table).
    expect(await limit()).not.toBe(before);
    expect(await limit()).toMatch(/MiB$/);
    const producer = new EventHubProducerClient(server.connectionString, { retryOptions: TUNED_RETRY });
    try {
      const good = (id: string, extra: Record<string, unknown> = {}): EventData => ({ body: { event_id: id, ...reading('dev-0001', extra) }, properties: { event_id: id } });
      const late = reading('dev-0002');
      const early = { ...late, timestamp: new Date(T0).toISOString() };
      await send(producer, [
        good('ok-1'),
        { body: Buffer.from('{"event_id": "bad-json", "temperature": ', 'utf8'), properties: { event_id: 'bad-json' } },
        { body: 42, properties: { event_id: 'bad-scalar' } },
        good('missing', { temperature: undefined }),
        good('text', { temperature: 'hot' }),
        good('when', { timestamp: 'yesterday' }),
        { body: { event_id: 'late', ...late } },
        { body: { event_id: 'early', ...early } },
        { body: { event_id: 'stranger', ...reading('dev-9999') } },
        { body: [{ event_id: 'arr-0', ...reading('dev-0001') }, 'not a record', { event_id: 'arr-2', ...reading('dev-0001', { density: null }) }] },
        good('ok-1'),
        good('ok-2'),
      ]);
      // JSON drops `temperature: undefined`, which is the missing-field case.
      // 12 events, one of them an array of 3 records: 14 results.
      await until(async () => {
        const c = (await wb.api['stream.status']({ subscriptionId })).counts;
        return c.stored + c.deadLettered + c.duplicates >= 14;
      }, 'the events to be processed');
      const st = await wb.api['stream.status']({ subscriptionId });
      expect(st.counts).toMatchObject({ received: 12, stored: 5, deadLettered: 8, duplicates: 1 });
      expect(st.totals).toMatchObject({ stored: 5, deadLettered: 8 });
      expect(st.lastError).toBeNull();

      const dead = await wb.workspace.query(`SELECT eh_item, event_id, device_key, reason, detail, body FROM dl_scores_dead_letters ORDER BY eh_sequence, eh_item`);
      expect(dead.map((d) => [d.event_id, d.reason])).toEqual([
        ['bad-json', 'invalid_json'],
        ['bad-scalar', 'not_an_object'],
        ['missing', 'missing_field'],
        ['text', 'non_numeric'],
        ['when', 'bad_timestamp'],
        ['early', 'out_of_order'],
        ['stranger', 'unknown_device'],
        [null, 'not_an_object'],
      ]);
      expect(dead[0]!.body).toBe('{"event_id": "bad-json", "temperature": ');
      expect(dead[0]!.eh_item).toBeNull();
      expect(dead[2]!.detail).toMatch(/temperature/);
      expect(JSON.parse(String(dead[3]!.body)).temperature).toBe('hot');
      expect(dead[6]!.device_key).toBe('dev-9999');
      expect(dead[7]!.eh_item).toBe(1);

      const stored = await wb.workspace.query(`SELECT event_id, eh_item, device_key, density, score IS NOT NULL AS scored FROM dl_scores ORDER BY eh_sequence, eh_item`);
      expect(stored.map((r) => r.event_id)).toEqual(['ok-1', 'late', 'arr-0', 'arr-2', 'ok-2']);
      // A JSON null sensor is a missing reading (filled like a NULL in a dataset), not a bad event.
      expect(stored[3]).toMatchObject({ eh_item: 2, density: null, scored: true });

      const series = await wb.api['stream.deviceSeries']({ subscriptionId, device: 'dev-0001', sensors: ['temperature'] });
      expect(series.time.length).toBe(4);
      expect(series.sensors[0]!.name).toBe('temperature');
      expect(Number.isFinite(series.threshold)).toBe(true);
      await until(async () => stats.length > 0, 'a stream.stats event');
      expect(stats.at(-1)!.subscriptionId).toBe(subscriptionId);
      const listed = await wb.api['stream.list']({});
      expect(listed.map((s) => s.subscriptionId)).toContain(subscriptionId);
      // No connection string anywhere in what the API hands out.
      expect(JSON.stringify([st, listed, stats])).not.toMatch(/SharedAccessKey/);
      expect(await wb.api['stream.alerts']({ subscriptionId })).toEqual(expect.any(Array));
      expect(alerts.every((a) => a.subscriptionId === subscriptionId)).toBe(true);

      // Paused, nothing is taken; resumed, the stream goes on.
      expect((await wb.api['stream.pause']({ subscriptionId })).state).toBe('paused');
      await send(producer, [good('ok-3')]);
      await new Promise((r) => setTimeout(r, 1500));
      expect((await wb.api['stream.status']({ subscriptionId })).counts.received).toBe(12);
      expect((await wb.api['stream.resume']({ subscriptionId })).state).toBe('running');
      await until(async () => (await wb.api['stream.status']({ subscriptionId })).counts.stored === 6, 'the event sent while paused');
    } finally {
      offStats();
      offAlert();
      await producer.close();
      const final = await wb.api['stream.stop']({ subscriptionId });
      expect(final.state).toBe('stopped');
      expect(await limit()).toBe(before);
    }
  }, 120_000);

  it('refuses bad requests before anything runs', async () => {
    const base = { connectionString: server.connectionString, model: runId };
    await expect(wb.api['stream.start']({ ...base, connectionString: 'nonsense' })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await expect(wb.api['stream.start']({ ...base, model: 'no-such-run' })).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await expect(wb.api['stream.start']({ ...base, persistConnection: true })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await expect(wb.api['stream.start']({ ...base, alarmRule: { k: 3, n: 2 } })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await expect(wb.api['stream.start']({ ...base, mapping: { 'a.b': 'not_a_column' } })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await expect(wb.api['stream.start']({ ...base, table: 'fleet' })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    const wrongKey = server.connectionString.replace(/SharedAccessKey=[^;]+/, 'SharedAccessKey=wrong');
    const err = await wb.api['stream.start']({ ...base, connectionString: wrongKey, consumerGroup: 'auth' }).then(() => null, (e: unknown) => e as { code: string; message: string });
    expect(err?.code).toBe('EVENTHUB_AUTH');
    expect(err?.message).not.toMatch(/wrong/);
    // The consumer group of the first test is tied to its table and model.
    await expect(wb.api['stream.start']({ ...base, consumerGroup: 'dl', table: 'other_table' })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await expect(wb.api['stream.start']({ ...base, consumerGroup: 'dl', table: 'dl_scores', startPosition: 'earliest' })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
  }, 90_000);
});

describe('stream.preview', () => {
  it('peeks without a checkpoint, flattens fields and suggests a mapping', async () => {
    const hub = await LocalEventHubServer.start({ partitions: 2 });
    const producer = new EventHubProducerClient(hub.connectionString, { retryOptions: TUNED_RETRY });
    try {
      const r = reading('dev-0100');
      const odd = {
        meta: { deviceId: r.device_id, trip: r.trip_id, ts: r.timestamp },
        Temperature: r.temperature,
        airflow: r.airflow_rate,
        rotation_speed: r.rotation_speed,
        air_pressure: r.air_pressure,
        delay_ms: r.delay,
        density: r.density,
      };
      const b0 = await producer.createBatch({ partitionId: '0' });
      b0.tryAdd({ body: odd });
      b0.tryAdd({ body: [odd, odd] });
      await producer.sendBatch(b0);
      const b1 = await producer.createBatch({ partitionId: '1' });
      b1.tryAdd({ body: Buffer.from('not json') });
      await producer.sendBatch(b1);
      const res = await wb.api['stream.preview']({ connectionString: hub.connectionString, model: runId, count: 10, timeoutMs: 8000 });
      expect(res.partitionIds).toEqual(['0', '1']);
      expect(res.events.length).toBe(3);
      expect(res.events.find((e) => e.body === 'not json')).toBeDefined();
      expect(res.events.some((e) => Array.isArray(e.body))).toBe(true);
      expect(res.fields.find((f) => f.path === 'meta.deviceId')).toMatchObject({ types: ['string'], count: 3 });
      expect(res.modelColumns).toEqual(expect.arrayContaining(['temperature', 'timestamp', 'trip_id', 'device_id']));
      expect(res.suggestedMapping).toMatchObject({ Temperature: 'temperature', 'meta.deviceId': 'device_id', airflow: 'airflow_rate', delay_ms: 'delay', 'meta.trip': 'trip_id' });
      expect(res.unmatched).toEqual(['timestamp']);
      // Nothing was checkpointed: a later subscription still starts at the beginning.
      const hasTable = (await wb.workspace.query(`SELECT 1 FROM information_schema.tables WHERE table_schema = 'fleetlens' AND table_name = 'eh_checkpoints'`)).length > 0;
      if (hasTable) expect(await wb.workspace.query(`SELECT * FROM fleetlens.eh_checkpoints WHERE consumer_group = '$Default'`)).toEqual([]);
    } finally {
      await producer.close();
      await hub.stop();
    }
  }, 60_000);
});

describe('dead letters in the scorer', () => {
  it('routes per-group models and dead-letters values without a model', () => {
    const perGroup: LiveModel = { kind: 'per-group', column: 'model_id', routes: { 'M-A': { runId: 'child-a', model } }, fallback: null, fallbackGroups: [] };
    const sc = createScorer(perGroup, { deviceColumn: 'device_id', temporal: true });
    const a = sc.process(reading('dev-0001'), 0, null);
    expect(a).toMatchObject({ kind: 'scored', runId: 'child-a' });
    const b = sc.process(reading('dev-0001', { model_id: 'M-Z' }), 0, null);
    expect(b).toMatchObject({ kind: 'dead', reason: 'unknown_group' });
    const withFallback = createScorer({ ...perGroup, fallback: { runId: 'global', model } }, { deviceColumn: 'device_id', temporal: true });
    expect(withFallback.process(reading('dev-0003', { model_id: 'M-Z' }), 0, null)).toMatchObject({ kind: 'scored', runId: 'global' });
    const byDevice = createScorer({ kind: 'per-group', column: 'device_id', routes: { 'dev-0001': { runId: 'c1', model } }, fallback: { runId: 'g', model }, fallbackGroups: ['dev-0002'] }, { deviceColumn: 'device_id', temporal: true, unknownGroups: 'dead-letter' });
    expect(byDevice.process(reading('dev-0002'), 0, null)).toMatchObject({ kind: 'scored', runId: 'g' });
    expect(byDevice.process(reading('dev-0777'), 0, null)).toMatchObject({ kind: 'dead', reason: 'unknown_device' });
  });

  it('keeps non-UTF-8 bodies byte-exact and tells arrays from objects', () => {
    const bad = decodeBody(Buffer.from([0x7b, 0xff, 0xfe]));
    expect(bad).toMatchObject({ ok: false, reason: 'invalid_json', text: 'base64:e//+' });
    expect(decodeBody(Buffer.from('[{"a":1},{"a":2}]'))).toMatchObject({ ok: true, array: true, records: [{ a: 1 }, { a: 2 }] });
    expect(decodeBody(Buffer.from('[]'))).toMatchObject({ ok: false, reason: 'not_an_object' });
    expect(decodeBody('null')).toMatchObject({ ok: false, reason: 'not_an_object' });
  });

  it('reads mapped paths, including nested ones and keys with dots', () => {
    const sc = createScorer(model, {
      deviceColumn: 'device_id',
      temporal: true,
      mapping: { 'meta.device': 'device_id', 'meta.trip': 'trip_id', 'meta.ts': 'timestamp', 'readings.temp.c': 'temperature', 'air.flow': 'airflow_rate' },
    });
    const r = reading('dev-0042');
    const nested = {
      meta: { device: r.device_id, trip: r.trip_id, ts: r.timestamp },
      readings: { temp: { c: r.temperature } },
      'air.flow': r.airflow_rate,
      rotation_speed: r.rotation_speed,
      air_pressure: r.air_pressure,
      delay: r.delay,
      density: r.density,
    };
    expect(sc.process(nested, 0, null)).toMatchObject({ kind: 'scored', device: 'dev-0042' });
    const { readings: _drop, ...withoutTemp } = nested;
    expect(sc.process({ ...withoutTemp, meta: { ...nested.meta, ts: new Date(T0 + 10 ** 9).toISOString() } }, 0, null)).toMatchObject({ kind: 'dead', reason: 'missing_field', detail: expect.stringMatching(/readings\.temp\.c/) });
  });
});
