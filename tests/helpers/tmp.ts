/** Throwaway folders and small fixture files for tests. */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export function tempDir(prefix = 'fleetlens-test-'): { dir: string; file(name: string, content?: string | Buffer): string; cleanup(): void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return {
    dir,
    file(name, content) {
      const p = join(dir, name);
      if (content !== undefined) writeFileSync(p, content);
      return p;
    },
    cleanup() {
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Repository root. */
export const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** ../shared/data relative to the repository root; tests skip with a message when it is absent. */
export const SHARED_DATA = join(ROOT, '..', 'shared', 'data');
export const CMAPSS_TRAIN = join(SHARED_DATA, 'cmapss', 'train_FD001.txt');
export const HAVE_CMAPSS = existsSync(CMAPSS_TRAIN);
export const CMAPSS_COLUMNS = ['unit', 'cycle', 'setting1', 'setting2', 'setting3', ...Array.from({ length: 21 }, (_, i) => `s${i + 1}`)];

/** CSV text with a header and n rows of a tiny fleet. */
export function smallCsv(n: number, start = 0): string {
  const lines = ['device_id,trip_id,timestamp,temperature,rotation_speed,defect'];
  for (let i = start; i < start + n; i++) {
    const ts = new Date(Date.UTC(2026, 0, 1, 0, i)).toISOString().replace('T', ' ').slice(0, 19);
    lines.push(`dev-${i % 3},trip-${Math.floor(i / 10)},${ts},${(20 + (i % 7) * 0.5).toFixed(2)},${1000 + i},${i % 17 === 0 ? 1 : 0}`);
  }
  return lines.join('\n') + '\n';
}
