/**
 * A dataset's rows stored sorted by its default feature grouping (trip, else device) and time,
 * NULLs last, ties in import order, so rowids follow that order. A feature pass over rows in
 * that order then streams the table as stored instead of sorting every row for every
 * preparation (batch.ts), and a trip's rows sit together for Explore's queries.
 *
 * The sort runs in the background after an import: done inside the import it would take longer
 * than reading the files and hold every row in memory at once. It is one transaction of its own
 * (the sorted copy swapped in, the order recorded), so readers see either order, never half of
 * one. The import leaves a pending mark in the same transaction as its rows: a process killed
 * mid-sort keeps the files' order and the mark, and the next open sorts again. Work that reads
 * rowids (a feature pass) waits for its dataset's pending sort; so does the next import into it.
 */
import type { DuckDBConnection } from '@duckdb/node-api';
import type { ColumnInfo } from './api.ts';
import { defaultGroupRole } from './roles.ts';
import { ident, type Workspace } from '../workspace/workspace.ts';

const PENDING = 'order-pending:';

/** fleetlens.meta key of a dataset's stored row order (written by a finished sort, sortNow). */
export function orderKey(dataset: string): string {
  return `order:${dataset}`;
}

/**
 * The columns a dataset's rows are stored sorted by (NULLs last, ties in import order), so
 * its rowids follow that order; null when its order is the files' (or an append broke it).
 */
export async function storedOrder(ws: Workspace, dataset: string): Promise<string[] | null> {
  const rows = await ws.query('SELECT value FROM fleetlens.meta WHERE key = $k', { k: orderKey(dataset) });
  if (!rows.length) return null;
  const cols: unknown = JSON.parse(String(rows[0]!.value));
  return Array.isArray(cols) && cols.every((c) => typeof c === 'string') ? cols : null;
}

interface Sorting {
  done: Promise<void>;
  con: DuckDBConnection | null;
  stopped: boolean;
}
const sortsByWorkspace = new WeakMap<Workspace, Map<string, Sorting>>();
function sorts(ws: Workspace): Map<string, Sorting> {
  let m = sortsByWorkspace.get(ws);
  if (!m) sortsByWorkspace.set(ws, (m = new Map()));
  return m;
}

/** In an import's transaction: the rows are in the files' order until the background sort ends. */
export async function markUnsorted(con: DuckDBConnection, dataset: string, sortLater: boolean): Promise<void> {
  await con.run('DELETE FROM fleetlens.meta WHERE key = $k OR key = $p', { k: orderKey(dataset), p: PENDING + dataset });
  if (sortLater) await con.run('INSERT INTO fleetlens.meta VALUES ($p, $v)', { p: PENDING + dataset, v: new Date().toISOString() });
}

/** The columns a sort of this dataset orders by: its default grouping's column, then time; null without a time column. */
export function sortColumns(columns: readonly ColumnInfo[]): string[] | null {
  const time = columns.find((c) => c.role === 'time');
  if (!time) return null;
  const role = defaultGroupRole(columns);
  const group = role ? columns.find((c) => c.role === role) : undefined;
  return [...(group ? [group.name] : []), time.name];
}

async function sortNow(ws: Workspace, dataset: string, job: Sorting): Promise<void> {
  const con = await ws.connect();
  job.con = con;
  // An interrupt stops the statement under way; the check stops the ones after it.
  const run = async (sql: string, params?: Record<string, string>): Promise<void> => {
    if (job.stopped) throw new Error('the workspace is closing');
    await con.run(sql, params);
  };
  try {
    if (job.stopped) return;
    await con.run('BEGIN TRANSACTION');
    try {
      const meta = await con.runAndReadAll('SELECT columns_json FROM fleetlens.datasets WHERE name = $n', { n: dataset });
      const pending = await con.runAndReadAll('SELECT 1 FROM fleetlens.meta WHERE key = $p', { p: PENDING + dataset });
      const row = meta.getRows()[0];
      // Deleted, or sorted by an earlier call, since it was asked for.
      if (!row || pending.getRows().length === 0) {
        await con.run('ROLLBACK');
        return;
      }
      const order = sortColumns(JSON.parse(String(row[0])) as ColumnInfo[]);
      if (order) {
        const sorted = `__fl_sorted_${dataset}`;
        await run(`CREATE TABLE ${ident(sorted)} AS SELECT * FROM ${ident(dataset)} ORDER BY ${order.map((c) => `${ident(c)} ASC NULLS LAST`).join(', ')}, rowid`);
        await run(`DROP TABLE ${ident(dataset)}`);
        await run(`ALTER TABLE ${ident(sorted)} RENAME TO ${ident(dataset)}`);
        await run('INSERT OR REPLACE INTO fleetlens.meta VALUES ($k, $v)', { k: orderKey(dataset), v: JSON.stringify(order) });
      }
      await run('DELETE FROM fleetlens.meta WHERE key = $p', { p: PENDING + dataset });
      await run('COMMIT');
    } catch (err) {
      await con.run('ROLLBACK').catch(() => undefined);
      // Stopped (the workspace closes): the mark stays, and the next open sorts again.
      if (!job.stopped) throw err;
    }
  } finally {
    job.con = null;
    con.closeSync();
  }
}

/** Sort a dataset marked by its import, after any sort of it already under way. Resolves when done; a failure leaves the files' order. */
export function sortInBackground(ws: Workspace, dataset: string): Promise<void> {
  const all = sorts(ws);
  const before = all.get(dataset)?.done ?? Promise.resolve();
  const job: Sorting = { done: Promise.resolve(), con: null, stopped: false };
  job.done = before
    .catch(() => undefined)
    .then(() => sortNow(ws, dataset, job))
    .finally(() => {
      if (all.get(dataset) === job) all.delete(dataset);
    });
  all.set(dataset, job);
  return job.done;
}

/** Wait until no sort of the dataset is under way (its outcome does not matter to the caller). */
export async function orderSettled(ws: Workspace, dataset: string): Promise<void> {
  await sortsByWorkspace.get(ws)?.get(dataset)?.done.catch(() => undefined);
}

/** Datasets an import marked and no sort finished (a killed process): sort them again. */
export async function pendingSorts(ws: Workspace): Promise<string[]> {
  const rows = await ws.query(`SELECT substr(key, ${PENDING.length + 1}) AS name FROM fleetlens.meta WHERE starts_with(key, $p) ORDER BY 1`, { p: PENDING });
  return rows.map((r) => String(r.name));
}

/** Stop every sort under way (the workspace closes): each rolls back, its mark kept for the next open. */
export async function stopSorting(ws: Workspace): Promise<void> {
  const all = [...(sortsByWorkspace.get(ws)?.values() ?? [])];
  for (const job of all) {
    job.stopped = true;
    job.con?.interrupt();
  }
  await Promise.all(all.map((j) => j.done.catch(() => undefined)));
}
