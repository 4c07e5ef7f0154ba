/**
 * Where a run's scored test rows live (issues #5, #6). The rows a preparation scores
 * (rid, device, trip, t, label) are written once, as `rows__<preparation>`; each run
 * that scores them stores only its scores (`scorevals__<run>`, positionally aligned),
 * and `scores__<run>` is a view joining the two by position, its alarm column derived
 * from the run's threshold. A 16-trial sweep on 3M test rows thus writes the device
 * and trip names once, not 16 times (at 3M rows a CREATE TABLE AS of the full rows
 * took 1.9 s, of the scores alone 0.15 s, measured).
 * Runs imported from an archive keep a plain `scores__<run>` table; readers see the
 * same columns either way.
 *
 * A rows table stores devices as an ENUM column (type `rowsdev__<preparation>`, the names the
 * preparation saw) and trips as integer codes into a names table (`rowstrip__<preparation>`), so
 * writing it appends numbers only: no string is compressed, hashed or joined (at 3M rows the former
 * join of codes and names, re-sorted by position, took ~3 CPU-s of the trials' time). Trips are not
 * an ENUM: DuckDB logs an ENUM column's values in the WAL once per row group it writes, and a 10M-row
 * preparation's 59k trip names made that 21 MB, past the 16 MB that sets off a checkpoint, which then ran
 * during the trials (~6 s, taking a core from the model workers). A view reads both as text, as it
 * reads the older tables that stored the names or typed their trips; the trip lookup is a subquery,
 * which DuckDB does not leave out when a query does not read trips (a scan of 3M rows grouped by
 * device: ~140 ms against ~70 ms, measured; a join with the names was ~400 ms).
 *
 * A rows table lives while a preparation holds it or a view reads it: it is dropped,
 * with its device type and trip names, by `dropUnusedRows`, after a preparation ends and after runs are deleted.
 */
import type { TestRows } from '../models/trial.ts';
import { appendColumns, appendColumnsOn } from '../workspace/append.ts';
import { ident, type Workspace } from '../workspace/workspace.ts';

/** Relation (table or view, in schema fleetlens) holding a run's scored test rows. */
export function scoresTable(runId: string): string {
  return `scores__${runId}`;
}

function valuesTable(runId: string): string {
  return `scorevals__${runId}`;
}

/** The ENUM type of rows table `rows` (rows__<id>) holding device names. */
function rowsDeviceType(rows: string): string {
  return `rowsdev__${rows.slice('rows__'.length)}`;
}

/** The table of trip names (code, name) of rows table `rows`. */
function rowsTripNames(rows: string): string {
  return `rowstrip__${rows.slice('rows__'.length)}`;
}

/** Rows tables this process wrote, per workspace: their trips are codes into a names table. */
const coded = new WeakMap<Workspace, Set<string>>();

/** Names made distinct, and the codes that indexed the given list re-pointed at them. */
function distinctNames(codes: Int32Array, names: string[]): { codes: Int32Array; names: string[] } {
  const index = new Map<string, number>();
  const to = names.map((n) => {
    let j = index.get(n);
    if (j === undefined) index.set(n, (j = index.size));
    return j;
  });
  if (index.size === names.length) return { codes, names };
  // Two entries with one name: a blank for a missing device or trip, and a device named ''.
  return { codes: codes.map((c) => to[c]!), names: [...index.keys()] };
}

/**
 * Write rows table `rows` (in schema fleetlens) for a preparation's test rows: rid, device, trip,
 * t, label in stream order. Device is an ENUM column over the names, trip a code into the trip
 * names table; both are appended as indexes.
 * Nothing is left behind when it fails.
 */
export async function writeRowsTable(ws: Workspace, rows: string, t: Pick<TestRows, 'rows' | 'rid' | 'device' | 'devices' | 'trip' | 'trips' | 'time' | 'label'>): Promise<void> {
  const devType = rowsDeviceType(rows);
  const tripNames = rowsTripNames(rows);
  const dev = distinctNames(t.device, t.devices);
  const trip = distinctNames(t.trip, t.trips);
  const con = await ws.connect();
  try {
    // The names reach the type and the table through a temporary table: a list of 100k trips is no SQL literal.
    await con.run(`CREATE TEMP TABLE names (kind VARCHAR, code INTEGER, name VARCHAR)`);
    const app = await con.createAppender('names', 'main', 'temp');
    for (const [kind, names] of [['d', dev.names], ['t', trip.names]] as const) {
      names.forEach((n, code) => {
        app.appendVarchar(kind);
        app.appendInteger(code);
        app.appendVarchar(n);
        app.endRow();
      });
    }
    app.closeSync();
    await con.run(`CREATE TYPE fleetlens.${ident(devType)} AS ENUM (SELECT name FROM temp.main.names WHERE kind = 'd' ORDER BY code)`);
    await con.run(`CREATE TABLE fleetlens.${ident(tripNames)} AS SELECT code, name FROM temp.main.names WHERE kind = 't' ORDER BY code`);
    await con.run(`CREATE TABLE fleetlens.${ident(rows)} (rid DOUBLE, device fleetlens.${ident(devType)}, trip INTEGER, t DOUBLE, label DOUBLE)`);
    // A NaN label (unknown) stays NaN here; the view reads it as NULL.
    await appendColumnsOn(con, { schema: 'fleetlens', table: rows }, [t.rid, dev.codes, trip.codes, t.time, t.label], t.rows);
    let mine = coded.get(ws);
    if (!mine) coded.set(ws, (mine = new Set()));
    mine.add(rows);
  } catch (err) {
    await dropRowsTable(ws, rows).catch(() => undefined);
    throw err;
  } finally {
    con.closeSync();
  }
}

async function dropRowsTable(ws: Workspace, rows: string): Promise<void> {
  coded.get(ws)?.delete(rows);
  await ws.run(`DROP TABLE IF EXISTS fleetlens.${ident(rows)}`);
  await ws.run(`DROP TABLE IF EXISTS fleetlens.${ident(rowsTripNames(rows))}`);
  // Types of both names, as rows tables written before trip names were a table also typed their trips.
  for (const type of [rowsDeviceType(rows), rowsTripNames(rows)]) await ws.run(`DROP TYPE IF EXISTS fleetlens.${ident(type)}`);
}

/** Rows tables held by live preparations, per workspace. */
const held = new WeakMap<Workspace, Map<string, number>>();

/** Keep `table` (a rows table a preparation wrote) from being dropped until released. */
export function holdRows(ws: Workspace, table: string): () => void {
  let m = held.get(ws);
  if (!m) held.set(ws, (m = new Map()));
  m.set(table, (m.get(table) ?? 0) + 1);
  let done = false;
  return () => {
    if (done) return;
    done = true;
    const n = (m.get(table) ?? 1) - 1;
    if (n > 0) m.set(table, n);
    else m.delete(table);
  };
}

/**
 * Store a run's scores against a preparation's rows table (`rows`, in schema fleetlens):
 * one narrow table of scores and the `scores__<run>` view, whose alarm column compares
 * each score with the run's threshold (written exactly: a double's shortest round-trip text).
 */
export async function writeRunScores(ws: Workspace, rows: string, runId: string, scores: Float64Array, threshold: number): Promise<void> {
  const vals = valuesTable(runId);
  const view = scoresTable(runId);
  try {
    await ws.run(`CREATE OR REPLACE TABLE fleetlens.${ident(vals)} (score DOUBLE)`);
    await appendColumns(ws, 'fleetlens', vals, [scores], scores.length);
    // Trip codes are read through their names table; the trip of an older rows table (text or ENUM) is cast.
    // Only a rows table this process did not write is looked up (a catalog query: 20-60 ms on the bench workspace).
    const integer = coded.get(ws)?.has(rows) || (await ws.query(`SELECT data_type AS t FROM duckdb_columns() WHERE schema_name = 'fleetlens' AND table_name = $rows AND column_name = 'trip'`, { rows }))[0]?.t === 'INTEGER';
    const trip = integer ? `(SELECT n.name FROM fleetlens.${ident(rowsTripNames(rows))} n WHERE n.code = m.trip)` : 'm.trip::VARCHAR';
    // Casts and the NaN test are no-ops on a rows table from before ENUM columns (names, NULL labels).
    await ws.run(`CREATE OR REPLACE VIEW fleetlens.${ident(view)} AS
      SELECT m.rid, m.device::VARCHAR AS device, ${trip} AS trip, m.t, CASE WHEN isnan(m.label) THEN NULL ELSE m.label END AS label,
        s.score, s.score >= ${String(threshold)}::DOUBLE AS alarm
      FROM fleetlens.${ident(rows)} m POSITIONAL JOIN fleetlens.${ident(vals)} s`);
  } catch (err) {
    await dropRunScores(ws, runId).catch(() => undefined);
    throw err;
  }
}

/** Drop a run's scores, whether a view over a rows table or a plain table (an imported run). */
export async function dropRunScores(ws: Workspace, runId: string): Promise<void> {
  const name = scoresTable(runId);
  const kind = await ws.query(`SELECT table_type AS k FROM information_schema.tables WHERE table_schema = 'fleetlens' AND table_name = $t`, { t: name });
  const k = String(kind[0]?.k ?? '');
  if (k === 'VIEW') await ws.run(`DROP VIEW IF EXISTS fleetlens.${ident(name)}`);
  else if (k) await ws.run(`DROP TABLE IF EXISTS fleetlens.${ident(name)}`);
  await ws.run(`DROP TABLE IF EXISTS fleetlens.${ident(valuesTable(runId))}`);
}

/** Drop the rows tables no view reads and no live preparation holds, with their types (and types a killed write left). */
export async function dropUnusedRows(ws: Workspace): Promise<void> {
  const views = (await ws.query(`SELECT sql FROM duckdb_views() WHERE schema_name = 'fleetlens' AND view_name LIKE 'scores\\_\\_%' ESCAPE '\\'`)).map((r) => String(r.sql));
  const tables = (await ws.query(`SELECT table_name AS t FROM duckdb_tables() WHERE schema_name = 'fleetlens' AND table_name LIKE 'rows\\_\\_%' ESCAPE '\\'`)).map((r) => String(r.t));
  // DuckDB keeps a view's SQL normalized (quotes dropped): find the rows tables it names by pattern.
  const read = new Set(views.flatMap((sql) => sql.match(/\brows__[0-9a-z]+/g) ?? []));
  const live = held.get(ws);
  const kept = new Set(live?.keys());
  for (const t of tables) {
    if (kept.has(t) || read.has(t)) kept.add(t);
    else await dropRowsTable(ws, t);
  }
  // Names whose rows table is gone: a process killed between making them and the table.
  const keep = new Set([...kept].flatMap((t) => [rowsDeviceType(t), rowsTripNames(t)]));
  const types = await ws.query(`SELECT type_name AS t FROM duckdb_types() WHERE schema_name = 'fleetlens' AND (type_name LIKE 'rowsdev\\_\\_%' ESCAPE '\\' OR type_name LIKE 'rowstrip\\_\\_%' ESCAPE '\\')`);
  for (const { t } of types) if (!keep.has(String(t))) await ws.run(`DROP TYPE IF EXISTS fleetlens.${ident(String(t))}`);
  const names = await ws.query(`SELECT table_name AS t FROM duckdb_tables() WHERE schema_name = 'fleetlens' AND table_name LIKE 'rowstrip\\_\\_%' ESCAPE '\\'`);
  for (const { t } of names) if (!keep.has(String(t))) await ws.run(`DROP TABLE IF EXISTS fleetlens.${ident(String(t))}`);
}

/** Value tables left without their view by a process killed between the two writes (call at startup). */
export async function dropOrphanValues(ws: Workspace): Promise<void> {
  const views = new Set((await ws.query(`SELECT view_name AS v FROM duckdb_views() WHERE schema_name = 'fleetlens'`)).map((r) => String(r.v)));
  const vals = (await ws.query(`SELECT table_name AS t FROM duckdb_tables() WHERE schema_name = 'fleetlens' AND table_name LIKE 'scorevals\\_\\_%' ESCAPE '\\'`)).map((r) => String(r.t));
  for (const t of vals) if (!views.has(scoresTable(t.slice('scorevals__'.length)))) await ws.run(`DROP TABLE IF EXISTS fleetlens.${ident(t)}`);
}
