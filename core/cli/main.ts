/**
 * The headless `fleetlens` command. Every command drives the same core as the
 * app (createWorkbench + the contract), so what works here works in the UI.
 * Output is human text, or one JSON document with --json. Exit code 0 on
 * success, 1 on a Fleetlens error (printed as "error [CODE]: message"), 2 on
 * bad usage.
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { fileURLToPath } from 'node:url';
import { WorkbenchError, serializeError } from '../api/errors.ts';
import { createWorkbench, appVersion, type Workbench } from '../app.ts';
import { defaultWorkspacePath } from '../workspace/workspace.ts';
import { ensureSampleDataset } from '../data/sample.ts';
import { startHttpBridge } from '../server/http-bridge.ts';
import type { FileFormat } from '../data/api.ts';

const HELP = `fleetlens ${appVersion()}: IoT telemetry anomaly workbench

usage: fleetlens <command> [options]

commands:
  ingest <files...> --dataset NAME [--columns a,b,c] [--append|--replace]
         [--format auto|csv|whitespace|parquet|json] [--header|--no-header] [--delimiter C]
                          load files (paths or globs) into a dataset
  datasets                list the workspace's datasets
  samples --rows N --out FILE [--seed N] [--format csv|parquet|ndjson]
                          write the deterministic sample fleet
  web [--port N] [--no-sample]
                          browser mode: serve the app on 127.0.0.1 and print its URL
  hub [--port N] [--hub NAME] [--partitions N] [--store FILE]
                          local Event Hubs-compatible server (test/demo tool)

common options:
  --workspace PATH        workspace file (default: ${defaultWorkspacePath()})
  --json                  machine-readable output
  -h, --help              this help
`;

class UsageError extends Error {}

const COMMON = {
  workspace: { type: 'string' },
  json: { type: 'boolean', default: false },
  help: { type: 'boolean', short: 'h', default: false },
} as const satisfies ParseArgsConfig['options'];

function parse<O extends NonNullable<ParseArgsConfig['options']>>(argv: string[], options: O, positionals = false) {
  try {
    return parseArgs({ args: argv, options: { ...COMMON, ...options }, allowPositionals: positionals, strict: true });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}

async function withWorkbench<T>(workspace: string | undefined, fn: (wb: Workbench) => Promise<T>): Promise<T> {
  const wb = await createWorkbench({ workspace: workspace ?? defaultWorkspacePath(), mode: 'in-process' });
  try {
    return await fn(wb);
  } finally {
    await wb.close();
  }
}

function out(json: boolean, data: unknown, human: () => string): void {
  process.stdout.write(json ? JSON.stringify(data, null, 2) + '\n' : human() + '\n');
}

function formatBytes(n: number): string {
  return n >= 1 << 30 ? `${(n / (1 << 30)).toFixed(1)} GiB` : n >= 1 << 20 ? `${(n / (1 << 20)).toFixed(1)} MiB` : n >= 1024 ? `${(n / 1024).toFixed(1)} KiB` : `${n} B`;
}

async function cmdIngest(argv: string[]): Promise<void> {
  const { values, positionals } = parse(
    argv,
    {
      dataset: { type: 'string' },
      columns: { type: 'string' },
      append: { type: 'boolean', default: false },
      replace: { type: 'boolean', default: false },
      format: { type: 'string' },
      header: { type: 'boolean' },
      'no-header': { type: 'boolean' },
      delimiter: { type: 'string' },
    },
    true,
  );
  if (!values.dataset) throw new UsageError('ingest needs --dataset NAME');
  if (positionals.length === 0) throw new UsageError('ingest needs at least one file or glob');
  if (values.append && values.replace) throw new UsageError('choose one of --append and --replace');
  const format = values.format as FileFormat | undefined;
  if (format && !['auto', 'csv', 'whitespace', 'parquet', 'json'].includes(format)) throw new UsageError(`unknown --format ${format}`);
  await withWorkbench(values.workspace, async (wb) => {
    let lastPct = -1;
    const showProgress = !values.json && process.stderr.isTTY;
    const off = wb.events.on('datasets.importProgress', (p) => {
      const pct = Math.floor(p.fraction * 100);
      if (showProgress && pct !== lastPct) {
        lastPct = pct;
        process.stderr.write(`\r${p.dataset}: ${pct}% (${formatBytes(p.bytesDone)} of ${formatBytes(p.bytesTotal)})`);
      }
    });
    // Ctrl-C cancels cleanly: the import's transaction rolls back and the workspace is unchanged.
    const jobId = `cli-${process.pid}`;
    const onSigint = (): void => void wb.api['datasets.cancelImport']({ jobId });
    process.once('SIGINT', onSigint);
    try {
      const res = await wb.api['datasets.import']({
        jobId,
        dataset: values.dataset!,
        files: positionals,
        mode: values.append ? 'append' : values.replace ? 'replace' : 'create',
        format,
        columns: values.columns ? values.columns.split(',').map((s) => s.trim()).filter(Boolean) : undefined,
        header: values.header ? true : values['no-header'] ? false : undefined,
        delimiter: values.delimiter,
      });
      if (showProgress) process.stderr.write('\n');
      out(values.json, res, () => {
        const d = res.dataset;
        const lines = [
          `dataset ${d.name}: +${res.rowsAdded.toLocaleString('en-US')} rows (${d.rowCount.toLocaleString('en-US')} total) in ${(res.elapsedMs / 1000).toFixed(2)} s`,
          `columns: ${d.columns.map((c) => `${c.name} ${c.type} [${c.role}]`).join(', ')}`,
        ];
        if (d.timeSpan) lines.push(`time span: ${d.timeSpan.min} .. ${d.timeSpan.max}`);
        if (res.rejected) lines.push(`rejected rows: ${res.rejected} (see them in the app's Data page, Rejects tab)`);
        return lines.join('\n');
      });
    } finally {
      off();
      process.off('SIGINT', onSigint);
    }
  });
}

async function cmdDatasets(argv: string[]): Promise<void> {
  const { values } = parse(argv, {});
  await withWorkbench(values.workspace, async (wb) => {
    const list = await wb.api['datasets.list']({});
    out(values.json, list, () =>
      list.length === 0
        ? 'no datasets yet: fleetlens ingest FILE --dataset NAME'
        : list
            .map((d) => `${d.name.padEnd(20)} ${String(d.rowCount).padStart(12)} rows  ${String(d.columns.length).padStart(3)} columns  ${d.rejectCount ? d.rejectCount + ' rejected  ' : ''}${d.sources.length} file(s)`)
            .join('\n'),
    );
  });
}

async function cmdWeb(argv: string[]): Promise<void> {
  const { values } = parse(argv, { port: { type: 'string' }, 'no-sample': { type: 'boolean', default: false } });
  const wb = await createWorkbench({ workspace: values.workspace ?? defaultWorkspacePath(), mode: 'browser' });
  const staticDir = fileURLToPath(new URL('../../dist/renderer', import.meta.url));
  const bridge = await startHttpBridge({ workbench: wb, staticDir, port: values.port ? Number(values.port) : 0 });
  out(values.json, { event: 'listening', url: bridge.url, port: bridge.port, workspace: wb.workspace.path }, () => `Fleetlens (browser mode) on ${bridge.url}\nworkspace: ${wb.workspace.path}\nCtrl-C to stop.`);
  if (!values['no-sample']) {
    ensureSampleDataset(wb).catch((err: unknown) => process.stderr.write(`could not load the sample fleet: ${serializeError(err).message}\n`));
  }
  await new Promise<void>((resolve) => {
    const stop = (): void => resolve();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  await bridge.close();
  await wb.close();
}

/** Run the CLI; returns the exit code. */
export async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  try {
    switch (cmd) {
      case 'ingest':
        await cmdIngest(rest);
        return 0;
      case 'datasets':
        await cmdDatasets(rest);
        return 0;
      case 'samples': {
        const { runSamples } = await import('../../samples/cli.ts');
        await runSamples(rest);
        return 0;
      }
      case 'web':
        await cmdWeb(rest);
        return 0;
      case 'hub': {
        const { runHub } = await import('../stream/hub-main.ts');
        await runHub(rest);
        return 0;
      }
      case undefined:
      case '-h':
      case '--help':
      case 'help':
        process.stdout.write(HELP);
        return cmd === undefined ? 2 : 0;
      case '--version':
      case '-v':
        process.stdout.write(appVersion() + '\n');
        return 0;
      default:
        throw new UsageError(`unknown command '${cmd}'`);
    }
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`fleetlens: ${err.message}\nrun 'fleetlens --help' for usage\n`);
      return 2;
    }
    const e = serializeError(err);
    if (argv.includes('--json')) process.stdout.write(JSON.stringify({ error: e }, null, 2) + '\n');
    process.stderr.write(`error [${e.code}]: ${e.message}\n`);
    return err instanceof WorkbenchError ? 1 : 1;
  }
}
