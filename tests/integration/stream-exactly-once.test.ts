/**
 * Issue #7 acceptance: 100,000 events (1% malformed) replayed over 4 partitions of
 * the local hub server into `fleetlens stream`, with the subscriber SIGKILLed and
 * restarted mid-stream and the server SIGKILLed and restarted once (same port, same
 * store file). At the end the workspace holds every valid event exactly once (count
 * and ids), none twice, and every malformed one in the dead-letter table with its
 * reason. Every process is the real CLI (`node bin/fleetlens.mjs …`).
 */
import { afterAll, describe, expect, it } from 'vitest';
import { type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { DuckDBInstance } from '@duckdb/node-api';
import { createWorkbench } from '../../core/app.ts';
import { malformedKind } from '../../core/stream/replay.ts';
import type { StreamStatus } from '../../core/stream/api.ts';
import { writeFleet } from '../../samples/generate-fleet.ts';
import { spawnCli } from '../helpers/cli.ts';
import { ROOT, tempDir } from '../helpers/tmp.ts';
import { join } from 'node:path';

/** Rows asked of the generator; it finishes the last trips, so a few more come out. */
const ROWS = 100_000;
const MALFORMED_RATE = 0.01;
const RATE = 3000;

const tmp = tempDir('fleetlens-exactly-once-');
const children = new Set<ChildProcess>();
afterAll(() => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  tmp.cleanup();
});

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const log = (msg: string): void => void process.stdout.write(`[exactly-once ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);

/** A CLI child whose stdout JSON lines are parsed as they come. */
function start(args: string[], env: Record<string, string> = {}): { child: ChildProcess; lines: Record<string, unknown>[]; stderr: () => string; exited: Promise<number | null> } {
  const child = spawnCli(args, env);
  children.add(child);
  const lines: Record<string, unknown>[] = [];
  let err = '';
  createInterface({ input: child.stdout! }).on('line', (l) => {
    try {
      lines.push(JSON.parse(l) as Record<string, unknown>);
    } catch {
      // Human output; not needed.
    }
  });
  child.stderr!.on('data', (c: Buffer) => (err = (err + c.toString()).slice(-20_000)));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, lines, stderr: () => err, exited };
}

async function waitFor<T>(get: () => T | undefined, what: string, ms: number): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = get();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

describe('stream exactly once', () => {
  it('stores every valid event exactly once across a subscriber and a server crash', async () => {
    const t0 = Date.now();
    const csv = join(tmp.dir, 'fleet.csv');
    const EVENTS = (await writeFleet({ out: csv, rows: ROWS, seed: 11 })).rows;
    const ws = join(tmp.dir, 'ws.duckdb');
    const wb = await createWorkbench({ workspace: ws, mode: 'in-process' });
    let runId: string;
    try {
      await wb.api['datasets.import']({ dataset: 'fleet', files: [join(ROOT, 'samples', 'fleet-small.csv')] });
      ({ runId } = await wb.api['models.train']({ dataset: 'fleet', detector: 'isolation-forest', params: { n_trees: 50 }, seed: 1 }));
      await wb.api['models.wait']({ runId });
    } finally {
      // One DuckDB file, one process: the stream child opens it next.
      await wb.close();
    }
    log(`model ${runId} trained, ${EVENTS} rows generated (${((Date.now() - t0) / 1000).toFixed(1)} s)`);

    const store = join(tmp.dir, 'hub.log');
    let hub = start(['hub', '--port', '0', '--store', store, '--partitions', '4']);
    const announced = await waitFor(() => hub.lines.find((l) => l.event === 'listening'), 'the hub', 60_000);
    const port = String(announced.port);
    const env = { FLEETLENS_EVENTHUB_CONNECTION: String(announced.connectionString) };
    const streamArgs = ['stream', '--model', runId, '--workspace', ws, '--table', 'scored', '--consumer-group', 'exactly-once', '--dedupe-field', 'event_id', '--metrics-port', '0', '--json'];
    const stats = (s: ReturnType<typeof start>): StreamStatus | undefined => s.lines.filter((l) => l.event === 'stats').at(-1) as StreamStatus | undefined;
    const handled = (s: StreamStatus | undefined): number => (s ? s.totals.stored + s.totals.deadLettered : 0);

    let stream = start(streamArgs, env);
    await waitFor(() => stream.lines.find((l) => l.event === 'started'), 'the subscriber', 60_000);
    const replay = start(['replay', '--file', csv, '--rate', String(RATE), '--malformed-rate', String(MALFORMED_RATE), '--json'], env);
    log('subscriber and replay started');

    // Crash the subscriber with a fifth of the events handled, and start it again at once.
    await waitFor(() => (handled(stats(stream)) >= EVENTS / 5 ? true : undefined), 'a fifth of the events', 120_000);
    stream.child.kill('SIGKILL');
    await stream.exited;
    log(`subscriber SIGKILLed after ${handled(stats(stream))} handled; restarting`);
    stream = start(streamArgs, env);
    const restarted = await waitFor(() => stream.lines.find((l) => l.event === 'started'), 'the restarted subscriber', 60_000);

    // Crash the server while the replay is still sending, and start it again on the same port
    // with the same store: the producer retries, the subscriber reconnects.
    const sent = (): number => Number((replay.lines.filter((l) => l.event === 'progress').at(-1) as { sent?: number } | undefined)?.sent ?? 0);
    await waitFor(() => (sent() >= EVENTS * 0.6 || replay.child.exitCode !== null ? true : undefined), '60% of the events sent', 120_000);
    expect(replay.child.exitCode, 'the replay finished before the server could be killed').toBeNull();
    hub.child.kill('SIGKILL');
    await hub.exited;
    log(`server SIGKILLed with ${sent()} sent and ${handled(stats(stream))} handled; restarting on port ${port}`);
    await sleep(1000);
    hub = start(['hub', '--port', port, '--store', store, '--partitions', '4']);
    await waitFor(() => hub.lines.find((l) => l.event === 'listening'), 'the restarted hub', 60_000);

    const code = await replay.exited;
    expect(code, replay.stderr()).toBe(0);
    const summary = replay.lines.find((l) => l.event === 'summary') as { sent: number; malformed: number; retries: number };
    expect(summary.sent).toBe(EVENTS);
    log(`replay done: ${summary.sent} sent, ${summary.malformed} malformed, ${summary.retries} batch retries`);

    await waitFor(() => (handled(stats(stream)) >= EVENTS ? true : undefined), 'stored + dead-lettered = sent', 120_000).catch((err: unknown) => {
      throw new Error(`${(err as Error).message}; last status ${JSON.stringify(stats(stream))}; stderr ${stream.stderr().slice(-3000)}`);
    });
    const last = stats(stream)!;
    const metrics = await (await fetch(`http://127.0.0.1:${String(restarted.metricsPort)}/metrics`)).text();
    for (const name of ['fleetlens_stream_events_total', 'fleetlens_stream_stored_total', 'fleetlens_stream_dead_lettered_total', 'fleetlens_stream_alarms_total', 'fleetlens_stream_latency_seconds_bucket']) {
      expect(metrics).toContain(name);
    }
    expect(metrics).toMatch(/fleetlens_stream_backlog_events\{[^}]*partition="3"\} 0/);
    log(`subscriber caught up: ${JSON.stringify(last.totals)}, duplicates skipped ${last.counts.duplicates}`);
    stream.child.kill('SIGTERM');
    expect(await stream.exited, stream.stderr()).toBe(0);
    hub.child.kill('SIGTERM');
    await hub.exited;

    const expectedBad = new Map<string, string>();
    const expectedGood = new Set<string>();
    for (let id = 0; id < EVENTS; id++) {
      const kind = malformedKind(id, MALFORMED_RATE, 0);
      if (kind) expectedBad.set(String(id), kind);
      else expectedGood.add(String(id));
    }
    expect(summary.malformed).toBe(expectedBad.size);

    const inst = await DuckDBInstance.create(ws);
    const con = await inst.connect();
    try {
      const rows = async (sql: string): Promise<unknown[][]> => (await con.runAndReadAll(sql)).getRows();
      const [[n, distinctIds, distinctPos, nullScores]] = (await rows(
        `SELECT count(*), count(DISTINCT event_id), count(DISTINCT (eh_partition, eh_sequence, eh_item)), count(*) FILTER (WHERE score IS NULL) FROM scored`,
      )) as [[bigint, bigint, bigint, bigint]];
      expect(Number(n)).toBe(expectedGood.size);
      expect(Number(distinctIds)).toBe(expectedGood.size);
      expect(Number(distinctPos)).toBe(expectedGood.size);
      expect(Number(nullScores)).toBe(0);
      const storedIds = new Set((await rows(`SELECT event_id FROM scored`)).map((r) => String(r[0])));
      expect([...expectedGood].filter((id) => !storedIds.has(id))).toEqual([]);

      const dead = await rows(`SELECT event_id, reason, body FROM scored_dead_letters`);
      expect(dead.length).toBe(expectedBad.size);
      const deadIds = new Set(dead.map((r) => String(r[0])));
      expect(deadIds.size).toBe(dead.length);
      for (const [id, reason, body] of dead) {
        expect(expectedBad.get(String(id)), `dead letter ${String(id)}`).toBe(reason);
        expect(String(body).length).toBeGreaterThan(0);
      }
      // Both positions of every partition cover everything the hub holds.
      const cps = await rows(`SELECT partition_id, sequence_number, stored_sequence_number FROM fleetlens.eh_checkpoints WHERE consumer_group = 'exactly-once' ORDER BY 1`);
      expect(cps.length).toBe(4);
      const lastSeq = await rows(`SELECT eh_partition, max(eh_sequence) FROM (SELECT eh_partition, eh_sequence FROM scored UNION ALL SELECT eh_partition, eh_sequence FROM scored_dead_letters) GROUP BY 1 ORDER BY 1`);
      for (const [pid, seq, stored] of cps) {
        const mx = lastSeq.find((r) => r[0] === pid)![1];
        expect(Number(stored)).toBeGreaterThanOrEqual(Number(mx));
        expect(Number(seq)).toBe(Number(stored));
      }
    } finally {
      con.closeSync();
      inst.closeSync();
    }
    log(`verified in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  }, 240_000);
});
