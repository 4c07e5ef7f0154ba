/**
 * Start a worker thread from a module next to the caller. From sources (.ts) the
 * worker goes through worker-bootstrap.mjs, which registers the TypeScript loader
 * in the new thread; a bundled build (.mjs next to the bundle) starts directly.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';

export function startWorker(entry: URL, workerData: Record<string, unknown> = {}): Worker {
  const path = fileURLToPath(entry);
  if (path.endsWith('.ts')) {
    const built = new URL(entry.href.replace(/\.ts$/, '.mjs'));
    if (existsSync(fileURLToPath(built))) return new Worker(built, { workerData });
    return new Worker(new URL('./worker-bootstrap.mjs', import.meta.url), { workerData: { ...workerData, __entry: entry.href } });
  }
  return new Worker(entry, { workerData });
}
