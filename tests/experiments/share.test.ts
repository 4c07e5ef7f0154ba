import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { createWorkbench, type Workbench } from '../../core/app.ts';
import { WorkbenchError } from '../../core/api/errors.ts';
import type { RunInfo } from '../../core/experiments/api.ts';
import { ExperimentStore, scoresTable } from '../../core/experiments/store.ts';
import { ident } from '../../core/workspace/workspace.ts';
import { runCli } from '../helpers/cli.ts';
import { ROOT, tempDir } from '../helpers/tmp.ts';

const SMALL = join(ROOT, 'samples', 'fleet-small.csv');
const tmp = tempDir('fleetlens-share-');
const srcPath = tmp.file('source.duckdb');
let src: Workbench | null;
let dst: Workbench;
let parent: RunInfo;
let child: RunInfo;
let archive: string;

async function train(wb: Workbench, req: Parameters<Workbench['api']['models.train']>[0]): Promise<RunInfo> {
  const { runId } = await wb.api['models.train'](req);
  await wb.api['models.wait']({ runId });
  const run = await wb.api['runs.get']({ runId });
  expect(run.status, run.error ?? '').toBe('finished');
  return run;
}

async function refused(p: Promise<unknown>): Promise<WorkbenchError> {
  const e = await p.then(() => null, (x: unknown) => x);
  expect(e).toBeInstanceOf(WorkbenchError);
  return e as WorkbenchError;
}

async function scores(wb: Workbench, runId: string): Promise<unknown[]> {
  return wb.workspace.query(`SELECT * FROM fleetlens.${ident(scoresTable(runId))} ORDER BY rid`);
}

async function artifacts(wb: Workbench, runId: string): Promise<Record<string, unknown>> {
  const names = (await wb.api['runs.get']({ runId })).artifacts;
  return Object.fromEntries(await Promise.all(names.map(async (n) => [n, await wb.api['runs.artifact']({ runId, name: n })] as const)));
}

/** Everything a workspace holds about runs, to prove a failed import changed nothing. */
async function snapshot(wb: Workbench): Promise<unknown> {
  const q = (sql: string): Promise<unknown[]> => wb.workspace.query(sql);
  return {
    runs: await q(`SELECT id, experiment, parent_id FROM fleetlens.runs ORDER BY id`),
    artifacts: await q(`SELECT run_id, name FROM fleetlens.artifacts ORDER BY 1, 2`),
    experiments: await q(`SELECT name FROM fleetlens.experiments ORDER BY 1`),
    tables: await q(`SELECT table_name FROM information_schema.tables WHERE table_schema = 'fleetlens' AND table_name LIKE 'scores__%' ORDER BY 1`),
  };
}

/** A copy of `buf` with `n` bytes inverted from `at` on. */
function flip(buf: Buffer, at: number, n: number): Buffer {
  const out = Buffer.from(buf);
  for (let i = at; i < at + n && i < out.length; i++) out[i] = out[i]! ^ 0xff;
  return out;
}

function comparable(r: RunInfo): Partial<RunInfo> {
  const { id: _id, parentId: _p, children: _c, ...rest } = r;
  return rest;
}

beforeAll(async () => {
  src = await createWorkbench({ workspace: srcPath, mode: 'in-process' });
  await src.api['datasets.import']({ dataset: 'fleet', files: [SMALL] });
  parent = await train(src, { dataset: 'fleet', detector: 'isolation-forest', seed: 5, experiment: 'shared', params: { n_trees: 40 } });
  child = await train(src, { dataset: 'fleet', detector: 'robust-z', seed: 6, experiment: 'shared', parentId: parent.id });
  await src.api['runs.update']({ runId: parent.id, notes: 'baseline for the fleet', tags: ['golden'] });
  // An artifact that names another run (as sweep and per-group parents do): ids inside must follow a remap.
  await new ExperimentStore(src.workspace).putArtifact(parent.id, 'sweep', { best: child.id, trials: [{ id: child.id, value: 0.5 }] });
  parent = await src.api['runs.get']({ runId: parent.id });
  child = await src.api['runs.get']({ runId: child.id });
  dst = await createWorkbench({ workspace: tmp.file('dest.duckdb'), mode: 'in-process' });
}, 240_000);

afterAll(async () => {
  await src?.close();
  await dst?.close();
  tmp.cleanup();
});

describe('run archives', () => {
  it('exports runs with their children into one versioned gzip file', async () => {
    archive = tmp.file('runs.flrun');
    const res = await src!.api['runs.exportArchive']({ runIds: [parent.id], path: archive });
    expect(res).toMatchObject({ path: archive, runs: 2 });
    const raw = readFileSync(archive);
    expect(res.bytes).toBe(raw.length);
    expect([raw[0], raw[1]]).toEqual([0x1f, 0x8b]);
    const lines = gunzipSync(raw).toString('utf8').trimEnd().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines[0]).toMatchObject({ format: 'fleetlens-run-archive', version: 1, runs: [parent.id, child.id] });
    expect(lines.at(-1)).toMatchObject({ type: 'end', runs: 2 });
  });

  it('round-trips into a fresh workspace with ids, metrics, params, artifacts and scores intact', async () => {
    const before = (await src!.api['runs.list']({})).length;
    const { imported } = await dst.api['runs.importArchive']({ path: archive });
    expect(imported).toEqual([{ from: parent.id, to: parent.id }, { from: child.id, to: child.id }]);
    for (const run of [parent, child]) {
      const got = await dst.api['runs.get']({ runId: run.id });
      expect(got).toEqual({ ...run, artifacts: (await src!.api['runs.get']({ runId: run.id })).artifacts });
      expect(await artifacts(dst, run.id)).toEqual(await artifacts(src!, run.id));
      const rows = await scores(dst, run.id);
      expect(rows.length).toBe(run.metrics.test_rows);
      expect(rows).toEqual(await scores(src!, run.id));
    }
    expect((await dst.api['runs.get']({ runId: child.id })).parentId).toBe(parent.id);
    expect((await dst.api['runs.topAnomalies']({ runId: parent.id, limit: 3 })).values[0]).toHaveLength(3);
    expect((await dst.api['runs.scoreSeries']({ runId: parent.id })).score.length).toBeGreaterThan(0);
    expect((await dst.api['experiments.list']({})).map((e) => e.name)).toContain('shared');
    expect((await src!.api['runs.list']({})).length).toBe(before);
  });

  it('remaps ids on a second import, with parent links and ids inside artifacts following', async () => {
    const { imported } = await dst.api['runs.importArchive']({ path: archive, experiment: 'copy' });
    const [p, c] = imported;
    expect(p!.from).toBe(parent.id);
    expect(c!.from).toBe(child.id);
    expect(p!.to).not.toBe(parent.id);
    expect(c!.to).not.toBe(child.id);
    const newParent = await dst.api['runs.get']({ runId: p!.to });
    const newChild = await dst.api['runs.get']({ runId: c!.to });
    expect(newChild.parentId).toBe(p!.to);
    expect(newParent.children).toBe(1);
    expect(newParent.experiment).toBe('copy');
    expect(comparable(newParent)).toEqual({ ...comparable(parent), experiment: 'copy' });
    expect(await dst.api['runs.artifact']({ runId: p!.to, name: 'sweep' })).toEqual({ best: c!.to, trials: [{ id: c!.to, value: 0.5 }] });
    expect(await dst.api['runs.artifact']({ runId: p!.to, name: 'evaluation' })).toEqual(await src!.api['runs.artifact']({ runId: parent.id, name: 'evaluation' }));
    expect(await scores(dst, c!.to)).toEqual(await scores(src!, child.id));
    // The first import is untouched.
    expect((await dst.api['runs.get']({ runId: child.id })).parentId).toBe(parent.id);
    expect(await dst.api['runs.artifact']({ runId: parent.id, name: 'sweep' })).toEqual({ best: child.id, trials: [{ id: child.id, value: 0.5 }] });
    expect((await dst.api['runs.list']({})).length).toBe(4);
  });

  /** The archive text with its first artifact record repeated right after itself. */
  const twiceArtifact = (text: string): string => {
    const lines = text.split('\n');
    const i = lines.findIndex((l) => l.startsWith('{"type":"artifact"'));
    expect(i).toBeGreaterThan(0);
    return [...lines.slice(0, i + 1), lines[i]!, ...lines.slice(i + 1)].join('\n');
  };

  it('refuses a corrupt, truncated, tampered, foreign or newer file clearly and imports nothing', async () => {
    const raw = readFileSync(archive);
    const text = gunzipSync(raw).toString('utf8');
    const before = await snapshot(dst);
    const cases: [string, Buffer | string, string, RegExp][] = [
      // Cut mid-stream: the runs and artifacts before the cut were already inserted, so this proves the rollback.
      ['truncated.flrun', raw.subarray(0, Math.floor(raw.length * 0.6)), 'PARSE_FAILED', /corrupt or truncated.*nothing was imported/],
      ['flipped.flrun', flip(raw, Math.floor(raw.length / 2), 64), 'PARSE_FAILED', /corrupt or truncated/],
      ['tampered.flrun', gzipSync(text.replace(`"seed":5`, `"seed":50`)), 'PARSE_FAILED', /checksum mismatch/],
      ['no-end.flrun', gzipSync(text.slice(0, text.lastIndexOf('{"type":"end"'))), 'PARSE_FAILED', /end record is missing/],
      ['fleet.csv', readFileSync(SMALL), 'FILE_UNREADABLE', /not a Fleetlens run archive \(not gzip data\)/],
      ['other.json.gz', gzipSync('{"hello":"world"}\n{"type":"run"}\n'), 'FILE_UNREADABLE', /not a Fleetlens run archive/],
      ['binary.gz', gzipSync(Buffer.alloc(200_000, 7)), 'FILE_UNREADABLE', /not a Fleetlens run archive/],
      ['newer.flrun', gzipSync(text.replace('"version":1', '"version":2')), 'FILE_UNREADABLE', /format version 2, newer than this Fleetlens reads/],
      // Refused as it is read, before the checksum at the end is reached.
      ['twice.flrun', gzipSync(twiceArtifact(text)), 'PARSE_FAILED', /artifact '[a-z_]+' of run [0-9a-z]+ appears twice/],
    ];
    for (const [name, content, code, message] of cases) {
      const e = await refused(dst.api['runs.importArchive']({ path: tmp.file(name, content) }));
      expect(e.code, `${name}: ${e.message}`).toBe(code);
      expect(e.message, name).toMatch(message);
      expect(await snapshot(dst), name).toEqual(before);
    }
    expect((await refused(dst.api['runs.importArchive']({ path: tmp.file('missing.flrun') }))).code).toBe('FILE_NOT_FOUND');
  });

  it('refuses to export unknown runs, naming them', async () => {
    const e = await refused(src!.api['runs.exportArchive']({ runIds: [parent.id, 'nope'], path: tmp.file('x.flrun') }));
    expect(e.code).toBe('NOT_FOUND');
    expect(e.message).toContain('nope');
    expect((await refused(src!.api['runs.exportArchive']({ runIds: [], path: tmp.file('x.flrun') }))).code).toBe('INVALID_ARGUMENT');
  });
});

describe('fleetlens runs export / import (CLI)', () => {
  it('exports, imports and still lists runs', async () => {
    await src!.close();
    src = null;
    const file = tmp.file('cli.flrun');
    const other = tmp.file('cli-dest.duckdb');
    const exp = await runCli(['runs', 'export', '--workspace', srcPath, '--runs', parent.id, '--out', file]);
    expect(exp.code, exp.stderr).toBe(0);
    expect(exp.stdout).toMatch(/exported 2 runs/);
    const imp = await runCli(['runs', 'import', file, '--workspace', other, '--json']);
    expect(imp.code, imp.stderr).toBe(0);
    expect((JSON.parse(imp.stdout) as { imported: unknown[] }).imported).toEqual([{ from: parent.id, to: parent.id }, { from: child.id, to: child.id }]);
    const again = await runCli(['runs', 'import', file, '--workspace', other]);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toMatch(/id was taken/);
    const list = await runCli(['runs', '--workspace', other]);
    expect(list.code, list.stderr).toBe(0);
    expect(list.stdout).toContain(parent.id);
    expect(list.stdout.trim().split('\n')).toHaveLength(5);
    const bad = await runCli(['runs', 'import', SMALL, '--workspace', other]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/error \[FILE_UNREADABLE\]: .* is not a Fleetlens run archive/);
  }, 120_000);
});
