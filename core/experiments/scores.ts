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
 * A rows table lives while a preparation holds it or a view reads it: it is dropped
 * by `dropUnusedRows`, after a preparation ends and after runs are deleted.
 */
import { appendColumns } from '../workspace/append.ts';
import { ident, type Workspace } from '../workspace/workspace.ts';

/** Relation (table or view, in schema fleetlens) holding a run's scored test rows. */
export function scoresTable(runId: string): string {
  return `scores__${runId}`;
}

function valuesTable(runId: string): string {
  return `scorevals__${runId}`;
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
    await ws.run(`CREATE OR REPLACE VIEW fleetlens.${ident(view)} AS
      SELECT m.rid, m.device, m.trip, m.t, m.label, s.score, s.score >= ${String(threshold)}::DOUBLE AS alarm
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

/** Drop the rows tables no view reads and no live preparation holds. */
export async function dropUnusedRows(ws: Workspace): Promise<void> {
  const views = (await ws.query(`SELECT sql FROM duckdb_views() WHERE schema_name = 'fleetlens' AND view_name LIKE 'scores\\_\\_%' ESCAPE '\\'`)).map((r) => String(r.sql));
  const tables = (await ws.query(`SELECT table_name AS t FROM duckdb_tables() WHERE schema_name = 'fleetlens' AND table_name LIKE 'rows\\_\\_%' ESCAPE '\\'`)).map((r) => String(r.t));
  // DuckDB keeps a view's SQL normalized (quotes dropped): find the rows tables it names by pattern.
  const read = new Set(views.flatMap((sql) => sql.match(/\brows__[0-9a-z]+/g) ?? []));
  const live = held.get(ws);
  for (const t of tables) {
    if (live?.has(t) || read.has(t)) continue;
    await ws.run(`DROP TABLE IF EXISTS fleetlens.${ident(t)}`);
  }
}

/** Value tables left without their view by a process killed between the two writes (call at startup). */
export async function dropOrphanValues(ws: Workspace): Promise<void> {
  const views = new Set((await ws.query(`SELECT view_name AS v FROM duckdb_views() WHERE schema_name = 'fleetlens'`)).map((r) => String(r.v)));
  const vals = (await ws.query(`SELECT table_name AS t FROM duckdb_tables() WHERE schema_name = 'fleetlens' AND table_name LIKE 'scorevals\\_\\_%' ESCAPE '\\'`)).map((r) => String(r.t));
  for (const t of vals) if (!views.has(scoresTable(t.slice('scorevals__'.length)))) await ws.run(`DROP TABLE IF EXISTS fleetlens.${ident(t)}`);
}
