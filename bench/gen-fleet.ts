/**
 * Benchmark of the sample fleet generator: time and peak memory to write N rows
 * (default 10M) as CSV and as Parquet.
 *   node --import tsx bench/gen-fleet.ts [--rows 10M] [--dir bench-results] [--formats csv,parquet]
 * Each format runs in its own child process so peak RSS figures do not leak into
 * each other; results go to stdout and to <dir>/gen-fleet.json.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeFleet, type FleetFormat } from '../samples/generate-fleet.ts';
import { parseCount } from '../samples/cli.ts';

/** Figures of one benchmark run. */
export interface GenFleetBench {
  format: FleetFormat;
  out: string;
  rows: number;
  seconds: number;
  rowsPerSecond: number;
  /** Highest `process.memoryUsage().rss` seen by a 250 ms sampler, MiB. */
  peakRssMiB: number;
  /** Kernel high-water mark of the process (getrusage ru_maxrss), MiB. */
  maxRssMiB: number;
  fileMiB: number;
}

const MiB = 1024 * 1024;
const round1 = (x: number): number => Math.round(x * 10) / 10;

/** Writes one fleet file while sampling RSS; runs inside the child process. */
export async function benchOne(format: FleetFormat, rows: number, dir: string): Promise<GenFleetBench> {
  const out = path.resolve(dir, `fleet-${rows >= 1e6 ? `${rows / 1e6}m` : rows}.${format}`);
  let peak = process.memoryUsage().rss;
  const timer = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage().rss);
  }, 250);
  const t0 = performance.now();
  try {
    const r = await writeFleet({ rows, out, format });
    const seconds = (performance.now() - t0) / 1000;
    peak = Math.max(peak, process.memoryUsage().rss);
    return {
      format,
      out,
      rows: r.rows,
      seconds: Math.round(seconds * 100) / 100,
      rowsPerSecond: Math.round(r.rows / seconds),
      peakRssMiB: round1(peak / MiB),
      maxRssMiB: round1((process.resourceUsage().maxRSS * 1024) / MiB),
      fileMiB: round1(r.bytes / MiB),
    };
  } finally {
    clearInterval(timer);
  }
}

async function main(argv: string[]): Promise<void> {
  const opt = (name: string): string | undefined => {
    const i = argv.indexOf(name);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const rows = parseCount(opt('--rows') ?? '10M', '--rows');
  const dir = opt('--dir') ?? 'bench-results';
  mkdirSync(dir, { recursive: true });
  const child = opt('--child');
  if (child) {
    const r = await benchOne(child as FleetFormat, rows, dir);
    process.stdout.write(JSON.stringify(r) + '\n');
    return;
  }
  const formats = (opt('--formats') ?? 'csv,parquet').split(',') as FleetFormat[];
  const self = fileURLToPath(import.meta.url);
  const results: GenFleetBench[] = [];
  for (const format of formats) {
    const text = execFileSync(
      process.execPath,
      [...process.execArgv, self, '--child', format, '--rows', String(rows), '--dir', dir],
      { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] },
    );
    const r = JSON.parse(text.trim().split('\n').at(-1)!) as GenFleetBench;
    results.push(r);
    process.stdout.write(
      `${format.padEnd(8)} ${r.rows.toLocaleString('en-US')} rows in ${r.seconds}s = ` +
        `${r.rowsPerSecond.toLocaleString('en-US')} rows/s, peak RSS ${r.peakRssMiB} MiB ` +
        `(maxrss ${r.maxRssMiB} MiB), file ${r.fileMiB} MiB\n`,
    );
  }
  writeFileSync(path.join(dir, 'gen-fleet.json'), JSON.stringify({ when: new Date().toISOString(), results }, null, 2) + '\n');
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main(process.argv.slice(2)).catch((e: unknown) => {
    process.stderr.write(`${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exitCode = 1;
  });
}
