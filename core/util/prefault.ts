/**
 * Touch the pages of a large shared buffer from a short-lived thread, so the thread
 * that fills it later does not stop on a page fault every 4 KB. A fresh page costs
 * ~11 µs to fault in on this project's test VM (1 GB: ~3 s, measured), which a
 * preparation's test matrix otherwise paid on the engine's thread while streaming.
 * Each page gets an atomic add of 0: it is allocated, and a value written meanwhile
 * by another thread is kept.
 */
import { Worker } from 'node:worker_threads';

const PAGE_INTS = 1024;
/** Smaller buffers are not worth a thread. */
const MIN_BYTES = 64 * 1024 * 1024;

const SOURCE = `
const { workerData } = require('node:worker_threads');
const a = new Int32Array(workerData);
for (let i = 0; i < a.length; i += ${PAGE_INTS}) Atomics.add(a, i, 0);
`;

export function prefault(buffer: SharedArrayBuffer): void {
  if (buffer.byteLength < MIN_BYTES) return;
  try {
    const w = new Worker(SOURCE, { eval: true, workerData: buffer });
    w.unref();
    w.on('error', () => undefined);
  } catch {
    // Only an optimization: without the thread, the pages fault in as they are written.
  }
}
