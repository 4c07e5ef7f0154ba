/**
 * Batch scoring of the live pipeline (issue #7): a batch staged record by record and
 * settled together (scores as matrices) gives the very results and state that scoring
 * its records one by one gives, bad records included; and the worker-thread engine
 * gives what the inline one gives, loading saved state when a batch needs it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Workbench } from '../../core/app.ts';
import type { RunModel } from '../../core/models/train.ts';
import type { FeatureRecipe } from '../../core/features/recipe.ts';
import { createScorer, decodeBody, type ItemResult, type LiveModel, type ScorerOptions } from '../../core/stream/scorer.ts';
import { ANOMALY, ALARM, NO_SCORE, RAISED, kindsOf, packBatch, prepareBatch, scoreBatch, type BatchResult, type RawEvent } from '../../core/stream/score-batch.ts';
import { InlineScoring, WorkerScoring, type ScoringEngine } from '../../core/stream/scoring.ts';
import { tempDir } from '../helpers/tmp.ts';
import { openSampleFleet } from '../helpers/fleet.ts';

const tmp = tempDir('fleetlens-scorebatch-');
let wb: Workbench;
let live: LiveModel;
let rows: Record<string, unknown>[];

const RECIPE: FeatureRecipe = {
  version: 1,
  sensors: ['airflow_rate', 'rotation_speed', 'air_pressure', 'temperature', 'delay', 'density'],
  groupBy: 'device',
  includeRaw: true,
  lags: [1],
  diffs: [1],
  rolling: [{ window: 5, stats: ['mean', 'std'] }],
  ewm: [{ span: 8, deviation: true }],
  categoricals: [],
  fill: 'mean',
  standardize: true,
};

beforeAll(async () => {
  wb = await openSampleFleet(tmp);
  const { runId } = await wb.api['models.train']({ dataset: 'fleet', detector: 'robust-z', seed: 2, recipe: RECIPE });
  await wb.api['models.wait']({ runId });
  live = { kind: 'single', engine: { runId, model: (await wb.api['runs.artifact']({ runId, name: 'model' })) as RunModel } };
  rows = (await wb.workspace.query(
    `SELECT rowid AS event_id, device_id, trip_id, strftime(timestamp, '%Y-%m-%dT%H:%M:%S.%gZ') AS timestamp,
            airflow_rate, rotation_speed, air_pressure, temperature, delay, density FROM fleet ORDER BY timestamp, rowid LIMIT 3000`,
  )) as Record<string, unknown>[];
}, 120_000);
afterAll(async () => {
  await wb.close();
  tmp.cleanup();
});

// A low threshold and a 2-of-3 rule make alarms frequent, so alarm state is exercised.
const OPTS: ScorerOptions = { deviceColumn: 'device_id', temporal: true, dedupeField: 'event_id', alarmRule: { k: 2, n: 3 } };
const lowThreshold = (m: LiveModel): LiveModel => (m.kind === 'single' ? { kind: 'single', engine: { ...m.engine, model: { ...m.engine.model, threshold: 1.5 } } } : m);

/** Event bodies: the rows as JSON, with bad ones mixed in (each kind the scorer refuses, duplicates, a non-finite reading). */
function bodies(): string[] {
  const out: string[] = [];
  rows.forEach((r, i) => {
    if (i % 97 === 5) out.push(JSON.stringify({ ...r, airflow_rate: undefined })); // missing field
    else if (i % 89 === 7) out.push(JSON.stringify({ ...r, density: 'n/a' })); // not numeric
    else if (i % 83 === 11) out.push(JSON.stringify(rows[Math.max(0, i - 60)])); // duplicate id (and out of order)
    else if (i % 211 === 13) out.push(JSON.stringify(r).replace(/"delay":[^,}]+/, '"delay":1e999')); // Infinity: read as missing
    else if (i % 101 === 17) out.push('{"truncated": '); // not JSON
    else out.push(JSON.stringify(r));
  });
  return out;
}

function rawEvents(texts: string[]): RawEvent[] {
  return texts.map((t, i) => ({ body: Buffer.from(t), sequenceNumber: i, enqueuedTimeUtc: new Date(1_700_000_000_000 + i), properties: { event_id: i } }));
}

/** Comparable view of scored rows and dead letters. */
function view(results: BatchResult[]): { scored: unknown[]; dead: unknown[]; alarms: unknown[]; duplicates: number } {
  const scored: unknown[] = [];
  const dead: unknown[] = [];
  const alarms: unknown[] = [];
  let duplicates = 0;
  for (const r of results) {
    const c = r.scored;
    for (let i = 0; i < c.n; i++) {
      const f = c.flags[i]!;
      scored.push([c.seq[i], c.eventId[i], c.device[i], c.time[i], f & NO_SCORE ? null : c.score[i], (f & ANOMALY) !== 0, (f & ALARM) !== 0, (f & RAISED) !== 0, c.num.map((a) => a?.[i] ?? null), c.text.map((a) => a?.[i] ?? null)]);
    }
    for (const d of r.dead) dead.push([d.sequenceNumber, d.eventId, d.reason, d.detail]);
    for (const a of r.alarms) alarms.push([a.sequenceNumber, a.score, a.sensors, a.features]);
    duplicates += r.duplicates;
  }
  return { scored, dead, alarms, duplicates };
}

describe('batch scoring', () => {
  it('staged and settled per batch equals record by record, results and state', () => {
    const model = lowThreshold(live);
    const texts = bodies();
    const events = rawEvents(texts);

    // Record by record with `process`, handling bad bodies and ids the way scoreBatch does.
    const one = createScorer(model, OPTS);
    const expScored: unknown[] = [];
    const expDead: unknown[] = [];
    let expDuplicates = 0;
    texts.forEach((t, i) => {
      const d = decodeBody(Buffer.from(t));
      const propId = String(i);
      if (!d.ok) {
        if (one.isSeen(propId)) expDuplicates++;
        else {
          one.seedSeen([propId]);
          expDead.push([i, propId, d.reason, d.detail]);
        }
        return;
      }
      let r: ItemResult;
      try {
        r = one.process(d.records[0], 0, propId);
      } catch (err) {
        expDead.push([i, propId, 'scoring_failed', (err as Error).message]);
        return;
      }
      if (r.kind === 'duplicate') expDuplicates++;
      else if (r.kind === 'dead') expDead.push([i, r.eventId, r.reason, r.detail]);
      else expScored.push([i, r.eventId, r.device, r.time, r.score, r.anomaly, r.alarm, r.raised]);
    });

    const many = createScorer(model, OPTS);
    const kinds = kindsOf(many);
    const got: BatchResult[] = [];
    for (let i = 0; i < events.length; i += 250) {
      const b = packBatch('0', events.slice(i, i + 250), 'event_id', -1);
      got.push(scoreBatch(many, b, prepareBatch(many, b), kinds, { snapshot: false, evictIdleMs: 1e9 }));
    }
    const g = view(got);
    expect(g.scored.length).toBeGreaterThan(2000);
    expect(g.alarms.length).toBeGreaterThan(5);
    expect(new Set(g.dead.map((d) => (d as unknown[])[2]))).toEqual(new Set(['missing_field', 'non_numeric', 'out_of_order', 'invalid_json']));
    expect(g.duplicates).toBeGreaterThan(0);
    expect(g.scored.map((x) => (x as unknown[]).slice(0, 8))).toEqual(expScored);
    expect(g.dead).toEqual(expDead);
    expect(g.duplicates).toBe(expDuplicates);
    // Same state afterwards, entry by entry.
    const keysOne = one.takeDirty().sort();
    const keysMany = many.takeDirty().sort();
    expect(keysMany).toEqual(keysOne);
    for (const k of keysOne) expect(many.exportState(k)).toBe(one.exportState(k));
  });

  it('scores the same in a worker thread as inline, loading saved state when a batch needs it', async () => {
    const model = lowThreshold(live);
    const events = rawEvents(bodies());
    const half = 1500;
    const run = async (engine: ScoringEngine): Promise<{ results: BatchResult[]; loads: number }> => {
      const results: BatchResult[] = [];
      let saved = new Map<string, string>();
      let loads = 0;
      const load = async (keys: string[]): Promise<Map<string, string>> => {
        loads++;
        return new Map(keys.filter((k) => saved.has(k)).map((k) => [k, saved.get(k)!]));
      };
      try {
        await engine.open('a');
        // Several batches in flight at once, as the pipeline sends them.
        const first: Promise<BatchResult>[] = [];
        for (let i = 0; i < half; i += 100) first.push(engine.score('a', packBatch('0', events.slice(i, i + 100), 'event_id', -1), { snapshot: false, evictIdleMs: 1e9 }, load));
        results.push(...(await Promise.all(first)));
        saved = new Map((await engine.snapshot('a')).map((x) => [x.key, x.value]));
        // A new scorer for the partition (as after a restart) continues from the saved state.
        await engine.open('b');
        // Seen ids come back from storage, as the pipeline reads them: stored and dead-lettered ids in sequence order.
        const stored: [number, string][] = [];
        for (const r of results) {
          for (let i = 0; i < r.scored.n; i++) if (r.scored.eventId[i] != null) stored.push([r.scored.seq[i]!, r.scored.eventId[i]!]);
          for (const d of r.dead) if (d.eventId !== null) stored.push([d.sequenceNumber, d.eventId]);
        }
        engine.seed('b', stored.sort((x, y) => x[0] - y[0]).map((x) => x[1]));
        const second: Promise<BatchResult>[] = [];
        for (let i = half; i < events.length; i += 100) second.push(engine.score('b', packBatch('0', events.slice(i, i + 100), 'event_id', -1), { snapshot: i + 100 >= events.length, evictIdleMs: 1e9 }, load));
        results.push(...(await Promise.all(second)));
      } finally {
        await engine.close();
      }
      return { results, loads };
    };
    const inline = await run(new InlineScoring(model, OPTS));
    const worker = await run(new WorkerScoring(model, OPTS));
    expect(worker.loads).toBeGreaterThan(0);
    expect(view(worker.results)).toEqual(view(inline.results));
    expect(worker.results.at(-1)!.snapshot).toEqual(inline.results.at(-1)!.snapshot);

    // And both equal one scorer that never stopped.
    const straight = createScorer(model, OPTS);
    const kinds = kindsOf(straight);
    const whole: BatchResult[] = [];
    for (let i = 0; i < events.length; i += 100) {
      const b = packBatch('0', events.slice(i, i + 100), 'event_id', -1);
      whole.push(scoreBatch(straight, b, prepareBatch(straight, b), kinds, { snapshot: false, evictIdleMs: 1e9 }));
    }
    expect(view(inline.results)).toEqual(view(whole));
  }, 60_000);

  it('a scoring worker that dies fails the calls in flight, and the partition re-opened gets a new worker that scores alike', async () => {
    const model = lowThreshold(live);
    const events = rawEvents(bodies()).slice(0, 400);
    const batch = (from: number, to: number) => packBatch('0', events.slice(from, to), 'event_id', -1);
    const noState = async (): Promise<Map<string, string>> => new Map();
    const engine = new WorkerScoring(model, OPTS);
    try {
      await engine.open('a');
      await engine.score('a', batch(0, 100), { snapshot: false, evictIdleMs: 1e9 }, noState);
      const inFlight = engine.score('a', batch(100, 400), { snapshot: false, evictIdleMs: 1e9 }, noState);
      // Killed from outside, as a crash would: the call in flight is refused, not left hanging.
      await (engine as unknown as { worker: { terminate(): Promise<number> } }).worker.terminate();
      await expect(inFlight).rejects.toThrow(/scoring worker exited/);
      await expect(engine.score('a', batch(100, 200), { snapshot: false, evictIdleMs: 1e9 }, noState)).rejects.toThrow(/no scorer 'a'/);
      // The pipeline re-opens the partition: a new worker, a fresh scorer, the same results as a fresh inline one.
      await engine.open('a2');
      const again = await engine.score('a2', batch(100, 400), { snapshot: false, evictIdleMs: 1e9 }, noState);
      const inline = new InlineScoring(model, OPTS);
      await inline.open('a2');
      expect(view([again])).toEqual(view([await inline.score('a2', batch(100, 400), { snapshot: false, evictIdleMs: 1e9 }, noState)]));
      expect(again.scored.n).toBeGreaterThan(0);
    } finally {
      await engine.close();
    }
  }, 60_000);
});
