/**
 * Producer-only and drain throughput of the local hub server, with the server in its own child
 * process (as in an app/demo) and the real SDK clients here.
 *   node --import tsx bench/hub-throughput.ts [--events 100000] [--partitions 4] [--batch-bytes 1048576] [--max-batch 1000]
 * CPU seconds are read from /proc for the hub child. HUB_BENCH_NODE_ARGS passes extra node flags to
 * the hub child, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof" to profile it.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { EventHubConsumerClient, EventHubProducerClient, earliestEventPosition } from '@azure/event-hubs';

/** CPU seconds used so far by process `pid` (Linux /proc; NaN elsewhere). */
function cpuSeconds(pid: number | undefined): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return Number.NaN;
  }
}

function flag(argv: string[], name: string, fallback: number): number {
  const i = argv.indexOf(name);
  if (i < 0) return fallback;
  const v = Number(argv[i + 1]);
  if (!Number.isInteger(v) || v <= 0) throw new Error(`${name} needs a positive integer`);
  return v;
}

function cpu(a: NodeJS.CpuUsage, b: NodeJS.CpuUsage): string {
  return ((b.user - a.user + b.system - a.system) / 1e6).toFixed(2);
}

/** Runs the bench and prints one line per phase. */
export async function runHubBench(argv: string[]): Promise<void> {
  const events = flag(argv, '--events', 100_000);
  const partitions = flag(argv, '--partitions', 4);
  const batchBytes = flag(argv, '--batch-bytes', 1_048_576);
  const maxBatch = flag(argv, '--max-batch', 1000);
  const main = fileURLToPath(new URL('../core/stream/hub-main.ts', import.meta.url));
  const extra = (process.env['HUB_BENCH_NODE_ARGS'] ?? '').split(' ').filter(Boolean);
  const child = spawn(process.execPath, [...extra, '--import', 'tsx', main, '--port', '0', '--partitions', String(partitions)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  try {
    const line = await new Promise<string>((resolve, reject) => {
      createInterface({ input: child.stdout }).once('line', resolve);
      child.once('exit', (code) => reject(new Error(`hub exited early with code ${code}`)));
    });
    const announced: unknown = JSON.parse(line);
    const cs = (announced as { connectionString?: unknown }).connectionString;
    if (typeof cs !== 'string') throw new Error(`unexpected announcement: ${line}`);

    const producer = new EventHubProducerClient(cs);
    await producer.getPartitionIds();
    const perPartition = Math.ceil(events / partitions);
    const t0 = performance.now();
    const c0 = cpuSeconds(child.pid);
    const self0 = process.cpuUsage();
    // One sequential sender per partition, like a partitioned ingest pipeline.
    await Promise.all(
      Array.from({ length: partitions }, async (_, p) => {
        const n = Math.min(perPartition, events - p * perPartition);
        let batch = await producer.createBatch({ partitionId: String(p), maxSizeInBytes: batchBytes });
        for (let i = 0; i < n; i++) {
          const ev = { body: { device: `dev-${i % 97}`, ts: Date.now(), temp: 20 + (i % 13) * 0.5, seq: i } };
          if (batch.tryAdd(ev)) continue;
          await producer.sendBatch(batch);
          batch = await producer.createBatch({ partitionId: String(p), maxSizeInBytes: batchBytes });
          batch.tryAdd(ev);
        }
        if (batch.count > 0) await producer.sendBatch(batch);
      }),
    );
    const produceS = (performance.now() - t0) / 1000;
    await producer.close();
    const c1 = cpuSeconds(child.pid);
    const self1 = process.cpuUsage();
    console.log(
      `producer: ${events} events in ${produceS.toFixed(2)} s = ${Math.round(events / produceS)} ev/s ` +
        `(batch ${batchBytes} B, ${partitions} partitions; CPU s: hub ${(c1 - c0).toFixed(2)}, client ${cpu(self0, self1)})`,
    );

    const consumer = new EventHubConsumerClient('$Default', cs);
    let received = 0;
    const t1 = performance.now();
    const sub = consumer.subscribe(
      {
        processEvents: async (batch) => {
          received += batch.length;
        },
        processError: async (err) => {
          console.error(`consumer error: ${err.message}`);
        },
      },
      { startPosition: earliestEventPosition, maxBatchSize: maxBatch, maxWaitTimeInSeconds: 1 },
    );
    while (received < events) await new Promise((r) => setTimeout(r, 5));
    const drainS = (performance.now() - t1) / 1000;
    await sub.close();
    await consumer.close();
    const c2 = cpuSeconds(child.pid);
    console.log(
      `drain: ${received} events in ${drainS.toFixed(2)} s = ${Math.round(received / drainS)} ev/s ` +
        `(maxBatchSize ${maxBatch}, incl. subscribe start-up; CPU s: hub ${(c2 - c1).toFixed(2)}, client ${cpu(self1, process.cpuUsage())})`,
    );
  } finally {
    child.kill('SIGTERM');
  }
}

runHubBench(process.argv.slice(2)).catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : String(err));
  process.exitCode = 1;
});
