/**
 * Worker thread that runs the feature kernel (kernel.ts) for a large fit pass
 * (batch.ts): the engine's thread reads DuckDB's chunks and routes the rows
 * while this thread computes their features, chunk by chunk, in stream order.
 * Protocol in kernel-thread.ts.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { createKernel } from './kernel.ts';
import type { NumericFeature } from './recipe.ts';
import type { KernelReply, KernelRequest } from './kernel-thread.ts';

const port = parentPort!;
const { plan, centers, sensors } = workerData as { plan: NumericFeature[]; centers: number[]; sensors: number };
const kernel = createKernel(plan, centers, sensors);
const group = kernel.newGroup();
const F = plan.length;
const x = new Float64Array(sensors);
let groupId = NaN;

port.on('message', (m: KernelRequest) => {
  try {
    const n = m.n;
    // A buffer the engine handed back once it was done with it, when it is large enough.
    const feats = m.reuse && m.reuse.byteLength >= n * F * 8 ? new Float64Array(m.reuse, 0, n * F) : new Float64Array(n * F);
    const { readings, gid } = m;
    for (let i = 0; i < n; i++) {
      // Rows arrive sorted by group: a new group starts a fresh history.
      if (gid && gid[i] !== groupId) {
        groupId = gid[i]!;
        kernel.reset(group);
      }
      for (let s = 0; s < sensors; s++) x[s] = readings[s]![i]!;
      kernel.step(group, x, feats, i * F);
    }
    const reply: KernelReply = { id: m.id, feats };
    port.postMessage(reply, [feats.buffer as ArrayBuffer]);
  } catch (err) {
    const reply: KernelReply = { id: m.id, error: err instanceof Error ? err.message : String(err) };
    port.postMessage(reply);
  }
});
