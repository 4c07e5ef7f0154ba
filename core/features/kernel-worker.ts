/**
 * Worker thread that runs the feature kernel (kernel.ts) for a large fit pass
 * (batch.ts): the engine's thread reads DuckDB's chunks and routes the rows
 * while this thread computes their features, chunk by chunk, in stream order.
 * Protocol in kernel-thread.ts.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { createChunkKernel } from './kernel.ts';
import type { NumericFeature } from './recipe.ts';
import type { KernelReply, KernelRequest } from './kernel-thread.ts';

const port = parentPort!;
const { plan, centers, sensors } = workerData as { plan: NumericFeature[]; centers: number[]; sensors: number };
const run = createChunkKernel(plan, centers, sensors);
const F = plan.length;

port.on('message', (m: KernelRequest) => {
  try {
    // A buffer the engine handed back once it was done with it, when it is large enough.
    const feats = m.reuse && m.reuse.byteLength >= m.n * F * 8 ? new Float64Array(m.reuse, 0, m.n * F) : new Float64Array(m.n * F);
    run(m.n, m.readings, m.gid, m.need, feats);
    const reply: KernelReply = { id: m.id, feats };
    port.postMessage(reply, [feats.buffer as ArrayBuffer]);
  } catch (err) {
    const reply: KernelReply = { id: m.id, error: err instanceof Error ? err.message : String(err) };
    port.postMessage(reply);
  }
});
