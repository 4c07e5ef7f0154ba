/** Engine-side handle on a model worker: fit, load, score and explain as promises. */
import type { Worker } from 'node:worker_threads';
import { WorkbenchError } from '../api/errors.ts';
import type { Contribution, DetectorJson, Matrix, Params } from './detector.ts';
import type { WorkerReply, WorkerRequest } from './model-worker.ts';
import type { TrialInput, TrialResult } from './trial.ts';
import { startWorker } from '../util/workers.ts';

export class ModelWorker {
  private readonly worker: Worker;
  private nextId = 1;
  private readonly waiting = new Map<number, { resolve: (m: WorkerReply) => void; reject: (e: Error) => void }>();
  private fitWaiter: { resolve: (m: DetectorJson) => void; reject: (e: Error) => void } | null = null;
  private loadWaiter: { resolve: () => void; reject: (e: Error) => void } | null = null;
  private dead: Error | null = null;

  constructor(private onProgress: (fraction: number, phase?: string) => void = () => undefined) {
    this.worker = startWorker(new URL('./model-worker.ts', import.meta.url));
    this.worker.on('message', (m: WorkerReply) => this.onMessage(m));
    this.worker.on('error', (err) => this.fail(err));
    this.worker.on('exit', (code) => {
      if (code !== 0) this.fail(new Error(`model worker exited with code ${code}`));
    });
  }

  private fail(err: Error): void {
    this.dead = err;
    this.fitWaiter?.reject(err);
    this.fitWaiter = null;
    this.loadWaiter?.reject(err);
    this.loadWaiter = null;
    for (const w of this.waiting.values()) w.reject(err);
    this.waiting.clear();
  }

  private onMessage(m: WorkerReply): void {
    switch (m.type) {
      case 'progress':
        this.onProgress(m.fraction, m.phase);
        return;
      case 'fitted':
        this.fitWaiter?.resolve(m.model);
        this.fitWaiter = null;
        return;
      case 'loaded':
        this.loadWaiter?.resolve();
        this.loadWaiter = null;
        return;
      case 'error': {
        const err = new WorkbenchError('MODEL_FAILED', m.message);
        if (m.id !== undefined) {
          this.waiting.get(m.id)?.reject(err);
          this.waiting.delete(m.id);
        } else {
          // Errors without an id come from a fit or a load (one at a time).
          this.fitWaiter?.reject(err);
          this.fitWaiter = null;
          this.loadWaiter?.reject(err);
          this.loadWaiter = null;
        }
        return;
      }
      default:
        this.waiting.get(m.id)?.resolve(m);
        this.waiting.delete(m.id);
    }
  }

  private post(msg: WorkerRequest, transfer: ArrayBuffer[] = []): void {
    if (this.dead) throw this.dead;
    this.worker.postMessage(msg, transfer);
  }

  /** Fit in the worker; the matrix buffer is transferred (unusable here afterwards). */
  fit(kind: string, matrix: Matrix, seed: number, params: Params): Promise<DetectorJson> {
    return new Promise((resolve, reject) => {
      this.fitWaiter = { resolve, reject };
      this.post({ type: 'fit', kind, matrix, seed, params }, [matrix.data.buffer as ArrayBuffer]);
    });
  }

  load(model: DetectorJson): Promise<void> {
    return new Promise((resolve, reject) => {
      this.loadWaiter = { resolve, reject };
      this.post({ type: 'load', model });
    });
  }

  /** Scores of a matrix; its buffer is transferred. */
  async score(matrix: Matrix): Promise<Float64Array> {
    const id = this.nextId++;
    const reply = await new Promise<WorkerReply>((resolve, reject) => {
      this.waiting.set(id, { resolve, reject });
      this.post({ type: 'score', id, matrix }, [matrix.data.buffer as ArrayBuffer]);
    });
    return (reply as { scores: Float64Array }).scores;
  }

  /**
   * A whole trial (fit, threshold, score, evaluate, explain) in the worker. Shared-memory
   * arrays in the input are read in place; the scores come back transferred.
   */
  async trial(input: TrialInput): Promise<TrialResult> {
    const id = this.nextId++;
    const reply = await new Promise<WorkerReply>((resolve, reject) => {
      this.waiting.set(id, { resolve, reject });
      this.post({ type: 'trial', id, input });
    });
    return (reply as { result: TrialResult }).result;
  }

  async explain(rows: Float64Array, cols: number, top: number): Promise<Contribution[][]> {
    const id = this.nextId++;
    const reply = await new Promise<WorkerReply>((resolve, reject) => {
      this.waiting.set(id, { resolve, reject });
      this.post({ type: 'explain', id, rows, cols, top });
    });
    return (reply as { contributions: Contribution[][] }).contributions;
  }

  /**
   * Stop at once: a fit is synchronous CPU work in the worker, so a message could not
   * interrupt it; terminating the thread can. Every pending call rejects with CANCELLED.
   */
  cancel(): void {
    if (this.dead) return;
    this.fail(new WorkbenchError('CANCELLED', 'the run was cancelled'));
    void this.worker.terminate();
  }

  async close(): Promise<void> {
    await this.worker.terminate();
  }

  /** Usable for another job: not cancelled, not crashed. */
  get healthy(): boolean {
    return this.dead === null;
  }

  /** Hand the worker to another job (ModelWorkerPool): new progress listener; an idle worker does not keep the process alive. */
  reuse(onProgress: ((fraction: number, phase?: string) => void) | null): void {
    this.onProgress = onProgress ?? (() => undefined);
    if (onProgress) this.worker.ref();
    else this.worker.unref();
  }
}

/**
 * Idle model workers kept for the next run: starting one costs about 0.35 s of module
 * loading, which a sweep of short trials would pay on every trial. A cancelled (terminated)
 * or crashed worker is never reused.
 */
export class ModelWorkerPool {
  private readonly idle: ModelWorker[] = [];
  constructor(private readonly max: number) {}

  acquire(onProgress: (fraction: number, phase?: string) => void): ModelWorker {
    const w = this.idle.pop();
    if (!w) return new ModelWorker(onProgress);
    w.reuse(onProgress);
    return w;
  }

  async release(w: ModelWorker): Promise<void> {
    if (w.healthy && this.idle.length < this.max) {
      w.reuse(null);
      this.idle.push(w);
    } else {
      await w.close();
    }
  }

  async close(): Promise<void> {
    await Promise.all(this.idle.splice(0).map((w) => w.close()));
  }
}
