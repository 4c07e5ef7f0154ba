/**
 * End-to-end helpers: the system Chromium through playwright-core, a browser-mode
 * Fleetlens server as a child process (exactly what `npm run web` runs), and
 * screenshots under test-results/screens/. The renderer must already be built
 * (tests/e2e/global-setup.ts builds it when stale).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { ROOT } from '../helpers/tmp.ts';

export const CHROMIUM = '/usr/bin/chromium';
export const SCREENS_DIR = join(ROOT, 'test-results', 'screens');

/** Launch headless Chromium with the flags that keep it quiet and deterministic in CI containers. */
export async function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic'],
  });
}

export interface WebServer {
  /** URL with the token, as printed by `fleetlens web`. */
  url: string;
  /** http://127.0.0.1:PORT */
  origin: string;
  token: string;
  /** Workspace file path. */
  workspace: string;
  /** Temporary folder holding the workspace (removed by stop()). */
  dir: string;
  /** Everything the server wrote to stderr so far (for failure messages). */
  stderr(): string;
  /** SIGTERM, then SIGKILL after 5 s; removes the temporary folder. */
  stop(): Promise<void>;
}

function waitExit(child: ChildProcess, ms: number): Promise<boolean> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(true);
  return new Promise((resolve) => {
    const t = setTimeout(() => resolve(false), ms);
    child.once('exit', () => {
      clearTimeout(t);
      resolve(true);
    });
  });
}

/**
 * Start `node bin/fleetlens.mjs web --json --port 0` on a fresh workspace in a
 * temporary folder and wait for its listening document. `sample: true` lets the
 * server seed the first-run sample fleet (default: --no-sample).
 */
export async function startWeb(opts: { sample?: boolean; timeoutMs?: number } = {}): Promise<WebServer> {
  // A `vite build` running elsewhere (emptyOutDir) removes index.html for a few seconds: wait it out.
  const index = join(ROOT, 'dist', 'renderer', 'index.html');
  for (let waited = 0; !existsSync(index); waited += 500) {
    if (waited >= 60_000) throw new Error('dist/renderer is not built: run `npx vite build` (tests/e2e/global-setup.ts does it for the e2e project)');
    await new Promise((r) => setTimeout(r, 500));
  }
  const dir = mkdtempSync(join(tmpdir(), 'fleetlens-e2e-'));
  const workspace = join(dir, 'ws.duckdb');
  const args = ['bin/fleetlens.mjs', 'web', '--json', '--port', '0', '--workspace', workspace];
  if (!opts.sample) args.push('--no-sample');
  const child = spawn(process.execPath, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (err += d));

  const listening = await new Promise<{ url: string; port: number; workspace: string }>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`fleetlens web did not start within ${opts.timeoutMs ?? 60_000} ms\n${err}`)), opts.timeoutMs ?? 60_000);
    child.stdout!.setEncoding('utf8').on('data', (d: string) => {
      out += d;
      // The document may be pretty-printed over several lines: parse once it is complete.
      const start = out.indexOf('{');
      const end = out.lastIndexOf('}');
      if (start < 0 || end < start) return;
      try {
        const doc = JSON.parse(out.slice(start, end + 1)) as { event?: string; url?: string; port?: number; workspace?: string };
        if (doc.event === 'listening' && doc.url) {
          clearTimeout(timer);
          resolve({ url: doc.url, port: doc.port ?? 0, workspace: doc.workspace ?? workspace });
        }
      } catch {
        // Not complete yet.
      }
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`fleetlens web exited early (code ${code}, signal ${signal})\n${err}`));
    });
  });

  const u = new URL(listening.url);
  const token = u.searchParams.get('token') ?? '';
  return {
    url: listening.url,
    origin: u.origin,
    token,
    workspace: listening.workspace,
    dir,
    stderr: () => err,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        if (!(await waitExit(child, 5000))) {
          child.kill('SIGKILL');
          await waitExit(child, 5000);
        }
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Save a full-viewport screenshot as test-results/screens/<name>.png; returns the path. */
export async function screenshot(page: Page, name: string): Promise<string> {
  mkdirSync(SCREENS_DIR, { recursive: true });
  const path = join(SCREENS_DIR, `${name}.png`);
  await page.screenshot({ path });
  return path;
}

/** A fresh temporary folder for fixture files; remove it with the returned function. */
export function fixtureDir(prefix = 'fleetlens-e2e-files-'): { dir: string; cleanup(): void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}
