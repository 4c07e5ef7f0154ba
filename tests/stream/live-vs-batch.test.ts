/**
 * Live scores equal batch scores (issue #7): the pipeline's scorer, fed a dataset's
 * rows as JSON events in time order, gives every row the score batch scoring
 * (streamFeatures + detector.score) gives it, to 1e-9. Then the same through the
 * local hub and the stored table, with a stop and restart half way.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EventHubProducerClient } from '@azure/event-hubs';
import { createWorkbench, type Workbench } from '../../core/app.ts';
import { streamFeatures } from '../../core/features/batch.ts';
import { detectorFromJSON } from '../../core/models/registry.ts';
import type { RunModel } from '../../core/models/train.ts';
import type { FeatureRecipe } from '../../core/features/recipe.ts';
import { createScorer } from '../../core/stream/scorer.ts';
import { LocalEventHubServer } from '../../core/stream/hub-server.ts';
import { TUNED_RETRY } from '../../core/stream/eventhub.ts';
import { partitionForKey } from '../../core/stream/lookup3.ts';
import { tempDir } from '../helpers/tmp.ts';
import { spawnCli } from '../helpers/cli.ts';
import { createInterface } from 'node:readline';
import type { ChildProcess } from 'node:child_process';
import type { Workspace } from '../../core/workspace/workspace.ts';
import { openSampleFleet, SAMPLE_FLEET } from '../helpers/fleet.ts';

const tmp = tempDir('fleetlens-livebatch-');
let wb: Workbench;

beforeAll(async () => {
  wb = await openSampleFleet(tmp);
});
afterAll(async () => {
  await wb.close();
  tmp.cleanup();
});

async function train(detector: string, recipe?: FeatureRecipe, params?: Record<string, number>): Promise<{ runId: string; model: RunModel }> {
  const { runId } = await wb.api['models.train']({ dataset: 'fleet', detector, seed: 5, recipe, params });
  await wb.api['models.wait']({ runId });
  return { runId, model: (await wb.api['runs.artifact']({ runId, name: 'model' })) as RunModel };
}

/** rowid → batch score. */
async function batchScores(model: RunModel, ws: Workspace = wb.workspace): Promise<Map<number, number>> {
  const det = detectorFromJSON(model.detector);
  const out = new Map<number, number>();
  for await (const chunk of streamFeatures(ws, 'fleet', model.recipe)) {
    const s = det.score(chunk.matrix);
    for (let i = 0; i < chunk.rows; i++) out.set(chunk.rowIndex[i]!, s[i]!);
  }
  return out;
}

/** The dataset's rows as the JSON events replay would publish, in time order. */
async function events(ws: Workspace = wb.workspace): Promise<Record<string, unknown>[]> {
  const rows = await ws.query(
    `SELECT rowid AS event_id, device_id, trip_id, factory_id, model_id, strftime(timestamp, '%Y-%m-%dT%H:%M:%S.%gZ') AS timestamp,
            airflow_rate, rotation_speed, air_pressure, temperature, delay, density FROM fleet ORDER BY timestamp, rowid`,
  );
  return rows as Record<string, unknown>[];
}

function compare(live: Map<number, number>, batch: Map<number, number>): number {
  expect(live.size).toBe(batch.size);
  let worst = 0;
  for (const [rid, b] of batch) {
    const l = live.get(rid);
    expect(l, `row ${rid} has no live score`).toBeDefined();
    worst = Math.max(worst, Math.abs(l! - b));
  }
  return worst;
}

const RICH: FeatureRecipe = {
  version: 1,
  sensors: ['airflow_rate', 'rotation_speed', 'air_pressure', 'temperature', 'delay', 'density'],
  groupBy: 'device',
  includeRaw: true,
  lags: [1, 3],
  diffs: [1, 5],
  rolling: [
    { window: 5, stats: ['mean', 'std', 'min', 'max'] },
    { window: 30, stats: ['mean', 'std'] },
  ],
  ewm: [{ span: 8, deviation: true }],
  categoricals: ['model_id'],
  fill: 'mean',
  standardize: true,
};

describe('live scores equal batch scores', () => {
  for (const [detector, recipe, params] of [
    ['isolation-forest', undefined, { n_trees: 50 }],
    ['robust-z', RICH, undefined],
    ['pca', RICH, undefined],
  ] as const) {
    it(`${detector}${recipe ? ' with lags, diffs, rolling, ewm and one-hots by device' : ' with the default recipe'}`, async () => {
      const { model } = await train(detector, recipe, params);
      const batch = await batchScores(model);
      const scorer = createScorer(model, { deviceColumn: 'device_id', temporal: true, dedupeField: 'event_id' });
      const live = new Map<number, number>();
      for (const ev of await events()) {
        const r = scorer.process(JSON.parse(JSON.stringify(ev)), 0, null);
        if (r.kind !== 'scored') throw new Error(`row ${String(ev.event_id)} not scored: ${JSON.stringify(r)}`);
        live.set(Number(ev.event_id), r.score!);
        // Anomaly and threshold follow the model exactly.
        expect(r.anomaly).toBe(r.score! >= model.threshold);
      }
      expect(compare(live, batch)).toBeLessThanOrEqual(1e-9);
    });
  }

  it('through `fleetlens stream`, across a SIGKILL and restart of the subscriber', async () => {
    // Its own workspace: the subscriber child must hold the DuckDB file alone.
    const path = tmp.file('crash.duckdb');
    const own = await createWorkbench({ workspace: path, mode: 'in-process' });
    let runId: string;
    let model: RunModel;
    let all: Record<string, unknown>[];
    try {
      await own.api['datasets.import']({ dataset: 'fleet', files: [SAMPLE_FLEET] });
      ({ runId } = await own.api['models.train']({ dataset: 'fleet', detector: 'isolation-forest', seed: 9, recipe: RICH, params: { n_trees: 30 } }));
      await own.api['models.wait']({ runId });
      model = (await own.api['runs.artifact']({ runId, name: 'model' })) as RunModel;
      all = await events(own.workspace);
    } finally {
      await own.close();
    }
    const server = await LocalEventHubServer.start({ partitions: 2 });
    const producer = new EventHubProducerClient(server.connectionString, { retryOptions: TUNED_RETRY });
    const children: ChildProcess[] = [];
    const startChild = (): { child: ChildProcess; stored: () => number; started: Promise<void>; log: () => string } => {
      const child = spawnCli(['stream', '--model', runId, '--workspace', path, '--table', 'crash', '--json', '--max-batch', '100'], { FLEETLENS_EVENTHUB_CONNECTION: server.connectionString });
      children.push(child);
      let log = '';
      child.stderr!.on('data', (c: Buffer) => (log += c.toString()));
      let stored = 0;
      let onStart: () => void = () => undefined;
      const started = new Promise<void>((r) => (onStart = r));
      createInterface({ input: child.stdout! }).on('line', (l) => {
        const m = JSON.parse(l) as { event: string; totals?: { stored: number } };
        if (m.event === 'started') onStart();
        if (m.totals) stored = m.totals.stored;
      });
      return { child, stored: () => stored, started, log: () => log };
    };
    const publish = async (rows: Record<string, unknown>[]): Promise<void> => {
      for (let p = 0; p < 2; p++) {
        const mine = rows.filter((e) => partitionForKey(String(e.device_id), 2) === p);
        // Small batches spread the events over time, so the crash lands between snapshots.
        for (let i = 0; i < mine.length; i += 50) {
          const b = await producer.createBatch({ partitionId: String(p) });
          for (const ev of mine.slice(i, i + 50)) b.tryAdd({ body: ev });
          await producer.sendBatch(b);
        }
      }
    };
    const until = async (cond: () => boolean, what: string): Promise<void> => {
      const deadline = Date.now() + 90_000;
      while (!cond()) {
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    };
    try {
      const first = startChild();
      await first.started;
      await publish(all.slice(0, 3000));
      await until(() => first.stored() >= 2000, '2000 stored');
      first.child.kill('SIGKILL');
      await new Promise((r) => first.child.once('exit', r));
      await publish(all.slice(3000));
      const second = startChild();
      await until(() => second.stored() >= all.length, 'every event stored');
      second.child.kill('SIGTERM');
      await new Promise((r) => second.child.once('exit', r));
      // The crash fell between state snapshots: some partition resumed before its stored position and replayed.
      const resumed = [...second.log().matchAll(/reading after sequence (-?\d+), stored up to (-?\d+)/g)].map((m) => [Number(m[1]), Number(m[2])]);
      expect(resumed.some(([read, stored]) => read! < stored!), second.log()).toBe(true);
    } finally {
      for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
      await producer.close();
      await server.stop();
    }
    const after = await createWorkbench({ workspace: path, mode: 'in-process' });
    try {
      const batch = await batchScores(model, after.workspace);
      const stored = await after.workspace.query(`SELECT event_id, score FROM crash`);
      expect(stored.length).toBe(all.length);
      const live = new Map(stored.map((r) => [Number(r.event_id), Number(r.score)]));
      // The restarted subscriber rebuilt each device's state from its last snapshot plus the
      // replayed events, so scores go on exactly as without the crash.
      expect(compare(live, batch)).toBeLessThanOrEqual(1e-9);
    } finally {
      await after.close();
    }
  }, 180_000);

  it('through the hub and the stored table, across a stop and restart', async () => {
    const { runId, model } = await train('isolation-forest', RICH, { n_trees: 30 });
    const batch = await batchScores(model);
    const server = await LocalEventHubServer.start({ partitions: 3 });
    const producer = new EventHubProducerClient(server.connectionString, { retryOptions: TUNED_RETRY });
    try {
      const all = await events();
      const publish = async (rows: Record<string, unknown>[]): Promise<void> => {
        // Per device to its partition, in time order.
        for (let p = 0; p < 3; p++) {
          let b = await producer.createBatch({ partitionId: String(p) });
          for (const ev of rows.filter((e) => partitionForKey(String(e.device_id), 3) === p)) {
            if (!b.tryAdd({ body: ev })) {
              await producer.sendBatch(b);
              b = await producer.createBatch({ partitionId: String(p) });
              b.tryAdd({ body: ev });
            }
          }
          if (b.count) await producer.sendBatch(b);
        }
      };
      const half = Math.floor(all.length / 2);
      await publish(all.slice(0, half));
      const start = () => wb.api['stream.start']({ connectionString: server.connectionString, model: runId, consumerGroup: 'lvb', table: 'lvb', dedupeField: 'event_id', maxBatchSize: 200 });
      const wait = async (subscriptionId: string, n: number): Promise<void> => {
        const deadline = Date.now() + 60_000;
        while ((await wb.api['stream.status']({ subscriptionId })).totals.stored < n) {
          if (Date.now() > deadline) throw new Error('timed out');
          await new Promise((r) => setTimeout(r, 100));
        }
      };
      const first = await start();
      await wait(first.subscriptionId, half);
      await wb.api['stream.stop']({ subscriptionId: first.subscriptionId });
      await publish(all.slice(half));
      const second = await start();
      await wait(second.subscriptionId, all.length);
      await wb.api['stream.stop']({ subscriptionId: second.subscriptionId });
      const stored = await wb.workspace.query(`SELECT event_id, score FROM lvb`);
      expect(stored.length).toBe(all.length);
      const live = new Map(stored.map((r) => [Number(r.event_id), Number(r.score)]));
      expect(compare(live, batch)).toBeLessThanOrEqual(1e-9);
    } finally {
      await producer.close();
      await server.stop();
    }
  }, 120_000);
});
