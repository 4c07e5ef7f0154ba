/**
 * Where a live stream's batches are scored (issue #7). `WorkerScoring` (the pipeline's
 * default) keeps the per-partition scorers in a worker thread (`score-worker.ts`), so
 * decoding, features and the detector do not compete with the SDK's receive loop and
 * the DuckDB appends on the engine's event loop; `InlineScoring` runs the very same
 * code on the calling thread.
 *
 * Each partition's scorer lives under a key of its own (a partition taken again gets a
 * new scorer), and a partition's calls are made one at a time, in order.
 */
import type { Worker } from 'node:worker_threads';
import { WorkbenchError } from '../api/errors.ts';
import { KeyedSerial } from '../util/keyed-serial.ts';
import { startWorker } from '../util/workers.ts';
import { createScorer, type LiveModel, type Scorer, type ScorerOptions } from './scorer.ts';
import { batchTransfer, importStates, kindsOf, noScorer, prepareBatch, scoreBatch, takeSnapshot, type BatchResult, type PackedBatch, type ScoreOptions } from './score-batch.ts';

/** Reads saved state entries (key → JSON) of the batch's partition. */
export type StateLoader = (keys: string[]) => Promise<Map<string, string>>;

export interface ScoringEngine {
  /** Resolves once the engine can score (a worker has started and loaded the model). */
  ready(): Promise<void>;
  /** A fresh scorer under `key` (replacing any scorer of that key). */
  open(key: string): Promise<void>;
  /** Forget a scorer. */
  drop(key: string): void;
  /** Remember event ids as seen (de-duplication after a restart). */
  seed(key: string, ids: string[]): void;
  /** Score a batch; missing state is read through `load` first. The batch's buffers are given away. */
  score(key: string, batch: PackedBatch, opts: ScoreOptions, load: StateLoader): Promise<BatchResult>;
  /** Changed state entries since the last snapshot. */
  snapshot(key: string): Promise<{ key: string; value: string }[]>;
  close(): Promise<void>;
}

/** Scores on the calling thread. */
export class InlineScoring implements ScoringEngine {
  private readonly scorers = new Map<string, Scorer>();
  /** Per scorer, the batch being scored: the next one waits for it (it may be loading state). */
  private readonly chains = new KeyedSerial();
  constructor(
    private readonly model: LiveModel,
    private readonly options: ScorerOptions,
  ) {}

  async ready(): Promise<void> {
    createScorer(this.model, this.options);
  }

  private of(key: string): Scorer {
    const s = this.scorers.get(key);
    if (!s) throw noScorer(key);
    return s;
  }

  async open(key: string): Promise<void> {
    this.scorers.set(key, createScorer(this.model, this.options));
  }

  drop(key: string): void {
    this.scorers.delete(key);
    this.chains.forget(key);
  }

  seed(key: string, ids: string[]): void {
    this.of(key).seedSeen(ids);
  }

  score(key: string, batch: PackedBatch, opts: ScoreOptions, load: StateLoader): Promise<BatchResult> {
    return this.chains.run(key, () => this.scoreNow(key, batch, opts, load));
  }

  private async scoreNow(key: string, batch: PackedBatch, opts: ScoreOptions, load: StateLoader): Promise<BatchResult> {
    const scorer = this.of(key);
    const prepared = prepareBatch(scorer, batch);
    const errors = prepared.missing.length ? importStates(scorer, await load(prepared.missing)) : [];
    const result = scoreBatch(scorer, batch, prepared, kindsOf(scorer), opts);
    result.stateErrors = errors;
    return result;
  }

  async snapshot(key: string): Promise<{ key: string; value: string }[]> {
    return takeSnapshot(this.of(key));
  }

  async close(): Promise<void> {
    this.scorers.clear();
  }
}

export type ScoringRequest =
  | { type: 'ping'; id: number }
  | { type: 'open'; id: number; key: string }
  | { type: 'drop'; key: string }
  | { type: 'seed'; key: string; ids: string[] }
  | { type: 'snapshot'; id: number; key: string }
  | { type: 'score'; id: number; key: string; batch: PackedBatch; opts: ScoreOptions }
  | { type: 'state'; id: number; entries: [string, string][]; failed?: boolean };

export type ScoringReply =
  | { type: 'ok'; id: number }
  | { type: 'snapshot'; id: number; entries: { key: string; value: string }[] }
  | { type: 'need'; id: number; keys: string[] }
  | { type: 'scored'; id: number; result: BatchResult }
  | { type: 'error'; id: number; message: string };

interface Waiter {
  resolve: (r: ScoringReply) => void;
  reject: (e: Error) => void;
  load?: StateLoader;
}

/**
 * Scores in a worker thread. A worker that dies fails every call in flight; the next `open`
 * starts a new one (the pipeline re-opens a partition after its processing failed, and
 * rebuilds the state from the saved snapshot and replay).
 */
export class WorkerScoring implements ScoringEngine {
  private worker: Worker | null = null;
  private nextId = 1;
  private readonly waiting = new Map<number, Waiter>();
  private closed = false;

  constructor(
    private readonly model: LiveModel,
    private readonly options: ScorerOptions,
  ) {}

  private ensure(): Worker {
    if (this.closed) throw new WorkbenchError('CANCELLED', 'the scoring worker is closed');
    if (this.worker) return this.worker;
    const w = startWorker(new URL('./score-worker.ts', import.meta.url), { model: this.model, options: this.options });
    w.on('message', (m: ScoringReply) => this.onMessage(w, m));
    w.on('error', (err) => this.fail(w, err));
    w.on('exit', (code) => this.fail(w, new WorkbenchError('INTERNAL', `the scoring worker exited with code ${code}`)));
    this.worker = w;
    return w;
  }

  private fail(w: Worker, err: Error): void {
    if (this.worker !== w) return;
    this.worker = null;
    const e = err instanceof WorkbenchError ? err : new WorkbenchError('INTERNAL', `the scoring worker failed: ${err.message}`);
    for (const x of this.waiting.values()) x.reject(e);
    this.waiting.clear();
    void w.terminate();
  }

  private onMessage(w: Worker, m: ScoringReply): void {
    const x = this.waiting.get(m.id);
    if (!x) return;
    if (m.type === 'need') {
      // Read the state the batch lacks, then let the worker go on with it.
      void (x.load ? x.load(m.keys) : Promise.resolve(new Map<string, string>())).then(
        (entries) => {
          if (this.worker === w) w.postMessage({ type: 'state', id: m.id, entries: [...entries] } satisfies ScoringRequest);
        },
        (err: unknown) => {
          this.waiting.delete(m.id);
          x.reject(err instanceof Error ? err : new Error(String(err)));
          if (this.worker === w) w.postMessage({ type: 'state', id: m.id, entries: [], failed: true } satisfies ScoringRequest);
        },
      );
      return;
    }
    this.waiting.delete(m.id);
    if (m.type === 'error') x.reject(new WorkbenchError('INTERNAL', m.message));
    else x.resolve(m);
  }

  private call(req: ScoringRequest & { id: number }, transfer: ArrayBuffer[] = [], load?: StateLoader): Promise<ScoringReply> {
    let w: Worker;
    try {
      w = this.ensure();
    } catch (err) {
      return Promise.reject(err);
    }
    return new Promise<ScoringReply>((resolve, reject) => {
      this.waiting.set(req.id, { resolve, reject, load });
      w.postMessage(req, transfer);
    });
  }

  async ready(): Promise<void> {
    await this.call({ type: 'ping', id: this.nextId++ });
  }

  async open(key: string): Promise<void> {
    await this.call({ type: 'open', id: this.nextId++, key });
  }

  drop(key: string): void {
    this.worker?.postMessage({ type: 'drop', key } satisfies ScoringRequest);
  }

  seed(key: string, ids: string[]): void {
    this.worker?.postMessage({ type: 'seed', key, ids } satisfies ScoringRequest);
  }

  async score(key: string, batch: PackedBatch, opts: ScoreOptions, load: StateLoader): Promise<BatchResult> {
    const reply = await this.call({ type: 'score', id: this.nextId++, key, batch, opts }, batchTransfer(batch), load);
    return (reply as { result: BatchResult }).result;
  }

  async snapshot(key: string): Promise<{ key: string; value: string }[]> {
    const reply = await this.call({ type: 'snapshot', id: this.nextId++, key });
    return (reply as { entries: { key: string; value: string }[] }).entries;
  }

  async close(): Promise<void> {
    this.closed = true;
    const w = this.worker;
    this.worker = null;
    for (const x of this.waiting.values()) x.reject(new WorkbenchError('CANCELLED', 'the scoring worker is closed'));
    this.waiting.clear();
    await w?.terminate();
  }
}
