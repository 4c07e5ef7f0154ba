/**
 * Worker thread that scores a live stream's batches (issue #7): it holds one scorer
 * per partition (per-device feature state, alarm windows, seen ids), so JSON decoding,
 * features and the detector run beside the engine's event loop, which keeps receiving
 * events and storing results. Protocol in `scoring.ts`.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { createScorer, type LiveModel, type Scorer, type ScorerOptions } from './scorer.ts';
import { importStates, kindsOf, noScorer, prepareBatch, resultTransfer, scoreBatch, takeSnapshot, type PackedBatch, type PreparedBatch, type ScoreOptions } from './score-batch.ts';
import type { ScoringReply, ScoringRequest } from './scoring.ts';

const port = parentPort!;
const { model, options } = workerData as { model: LiveModel; options: ScorerOptions };
const scorers = new Map<string, Scorer>();
// Build one scorer up front: a model that cannot be loaded fails the first call, not a batch.
createScorer(model, options);
/** Batches waiting for the state entries they asked for. */
const waiting = new Map<number, { key: string; scorer: Scorer; batch: PackedBatch; prepared: PreparedBatch; opts: ScoreOptions }>();
/** Per scorer with a batch waiting for state: its later batches, in order (they must see that batch's state). */
const held = new Map<string, Extract<ScoringRequest, { type: 'score' }>[]>();

function reply(msg: ScoringReply, transfer: ArrayBuffer[] = []): void {
  port.postMessage(msg, transfer);
}

function scorerOf(key: string): Scorer {
  const s = scorers.get(key);
  if (!s) throw noScorer(key);
  return s;
}

function finish(id: number, scorer: Scorer, batch: PackedBatch, prepared: PreparedBatch, opts: ScoreOptions, stateErrors: string[]): void {
  const result = scoreBatch(scorer, batch, prepared, kindsOf(scorer), opts);
  result.stateErrors = stateErrors;
  reply({ type: 'scored', id, result }, resultTransfer(result));
}

/** Score a batch, or park it until the state it lacks arrives. */
function score(msg: Extract<ScoringRequest, { type: 'score' }>): void {
  try {
    const scorer = scorerOf(msg.key);
    const prepared = prepareBatch(scorer, msg.batch);
    if (prepared.missing.length) {
      waiting.set(msg.id, { key: msg.key, scorer, batch: msg.batch, prepared, opts: msg.opts });
      held.set(msg.key, []);
      reply({ type: 'need', id: msg.id, keys: prepared.missing });
      return;
    }
    finish(msg.id, scorer, msg.batch, prepared, msg.opts, []);
  } catch (err) {
    reply({ type: 'error', id: msg.id, message: err instanceof Error ? err.message : String(err) });
  }
}

port.on('message', (msg: ScoringRequest) => {
  try {
    switch (msg.type) {
      case 'ping':
        reply({ type: 'ok', id: msg.id });
        return;
      case 'open':
        scorers.set(msg.key, createScorer(model, options));
        reply({ type: 'ok', id: msg.id });
        return;
      case 'drop':
        scorers.delete(msg.key);
        return;
      case 'seed':
        scorerOf(msg.key).seedSeen(msg.ids);
        return;
      case 'snapshot':
        reply({ type: 'snapshot', id: msg.id, entries: takeSnapshot(scorerOf(msg.key)) });
        return;
      case 'score': {
        const queue = held.get(msg.key);
        if (queue) queue.push(msg);
        else score(msg);
        return;
      }
      case 'state': {
        const w = waiting.get(msg.id);
        if (!w) return;
        waiting.delete(msg.id);
        if (msg.failed) {
          // The state could not be read: this batch and those held behind it fail (the pipeline reads them again).
          for (const h of held.get(w.key) ?? []) reply({ type: 'error', id: h.id, message: 'an earlier batch of this partition failed' });
          held.delete(w.key);
          return;
        }
        finish(msg.id, w.scorer, w.batch, w.prepared, w.opts, importStates(w.scorer, msg.entries));
        // Go on with the batches held behind it, until one waits for state again.
        const queue = held.get(w.key) ?? [];
        held.delete(w.key);
        while (queue.length && !held.has(w.key)) score(queue.shift()!);
        if (queue.length) held.get(w.key)!.push(...queue);
        return;
      }
    }
  } catch (err) {
    reply({ type: 'error', id: 'id' in msg ? msg.id : -1, message: err instanceof Error ? err.message : String(err) });
  }
});
