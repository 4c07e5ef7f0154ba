/**
 * A workspace is one DuckDB file: the user's datasets as plain tables in `main`
 * (so the SQL console can name them directly) and Fleetlens' own bookkeeping in
 * the `fleetlens` schema. One process holds a workspace at a time (DuckDB's file
 * lock); a second opener gets WORKSPACE_LOCKED instead of a raw error.
 */
import { mkdirSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { DuckDBConnection, DuckDBInstance } from '@duckdb/node-api';
import type { DuckDBValue } from '@duckdb/node-api';
import { WorkbenchError } from '../api/errors.ts';
import { toPlain, type Plain } from './values.ts';

/** Bumped when the bookkeeping tables change shape; migrations key off it. */
const SCHEMA_VERSION = 1;

const BOOKKEEPING_SQL = `
CREATE SCHEMA IF NOT EXISTS fleetlens;
CREATE TABLE IF NOT EXISTS fleetlens.meta (key VARCHAR PRIMARY KEY, value VARCHAR);
CREATE TABLE IF NOT EXISTS fleetlens.datasets (
  name VARCHAR PRIMARY KEY,
  row_count BIGINT NOT NULL,
  columns_json VARCHAR NOT NULL,
  time_min VARCHAR,
  time_max VARCHAR,
  created_at TIMESTAMP NOT NULL,
  updated_at TIMESTAMP NOT NULL
);
CREATE TABLE IF NOT EXISTS fleetlens.sources (
  dataset VARCHAR NOT NULL,
  path VARCHAR NOT NULL,
  bytes BIGINT NOT NULL,
  rows BIGINT NOT NULL,
  checksum VARCHAR NOT NULL,
  added_at TIMESTAMP NOT NULL
);
CREATE TABLE IF NOT EXISTS fleetlens.rejects (
  dataset VARCHAR NOT NULL,
  file VARCHAR NOT NULL,
  line BIGINT,
  column_name VARCHAR,
  error_type VARCHAR NOT NULL,
  message VARCHAR NOT NULL,
  raw_line VARCHAR
);
`;

/** Run `work` in one transaction on `con` (which must not be in one): committed when it resolves, rolled back when it throws. */
export async function inTransaction<T>(con: DuckDBConnection, work: (con: DuckDBConnection) => Promise<T>): Promise<T> {
  await con.run('BEGIN TRANSACTION');
  try {
    const out = await work(con);
    await con.run('COMMIT');
    return out;
  } catch (err) {
    await con.run('ROLLBACK').catch(() => undefined);
    throw err;
  }
}

/** Default workspace file in the platform's per-user app-data folder (what Electron calls userData). */
export function defaultWorkspacePath(): string {
  if (process.env.FLEETLENS_HOME) return join(resolve(process.env.FLEETLENS_HOME), 'workspace.duckdb');
  const home = homedir();
  const base =
    process.platform === 'win32'
      ? process.env.APPDATA ?? join(home, 'AppData', 'Roaming')
      : process.platform === 'darwin'
        ? join(home, 'Library', 'Application Support')
        : process.env.XDG_CONFIG_HOME ?? join(home, '.config');
  return join(base, 'Fleetlens', 'workspace.duckdb');
}

export class Workspace {
  private closed = false;
  /** Active memory caps (see holdMemoryLimit) and the limit to restore when none is left. */
  private readonly memoryCaps: number[] = [];
  private memoryDefault: string | null = null;

  private constructor(
    readonly path: string,
    private readonly instance: DuckDBInstance,
    /** Shared connection for short metadata statements; long work opens its own. */
    private readonly main: DuckDBConnection,
  ) {}

  /** Open (creating if needed) the workspace file at `path`. */
  static async open(path: string): Promise<Workspace> {
    const abs = path === ':memory:' ? path : resolve(path);
    if (abs !== ':memory:') mkdirSync(dirname(abs), { recursive: true });
    let instance: DuckDBInstance;
    try {
      instance = await DuckDBInstance.create(abs);
    } catch (err) {
      const msg = err instanceof Error ? err.message : String(err);
      if (/lock/i.test(msg)) {
        throw new WorkbenchError('WORKSPACE_LOCKED', `workspace ${abs} is open in another Fleetlens process; close it there first`, { path: abs });
      }
      if (/replaying WAL/i.test(msg)) {
        // Nothing is moved or deleted here: the log may hold the only copy of recent work.
        throw new WorkbenchError(
          'WORKSPACE_FAILED',
          `cannot open workspace ${abs}: DuckDB cannot replay its write-ahead log ${abs}.wal (${firstLine(msg)}). Moving that file aside opens the workspace as of its last checkpoint, without the changes made since`,
          { path: abs, wal: `${abs}.wal` },
        );
      }
      throw new WorkbenchError('WORKSPACE_FAILED', `cannot open workspace ${abs}: ${firstLine(msg)}`, { path: abs });
    }
    const main = await instance.connect();
    const ws = new Workspace(abs, instance, main);
    await ws.migrate();
    return ws;
  }

  private async migrate(): Promise<void> {
    await this.main.run(BOOKKEEPING_SQL);
    await this.main.run(`INSERT OR REPLACE INTO fleetlens.meta VALUES ('schema_version', '${SCHEMA_VERSION}')`);
    // The schema goes into the file now, not only into the write-ahead log. DuckDB (1.5) cannot replay a
    // log holding both a schema's creation and an ENUM type created in it ("Schema with name fleetlens
    // does not exist"), so a new workspace whose engine was killed during its first training (whose
    // preparation creates ENUM types) would never open again. Tested by tests/integration/kill-train.test.ts.
    await this.main.run('CHECKPOINT');
  }

  /** A new connection for long or cancellable work; the caller closes it. */
  async connect(): Promise<DuckDBConnection> {
    this.assertOpen();
    return this.instance.connect();
  }

  /**
   * Run `work` in one transaction on a connection of its own (the shared one interleaves its callers'
   * statements): committed when it resolves, rolled back when it throws.
   */
  async transaction<T>(work: (con: DuckDBConnection) => Promise<T>): Promise<T> {
    const con = await this.connect();
    try {
      return await inTransaction(con, work);
    } finally {
      con.closeSync();
    }
  }

  /** Run statements on the shared connection, returning plain row objects. */
  async query(sql: string, params?: Record<string, DuckDBValue> | DuckDBValue[]): Promise<Record<string, Plain>[]> {
    this.assertOpen();
    const reader = await this.main.runAndReadAll(sql, params);
    const names = reader.deduplicatedColumnNames();
    return reader.getRows().map((row) => {
      const o: Record<string, Plain> = {};
      for (let i = 0; i < names.length; i++) o[names[i]!] = toPlain(row[i]);
      return o;
    });
  }

  /** Run a query and return its result column by column (names, plain values). */
  async queryColumns(sql: string, params?: Record<string, DuckDBValue> | DuckDBValue[]): Promise<{ names: string[]; columns: Plain[][] }> {
    this.assertOpen();
    const reader = await this.main.runAndReadAll(sql, params);
    const names = reader.deduplicatedColumnNames();
    const cols = reader.getColumns();
    // An empty result has no column vectors at all; give each name an empty one.
    return { names, columns: names.map((_, i) => (cols[i] ?? []).map(toPlain)) };
  }

  /** Run a statement on the shared connection, ignoring results. */
  async run(sql: string, params?: Record<string, DuckDBValue> | DuckDBValue[]): Promise<void> {
    this.assertOpen();
    await this.main.run(sql, params);
  }

  /** Bytes DuckDB holds now (its buffer pool: cached table blocks, uncommitted data, query state). */
  async memoryUsage(): Promise<number> {
    const rows = await this.query('SELECT sum(memory_usage_bytes) AS b FROM duckdb_memory()');
    return Number(rows[0]?.b ?? 0);
  }

  /**
   * Cap DuckDB's memory (its \`memory_limit\`) until the returned function is called. DuckDB keeps
   * table blocks cached until it reaches its limit (by default 80% of RAM), so a long-running
   * writer would otherwise grow the process by what it writes. With several holders the largest
   * cap applies; the limit in force before the first one comes back after the last one. A cap
   * DuckDB cannot honour (more memory pinned than it allows) is skipped.
   */
  async holdMemoryLimit(bytes: number): Promise<() => Promise<void>> {
    this.assertOpen();
    if (this.memoryCaps.length === 0) this.memoryDefault = String((await this.query(`SELECT current_setting('memory_limit') AS v`))[0]!.v);
    this.memoryCaps.push(bytes);
    await this.applyMemoryLimit();
    let released = false;
    return async () => {
      if (released) return;
      released = true;
      this.memoryCaps.splice(this.memoryCaps.indexOf(bytes), 1);
      await this.applyMemoryLimit();
    };
  }

  private async applyMemoryLimit(): Promise<void> {
    if (this.closed) return;
    try {
      if (this.memoryCaps.length) {
        await this.main.run(`SET memory_limit = '${Math.ceil(Math.max(...this.memoryCaps) / 1048576)}MiB'`);
      } else if (this.memoryDefault !== null) {
        // DuckDB shows the limit rounded: RESET restores the default exactly; a limit set by
        // someone else comes back as shown.
        await this.main.run('RESET memory_limit');
        const now = String((await this.query(`SELECT current_setting('memory_limit') AS v`))[0]!.v);
        if (now !== this.memoryDefault) await this.main.run(`SET memory_limit = ${lit(this.memoryDefault)}`);
      }
    } catch {
      // More memory is in use than the cap allows: keep the limit in force.
    }
  }

  async getMeta(key: string): Promise<string | null> {
    const rows = await this.query('SELECT value FROM fleetlens.meta WHERE key = $key', { key });
    return rows.length ? String(rows[0]!.value) : null;
  }

  async setMeta(key: string, value: string): Promise<void> {
    await this.run('INSERT OR REPLACE INTO fleetlens.meta VALUES ($key, $value)', { key, value });
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.main.closeSync();
    this.instance.closeSync();
  }

  private assertOpen(): void {
    if (this.closed) throw new WorkbenchError('WORKSPACE_FAILED', 'workspace is closed');
  }
}

/** DuckDB error texts carry a caret diagram after the first line; users need the first line. */
export function firstLine(msg: string): string {
  return msg.split('\n')[0]!.trim();
}

/** Quote an SQL identifier. */
export function ident(name: string): string {
  return '"' + name.replace(/"/g, '""') + '"';
}

/** Quote an SQL string literal. */
export function lit(s: string): string {
  return "'" + s.replace(/'/g, "''") + "'";
}
