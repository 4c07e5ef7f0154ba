/**
 * SQL console (issue #4 item 6). Every statement is classified by DuckDB itself
 * (prepare → statement type) before it runs: only SELECT and EXPLAIN run unless
 * the user unlocks writing for that one query. Results are capped and paged.
 */
import { DuckDBConnection } from '@duckdb/node-api';
import { WorkbenchError } from '../api/errors.ts';
import type { SqlHistoryEntry, SqlResult } from './api.ts';
import { firstLine, lit, type Workspace } from '../workspace/workspace.ts';
import { toPlain, type Plain } from '../workspace/values.ts';

const READ_ONLY_TYPES = new Set([1 /* SELECT */, 4 /* EXPLAIN */]);
const TYPE_NAMES: Record<number, string> = {
  1: 'SELECT', 2: 'INSERT', 3: 'UPDATE', 4: 'EXPLAIN', 5: 'DELETE', 6: 'PREPARE', 7: 'CREATE', 8: 'EXECUTE', 9: 'ALTER', 10: 'TRANSACTION',
  11: 'COPY', 12: 'ANALYZE', 13: 'SET VARIABLE', 14: 'CREATE FUNCTION', 15: 'DROP', 16: 'EXPORT', 17: 'PRAGMA', 18: 'VACUUM', 19: 'CALL',
  20: 'SET', 21: 'LOAD', 22: 'RELATION', 23: 'EXTENSION', 24: 'LOGICAL PLAN', 25: 'ATTACH', 26: 'DETACH', 27: 'MULTI', 28: 'COPY DATABASE', 29: 'UPDATE EXTENSIONS', 30: 'MERGE INTO',
};
const DEFAULT_LIMIT = 10_000;
const MAX_LIMIT = 100_000;
const HISTORY_KEEP = 200;

function queryError(err: unknown): WorkbenchError {
  if (err instanceof WorkbenchError) return err;
  const msg = err instanceof Error ? err.message : String(err);
  // Keep DuckDB's own text (with its LINE/caret hint), which is what an SQL user needs.
  return new WorkbenchError('QUERY_FAILED', msg.trim(), { summary: firstLine(msg) });
}

/** Statement types of every statement in `sql`, in order. Throws QUERY_FAILED on a parse/bind error. */
async function classify(con: DuckDBConnection, sql: string): Promise<number[]> {
  const ex = await con.extractStatements(sql);
  if (ex.count === 0) throw new WorkbenchError('INVALID_ARGUMENT', 'the query is empty');
  const types: number[] = [];
  for (let i = 0; i < ex.count; i++) {
    const p = await ex.prepare(i);
    types.push(Number(p.statementType));
    p.destroySync?.();
  }
  return types;
}

export class SqlConsole {
  constructor(private readonly ws: Workspace) {}

  private async ensureHistory(): Promise<void> {
    await this.ws.run(`CREATE TABLE IF NOT EXISTS fleetlens.sql_history (ran_at TIMESTAMP, sql VARCHAR, ok BOOLEAN, elapsed_ms DOUBLE, rows BIGINT, error VARCHAR)`);
  }

  private async remember(sql: string, ok: boolean, elapsedMs: number, rows: number | null, error: string | null): Promise<void> {
    await this.ensureHistory();
    await this.ws.run(`INSERT INTO fleetlens.sql_history VALUES (now()::TIMESTAMP, $sql, $ok, $ms, $rows, $err)`, { sql, ok, ms: elapsedMs, rows, err: error });
    await this.ws.run(`DELETE FROM fleetlens.sql_history WHERE ran_at < (SELECT min(ran_at) FROM (SELECT ran_at FROM fleetlens.sql_history ORDER BY ran_at DESC LIMIT ${HISTORY_KEEP}))`);
  }

  async run(req: { sql: string; allowWrite?: boolean; limit?: number }): Promise<SqlResult> {
    const sql = String(req.sql ?? '').trim();
    if (!sql) throw new WorkbenchError('INVALID_ARGUMENT', 'the query is empty');
    const limit = Math.max(1, Math.min(MAX_LIMIT, Math.floor(req.limit ?? DEFAULT_LIMIT)));
    const con = await this.ws.connect();
    const t0 = performance.now();
    try {
      let types: number[];
      try {
        types = await classify(con, sql);
      } catch (err) {
        throw queryError(err);
      }
      const writes = types.filter((t) => !READ_ONLY_TYPES.has(t));
      if (writes.length && !req.allowWrite) {
        throw new WorkbenchError(
          'WRITE_NOT_ALLOWED',
          `this query would modify the workspace (${[...new Set(writes.map((t) => TYPE_NAMES[t] ?? String(t)))].join(', ')}); unlock writing for this query to run it`,
          { statementTypes: writes.map((t) => TYPE_NAMES[t] ?? String(t)) },
        );
      }
      let reader;
      try {
        reader = await con.streamAndReadUntil(sql, limit + 1);
      } catch (err) {
        throw queryError(err);
      }
      const names = reader.deduplicatedColumnNames();
      const types2 = reader.columnTypes().map((t) => String(t));
      const raw = reader.getColumns();
      const total = reader.currentRowCount;
      const truncated = total > limit;
      const values: Plain[][] = raw.map((col) => col.slice(0, limit).map(toPlain));
      const elapsedMs = performance.now() - t0;
      const res: SqlResult = {
        columns: names.map((n, i) => ({ name: n, type: types2[i] ?? '' })),
        values,
        total: Math.min(total, limit),
        offset: 0,
        elapsedMs,
        truncated,
        statementType: TYPE_NAMES[types[types.length - 1]!] ?? 'UNKNOWN',
      };
      await this.remember(sql, true, elapsedMs, Math.min(total, limit), null);
      return res;
    } catch (err) {
      const e = queryError(err);
      await this.remember(sql, false, performance.now() - t0, null, e.message).catch(() => undefined);
      throw e;
    } finally {
      con.closeSync();
    }
  }

  async export(req: { sql: string; path: string; format: 'csv' | 'parquet' }): Promise<{ path: string; rows: number }> {
    const sql = String(req.sql ?? '').trim().replace(/;\s*$/, '');
    if (req.format !== 'csv' && req.format !== 'parquet') throw new WorkbenchError('INVALID_ARGUMENT', `export format must be csv or parquet, not '${String(req.format)}'`);
    if (!req.path) throw new WorkbenchError('INVALID_ARGUMENT', 'choose a file to export to');
    const con = await this.ws.connect();
    try {
      let types: number[];
      try {
        types = await classify(con, sql);
      } catch (err) {
        throw queryError(err);
      }
      if (types.length !== 1 || types[0] !== 1) throw new WorkbenchError('INVALID_ARGUMENT', 'export takes exactly one SELECT query');
      try {
        const r = await con.run(`COPY (${sql}) TO ${lit(req.path)} (FORMAT ${req.format}${req.format === 'csv' ? ', HEADER' : ''})`);
        return { path: req.path, rows: r.rowsChanged };
      } catch (err) {
        throw queryError(err);
      }
    } finally {
      con.closeSync();
    }
  }

  async history(): Promise<SqlHistoryEntry[]> {
    await this.ensureHistory();
    const rows = await this.ws.query(`SELECT ran_at::VARCHAR AS ran_at, sql, ok, elapsed_ms, rows, error FROM fleetlens.sql_history ORDER BY ran_at DESC LIMIT ${HISTORY_KEEP}`);
    return rows.map((r) => ({
      sql: String(r.sql),
      at: String(r.ran_at),
      ok: r.ok === true,
      elapsedMs: Number(r.elapsed_ms),
      rows: r.rows === null ? null : Number(r.rows),
      error: r.error === null ? null : String(r.error),
    }));
  }
}
