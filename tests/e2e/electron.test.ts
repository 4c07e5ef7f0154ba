/**
 * The desktop shell end to end: Playwright's Electron launcher opens the real
 * app, the renderer reaches the engine over IPC (utility process), and the Data
 * page lists the first-run sample. Runs where Electron's binary is installed;
 * here (ELECTRON_SKIP_BINARY_DOWNLOAD=1, no network) it is skipped, saying why.
 */
import { createRequire } from 'node:module';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { _electron as electron } from 'playwright-core';
import { ROOT, tempDir } from '../helpers/tmp.ts';

function electronPath(): string | null {
  try {
    const p = createRequire(import.meta.url)('electron') as unknown;
    return typeof p === 'string' && existsSync(p) ? p : null;
  } catch {
    return null;
  }
}

const binary = electronPath();
if (!binary) console.log("electron E2E skipped: Electron's binary is not installed (ELECTRON_SKIP_BINARY_DOWNLOAD=1 or no network at install)");

describe.skipIf(!binary)('electron shell', () => {
  it('opens the window, talks to the engine over IPC and shows datasets', async () => {
    const tmp = tempDir('fleetlens-electron-');
    const app = await electron.launch({
      executablePath: binary!,
      args: [ROOT],
      env: { ...process.env, FLEETLENS_WORKSPACE: join(tmp.dir, 'ws.duckdb') },
    });
    try {
      const page = await app.firstWindow();
      await page.waitForSelector('[data-testid="nav-data"]', { timeout: 60_000 });
      const info = await page.evaluate(() => (globalThis as unknown as { workbench: { invoke(m: string, r: object): Promise<{ mode: string }> } }).workbench.invoke('app.info', {}));
      expect(info.mode).toBe('electron');
      // Node is not reachable from the page.
      expect(await page.evaluate(() => typeof (globalThis as { require?: unknown }).require)).toBe('undefined');
      mkdirSync(join(ROOT, 'test-results', 'screens'), { recursive: true });
      await page.screenshot({ path: join(ROOT, 'test-results', 'screens', 'electron-data.png') });
    } finally {
      await app.close();
      tmp.cleanup();
    }
  });
});
