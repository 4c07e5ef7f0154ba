/**
 * Worker thread that fits and scores detectors, so training never blocks the
 * engine's event loop (issue #5 item 6). Matrices arrive as transferred
 * Float64Array buffers; replies carry scores the same way.
 */
import { parentPort } from 'node:worker_threads';
import type { Detector, DetectorJson, Matrix, Params } from './detector.ts';
import { detectorFromJSON, getDetector } from './registry.ts';
import { runTrial, type TrialInput, type TrialResult } from './trial.ts';

export type WorkerRequest =
  | { type: 'fit'; kind: string; matrix: Matrix; seed: number; params: Params }
  | { type: 'load'; model: DetectorJson }
  | { type: 'score'; id: number; matrix: Matrix }
  | { type: 'explain'; id: number; rows: Float64Array; cols: number; top: number }
  | { type: 'trial'; id: number; input: TrialInput }
  | { type: 'cancel' };

export type WorkerReply =
  | { type: 'progress'; fraction: number; phase?: string }
  | { type: 'trialDone'; id: number; result: TrialResult }
  | { type: 'fitted'; model: DetectorJson }
  | { type: 'loaded' }
  | { type: 'scores'; id: number; scores: Float64Array }
  | { type: 'explained'; id: number; contributions: { feature: string; weight: number; value: number }[][] }
  | { type: 'error'; message: string; id?: number };

const port = parentPort!;
let model: Detector | null = null;
let abort = new AbortController();

function reply(msg: WorkerReply, transfer: ArrayBuffer[] = []): void {
  port.postMessage(msg, transfer);
}

port.on('message', (msg: WorkerRequest) => {
  void handle(msg).catch((err: unknown) => reply({ type: 'error', message: err instanceof Error ? err.message : String(err), id: 'id' in msg ? msg.id : undefined }));
});

async function handle(msg: WorkerRequest): Promise<void> {
  switch (msg.type) {
    case 'cancel':
      abort.abort();
      return;
    case 'fit': {
      abort = new AbortController();
      let last = 0;
      model = await getDetector(msg.kind).fit(msg.matrix, {
        seed: msg.seed,
        params: msg.params,
        signal: abort.signal,
        onProgress: (f) => {
          // At most ~100 progress messages per fit.
          if (f - last >= 0.01 || f === 1) {
            last = f;
            reply({ type: 'progress', fraction: f });
          }
        },
      });
      reply({ type: 'fitted', model: model.toJSON() });
      return;
    }
    case 'trial': {
      abort = new AbortController();
      let last = -1;
      let lastPhase = '';
      const result = await runTrial(msg.input, {
        signal: abort.signal,
        onProgress: (f, phase) => {
          if (f - last >= 0.01 || phase !== lastPhase) {
            last = f;
            lastPhase = phase;
            reply({ type: 'progress', fraction: f, phase });
          }
        },
      });
      reply({ type: 'trialDone', id: msg.id, result }, [result.scores.buffer as ArrayBuffer]);
      return;
    }
    case 'load':
      model = detectorFromJSON(msg.model);
      reply({ type: 'loaded' });
      return;
    case 'score': {
      if (!model) throw new Error('no model loaded in the worker');
      const scores = model.score(msg.matrix);
      reply({ type: 'scores', id: msg.id, scores }, [scores.buffer as ArrayBuffer]);
      return;
    }
    case 'explain': {
      if (!model) throw new Error('no model loaded in the worker');
      const out: { feature: string; weight: number; value: number }[][] = [];
      for (let r = 0; r * msg.cols < msg.rows.length; r++) out.push(model.explain(msg.rows.subarray(r * msg.cols, (r + 1) * msg.cols), msg.top));
      reply({ type: 'explained', id: msg.id, contributions: out });
      return;
    }
  }
}
