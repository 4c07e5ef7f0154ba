/**
 * Large shared buffers kept for the next preparation. An analyst trains again and again on
 * the same dataset (a tweak, a sweep, a repeat), and each preparation fills buffers of the
 * same sizes: at 10M rows a 1 GB test matrix. Fresh memory costs a page fault per 4 KB on
 * first touch (1 GB: 3.9 s of CPU on this project's test VM, measured), memory kept from a
 * preparation that ended is zeroed again in 0.1 s. A kept buffer goes after a minute unused,
 * so an idle app gives the memory back.
 *
 * A buffer is given back only once nothing reads it: when the last holder of its
 * preparation released it (PreparedCache), after the rows table was written from it.
 */
import { totalmem } from 'node:os';
import { prefault } from './prefault.ts';

/** Smaller buffers fault in quickly: not kept (tests lower it to exercise reuse on small data). */
let minBytes = 16 * 1024 * 1024;
/** A kept buffer serves a request at most this much smaller, so little memory lies unused. */
const SLACK = 1.25;
const IDLE_MS = 60_000;
/** At most this much is kept (2 GiB, less on a machine with under 16 GiB); the oldest goes first. */
const MAX_KEPT_BYTES = Math.min(2 * 1024 ** 3, totalmem() / 8);

interface Kept {
  buf: SharedArrayBuffer;
  timer: NodeJS.Timeout;
}
const kept: Kept[] = [];

/** Requests served by a kept buffer. */
export const sharedStats = { reused: 0 };

/** The smallest buffer worth keeping; returns the previous value. */
export function setKeepThreshold(bytes: number): number {
  const old = minBytes;
  minBytes = bytes;
  return old;
}

function drop(k: Kept): void {
  clearTimeout(k.timer);
  const i = kept.indexOf(k);
  if (i >= 0) kept.splice(i, 1);
}

/** A zeroed shared buffer of at least `bytes` bytes: a kept one of close size, or a new one (its pages faulted in by a helper thread). */
export function takeShared(bytes: number): SharedArrayBuffer {
  let best: Kept | null = null;
  if (bytes >= minBytes) {
    for (const k of kept) {
      const size = k.buf.byteLength;
      if (size >= bytes && size <= bytes * SLACK && (!best || size < best.buf.byteLength)) best = k;
    }
  }
  if (best) {
    drop(best);
    sharedStats.reused++;
    // Zeroed as a new buffer is: a reader may rely on it (blank one-hot blocks). Whole words: memset speed.
    const words = Math.floor(bytes / 8);
    new Float64Array(best.buf, 0, words).fill(0);
    new Uint8Array(best.buf, words * 8, bytes - words * 8).fill(0);
    return best.buf;
  }
  const buf = new SharedArrayBuffer(bytes);
  prefault(buf);
  return buf;
}

/** Keep buffers nothing reads any more for a later takeShared (each once, however many views were given). */
export function giveShared(buffers: ArrayBufferLike[]): void {
  for (const buf of new Set(buffers)) {
    if (!(buf instanceof SharedArrayBuffer) || buf.byteLength < minBytes || kept.some((k) => k.buf === buf)) continue;
    const k: Kept = { buf, timer: setTimeout(() => drop(k), IDLE_MS) };
    k.timer.unref();
    kept.push(k);
  }
  let total = keptSharedBytes();
  while (total > MAX_KEPT_BYTES && kept.length) {
    total -= kept[0]!.buf.byteLength;
    drop(kept[0]!);
  }
}

/** Bytes kept now (tests, diagnostics). */
export function keptSharedBytes(): number {
  return kept.reduce((s, k) => s + k.buf.byteLength, 0);
}

/** Let every kept buffer go (tests; a workspace closing). */
export function releaseKeptShared(): void {
  while (kept.length) drop(kept[0]!);
}
