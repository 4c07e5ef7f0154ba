// Small helpers shared by the npm scripts (start, web, test).
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

/** Run a command inheriting stdio; resolves with its exit code. */
export function run(cmd, args, opts = {}) {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { stdio: 'inherit', ...opts });
    child.on('exit', (code, signal) => resolve(code ?? (signal ? 1 : 0)));
    child.on('error', () => resolve(127));
  });
}

function newestMtime(dir) {
  let newest = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    newest = Math.max(newest, e.isDirectory() ? newestMtime(p) : statSync(p).mtimeMs);
  }
  return newest;
}

/** Build the renderer when dist/renderer is missing or older than any renderer source or core/api file. */
export async function ensureRendererBuilt() {
  const index = 'dist/renderer/index.html';
  const srcTime = Math.max(newestMtime('renderer'), newestMtime('core/api'));
  if (existsSync(index) && statSync(index).mtimeMs >= srcTime) return 0;
  console.log('building the renderer (vite build)…');
  return run(process.execPath, ['node_modules/vite/bin/vite.js', 'build', '--logLevel', 'warn']);
}

/** Path of Electron's binary when it is installed, else null (e.g. ELECTRON_SKIP_BINARY_DOWNLOAD=1). */
export async function electronBinary() {
  try {
    const { createRequire } = await import('node:module');
    const require = createRequire(import.meta.url);
    const p = require('electron');
    return typeof p === 'string' && existsSync(p) ? p : null;
  } catch {
    return null;
  }
}
