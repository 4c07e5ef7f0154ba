/**
 * Live scoring benchmark (issue #7). The local hub server and the producer
 * (`fleetlens replay`) run in their own processes; the consumers under test run
 * here, so their CPU and RSS are this process's.
 *
 *   node --import tsx bench/stream.ts [--events 200000] [--seconds 60] [--rates 1000,5000,10000]
 *     [--soak-seconds 300] [--soak-rate 5000] [--phases catchup,live,soak]
 *
 * 1. catch-up: a stored backlog drained by the bare SDK consumer (no work; bodies not even
 *    JSON-parsed) and by the pipeline (parse, score, persist, checkpoint); rates and ratio.
 * 2. live: a fixed-rate producer per rate; achieved rate and end-to-end latency (enqueued in the
 *    hub → scored and stored) of the events sent after the first 3 s (warm-up: subscription
 *    start, JIT), wherever they are stored.
 * 3. soak: RSS every 10 s at a fixed rate; growth from the first sample at or after a warm-up of
 *    min(60 s, a quarter of the run) to the largest later one, and from the very first sample.
 * Prints figures; asserts nothing (timings depend on the machine).
 * BENCH_WAL=1GB (any DuckDB size) sets wal_autocheckpoint on the workspace, to show what DuckDB's
 * automatic checkpoints (default every 16 MB of WAL) do to the latency tail.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { EventHubConsumerClient, earliestEventPosition } from '@azure/event-hubs';
import { createWorkbench } from '../core/app.ts';
import { resolveModel, StreamPipeline } from '../core/stream/pipeline.ts';
import { ROOT, RESULTS, arg } from './lib.ts';

const BIN = join(ROOT, 'bin', 'fleetlens.mjs');
const SAMPLE = join(ROOT, 'samples', 'fleet-small.csv');

function cpuSeconds(pid: number | undefined): number {
  try {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return (Number(f[11]) + Number(f[12])) / 100;
  } catch {
    return Number.NaN;
  }
}

function selfCpu(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function quantile(sorted: Float64Array, q: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

async function startHub(store: string): Promise<{ child: ChildProcess; cs: string }> {
  const child = spawn(process.execPath, [BIN, 'hub', '--port', '0', '--partitions', '4', '--store', store], { stdio: ['ignore', 'pipe', 'inherit'] });
  const line = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout! }).once('line', resolve);
    child.once('exit', (code) => reject(new Error(`hub exited early with code ${code}`)));
  });
  return { child, cs: (JSON.parse(line) as { connectionString: string }).connectionString };
}

/** Run `fleetlens replay` to completion; returns its JSON summary. */
function replayChild(cs: string, args: string[]): { child: ChildProcess; done: Promise<{ sent: number; ratePerSecond: number; elapsedMs: number }> } {
  const child = spawn(process.execPath, [BIN, 'replay', '--file', SAMPLE, '--loop', '--json', ...args], {
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, FLEETLENS_EVENTHUB_CONNECTION: cs },
  });
  let out = '';
  child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
  const done = new Promise<{ sent: number; ratePerSecond: number; elapsedMs: number }>((resolve, reject) => {
    child.once('exit', (code) => (code === 0 ? resolve(JSON.parse(out.trim().split('\n').at(-1)!)) : reject(new Error(`replay exited with ${code}`))));
    // The last line is the summary (`{"event":"summary",...}`); the ones before are progress.
  });
  return { child, done };
}

async function main(): Promise<void> {
  const events = Number(arg('events', '200000'));
  const seconds = Number(arg('seconds', '60'));
  const rates = arg('rates', '1000,5000,10000').split(',').map(Number);
  const soakSeconds = Number(arg('soak-seconds', '300'));
  const soakRate = Number(arg('soak-rate', '5000'));
  const phases = new Set(arg('phases', 'catchup,live,soak').split(','));
  const dir = mkdtempSync(join(tmpdir(), 'fleetlens-bench-stream-'));
  const results: Record<string, unknown> = { events, seconds, rates, soakSeconds, soakRate };
  const wb = await createWorkbench({ workspace: join(dir, 'ws.duckdb'), mode: 'in-process' });
  const hub = await startHub(join(dir, 'hub.log'));
  if (process.env.BENCH_WAL) await wb.workspace.run(`SET wal_autocheckpoint = '${process.env.BENCH_WAL}'`);
  try {
    await wb.api['datasets.import']({ dataset: 'fleet', files: [SAMPLE] });
    const { runId } = await wb.api['models.train']({ dataset: 'fleet', detector: 'isolation-forest', seed: 7 });
    await wb.api['models.wait']({ runId });
    const model = await resolveModel(wb.store, runId);
    console.log(`model: isolation-forest run ${runId}; hub child pid ${hub.child.pid}`);
    const startPipeline = (group: string, start: 'earliest' | 'latest', onScored?: (ms: number) => void): Promise<StreamPipeline> =>
      StreamPipeline.start({ workspace: wb.workspace, connectionString: hub.cs, consumerGroup: group, startPosition: start, model, table: `bench_${group}`, dedupeField: 'event_id', onScored });

    if (phases.has('catchup')) {
      const r = replayChild(hub.cs, ['--limit', String(events)]);
      const produced = await r.done;
      console.log(`backlog: ${produced.sent.toLocaleString('en-US')} events stored in the hub at ${produced.ratePerSecond.toFixed(0)} ev/s`);

      // Two rounds, alternating, each on fresh consumer groups: the machine's load drifts, so the
      // best of each is compared (every round is printed).
      const bareRates: number[] = [];
      const pipeRates: number[] = [];
      let bareCpu = 0;
      let pipeCpu = 0;
      for (let round = 1; round <= 2; round++) {
        const bare = new EventHubConsumerClient(`bare${round}`, hub.cs);
        let received = 0;
        let c0 = selfCpu();
        let h0 = cpuSeconds(hub.child.pid);
        let t0 = performance.now();
        const sub = bare.subscribe(
          { processEvents: async (b) => void (received += b.length), processError: async () => undefined },
          { startPosition: earliestEventPosition, maxBatchSize: 1000, maxWaitTimeInSeconds: 1, prefetchCount: 3000, skipParsingBodyAsJson: true },
        );
        while (received < produced.sent) await sleep(5);
        const bareS = (performance.now() - t0) / 1000;
        bareCpu = selfCpu() - c0;
        const bareHub = cpuSeconds(hub.child.pid) - h0;
        await sub.close();
        await bare.close();
        bareRates.push(produced.sent / bareS);
        console.log(`catch-up round ${round}, bare SDK consumer: ${produced.sent} events in ${bareS.toFixed(2)} s = ${(produced.sent / bareS).toFixed(0)} ev/s (CPU s: here ${bareCpu.toFixed(1)}, hub ${bareHub.toFixed(1)})`);

        c0 = selfCpu();
        h0 = cpuSeconds(hub.child.pid);
        t0 = performance.now();
        const p = await startPipeline(`catchup${round}`, 'earliest');
        while (p.status().counts.received < produced.sent || p.status().partitions.some((x) => (x.backlog ?? 1) > 0)) await sleep(10);
        const pipeS = (performance.now() - t0) / 1000;
        pipeCpu = selfCpu() - c0;
        const pipeHub = cpuSeconds(hub.child.pid) - h0;
        const st = p.status();
        await p.stop();
        pipeRates.push(produced.sent / pipeS);
        console.log(
          `catch-up round ${round}, pipeline (score + store + checkpoint): ${pipeS.toFixed(2)} s = ${(produced.sent / pipeS).toFixed(0)} ev/s (CPU s: here ${pipeCpu.toFixed(1)}, hub ${pipeHub.toFixed(1)}); stored ${st.counts.stored}, dead-lettered ${st.counts.deadLettered}`,
        );
      }
      const bareRate = Math.max(...bareRates);
      const pipeRate = Math.max(...pipeRates);
      console.log(`catch-up best: bare ${bareRate.toFixed(0)} ev/s, pipeline ${pipeRate.toFixed(0)} ev/s, ratio ${(pipeRate / bareRate).toFixed(2)} (target ≥ 0.8); CPU per event: bare ${((bareCpu / produced.sent) * 1e6).toFixed(0)} µs, pipeline ${((pipeCpu / produced.sent) * 1e6).toFixed(0)} µs`);
      results.catchup = { events: produced.sent, bareRate, pipeRate, ratio: pipeRate / bareRate, bareCpu, pipeCpu };
    }

    if (phases.has('live')) {
      const live: unknown[] = [];
      for (const rate of rates) {
        const lat: number[] = [];
        // Latency is measured for the events sent after a 3 s warm-up (subscription start, JIT):
        // an event counts when it was enqueued in the hub at or after the warm-up's end, whenever
        // it is stored.
        let warmEnd = Infinity;
        let measuring = true;
        const p = await startPipeline(`live${rate}`, 'latest', (ms) => measuring && Date.now() - ms >= warmEnd && lat.push(ms));
        const before = p.status().counts.stored;
        const c0 = selfCpu();
        const h0 = cpuSeconds(hub.child.pid);
        const r = replayChild(hub.cs, ['--rate', String(rate), '--limit', String(Math.round(rate * seconds))]);
        warmEnd = Date.now() + 3000;
        await sleep(3000);
        const storedAt3 = p.status().counts.stored;
        const t3 = performance.now();
        const produced = await r.done;
        const storedEnd = p.status().counts.stored;
        const window = (performance.now() - t3) / 1000;
        // Let the tail drain before stopping (its latencies count: those events were sent after the warm-up).
        const deadline = Date.now() + 30_000;
        while (p.status().counts.received < produced.sent && Date.now() < deadline) await sleep(50);
        await sleep(500);
        measuring = false;
        const cpu = selfCpu() - c0;
        const hubCpu = cpuSeconds(hub.child.pid) - h0;
        await p.stop();
        const sorted = Float64Array.from(lat).sort();
        const achieved = (storedEnd - storedAt3) / window;
        const row = { rate, producerRate: produced.ratePerSecond, achieved, p50: quantile(sorted, 0.5), p99: quantile(sorted, 0.99), max: sorted.at(-1) ?? NaN, samples: sorted.length, cpuHere: cpu, cpuHub: hubCpu, stored: storedEnd - before };
        live.push(row);
        console.log(
          `live ${rate}/s for ${seconds} s: producer ${produced.ratePerSecond.toFixed(0)}/s, stored ${achieved.toFixed(0)}/s after warm-up; latency of the events sent after the 3 s warm-up: p50 ${row.p50.toFixed(0)} ms, p99 ${row.p99.toFixed(0)} ms, max ${row.max.toFixed(0)} ms (${row.samples} events); CPU s here ${cpu.toFixed(1)}, hub ${hubCpu.toFixed(1)}`,
        );
      }
      results.live = live;
    }

    if (phases.has('soak')) {
      const p = await startPipeline('soak', 'latest');
      const r = replayChild(hub.cs, ['--rate', String(soakRate), '--limit', String(Math.round(soakRate * soakSeconds))]);
      const samples: { t: number; rssMiB: number; heapMiB: number; duckdbMiB: number; stored: number }[] = [];
      const t0 = performance.now();
      let finished = false;
      void r.done.finally(() => (finished = true));
      while (!finished) {
        await sleep(10_000);
        const mem = process.memoryUsage();
        const duck = await wb.workspace.query(`SELECT sum(memory_usage_bytes) AS b FROM duckdb_memory()`);
        const s = { t: Math.round((performance.now() - t0) / 1000), rssMiB: mem.rss / 1048576, heapMiB: mem.heapUsed / 1048576, duckdbMiB: Number(duck[0]!.b) / 1048576, stored: p.status().counts.stored };
        samples.push(s);
        console.log(`soak t=${s.t}s rss ${s.rssMiB.toFixed(0)} MiB (JS heap ${s.heapMiB.toFixed(0)}, DuckDB ${s.duckdbMiB.toFixed(0)}) stored ${s.stored}`);
      }
      await r.done;
      await p.stop();
      // Growth after warm-up (caches, the de-duplication window and DuckDB's memory fill in the
      // first minute): from the first sample at or after min(60 s, a quarter of the run) to the
      // largest later one. Growth from the very first sample is printed too.
      const warm = Math.min(60, soakSeconds / 4);
      const from = Math.max(0, samples.findIndex((s) => s.t >= warm));
      const base = samples[from]!.rssMiB;
      const first = samples[0]!.rssMiB;
      const peak = Math.max(...samples.slice(from).map((s) => s.rssMiB));
      const last = samples.at(-1)!.rssMiB;
      console.log(
        `soak ${soakRate}/s for ${soakSeconds} s: RSS ${base.toFixed(0)} MiB at ${samples[from]!.t} s → max ${peak.toFixed(0)} MiB, last ${last.toFixed(0)} MiB (${(((peak - base) / base) * 100).toFixed(1)}% growth after warm-up; target ≤ 10%); first sample ${first.toFixed(0)} MiB at ${samples[0]!.t} s (${(((Math.max(...samples.map((s) => s.rssMiB)) - first) / first) * 100).toFixed(1)}% to the max)`,
      );
      results.soak = { samples, growth: (peak - base) / base, growthFromFirst: (Math.max(...samples.map((s) => s.rssMiB)) - first) / first };
    }
    mkdirSync(RESULTS, { recursive: true });
    writeFileSync(join(RESULTS, 'stream.json'), JSON.stringify(results, null, 2));
  } finally {
    hub.child.kill('SIGTERM');
    await wb.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err instanceof Error ? err.stack ?? err.message : String(err));
    process.exit(1);
  },
);
