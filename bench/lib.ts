/**
 * Benchmark helpers: timing, peak RSS sampling, cached generated inputs.
 * Benchmarks print ratios against a reference measured in the same run; they
 * never assert wall-clock times (issue #3).
 */
import { existsSync, mkdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeFleet } from '../samples/generate-fleet.ts';

export const ROOT = fileURLToPath(new URL('../', import.meta.url));
export const RESULTS = join(ROOT, 'bench-results');

/** Sample the process RSS every `ms` while running; returns the peak in bytes. */
export function rssSampler(ms = 100): { peak(): number; stop(): number } {
  let peak = process.memoryUsage().rss;
  const t = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage().rss);
  }, ms);
  return {
    peak: () => peak,
    stop() {
      clearInterval(t);
      peak = Math.max(peak, process.memoryUsage().rss);
      return peak;
    },
  };
}

export async function timed<T>(fn: () => Promise<T>): Promise<{ ms: number; value: T }> {
  const t0 = performance.now();
  const value = await fn();
  return { ms: performance.now() - t0, value };
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** The generated sample fleet of `rows` rows in `format`, generated once and cached under bench-results/. */
export async function fleetFile(rows: number, format: 'csv' | 'parquet'): Promise<string> {
  mkdirSync(RESULTS, { recursive: true });
  const out = join(RESULTS, `fleet-${rows}.${format}`);
  if (!existsSync(out) || statSync(out).size === 0) {
    process.stdout.write(`generating ${rows.toLocaleString('en-US')} rows as ${format} → ${out} …\n`);
    await writeFleet({ out, rows, seed: 42, format });
  }
  return out;
}

export function mib(bytes: number): string {
  return `${(bytes / 1048576).toFixed(0)} MiB`;
}

export function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 && process.argv[i + 1] ? process.argv[i + 1]! : fallback;
}
