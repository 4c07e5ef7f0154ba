/**
 * Vitest globalSetup of the e2e project: build the renderer once when
 * dist/renderer is missing or older than any file it is built from (renderer/,
 * the core/api runtime it bundles, vite.config.ts). Tests themselves never build.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from '../helpers/tmp.ts';

function newestMtime(path: string): number {
  const st = statSync(path);
  if (!st.isDirectory()) return st.mtimeMs;
  let newest = 0;
  for (const e of readdirSync(path)) newest = Math.max(newest, newestMtime(join(path, e)));
  return newest;
}

/** True when dist/renderer/index.html is missing or older than its sources. */
export function rendererIsStale(): boolean {
  const index = join(ROOT, 'dist', 'renderer', 'index.html');
  if (!existsSync(index)) return true;
  const sources = [join(ROOT, 'renderer'), join(ROOT, 'core', 'api'), join(ROOT, 'vite.config.ts')].filter(existsSync);
  return statSync(index).mtimeMs < Math.max(...sources.map(newestMtime));
}

export default function setup(): void {
  if (!rendererIsStale()) return;
  process.stderr.write('e2e: building the renderer (npx vite build)…\n');
  try {
    execFileSync('npx', ['vite', 'build', '--logLevel', 'warn'], { cwd: ROOT, stdio: 'inherit' });
  } catch {
    throw new Error('e2e: `npx vite build` failed (its errors are printed above); the e2e tests need a built renderer');
  }
}
