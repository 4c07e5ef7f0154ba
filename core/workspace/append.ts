/**
 * Bulk appends of typed columns to a workspace table: one DuckDB data chunk per
 * 2,048 rows, each column copied into its vector in one go (no per-value calls).
 */
import { DuckDBDataChunk, DuckDBDoubleType, DuckDBIntegerType, type DuckDBDoubleVector, type DuckDBIntegerVector } from '@duckdb/node-api';
import type { Workspace } from './workspace.ts';

/** Append typed columns through DuckDB data chunks (bulk copies, no per-value calls). */
export async function appendColumns(ws: Workspace, schema: string, table: string, columns: (Int32Array | Float64Array)[], n: number): Promise<void> {
  const con = await ws.connect();
  try {
    const app = await con.createAppender(table, schema);
    const types = columns.map((c) => (c instanceof Int32Array ? DuckDBIntegerType.instance : DuckDBDoubleType.instance));
    const size = 2048;
    for (let at = 0; at < n; at += size) {
      const m = Math.min(size, n - at);
      const chunk = DuckDBDataChunk.create(types, m);
      columns.forEach((c, j) => {
        const v = chunk.getColumnVector(j) as DuckDBIntegerVector | DuckDBDoubleVector;
        // The vector's typed view (not in the public typings) takes the block in one copy.
        const items = (v as unknown as { items?: unknown }).items;
        if (items instanceof (c instanceof Int32Array ? Int32Array : Float64Array) && (items as Int32Array | Float64Array).length >= m) {
          (items as Int32Array | Float64Array).set(c.subarray(at, at + m));
        } else {
          for (let i = 0; i < m; i++) v.setItem(i, c[at + i]!);
        }
        v.flush();
      });
      app.appendDataChunk(chunk);
    }
    app.closeSync();
  } finally {
    con.closeSync();
  }
}
