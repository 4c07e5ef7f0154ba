/**
 * Bulk appends of typed columns to a table: one DuckDB data chunk per 2,048 rows,
 * each column copied into its vector in one go (no per-value calls).
 */
import { DuckDBDataChunk, type DuckDBAppender, type DuckDBConnection } from '@duckdb/node-api';
import bindings from '@duckdb/node-bindings';
import { inTransaction, type Workspace } from './workspace.ts';

/** Append typed columns to `schema`.`table` of the workspace, on a connection of its own. */
export async function appendColumns(ws: Workspace, schema: string, table: string, columns: AppendColumn[], n: number): Promise<void> {
  const con = await ws.connect();
  try {
    await appendColumnsOn(con, { schema, table }, columns, n);
  } finally {
    con.closeSync();
  }
}

/** A column to append: numbers in the table column's physical type (an ENUM column takes its value indexes). */
export type AppendColumn = Int32Array | Float64Array | Uint8Array | Uint16Array | Uint32Array;

/**
 * Append typed columns on `con`: the way to fill that connection's temporary tables
 * (catalog 'temp', schema 'main'), which no other connection sees. The chunk takes the
 * table's column types, so an ENUM column is filled with value indexes, no strings.
 *
 * All rows go in one transaction of `con`'s own (so `con` must not be in one): all or none.
 * Outside a transaction the appender commits every 204,800 rows it flushes, and a commit
 * may run a checkpoint of the whole workspace, synchronously, on the calling (event-loop)
 * thread: writing 3M test rows, one flush took 4.1–4.9 s and the loop 5.4–6.1 s. In one
 * transaction the loop took 0.7–1.2 s (longest flush 0.1–0.25 s) and the commit, which
 * runs off the event loop, 0.25–0.3 s (measured at 10M rows, .scratch-perf/cputl.mts).
 */
export async function appendColumnsOn(con: DuckDBConnection, at: { catalog?: string; schema: string; table: string }, columns: AppendColumn[], n: number): Promise<void> {
  await inTransaction(con, () => appendAll(con, at, columns, n));
}

/** Blocks of 2,048 rows appended between two turns of the event loop. */
const YIELD_EVERY = 64;

async function appendAll(con: DuckDBConnection, at: { catalog?: string; schema: string; table: string }, columns: AppendColumn[], n: number): Promise<void> {
  const app = await con.createAppender(at.table, at.schema, at.catalog ?? null);
  if (app.columnCount !== columns.length) throw new Error(`${at.table} has ${app.columnCount} columns, ${columns.length} given`);
  // A short column would append the previous block's values again: refused, not padded.
  columns.forEach((c, j) => {
    if (c.length < n) throw new Error(`column ${j} of ${at.table} has ${c.length} values, ${n} rows given`);
  });
  const size = 2048;
  // One chunk, filled again for every block: the appender copies it. Wrapping a chunk's vectors costs
  // ~0.1 ms per column (measured), more than the copy itself, so a chunk per block would double the cost.
  const { chunk } = chunkFor(app);
  chunk.rowCount = Math.min(size, n);
  const vectors = columns.map((_, j) => {
    // The vector's typed view (not in the public typings) takes a block in one copy.
    const v = chunk.getColumnVector(j) as unknown as { items?: unknown; flush(): void };
    if (!ArrayBuffer.isView(v.items) || v.items instanceof DataView) throw new Error(`column ${j} of ${at.table} (${String(app.columnType(j))}) cannot be appended from numbers`);
    return { flush: () => v.flush(), items: v.items as unknown as AppendColumn };
  });
  for (let from = 0; from < n; from += size) {
    const m = Math.min(size, n - from);
    if (m !== chunk.rowCount) chunk.rowCount = m;
    // Appending is synchronous (DuckDB compresses a full row group inside the call): the event loop is
    // let go every YIELD_EVERY blocks, so other work (another trial starting, events to the UI) is not held
    // for the whole table: 3M scores took ~200 ms in one piece.
    if (from > 0 && from % (size * YIELD_EVERY) === 0) await new Promise<void>((resolve) => setImmediate(resolve));
    columns.forEach((c, j) => {
      vectors[j]!.items.set(c.subarray(from, from + m));
      vectors[j]!.flush();
    });
    app.appendDataChunk(chunk);
  }
  // Closed (which flushes) only when every block went in; a failure rolls every block back.
  app.closeSync();
}

/**
 * An empty chunk for `app`, typed with the appender's own column types. DuckDB checks every appended
 * chunk's types against the table's; types shared with the appender pass at once, while an ENUM type
 * built anew is compared value by value, per chunk (measured: 1M rows into a 300k-value ENUM column,
 * 1.3 s that way, 0.1 s this way). The appender's handle is not public in @duckdb/node-api (pinned in
 * package.json); without it the chunk is built from the appender's types as JS objects: the same rows, only slower.
 */
export function chunkFor(app: DuckDBAppender): { chunk: DuckDBDataChunk; shared: boolean } {
  const columns = Array.from({ length: app.columnCount }, (_, j) => j);
  const handle = (app as unknown as { appender?: Parameters<typeof bindings.appender_column_type>[0] }).appender;
  if (handle) {
    try {
      return { chunk: new DuckDBDataChunk(bindings.create_data_chunk(columns.map((j) => bindings.appender_column_type(handle, j)))), shared: true };
    } catch {
      // Not the binding's appender after all: fall through.
    }
  }
  // A JS type of an ENUM holds all its values: built only here.
  return { chunk: DuckDBDataChunk.create(columns.map((j) => app.columnType(j))), shared: false };
}
