/**
 * Command line for the sample fleet generator:
 *   node --import tsx samples/cli.ts --rows 250k --out /tmp/fleet.csv [--seed 42]
 *     [--devices 200] [--format csv|parquet|ndjson] [--json]
 */
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { writeFleet, fleetFormatFromPath, type FleetFormat, type WriteFleetResult } from './generate-fleet.ts';

const USAGE =
  'usage: samples/cli.ts --rows N --out FILE [--seed N] [--devices N] [--format csv|parquet|ndjson] [--json]';

/** Summary printed by {@link runSamples} (one JSON line with `--json`). */
export interface SamplesSummary extends WriteFleetResult {
  out: string;
  format: FleetFormat;
  seed: number;
  seconds: number;
  defectRate: number;
}

/** Parses counts like `250000`, `250_000`, `250k` or `10M`. */
export function parseCount(text: string, flag: string): number {
  const m = /^(\d+(?:\.\d+)?)([kKmM]?)$/.exec(text.replaceAll('_', ''));
  const scale = m?.[2] ? (m[2].toLowerCase() === 'k' ? 1e3 : 1e6) : 1;
  const v = m ? Math.round(Number(m[1]) * scale) : Number.NaN;
  if (!Number.isSafeInteger(v) || v < 0) throw new Error(`${flag} expects a non-negative integer, got "${text}"\n${USAGE}`);
  return v;
}

/**
 * Runs the generator from command-line arguments (without the node/script prefix),
 * prints a summary to stdout and returns it. Throws on bad arguments.
 */
export async function runSamples(argv: string[]): Promise<SamplesSummary> {
  let rows: number | undefined;
  let out: string | undefined;
  let seed = 42;
  let devices: number | undefined;
  let format: FleetFormat | undefined;
  let asJson = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    // Accept both `--flag value` and `--flag=value`.
    const eq = arg.indexOf('=');
    const flag = arg.startsWith('--') && eq > 0 ? arg.slice(0, eq) : arg;
    const value = (): string => {
      if (eq > 0 && arg.startsWith('--')) return arg.slice(eq + 1);
      const v = argv[++i];
      if (v === undefined) throw new Error(`${flag} needs a value\n${USAGE}`);
      return v;
    };
    switch (flag) {
      case '--rows':
        rows = parseCount(value(), flag);
        break;
      case '--out':
        out = value();
        break;
      case '--seed':
        seed = parseCount(value(), flag);
        break;
      case '--devices':
        devices = parseCount(value(), flag);
        break;
      case '--format': {
        const f = value();
        if (f !== 'csv' && f !== 'parquet' && f !== 'ndjson') throw new Error(`--format must be csv, parquet or ndjson\n${USAGE}`);
        format = f;
        break;
      }
      case '--json':
        asJson = true;
        break;
      case '-h':
      case '--help':
        throw new Error(USAGE);
      default:
        throw new Error(`unknown argument "${arg}"\n${USAGE}`);
    }
  }
  if (rows === undefined || out === undefined) throw new Error(`--rows and --out are required\n${USAGE}`);
  const fmt = format ?? fleetFormatFromPath(out);
  // Progress only for people watching a terminal; --json output stays one clean line.
  const showProgress = !asJson && process.stderr.isTTY === true;
  const t0 = performance.now();
  const result = await writeFleet({
    rows,
    out,
    seed,
    format: fmt,
    ...(devices === undefined ? {} : { devices }),
    ...(showProgress
      ? { onProgress: (done: number) => process.stderr.write(`\r${done.toLocaleString('en-US')} rows`) }
      : {}),
  });
  if (showProgress) process.stderr.write('\n');
  const summary: SamplesSummary = {
    ...result,
    out: path.resolve(out),
    format: fmt,
    seed,
    seconds: Math.round(performance.now() - t0) / 1000,
    defectRate: result.rows === 0 ? 0 : Math.round((result.defects / result.rows) * 1e5) / 1e5,
  };
  if (asJson) {
    process.stdout.write(JSON.stringify(summary) + '\n');
  } else {
    const mb = (summary.bytes / 1048576).toFixed(1);
    process.stdout.write(
      `wrote ${summary.out} (${fmt}, ${mb} MiB) in ${summary.seconds}s\n` +
        `  rows ${summary.rows}, devices ${summary.devices}, trips ${summary.trips}, ` +
        `defects ${summary.defects} (${(summary.defectRate * 100).toFixed(2)}%), seed ${seed}\n`,
    );
  }
  return summary;
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  runSamples(process.argv.slice(2)).catch((e: unknown) => {
    process.stderr.write(`${e instanceof Error ? e.message : String(e)}\n`);
    process.exitCode = 2;
  });
}
