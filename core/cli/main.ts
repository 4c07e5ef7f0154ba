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
import { orderSettled } from '../data/order.ts';
import { startHttpBridge } from '../server/http-bridge.ts';
import type { FileFormat } from '../data/api.ts';
import type { TrainRequest } from '../models/api.ts';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';

const HELP = `fleetlens ${appVersion()}: IoT telemetry anomaly workbench

usage: fleetlens <command> [options]

commands:
  ingest <files...> --dataset NAME [--columns a,b,c] [--append|--replace]
         [--format auto|csv|whitespace|parquet|json] [--header|--no-header] [--delimiter C]
                          load files (paths or globs) into a dataset
  datasets                list the workspace's datasets
  samples --rows N --out FILE [--seed N] [--format csv|parquet|ndjson]
                          write the deterministic sample fleet
  explore overview|trips|profile --dataset NAME [--preset labelled|longest|missing|extreme] [--limit N]
                          fleet overview, notable trips, column profile
  train --dataset D --detector NAME [--param k=v ...] [--recipe FILE] [--label COL|--no-label]
        [--split time:0.7|devices:0.2] [--threshold contamination:0.02|fixed:X|best-f1]
        [--normal-only] [--eval-dataset D] [--experiment NAME] [--seed N] [--data-seed N] [--sustain K]
                          train an anomaly model; the run is recorded in the workspace
  runs [--experiment NAME]
                          list recorded runs with their metrics
  runs export --runs ID,... --out FILE
                          write runs (children included) with artifacts and scores to one archive
  runs import FILE [--experiment NAME]
                          import a run archive (ids kept, or remapped when taken)
  report [--experiment NAME] [--runs ID,...] --out FILE.html|FILE.pdf
                          self-contained report of an experiment or runs (PDF needs Chromium)
  score --run ID | --model NAME@ALIAS --dataset D --out FILE.csv|FILE.parquet
                          score a dataset with a run's or a registered model
  register --run ID --name NAME [--alias production]
                          register a run's model as the next version of NAME
  models                  list registered models, versions and aliases
  web [--port N] [--no-sample]
                          browser mode: serve the app on 127.0.0.1 and print its URL
  hub [--port N] [--hub NAME] [--partitions N] [--store FILE]
                          local Event Hubs-compatible server (test/demo tool)
  replay --dataset D | --file F --connection STRING [--rate N/s | --speedup X] [--batch N]
         [--limit N] [--loop] [--malformed-rate R] [--hub NAME]
                          publish rows as JSON events to an event hub (demo/test tool)
  stream --connection STRING --model RUN_ID|NAME@ALIAS [--consumer-group G] [--table NAME]
         [--start checkpoint|earliest|latest] [--alarm K/N] [--dedupe-field F] [--metrics-port P]
         [--memory-budget MIB|none]
                          score an event hub live into the workspace until SIGTERM

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
      // The rows are sorted after the import (data/order.ts); a one-shot command leaves them sorted rather than for the next one to do.
      if (showProgress) process.stderr.write(`${res.dataset.name}: sorting the rows by group and time…\n`);
      await orderSettled(wb.workspace, res.dataset.name);
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
  // One line, so a supervising process can read it as soon as it is printed.
  if (values.json) process.stdout.write(JSON.stringify({ event: 'listening', url: bridge.url, port: bridge.port, workspace: wb.workspace.path }) + '\n');
  else out(false, null, () => `Fleetlens (browser mode) on ${bridge.url}\nworkspace: ${wb.workspace.path}\nCtrl-C to stop.`);
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

function table(rows: (string | number)[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => String(r[i] ?? '').length)));
  return rows.map((r) => r.map((v, i) => (typeof v === 'number' ? String(v).padStart(widths[i]!) : String(v).padEnd(widths[i]!))).join('  ')).join('\n');
}

function fmt(v: unknown): string | number {
  if (typeof v === 'number') return Number.isInteger(v) ? v : Number(v.toPrecision(4));
  return v === null || v === undefined ? '' : String(v);
}

async function cmdExplore(argv: string[]): Promise<void> {
  const { values, positionals } = parse(argv, { dataset: { type: 'string' }, preset: { type: 'string' }, limit: { type: 'string' } }, true);
  const what = positionals[0];
  if (!values.dataset) throw new UsageError('explore needs --dataset NAME');
  if (!['overview', 'trips', 'profile'].includes(what ?? '')) throw new UsageError('explore needs one of: overview, trips, profile');
  await withWorkbench(values.workspace, async (wb) => {
    const dataset = values.dataset!;
    if (what === 'overview') {
      const o = await wb.api['explore.overview']({ dataset });
      out(values.json, o, () =>
        [
          `dataset ${o.dataset}: ${o.rows.toLocaleString('en-US')} rows, ${o.devices ?? '-'} devices, ${o.trips ?? '-'} trips`,
          o.timeSpan ? `time span: ${o.timeSpan.min} .. ${o.timeSpan.max}` : 'no time column',
          o.label ? `label '${o.label}': rate ${(100 * (o.labelRate ?? 0)).toFixed(2)}%` : 'no label column',
          ...o.labelByCategory.map((c) => `by ${c.column}: ${c.groups.map((g) => `${g.key} ${(100 * g.rate).toFixed(2)}%`).join(', ')}`),
          `top devices by label rate: ${o.labelByDevice.slice(0, 5).map((g) => `${g.key} ${(100 * g.rate).toFixed(2)}%`).join(', ')}`,
          `missing: ${o.missing.filter((m) => m.rate > 0).map((m) => `${m.column} ${(100 * m.rate).toFixed(2)}%`).join(', ') || 'none'}`,
        ].join('\n'),
      );
    } else if (what === 'trips') {
      const preset = (values.preset ?? 'labelled') as 'labelled' | 'longest' | 'missing' | 'extreme';
      if (!['labelled', 'longest', 'missing', 'extreme'].includes(preset)) throw new UsageError(`unknown --preset ${preset}`);
      const p = await wb.api['explore.trips']({ dataset, preset, limit: values.limit ? Number(values.limit) : 20 });
      const show = ['device', 'trip', 'rows', 'duration', 'labelled', 'label_rate', 'missing_rate', 'extreme_z'].filter((c) => p.columns.some((x) => x.name === c));
      const idx = show.map((c) => p.columns.findIndex((x) => x.name === c));
      const rows = (p.values[0] ?? []).map((_, r) => idx.map((i) => fmt(p.values[i]![r])));
      out(values.json, p, () => `${p.total} ${p.columns.some((c) => c.name === 'trip') ? 'trips' : 'devices'}, sorted by preset '${preset}':\n` + table([show, ...rows]));
    } else {
      const prof = await wb.api['explore.profile']({ dataset });
      const head = ['column', 'type', 'role', 'count', 'nulls', 'distinct', 'min', 'max', 'mean', 'std', 'flag'];
      const rows = prof.map((c) => [c.name, c.type, c.role, c.count, c.nulls, c.distinct, fmt(c.min), fmt(c.max), fmt(c.mean), fmt(c.std), c.constant ? 'CONSTANT' : c.binary ? 'two values' : '']);
      out(values.json, prof, () => table([head, ...rows]));
    }
  });
}

function parseSplit(s: string | undefined): TrainRequest['split'] {
  if (!s) return undefined;
  const [kind, v] = s.split(':');
  if (kind === 'time') return { kind: 'time', trainFraction: Number(v ?? 0.7) };
  if (kind === 'devices') return { kind: 'devices', holdoutFraction: Number(v ?? 0.2) };
  throw new UsageError(`--split must be time:FRACTION or devices:FRACTION, got '${s}'`);
}

function parseThreshold(s: string | undefined): TrainRequest['threshold'] {
  if (!s) return undefined;
  const [kind, v] = s.split(':');
  if (kind === 'contamination') return { kind, value: Number(v ?? 0.02) };
  if (kind === 'fixed') return { kind, value: Number(v) };
  if (kind === 'best-f1') return { kind };
  throw new UsageError(`--threshold must be contamination:SHARE, fixed:VALUE or best-f1, got '${s}'`);
}

async function cmdTrain(argv: string[]): Promise<void> {
  const { values } = parse(argv, {
    dataset: { type: 'string' },
    detector: { type: 'string' },
    param: { type: 'string', multiple: true },
    recipe: { type: 'string' },
    label: { type: 'string' },
    'no-label': { type: 'boolean', default: false },
    split: { type: 'string' },
    threshold: { type: 'string' },
    'normal-only': { type: 'boolean', default: false },
    'eval-dataset': { type: 'string' },
    experiment: { type: 'string' },
    seed: { type: 'string' },
    'data-seed': { type: 'string' },
    sustain: { type: 'string' },
    'failure-column': { type: 'string' },
    name: { type: 'string' },
  });
  if (!values.dataset || !values.detector) throw new UsageError('train needs --dataset D and --detector NAME');
  const params: Record<string, string | number | boolean> = {};
  for (const kv of values.param ?? []) {
    const eq = kv.indexOf('=');
    if (eq <= 0) throw new UsageError(`--param takes k=v, got '${kv}'`);
    const v = kv.slice(eq + 1);
    params[kv.slice(0, eq)] = v === 'true' ? true : v === 'false' ? false : v !== '' && Number.isFinite(Number(v)) ? Number(v) : v;
  }
  let recipe: TrainRequest['recipe'];
  if (values.recipe) {
    try {
      recipe = JSON.parse(readFileSync(values.recipe, 'utf8')) as TrainRequest['recipe'];
    } catch (err) {
      throw new WorkbenchError('INVALID_ARGUMENT', `cannot read recipe ${values.recipe}: ${(err as Error).message}`);
    }
  }
  await withWorkbench(values.workspace, async (wb) => {
    const { runId } = await wb.api['models.train']({
      dataset: values.dataset!,
      detector: values.detector!,
      params,
      recipe,
      label: values['no-label'] ? null : values.label,
      split: parseSplit(values.split),
      threshold: parseThreshold(values.threshold),
      normalOnly: values['normal-only'],
      evalDataset: values['eval-dataset'],
      experiment: values.experiment,
      seed: values.seed === undefined ? undefined : Number(values.seed),
      dataSeed: values['data-seed'] === undefined ? undefined : Number(values['data-seed']),
      leadTime: { sustain: values.sustain ? Number(values.sustain) : undefined, failureColumn: values['failure-column'] },
      runName: values.name,
    });
    const showProgress = !values.json && process.stderr.isTTY;
    const off = wb.events.on('runs.updated', (r) => {
      if (showProgress && r.id === runId) process.stderr.write(`\r${(100 * r.progress).toFixed(0).padStart(3)}% ${r.phase.padEnd(60)}`);
    });
    const onSigint = (): void => void wb.api['models.cancel']({ runId });
    process.once('SIGINT', onSigint);
    await wb.api['models.wait']({ runId });
    off();
    process.off('SIGINT', onSigint);
    if (showProgress) process.stderr.write('\n');
    const run = await wb.api['runs.get']({ runId });
    out(values.json, run, () =>
      [
        `run ${run.id} (${run.experiment}): ${run.status}${run.error ? ` — ${run.error}` : ''} in ${((run.durationMs ?? 0) / 1000).toFixed(1)} s, seed ${run.seed}`,
        ...Object.entries(run.metrics).map(([k, v]) => `  ${k.padEnd(20)} ${fmt(v)}`),
      ].join('\n'),
    );
    if (run.status !== 'finished') throw new WorkbenchError(run.status === 'cancelled' ? 'CANCELLED' : 'MODEL_FAILED', run.error ?? `run ${run.status}`);
  });
}

async function cmdRuns(argv: string[]): Promise<void> {
  if (argv[0] === 'export') return cmdRunsExport(argv.slice(1));
  if (argv[0] === 'import') return cmdRunsImport(argv.slice(1));
  const { values } = parse(argv, { experiment: { type: 'string' } });
  await withWorkbench(values.workspace, async (wb) => {
    const runs = await wb.api['runs.list']({ experiment: values.experiment });
    const keys = ['roc_auc', 'pr_auc', 'f1', 'lead_time_mean'];
    out(values.json, runs, () =>
      runs.length === 0
        ? 'no runs yet: fleetlens train --dataset D --detector isolation-forest'
        : table([['id', 'experiment', 'name', 'status', 'detector', 'seed', ...keys], ...runs.map((r) => [r.id, r.experiment, r.name, r.status, String(r.params.detector ?? ''), r.seed, ...keys.map((k) => fmt(r.metrics[k]))])]),
    );
  });
}

function idList(s: string | undefined): string[] {
  return (s ?? '').split(',').map((x) => x.trim()).filter(Boolean);
}

async function cmdRunsExport(argv: string[]): Promise<void> {
  const { values } = parse(argv, { runs: { type: 'string' }, out: { type: 'string' } });
  const runIds = idList(values.runs);
  if (!runIds.length || !values.out) throw new UsageError('runs export needs --runs ID,... and --out FILE');
  await withWorkbench(values.workspace, async (wb) => {
    const res = await wb.api['runs.exportArchive']({ runIds, path: resolve(values.out!) });
    out(values.json, res, () => `exported ${res.runs} run${res.runs === 1 ? '' : 's'} → ${res.path} (${formatBytes(res.bytes)})`);
  });
}

async function cmdRunsImport(argv: string[]): Promise<void> {
  const { values, positionals } = parse(argv, { experiment: { type: 'string' } }, true);
  if (positionals.length !== 1) throw new UsageError('runs import needs exactly one archive FILE');
  await withWorkbench(values.workspace, async (wb) => {
    const res = await wb.api['runs.importArchive']({ path: resolve(positionals[0]!), experiment: values.experiment });
    out(values.json, res, () =>
      [`imported ${res.imported.length} run${res.imported.length === 1 ? '' : 's'}`, ...res.imported.map((m) => (m.from === m.to ? `  ${m.to}` : `  ${m.from} → ${m.to} (id was taken)`))].join('\n'),
    );
  });
}

async function cmdReport(argv: string[]): Promise<void> {
  const { values } = parse(argv, { experiment: { type: 'string' }, runs: { type: 'string' }, out: { type: 'string' } });
  const runIds = idList(values.runs);
  if (!values.out || (!values.experiment && !runIds.length)) throw new UsageError('report needs --experiment NAME and/or --runs ID,..., and --out FILE.html|FILE.pdf');
  const ext = /\.(html?|pdf)$/i.exec(values.out)?.[1]?.toLowerCase();
  if (!ext) throw new UsageError(`--out must end in .html or .pdf, got '${values.out}'`);
  await withWorkbench(values.workspace, async (wb) => {
    const res = await wb.api['reports.export']({ experiment: values.experiment, runIds: runIds.length ? runIds : undefined, path: resolve(values.out!), format: ext === 'pdf' ? 'pdf' : 'html' });
    out(values.json, res, () => `report of ${res.runs} run${res.runs === 1 ? '' : 's'} → ${res.path} (${formatBytes(res.bytes)})`);
  });
}

async function cmdScore(argv: string[]): Promise<void> {
  const { values } = parse(argv, { run: { type: 'string' }, model: { type: 'string' }, dataset: { type: 'string' }, out: { type: 'string' } });
  const model = values.model ?? values.run;
  if (!model || !values.dataset || !values.out) throw new UsageError('score needs --run ID (or --model NAME@alias), --dataset D and --out FILE');
  await withWorkbench(values.workspace, async (wb) => {
    const res = await wb.api['models.score']({ model, dataset: values.dataset!, out: resolve(values.out!) });
    out(values.json, res, () => `scored ${res.rows.toLocaleString('en-US')} rows (${res.alarms.toLocaleString('en-US')} alarms) → ${res.path}`);
  });
}

async function cmdRegister(argv: string[]): Promise<void> {
  const { values } = parse(argv, { run: { type: 'string' }, name: { type: 'string' }, alias: { type: 'string', multiple: true }, description: { type: 'string' } });
  if (!values.run || !values.name) throw new UsageError('register needs --run ID and --name NAME');
  await withWorkbench(values.workspace, async (wb) => {
    let v = await wb.api['registry.register']({ runId: values.run!, name: values.name!, description: values.description });
    for (const alias of values.alias ?? []) v = await wb.api['registry.setAlias']({ name: v.name, alias, version: v.version });
    out(values.json, v, () => `registered ${v.name} version ${v.version} (run ${v.runId})${v.aliases.length ? `, aliases: ${v.aliases.join(', ')}` : ''}`);
  });
}

async function cmdModels(argv: string[]): Promise<void> {
  const { values } = parse(argv, {});
  await withWorkbench(values.workspace, async (wb) => {
    const list = await wb.api['registry.list']({});
    out(values.json, list, () =>
      list.length === 0 ? 'no registered models: fleetlens register --run ID --name NAME' : table([['name', 'version', 'run', 'aliases', 'registered'], ...list.map((v) => [v.name, v.version, v.runId, v.aliases.join(','), v.registeredAt])]),
    );
  });
}

/** Run the CLI; returns the exit code. */
export async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  // `fleetlens <command> --help` prints help instead of running the command (e.g. starting a server).
  if (cmd !== undefined && (rest.includes('--help') || rest.includes('-h'))) {
    process.stdout.write(HELP);
    return 0;
  }
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
      case 'explore':
        await cmdExplore(rest);
        return 0;
      case 'train':
        await cmdTrain(rest);
        return 0;
      case 'runs':
        await cmdRuns(rest);
        return 0;
      case 'score':
        await cmdScore(rest);
        return 0;
      case 'report':
        await cmdReport(rest);
        return 0;
      case 'register':
        await cmdRegister(rest);
        return 0;
      case 'models':
        await cmdModels(rest);
        return 0;
      case 'hub': {
        const { runHub } = await import('../stream/hub-main.ts');
        await runHub(rest);
        return 0;
      }
      case 'replay': {
        const { runReplay } = await import('../stream/replay.ts');
        await runReplay(rest);
        return 0;
      }
      case 'stream': {
        const { runStream } = await import('../stream/stream-main.ts');
        await runStream(rest);
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
