/**
 * Run archives (issue #6 item 7): runs with their children, every artifact and
 * their scores tables in one gzip'd JSON-lines file, so a colleague can import
 * them into another workspace.
 *
 * Layout, one JSON document per line:
 *   {"format":"fleetlens-run-archive","version":1,"appVersion","createdAt","runs":[ids]}
 *   {"type":"run","row":{…fleetlens.runs columns…}}        parents before children
 *   {"type":"artifact","runId","name","content":"<stored JSON text>"}
 *   {"type":"scores","runId","columns":[{"name","type"}]}  then its rows:
 *   {"type":"rows","runId","rows":[[…], …]}                 non-finite doubles as "NaN"/"Infinity"/"-Infinity"
 *   {"type":"end","runs","artifacts","scoreRows","sha256"}   SHA-256 of every line before it
 * All run records come first, so ids are remapped before any artifact names them.
 */
import { createHash, type Hash } from 'node:crypto';
import { closeSync, createReadStream, createWriteStream, existsSync, mkdirSync, openSync, readSync, renameSync, rmSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { StringDecoder } from 'node:string_decoder';
import { createGunzip, createGzip } from 'node:zlib';
import type { DuckDBAppender } from '@duckdb/node-api';
import { WorkbenchError } from '../api/errors.ts';
import type { EventBus } from '../api/events.ts';
import { ident, type Workspace } from '../workspace/workspace.ts';
import { toPlain, type Plain } from '../workspace/values.ts';
import type { ShareApi } from './share-api.ts';
import { newRunId, scoresTable, type ExperimentStore } from './store.ts';

/** Written in every archive's header; a reader refuses anything else. */
export const ARCHIVE_FORMAT = 'fleetlens-run-archive';
/** Bump when the layout changes incompatibly; readers refuse newer versions. */
export const ARCHIVE_VERSION = 1;

const ROWS_PER_RECORD = 2048;
const MAX_HEADER = 64 * 1024;
const MAX_LINE = 512 * 1024 * 1024;
const ID_RE = /^[A-Za-z0-9_-]{1,64}$/;
const FLOAT_TYPES = new Set(['DOUBLE', 'FLOAT', 'REAL']);
const INT_TYPES = new Set(['BIGINT', 'INTEGER', 'SMALLINT', 'TINYINT']);
const SCORE_TYPES = new Set([...FLOAT_TYPES, ...INT_TYPES, 'VARCHAR', 'BOOLEAN']);

type Cell = string | number | boolean | null;

interface Header {
  format: string;
  version: number;
  appVersion: string;
  createdAt: string;
  runs: string[];
}

type ArchiveRecord =
  | { type: 'run'; row: Record<string, Plain> }
  | { type: 'artifact'; runId: string; name: string; content: string }
  | { type: 'scores'; runId: string; columns: { name: string; type: string }[] }
  | { type: 'rows'; runId: string; rows: Cell[][] }
  | { type: 'end'; runs: number; artifacts: number; scoreRows: number; sha256: string };

function encodeCell(v: Plain, type: string): Cell {
  if (typeof v === 'number' && !Number.isFinite(v) && FLOAT_TYPES.has(type)) return Number.isNaN(v) ? 'NaN' : v > 0 ? 'Infinity' : '-Infinity';
  return v;
}

/** Every run to export, descendants included, ordered so a parent precedes its children. */
async function runsToExport(store: ExperimentStore, ws: Workspace, runIds: string[]): Promise<string[]> {
  const missing: string[] = [];
  for (const id of runIds) {
    try {
      await store.getRun(id);
    } catch (err) {
      if (err instanceof WorkbenchError && err.code === 'NOT_FOUND') missing.push(id);
      else throw err;
    }
  }
  if (missing.length) throw new WorkbenchError('NOT_FOUND', `unknown run${missing.length > 1 ? 's' : ''}: ${missing.join(', ')}`, { runIds: missing });
  const parent = new Map<string, string | null>();
  const queue = [...runIds];
  while (queue.length) {
    const id = queue.shift()!;
    if (parent.has(id)) continue;
    const row = (await ws.query(`SELECT parent_id, status FROM fleetlens.runs WHERE id = $id`, { id }))[0]!;
    if (row.status === 'running') throw new WorkbenchError('INVALID_ARGUMENT', `run ${id} is still running; export it once it has ended`, { runId: id });
    parent.set(id, row.parent_id === null ? null : String(row.parent_id));
    for (const c of await ws.query(`SELECT id FROM fleetlens.runs WHERE parent_id = $id ORDER BY started_at, id`, { id })) queue.push(String(c.id));
  }
  const depth = (id: string): number => {
    let d = 0;
    for (let p = parent.get(id); p && parent.has(p) && d < parent.size; p = parent.get(p)) d++;
    return d;
  };
  return [...parent.keys()].map((id, i) => ({ id, i, d: depth(id) })).sort((a, b) => a.d - b.d || a.i - b.i).map((x) => x.id);
}

async function scoreColumns(q: (sql: string, p: Record<string, string>) => Promise<Record<string, Plain>[]>, runId: string): Promise<{ name: string; type: string }[]> {
  const rows = await q(`SELECT column_name, data_type FROM information_schema.columns WHERE table_schema = 'fleetlens' AND table_name = $t ORDER BY ordinal_position`, { t: scoresTable(runId) });
  return rows.map((r) => ({ name: String(r.column_name), type: String(r.data_type) }));
}

/** Write an archive of `runIds` (and their descendants) to `path`. */
export async function exportArchive(deps: { workspace: Workspace; store: ExperimentStore; appVersion: string }, req: { runIds: string[]; path: string }): Promise<{ path: string; runs: number; bytes: number }> {
  const { workspace: ws, store } = deps;
  if (!Array.isArray(req.runIds) || req.runIds.length === 0) throw new WorkbenchError('INVALID_ARGUMENT', 'runIds must list at least one run');
  if (typeof req.path !== 'string' || !req.path.trim()) throw new WorkbenchError('INVALID_ARGUMENT', 'an archive needs an output path');
  const ids = await runsToExport(store, ws, [...new Set(req.runIds.map(String))]);
  const out = resolve(req.path);
  mkdirSync(dirname(out), { recursive: true });
  const staged = `${out}.${process.pid}.tmp`;
  const con = await ws.connect();
  async function* lines(): AsyncGenerator<string> {
    const hash = createHash('sha256');
    const line = (o: unknown): string => {
      const s = JSON.stringify(o) + '\n';
      hash.update(s);
      return s;
    };
    const header: Header = { format: ARCHIVE_FORMAT, version: ARCHIVE_VERSION, appVersion: deps.appVersion, createdAt: new Date().toISOString(), runs: ids };
    yield line(header);
    for (const id of ids) yield line({ type: 'run', row: (await ws.query(`SELECT * FROM fleetlens.runs WHERE id = $id`, { id }))[0]! });
    let artifacts = 0;
    for (const id of ids) {
      for (const a of await ws.query(`SELECT name, content FROM fleetlens.artifacts WHERE run_id = $id ORDER BY name`, { id })) {
        artifacts++;
        yield line({ type: 'artifact', runId: id, name: String(a.name), content: String(a.content) });
      }
    }
    let scoreRows = 0;
    for (const id of ids) {
      const columns = await scoreColumns((sql, p) => ws.query(sql, p), id);
      if (!columns.length) continue;
      const odd = columns.find((c) => !SCORE_TYPES.has(c.type));
      if (odd) throw new WorkbenchError('INTERNAL', `scores of run ${id} have a column ${odd.name} of type ${odd.type}, which archives do not support yet`);
      yield line({ type: 'scores', runId: id, columns });
      // Streamed chunk by chunk: a scores table can hold millions of rows.
      const result = await con.stream(`SELECT * FROM fleetlens.${ident(scoresTable(id))}`);
      let batch: Cell[][] = [];
      for await (const rows of result.yieldRows()) {
        for (const r of rows) batch.push(r.map((v, i) => encodeCell(toPlain(v), columns[i]!.type)));
        if (batch.length >= ROWS_PER_RECORD) {
          scoreRows += batch.length;
          yield line({ type: 'rows', runId: id, rows: batch });
          batch = [];
        }
      }
      if (batch.length) {
        scoreRows += batch.length;
        yield line({ type: 'rows', runId: id, rows: batch });
      }
    }
    const end = { type: 'end', runs: ids.length, artifacts, scoreRows, sha256: hash.digest('hex') };
    yield JSON.stringify(end) + '\n';
  }
  try {
    await pipeline(Readable.from(lines()), createGzip(), createWriteStream(staged));
    renameSync(staged, out);
  } catch (err) {
    rmSync(staged, { force: true });
    if (err instanceof WorkbenchError) throw err;
    throw new WorkbenchError('INTERNAL', `cannot write archive ${out}: ${(err as Error).message}`, { path: out });
  } finally {
    con.closeSync();
  }
  return { path: out, runs: ids.length, bytes: statSync(out).size };
}

function notArchive(path: string, why: string): WorkbenchError {
  return new WorkbenchError('FILE_UNREADABLE', `${path} is not a Fleetlens run archive (${why})`, { path });
}

function corrupt(path: string, why: string): WorkbenchError {
  return new WorkbenchError('PARSE_FAILED', `run archive ${path} is corrupt or truncated: ${why}; nothing was imported`, { path });
}

/** Lines of a gzip'd text file, decoded across chunk boundaries; zlib errors surface from the iteration. */
async function* gzipLines(path: string): AsyncGenerator<string> {
  const src = createReadStream(path);
  const gunzip = createGunzip();
  src.on('error', (e) => gunzip.destroy(e));
  src.pipe(gunzip);
  const decoder = new StringDecoder('utf8');
  let buf = '';
  let first = true;
  for await (const chunk of gunzip as AsyncIterable<Buffer>) {
    buf += decoder.write(chunk);
    let nl: number;
    while ((nl = buf.indexOf('\n')) >= 0) {
      yield buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      first = false;
    }
    if (buf.length > (first ? MAX_HEADER : MAX_LINE)) throw notArchive(path, first ? 'no header line' : 'a line is implausibly long');
  }
  buf += decoder.end();
  if (buf.length) yield buf;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Replace every string equal to a remapped run id, anywhere in an artifact (sweep trials, per-group routes…). */
function remapIds(v: unknown, map: Map<string, string>): unknown {
  if (typeof v === 'string') return map.get(v) ?? v;
  if (Array.isArray(v)) return v.map((x) => remapIds(x, map));
  if (isObject(v)) return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, remapIds(x, map)]));
  return v;
}

function appendCell(app: DuckDBAppender, v: Cell, type: string): boolean {
  if (v === null) {
    app.appendNull();
    return true;
  }
  if (FLOAT_TYPES.has(type)) {
    const n = typeof v === 'number' ? v : v === 'NaN' ? Number.NaN : v === 'Infinity' ? Number.POSITIVE_INFINITY : v === '-Infinity' ? Number.NEGATIVE_INFINITY : null;
    if (n === null) return false;
    if (type === 'DOUBLE') app.appendDouble(n);
    else app.appendFloat(n);
    return true;
  }
  if (INT_TYPES.has(type)) {
    if (typeof v !== 'number' || !Number.isInteger(v)) return false;
    if (type === 'BIGINT') app.appendBigInt(BigInt(v));
    else if (type === 'INTEGER') app.appendInteger(v);
    else if (type === 'SMALLINT') app.appendSmallInt(v);
    else app.appendTinyInt(v);
    return true;
  }
  if (type === 'VARCHAR' && typeof v === 'string') app.appendVarchar(v);
  else if (type === 'BOOLEAN' && typeof v === 'boolean') app.appendBoolean(v);
  else return false;
  return true;
}

/** Import an archive in one transaction; returns old → new run ids in archive order. */
export async function importArchive(deps: { workspace: Workspace; store: ExperimentStore; events?: EventBus }, req: { path: string; experiment?: string }): Promise<{ imported: { from: string; to: string }[] }> {
  const { workspace: ws, store } = deps;
  if (typeof req.path !== 'string' || !req.path.trim()) throw new WorkbenchError('INVALID_ARGUMENT', 'importArchive needs the archive path');
  const path = resolve(req.path);
  if (!existsSync(path) || !statSync(path).isFile()) throw new WorkbenchError('FILE_NOT_FOUND', `run archive ${path} does not exist`, { path });
  const target = req.experiment?.trim() || null;
  if (req.experiment !== undefined && !target) throw new WorkbenchError('INVALID_ARGUMENT', 'experiment name must not be empty');
  const magic = Buffer.alloc(2);
  const fd = openSync(path, 'r');
  try {
    readSync(fd, magic, 0, 2, 0);
  } finally {
    closeSync(fd);
  }
  if (magic[0] !== 0x1f || magic[1] !== 0x8b) throw notArchive(path, 'not gzip data');
  // Creates the experiment tables in a workspace that has never recorded a run.
  await store.listExperiments();
  const runColumns = new Map((await ws.query(`SELECT column_name, data_type FROM information_schema.columns WHERE table_schema = 'fleetlens' AND table_name = 'runs'`)).map((r) => [String(r.column_name), String(r.data_type)]));

  const con = await ws.connect();
  const q = async (sql: string, params?: Record<string, Cell> | Cell[]): Promise<Record<string, Plain>[]> => {
    const reader = await con.runAndReadAll(sql, params);
    const names = reader.columnNames();
    return reader.getRows().map((row) => Object.fromEntries(names.map((n, i) => [n, toPlain(row[i])])));
  };
  const imported: { from: string; to: string }[] = [];
  const map = new Map<string, string>();
  let remapped: Map<string, string> | null = null;
  const pendingRuns: Record<string, Plain>[] = [];
  let placed = false;
  let appender: { app: DuckDBAppender; runId: string; types: string[] } | null = null;
  const closeAppender = (): void => {
    appender?.app.closeSync();
    appender = null;
  };
  const counts = { runs: 0, artifacts: 0, scoreRows: 0 };
  const scored = new Set<string>();
  // The artifacts table has no key (store.ts): a name twice for one run is refused here.
  const named = new Set<string>();

  const taken = async (id: string, used: Set<string>): Promise<boolean> => {
    if (used.has(id)) return true;
    const r = await q(
      `SELECT (SELECT count(*) FROM fleetlens.runs WHERE id = $1) + (SELECT count(*) FROM fleetlens.artifacts WHERE run_id = $1)
         + (SELECT count(*) FROM information_schema.tables WHERE table_schema = 'fleetlens' AND table_name = $2) AS n`,
      [id, scoresTable(id)],
    );
    return Number(r[0]!.n) > 0;
  };

  // Decide every new id first, then insert: a child's parent link is known whichever order the archive lists them.
  const placeRuns = async (): Promise<void> => {
    placed = true;
    const used = new Set<string>();
    for (const row of pendingRuns) {
      const from = String(row.id);
      let to = from;
      while (await taken(to, used)) to = newRunId();
      used.add(to);
      map.set(from, to);
    }
    const moved = [...map].filter(([a, b]) => a !== b);
    remapped = moved.length ? new Map(moved) : null;
    for (const row of pendingRuns) {
      const from = String(row.id);
      const to = map.get(from)!;
      const oldParent = row.parent_id === null || row.parent_id === undefined ? null : String(row.parent_id);
      let parent: string | null = null;
      if (oldParent !== null) parent = map.get(oldParent) ?? ((await q(`SELECT count(*) n FROM fleetlens.runs WHERE id = $1`, [oldParent]))[0]!.n ? oldParent : null);
      const experiment = target ?? String(row.experiment);
      await q(`INSERT INTO fleetlens.experiments (name, created_at) VALUES ($1, now()::TIMESTAMP) ON CONFLICT DO NOTHING`, [experiment]);
      const values: Record<string, Plain> = { ...row, id: to, parent_id: parent, experiment };
      const cols = [...runColumns.keys()].filter((c) => c in values);
      await q(
        `INSERT INTO fleetlens.runs (${cols.map(ident).join(', ')}) VALUES (${cols.map((c, i) => `CAST($${i + 1} AS ${runColumns.get(c)!})`).join(', ')})`,
        cols.map((c) => values[c] ?? null),
      );
      imported.push({ from, to });
      counts.runs++;
    }
  };

  await con.run('BEGIN TRANSACTION');
  try {
    const hash: Hash = createHash('sha256');
    let lineNo = 0;
    let ended = false;
    try {
      for await (const line of gzipLines(path)) {
        lineNo++;
        if (ended) {
          if (line.trim()) throw corrupt(path, `data after the end record (line ${lineNo})`);
          continue;
        }
        let rec: unknown;
        try {
          rec = JSON.parse(line);
        } catch {
          throw lineNo === 1 ? notArchive(path, 'no archive header') : corrupt(path, `line ${lineNo} is not valid JSON`);
        }
        if (lineNo === 1) {
          const h = rec as Partial<Header>;
          if (!isObject(rec) || h.format !== ARCHIVE_FORMAT) throw notArchive(path, 'no archive header');
          if (typeof h.version !== 'number' || h.version > ARCHIVE_VERSION) {
            throw new WorkbenchError('FILE_UNREADABLE', `run archive ${path} has format version ${String(h.version)}, newer than this Fleetlens reads (${ARCHIVE_VERSION}); update Fleetlens`, { path });
          }
          hash.update(line + '\n');
          continue;
        }
        if (!isObject(rec) || typeof rec.type !== 'string') throw corrupt(path, `line ${lineNo} is not an archive record`);
        const r = rec as ArchiveRecord;
        if (r.type === 'end') {
          closeAppender();
          if (!placed) await placeRuns();
          const digest = hash.digest('hex');
          if (r.sha256 !== digest) throw corrupt(path, 'checksum mismatch');
          if (r.runs !== counts.runs || r.artifacts !== counts.artifacts || r.scoreRows !== counts.scoreRows) {
            throw corrupt(path, `expected ${r.runs} runs, ${r.artifacts} artifacts and ${r.scoreRows} score rows, read ${counts.runs}, ${counts.artifacts} and ${counts.scoreRows}`);
          }
          ended = true;
          continue;
        }
        hash.update(line + '\n');
        if (r.type === 'run') {
          if (placed) throw corrupt(path, `run record after artifacts (line ${lineNo})`);
          const row = r.row;
          if (!isObject(row) || typeof row.id !== 'string' || !ID_RE.test(row.id) || typeof row.name !== 'string' || typeof row.experiment !== 'string') throw corrupt(path, `invalid run record on line ${lineNo}`);
          if (pendingRuns.some((p) => p.id === row.id)) throw corrupt(path, `run ${row.id} appears twice`);
          pendingRuns.push(row);
          continue;
        }
        if (!placed) await placeRuns();
        const to = typeof r.runId === 'string' ? map.get(r.runId) : undefined;
        if (!to) throw corrupt(path, `line ${lineNo} refers to a run the archive does not hold`);
        if (r.type === 'artifact') {
          closeAppender();
          if (typeof r.name !== 'string' || typeof r.content !== 'string') throw corrupt(path, `invalid artifact record on line ${lineNo}`);
          const key = `${to}\n${r.name}`;
          if (named.has(key)) throw corrupt(path, `artifact '${r.name}' of run ${r.runId} appears twice`);
          named.add(key);
          let parsed: unknown;
          try {
            parsed = JSON.parse(r.content);
          } catch {
            throw corrupt(path, `artifact '${r.name}' of run ${r.runId} is not valid JSON`);
          }
          // Stored text is kept byte for byte unless some id really moved.
          const content = remapped ? JSON.stringify(remapIds(parsed, remapped)) : r.content;
          await q(`INSERT INTO fleetlens.artifacts (run_id, name, content) VALUES ($1, $2, $3)`, [to, r.name, content]);
          counts.artifacts++;
        } else if (r.type === 'scores') {
          closeAppender();
          const cols = r.columns;
          if (!Array.isArray(cols) || !cols.length || cols.some((c) => !isObject(c) || typeof c.name !== 'string' || !SCORE_TYPES.has(String(c.type)))) throw corrupt(path, `invalid scores header on line ${lineNo}`);
          if (scored.has(to)) throw corrupt(path, `scores of run ${r.runId} appear twice`);
          scored.add(to);
          await q(`CREATE TABLE fleetlens.${ident(scoresTable(to))} (${cols.map((c) => `${ident(c.name)} ${c.type}`).join(', ')})`);
          appender = { app: await con.createAppender(scoresTable(to), 'fleetlens'), runId: to, types: cols.map((c) => c.type) };
        } else if (r.type === 'rows') {
          const a = appender as { app: DuckDBAppender; runId: string; types: string[] } | null;
          if (!a || a.runId !== to || !Array.isArray(r.rows)) throw corrupt(path, `score rows without their header on line ${lineNo}`);
          for (const row of r.rows) {
            if (!Array.isArray(row) || row.length !== a.types.length) throw corrupt(path, `a score row on line ${lineNo} has the wrong shape`);
            for (let i = 0; i < row.length; i++) if (!appendCell(a.app, row[i]!, a.types[i]!)) throw corrupt(path, `a score value on line ${lineNo} does not fit column type ${a.types[i]}`);
            a.app.endRow();
          }
          counts.scoreRows += r.rows.length;
        } else {
          throw corrupt(path, `unknown record type '${String((r as { type: unknown }).type)}' on line ${lineNo}`);
        }
      }
    } catch (err) {
      if (err instanceof WorkbenchError) throw err;
      // zlib (bad data, unexpected end) and DuckDB errors: the archive cannot be imported as written.
      throw lineNo === 0 ? notArchive(path, (err as Error).message) : corrupt(path, (err as Error).message.split('\n')[0]!);
    }
    if (lineNo === 0) throw notArchive(path, 'empty');
    if (!ended) throw corrupt(path, 'the end record is missing');
    await con.run('COMMIT');
  } catch (err) {
    try {
      closeAppender();
    } catch {
      // The appender may hold rows the rollback discards anyway.
    }
    await con.run('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    con.closeSync();
  }
  if (deps.events) for (const { to } of imported) deps.events.emit('runs.updated', await store.getRun(to));
  return { imported };
}

/** Build the runs.exportArchive / runs.importArchive handlers. */
export function shareHandlers(deps: { workspace: Workspace; store: ExperimentStore; events: EventBus; appVersion: string }): ShareApi {
  return {
    'runs.exportArchive': (req) => exportArchive(deps, req),
    'runs.importArchive': (req) => importArchive(deps, req),
  };
}
