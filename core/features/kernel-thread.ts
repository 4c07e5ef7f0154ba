/**
 * The feature kernel in a worker thread (kernel-worker.ts), for large fit passes:
 * at 10M rows the kernel was ~8.5 of the ~14 s the engine's thread spent in the
 * pass, and the reading and routing of the rows can go on beside it. Chunks go
 * in stream order and come back in that order; a group's history carries over
 * between chunks in the worker, exactly as in the engine's own loop, so the
 * features are the same bits either way.
 */
import type { Worker } from 'node:worker_threads';
import { WorkbenchError } from '../api/errors.ts';
import { startWorker } from '../util/workers.ts';
import { createChunkKernel } from './kernel.ts';
import type { NumericFeature } from './recipe.ts';

export interface KernelRequest {
  id: number;
  n: number;
  /** Sensor readings of the chunk's rows, one array per sensor (NaN = missing); transferred. */
  readings: Float64Array[];
  /** Group hash per row (a change starts a fresh history); null = one group. Transferred. */
  gid: Float64Array | null;
  /** 1 = the row's features are needed, 0 = it only advances its group's history; null = every row's. Transferred. */
  need: Uint8Array | null;
  /** A features buffer the engine is done with, for the worker to fill again; transferred. */
  reuse: ArrayBuffer | null;
}

export type KernelReply = { id: number; feats: Float64Array; error?: undefined } | { id: number; error: string; feats?: undefined };

/** Features of streamed chunks, in stream order: inline (inlineKernel) or in a worker thread (KernelThread). */
export interface ChunkFeatures {
  /**
   * The features of a chunk (rows × plan, row-major; NaN for rows whose `need` is 0). `readings`,
   * `gid` and `need` may be transferred: unusable afterwards.
   */
  features(n: number, readings: Float64Array[], gid: Float64Array | null, need: Uint8Array | null): Promise<Float64Array>;
  /** Hand back a features array the caller no longer reads. */
  recycle(feats: Float64Array): void;
  close(): Promise<void>;
}

/** The kernel on the caller's thread, into one buffer reused for every chunk (one chunk at a time). */
export function inlineKernel(plan: readonly NumericFeature[], centers: readonly number[], sensors: number): ChunkFeatures {
  const run = createChunkKernel(plan, centers, sensors);
  let out = new Float64Array(0);
  return {
    features(n, readings, gid, need) {
      if (out.length < n * plan.length) out = new Float64Array(n * plan.length);
      const feats = out.length === n * plan.length ? out : out.subarray(0, n * plan.length);
      run(n, readings, gid, need, feats);
      return Promise.resolve(feats);
    },
    recycle: () => undefined,
    close: async () => undefined,
  };
}

export class KernelThread implements ChunkFeatures {
  private readonly worker: Worker;
  private nextId = 1;
  private readonly waiting = new Map<number, { resolve: (f: Float64Array) => void; reject: (e: Error) => void }>();
  private dead: Error | null = null;
  /** Features buffers handed back by the engine, sent along with the next chunks. */
  private readonly spare: ArrayBuffer[] = [];

  /** `spares`: at most as many buffers kept for reuse (the chunks the caller keeps in flight). */
  constructor(plan: readonly NumericFeature[], centers: readonly number[], sensors: number, private readonly spares: number) {
    this.worker = startWorker(new URL('./kernel-worker.ts', import.meta.url), { plan, centers: [...centers], sensors });
    this.worker.on('message', (m: KernelReply) => {
      const w = this.waiting.get(m.id);
      this.waiting.delete(m.id);
      if (m.error !== undefined) w?.reject(new WorkbenchError('MODEL_FAILED', `feature kernel failed: ${m.error}`));
      else w?.resolve(m.feats);
    });
    this.worker.on('error', (err) => this.fail(err));
    this.worker.on('exit', (code) => this.fail(new WorkbenchError('MODEL_FAILED', `the feature kernel's worker exited (code ${code})`)));
  }

  private fail(err: Error): void {
    this.dead ??= err;
    for (const w of this.waiting.values()) w.reject(this.dead);
    this.waiting.clear();
  }

  features(n: number, readings: Float64Array[], gid: Float64Array | null, need: Uint8Array | null): Promise<Float64Array> {
    if (this.dead) return Promise.reject(this.dead);
    const id = this.nextId++;
    const reuse = this.spare.pop() ?? null;
    const msg: KernelRequest = { id, n, readings, gid, need, reuse };
    const transfer = new Set<ArrayBuffer>(readings.map((r) => r.buffer as ArrayBuffer));
    if (gid) transfer.add(gid.buffer as ArrayBuffer);
    if (need) transfer.add(need.buffer as ArrayBuffer);
    if (reuse) transfer.add(reuse);
    const out = new Promise<Float64Array>((resolve, reject) => this.waiting.set(id, { resolve, reject }));
    this.worker.postMessage(msg, [...transfer]);
    return out;
  }

  recycle(feats: Float64Array): void {
    if (this.spare.length < this.spares) this.spare.push(feats.buffer as ArrayBuffer);
  }

  async close(): Promise<void> {
    this.dead ??= new WorkbenchError('CANCELLED', 'the feature kernel was closed');
    await this.worker.terminate();
  }
}
