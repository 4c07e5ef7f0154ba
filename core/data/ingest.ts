/**
 * File ingest (issue #3). DuckDB reads every file itself (read_csv, read_parquet,
 * read_json); rows never pass through JS. One import is one transaction on its own
 * connection: a failure, a cancel or a killed process leaves the workspace as it was.
 * Rows DuckDB cannot parse land in fleetlens.rejects with file, line and reason.
 */
import { randomUUID } from 'node:crypto';
import { resolve } from 'node:path';
import type { DuckDBConnection } from '@duckdb/node-api';
import { WorkbenchError } from '../api/errors.ts';
import type { ColumnInfo, ImportProgress, ImportRequest, ImportResult } from './api.ts';
import { firstLine, ident, lit, type Workspace } from '../workspace/workspace.ts';
import { toPlain } from '../workspace/values.ts';
import { fileChecksum, sniffFile, type SniffedFile } from './sniff.ts';
import { guessRoles } from './roles.ts';
import { getDataset, readColumns, validateDatasetName } from './catalog.ts';
import { markUnsorted, orderSettled, sortColumns } from './order.ts';

/** Strings read as missing values in text files besides the empty field. */
const NULL_STRINGS = ['', 'NA', 'N/A', 'n/a', 'NULL', 'null', 'None', 'nan', 'NaN', '-'];
/** Unit separator: never in real telemetry text, so a whole line reads as one field. */
const LINE_DELIM = String.fromCharCode(31);
const PROGRESS_MS = 250;

interface Job {
  con: DuckDBConnection;
  cancelled: boolean;
}

export class Ingestor {
  private readonly jobs = new Map<string, Job>();
  /** Ids cancelled before their connection existed (while files were still being checked). */
  private readonly early = new Set<string>();
  /** Ids of imports still checking their files. */
  private readonly starting = new Set<string>();

  constructor(
    private readonly ws: Workspace,
    private readonly onProgress: (p: ImportProgress) => void,
  ) {}

  /** Cancel a running import; true when one was running. */
  cancel(jobId: string): boolean {
    const job = this.jobs.get(jobId);
    if (!job) {
      if (!this.starting.has(jobId)) return false;
      this.early.add(jobId);
      return true;
    }
    job.cancelled = true;
    job.con.interrupt();
    return true;
  }

  async import(req: ImportRequest): Promise<ImportResult> {
    const jobId = req.jobId ?? randomUUID();
    const name = validateDatasetName(req.dataset);
    const mode = req.mode ?? 'create';
    if (!Array.isArray(req.files) || req.files.length === 0) {
      throw new WorkbenchError('INVALID_ARGUMENT', 'give at least one file or glob to import');
    }
    if (this.jobs.has(jobId) || this.starting.has(jobId)) throw new WorkbenchError('INVALID_ARGUMENT', `import job ${jobId} is already running`);
    this.starting.add(jobId);
    try {
      return await this.checkedImport(jobId, name, mode, req);
    } finally {
      this.starting.delete(jobId);
      this.early.delete(jobId);
    }
  }

  private async checkedImport(jobId: string, name: string, mode: 'create' | 'append' | 'replace', req: ImportRequest): Promise<ImportResult> {
    // A sort of this dataset from its last import finishes first: its transaction would conflict with this one.
    await orderSettled(this.ws, name);
    const existing = await getDataset(this.ws, name).catch(() => null);
    if (mode === 'create' && existing) {
      throw new WorkbenchError('DATASET_EXISTS', `dataset '${name}' already exists; append to it or choose another name`, { dataset: name });
    }
    if (mode === 'append' && !existing) throw new WorkbenchError('DATASET_NOT_FOUND', `dataset '${name}' does not exist, nothing to append to`, { dataset: name });
    const started = Date.now();
    const files = await this.expand(req);
    const con = await this.ws.connect();
    const job: Job = { con, cancelled: this.early.has(jobId) };
    this.jobs.set(jobId, job);
    if (job.cancelled) {
      this.jobs.delete(jobId);
      con.closeSync();
      throw new WorkbenchError('CANCELLED', `import into '${name}' was cancelled; the workspace is unchanged`, { dataset: name });
    }
    try {
      await con.run('SET enable_progress_bar = true; SET enable_progress_bar_print = false; SET progress_bar_time = 0');
      return await this.runImport(jobId, name, mode, files, req, con, job, existing !== null, started);
    } finally {
      this.jobs.delete(jobId);
      con.closeSync();
    }
  }

  /** Resolve globs (through DuckDB's own glob) and sniff every file before any row is read. */
  private async expand(req: ImportRequest): Promise<SniffedFile[]> {
    const paths: string[] = [];
    for (const f of req.files) {
      if (typeof f !== 'string' || f.trim() === '') throw new WorkbenchError('INVALID_ARGUMENT', 'file paths must be non-empty strings');
      if (/[*?[]/.test(f)) {
        const rows = await this.ws.query(`SELECT file FROM glob(${lit(f)}) ORDER BY file`);
        if (rows.length === 0) throw new WorkbenchError('FILE_NOT_FOUND', `no file matches ${f}`, { file: f });
        paths.push(...rows.map((r) => String(r.file)));
      } else {
        paths.push(resolve(f));
      }
    }
    const sniffed = paths.map((p) => sniffFile(p, req.format ?? 'auto'));
    const kinds = new Set(sniffed.map((s) => s.format));
    if (kinds.size > 1) {
      throw new WorkbenchError('INVALID_ARGUMENT', `the files mix formats (${[...kinds].join(', ')}); import each format separately into the same dataset with append`);
    }
    return sniffed;
  }

  private async runImport(
    jobId: string,
    name: string,
    mode: 'create' | 'append' | 'replace',
    files: SniffedFile[],
    req: ImportRequest,
    con: DuckDBConnection,
    job: Job,
    existed: boolean,
    started: number,
  ): Promise<ImportResult> {
    // Replace builds a staging table and swaps it in at commit, so readers never see a half dataset.
    const target = mode === 'replace' ? `__fl_staging_${name}` : name;
    let tableExists = mode === 'append';
    const bytesTotal = files.reduce((a, f) => a + f.bytes, 0);
    let bytesBefore = 0;
    let rowsDone = 0;
    let rejected = 0;
    const perFileRows: number[] = [];
    const emit = (i: number, fraction: number, phase: ImportProgress['phase']): void => {
      const bytesDone = Math.min(bytesTotal, bytesBefore + fraction * files[i]!.bytes);
      this.onProgress({ jobId, dataset: name, phase, fraction: bytesTotal ? bytesDone / bytesTotal : 1, bytesDone, bytesTotal, rowsDone, file: i, files: files.length });
    };

    await con.run('BEGIN TRANSACTION');
    try {
      if (mode === 'replace') await con.run(`DROP TABLE IF EXISTS ${ident(target)}`);
      for (let i = 0; i < files.length; i++) {
        const f = files[i]!;
        emit(i, 0, 'reading');
        const source = await this.sourceSql(con, f, req, i);
        let added: number;
        if (!tableExists) {
          await this.withProgress(con, job, f, () => con.run(`CREATE TABLE ${ident(target)} AS SELECT * FROM ${source.sql}`), (fr) => emit(i, fr, 'reading'));
          added = await countRows(con, target);
          tableExists = true;
        } else {
          await this.addMissingColumns(con, target, source.sql, f);
          added = await this.withProgress(con, job, f, () => con.run(`INSERT INTO ${ident(target)} BY NAME SELECT * FROM ${source.sql}`), (fr) => emit(i, fr, 'reading'));
        }
        rejected += await source.collectRejects(name);
        perFileRows.push(added);
        rowsDone += added;
        bytesBefore += f.bytes;
      }
      emit(files.length - 1, 1, 'finishing');
      if (mode === 'replace') {
        await con.run(`DROP TABLE IF EXISTS ${ident(name)}`);
        await con.run(`ALTER TABLE ${ident(target)} RENAME TO ${ident(name)}`);
        await con.run(`DELETE FROM fleetlens.sources WHERE dataset = ${lit(name)}`);
        await con.run(`DELETE FROM fleetlens.rejects WHERE dataset = ${lit(name)} AND file NOT IN (${files.map((f) => lit(f.path)).join(',')})`);
      }
      const columns = await this.writeCatalog(con, name, files, perFileRows, mode === 'append' || (mode === 'replace' && existed));
      // New rows are in the files' order: sorted later (order.ts), except after an append, whose rows
      // would go after the sorted ones and change the rowids runs already refer to.
      await markUnsorted(con, name, mode !== 'append' && sortColumns(columns) !== null);
      if (job.cancelled) throw new WorkbenchError('CANCELLED', `import into '${name}' was cancelled; the workspace is unchanged`);
      await con.run('COMMIT');
    } catch (err) {
      await con.run('ROLLBACK').catch(() => undefined);
      if (job.cancelled) throw new WorkbenchError('CANCELLED', `import into '${name}' was cancelled; the workspace is unchanged`, { dataset: name });
      throw err;
    }
    const dataset = await getDataset(this.ws, name);
    return { jobId, dataset, rowsAdded: rowsDone, rejected, elapsedMs: Date.now() - started };
  }

  /** Run one statement while polling DuckDB's progress; returns rows changed. Errors are rewritten to name the file. */
  private async withProgress(
    con: DuckDBConnection,
    job: Job,
    f: SniffedFile,
    run: () => Promise<{ rowsChanged: number }>,
    report: (fraction: number) => void,
  ): Promise<number> {
    const timer = setInterval(() => {
      const p = con.progress;
      if (p.percentage >= 0) report(Math.min(1, p.percentage / 100));
    }, PROGRESS_MS);
    try {
      const res = await run();
      return res.rowsChanged;
    } catch (err) {
      if (job.cancelled) throw err;
      throw explainDuckError(err, f);
    } finally {
      clearInterval(timer);
    }
  }

  /** New columns in a later file or an append are added (NULL for earlier rows), never dropped. */
  private async addMissingColumns(con: DuckDBConnection, table: string, sourceSql: string, f: SniffedFile): Promise<void> {
    let src: { name: string; type: string }[];
    try {
      src = await describe(con, `SELECT * FROM ${sourceSql}`);
    } catch (err) {
      throw explainDuckError(err, f);
    }
    const have = new Map((await describe(con, `SELECT * FROM ${ident(table)}`)).map((c) => [c.name, c.type]));
    for (const c of src) {
      if (!have.has(c.name)) await con.run(`ALTER TABLE ${ident(table)} ADD COLUMN ${ident(c.name)} ${c.type}`);
    }
  }

  /** The FROM-clause source for one file, and how to collect its rejects afterwards. */
  private async sourceSql(
    con: DuckDBConnection,
    f: SniffedFile,
    req: ImportRequest,
    index: number,
  ): Promise<{ sql: string; collectRejects: (dataset: string) => Promise<number> }> {
    const none = { collectRejects: async () => 0 };
    switch (f.format) {
      case 'parquet':
        return { sql: `read_parquet(${lit(f.path)})`, ...none };
      case 'json':
        return { sql: `read_json(${lit(f.path)}, format = 'auto')`, ...none };
      case 'whitespace':
        return this.whitespaceSource(con, f, req, index);
      case 'csv':
        return this.csvSource(con, f, req, index);
    }
  }

  private async csvSource(con: DuckDBConnection, f: SniffedFile, req: ImportRequest, index: number): Promise<{ sql: string; collectRejects: (dataset: string) => Promise<number> }> {
    const rejTable = `fl_rejects_${index}`;
    const scanTable = `fl_scans_${index}`;
    const opts = [
      `store_rejects = true`,
      `rejects_table = ${lit(rejTable)}`,
      `rejects_scan = ${lit(scanTable)}`,
      `nullstr = [${NULL_STRINGS.map(lit).join(', ')}]`,
    ];
    if (req.header !== undefined) opts.push(`header = ${req.header}`);
    if (req.delimiter !== undefined) {
      if (req.delimiter.length !== 1) throw new WorkbenchError('INVALID_ARGUMENT', `delimiter must be one character, got '${req.delimiter}'`);
      opts.push(`delim = ${lit(req.delimiter)}`);
    }
    if (req.columns?.length) opts.push(`names = [${req.columns.map(lit).join(', ')}]`);
    const overrides = await this.numericOverrides(con, f, opts);
    if (overrides.length) opts.push(`types = {${overrides.map(([c, t]) => `${lit(c)}: ${lit(t)}`).join(', ')}}`);
    return {
      sql: `read_csv(${lit(f.path)}, ${opts.join(', ')})`,
      collectRejects: async (dataset) => {
        const res = await con.runAndReadAll(
          `SELECT e.line, e.column_name, e.error_type, e.error_message, e.csv_line FROM ${ident(rejTable)} e ORDER BY e.line`,
        );
        const rows = res.getRows();
        if (rows.length > 0) {
          const app = rows.map((r) => {
            const line = toPlain(r[0]);
            const col = toPlain(r[1]);
            const type = String(toPlain(r[2]));
            const msg = rejectMessage(f.path, type, String(toPlain(r[3])), line === null ? null : Number(line), col === null ? null : String(col));
            return `(${lit(dataset)}, ${lit(f.path)}, ${line ?? 'NULL'}, ${col === null ? 'NULL' : lit(String(col))}, ${lit(type)}, ${lit(msg)}, ${lit(String(toPlain(r[4]) ?? '').slice(0, 1000))})`;
          });
          for (let i = 0; i < app.length; i += 1000) {
            await con.run(`INSERT INTO fleetlens.rejects VALUES ${app.slice(i, i + 1000).join(',')}`);
          }
        }
        await con.run(`DROP TABLE IF EXISTS ${ident(rejTable)}; DROP TABLE IF EXISTS ${ident(scanTable)}`);
        return rows.length;
      },
    };
  }

  /**
   * DuckDB's sniffer types a column VARCHAR when its sample holds one 'abc' among numbers.
   * Re-check such columns on the first 20k rows and force a numeric type when they are
   * mostly numeric, so the odd values become rejects with line numbers.
   */
  private async numericOverrides(con: DuckDBConnection, f: SniffedFile, opts: string[]): Promise<[string, string][]> {
    let cols: { name: string; type: string }[];
    try {
      cols = await describe(con, `SELECT * FROM read_csv(${lit(f.path)}, ${opts.join(', ')})`);
    } catch (err) {
      throw explainDuckError(err, f);
    }
    const text = cols.filter((c) => c.type === 'VARCHAR');
    if (text.length === 0) return [];
    const counts = text.map((c) => numericProbe(ident(c.name)));
    const sample = `(SELECT * FROM read_csv(${lit(f.path)}, ${[...opts.filter((o) => !o.startsWith('store_rejects') && !o.startsWith('rejects_')), 'all_varchar = true', 'ignore_errors = true'].join(', ')}) LIMIT 20000)`;
    let row: unknown[];
    try {
      row = (await con.runAndReadAll(`SELECT ${counts.join(', ')} FROM ${sample}`)).getRows()[0] ?? [];
    } catch (err) {
      throw explainDuckError(err, f);
    }
    const out: [string, string][] = [];
    text.forEach((c, i) => {
      const t = numericType(row, i);
      if (t) out.push([c.name, t]);
    });
    return out;
  }

  /**
   * Whitespace-separated text (e.g. C-MAPSS: single spaces, trailing blanks, no header):
   * DuckDB reads each line as one string and splits it; fields are typed from a sample,
   * and lines with the wrong field count or an uncastable field go to the rejects table.
   */
  private async whitespaceSource(con: DuckDBConnection, f: SniffedFile, req: ImportRequest, index: number): Promise<{ sql: string; collectRejects: (dataset: string) => Promise<number> }> {
    const header = req.header ?? f.header ?? false;
    const linesSql = `(SELECT row_number() OVER () AS line_no, string_split_regex(trim(line), '\\s+') AS p FROM read_csv(${lit(f.path)}, columns = {'line': 'VARCHAR'}, header = false, delim = ${lit(LINE_DELIM)}, quote = '', escape = '', auto_detect = false))`;
    const headRes = await con.runAndReadAll(`SELECT array_to_string(p, chr(31)) FROM ${linesSql} WHERE line_no = 1`);
    const firstFields = String(toPlain(headRes.getRows()[0]?.[0] ?? null) ?? '').split(LINE_DELIM);
    const n = f.fieldCount ?? firstFields.length;
    let names: string[];
    if (req.columns?.length) {
      if (req.columns.length !== n) {
        throw new WorkbenchError('SCHEMA_MISMATCH', `file ${f.path} has ${n} fields per line but ${req.columns.length} column names were given`, { file: f.path, fields: n, names: req.columns.length });
      }
      names = req.columns;
    } else if (header) {
      names = firstFields;
    } else {
      names = Array.from({ length: n }, (_, i) => `column${i}`);
    }
    const skip = header ? 1 : 0;
    const body = `(SELECT * FROM ${linesSql} WHERE line_no > ${skip} AND len(p) > 0 AND p[1] <> '')`;
    // Type each field from the first 20k lines: BIGINT if all integers, DOUBLE if all numbers, else VARCHAR.
    // A field is numeric when at least 99% of the sampled values cast; the rest become rejects, as in read_csv.
    const probes = names.map((_, i) => numericProbe(`p[${i + 1}]`));
    const typeRow = (await con.runAndReadAll(`SELECT ${probes.join(', ')} FROM (SELECT * FROM ${body} LIMIT 20000) WHERE len(p) = ${n}`)).getRows()[0] ?? [];
    const types = names.map((_, i) => numericType(typeRow, i) ?? 'VARCHAR');
    const casts = names.map((nm, i) => (types[i] === 'VARCHAR' ? `p[${i + 1}]` : `TRY_CAST(p[${i + 1}] AS ${types[i]})`) + ` AS ${ident(nm)}`);
    const bad = names.map((_, i) => notCastable(`p[${i + 1}]`, types[i]!)).filter((x): x is string => x !== null);
    const badCond = `len(p) <> ${n}` + (bad.length ? ` OR ${bad.join(' OR ')}` : '');
    const staged = `fl_ws_${index}`;
    // Stage the split lines once so the good rows and the rejects come from one read of the file.
    await con.run(`CREATE OR REPLACE TEMP TABLE ${ident(staged)} AS SELECT line_no, p, (${badCond}) AS bad FROM ${body}`);
    return {
      sql: `(SELECT ${casts.join(', ')} FROM ${ident(staged)} WHERE NOT bad ORDER BY line_no)`,
      collectRejects: async (dataset) => {
        const checks = names.map((nm, i) => (types[i] === 'VARCHAR' ? null : `CASE WHEN ${notCastable(`p[${i + 1}]`, types[i]!)} THEN ${lit(`${nm}${LINE_DELIM}${types[i]}${LINE_DELIM}`)} || p[${i + 1}] END`)).filter((x): x is string => x !== null);
        const firstBad = checks.length ? `coalesce(${checks.join(', ')})` : 'NULL';
        const res = await con.runAndReadAll(`SELECT line_no, len(p), ${firstBad}, array_to_string(p, ' ') FROM ${ident(staged)} WHERE bad ORDER BY line_no`);
        const rows = res.getRows();
        const values: string[] = [];
        for (const r of rows) {
          const line = Number(toPlain(r[0]));
          const count = Number(toPlain(r[1]));
          let type: string;
          let col: string | null = null;
          let msg: string;
          if (count !== n) {
            type = count > n ? 'TOO MANY COLUMNS' : 'MISSING COLUMNS';
            msg = `file ${f.path}: expected ${n} fields, found ${count} at line ${line}`;
          } else {
            const [c, t, v] = String(toPlain(r[2])).split(LINE_DELIM);
            type = 'CAST';
            col = c ?? null;
            msg = `file ${f.path}: column '${c}' expected ${t}, found '${v}' at line ${line}`;
          }
          values.push(`(${lit(dataset)}, ${lit(f.path)}, ${line}, ${col === null ? 'NULL' : lit(col)}, ${lit(type)}, ${lit(msg)}, ${lit(String(toPlain(r[3])).slice(0, 1000))})`);
        }
        for (let i = 0; i < values.length; i += 1000) await con.run(`INSERT INTO fleetlens.rejects VALUES ${values.slice(i, i + 1000).join(',')}`);
        await con.run(`DROP TABLE IF EXISTS ${ident(staged)}`);
        return rows.length;
      },
    };
  }

  /** Upsert the catalog row and source list inside the import transaction. */
  private async writeCatalog(con: DuckDBConnection, name: string, files: SniffedFile[], perFileRows: number[], keepRoles: boolean): Promise<ColumnInfo[]> {
    const cols = await describe(con, `SELECT * FROM ${ident(name)}`);
    let columns: ColumnInfo[] = guessRoles(cols);
    if (keepRoles) {
      const prev = await readColumns(con, name);
      const prevRole = new Map(prev.map((c) => [c.name, c.role]));
      // Keep the user's roles; guess only for columns that are new.
      columns = columns.map((c) => ({ ...c, role: prevRole.get(c.name) ?? c.role }));
    }
    const time = columns.find((c) => c.role === 'time');
    let tmin: string | null = null;
    let tmax: string | null = null;
    const countRes = await con.runAndReadAll(
      `SELECT count(*)${time ? `, min(${ident(time.name)})::VARCHAR, max(${ident(time.name)})::VARCHAR` : ''} FROM ${ident(name)}`,
    );
    const row = countRes.getRows()[0]!;
    const rowCount = Number(toPlain(row[0]));
    if (time) {
      tmin = toPlain(row[1]) as string | null;
      tmax = toPlain(row[2]) as string | null;
    }
    const now = new Date().toISOString();
    await con.run(
      `INSERT INTO fleetlens.datasets VALUES ($name, $rows, $cols, $tmin, $tmax, $now::TIMESTAMP, $now::TIMESTAMP)
       ON CONFLICT (name) DO UPDATE SET row_count = excluded.row_count, columns_json = excluded.columns_json,
         time_min = excluded.time_min, time_max = excluded.time_max, updated_at = excluded.updated_at`,
      { name, rows: rowCount, cols: JSON.stringify(columns), tmin, tmax, now },
    );
    for (let i = 0; i < files.length; i++) {
      const f = files[i]!;
      await con.run(`INSERT INTO fleetlens.sources VALUES ($ds, $path, $bytes, $rows, $sum, $now::TIMESTAMP)`, {
        ds: name,
        path: f.path,
        bytes: f.bytes,
        rows: perFileRows[i] ?? 0,
        sum: fileChecksum(f.path, f.bytes),
        now,
      });
    }
    return columns;
  }
}

async function countRows(con: DuckDBConnection, table: string): Promise<number> {
  const r = await con.runAndReadAll(`SELECT count(*) FROM ${ident(table)}`);
  return Number(toPlain(r.getRows()[0]![0]));
}

/**
 * Whether a text field is numeric given how many sampled values cast: nearly all (≥ 99%), or all
 * but one in a small sample. Such a column keeps its numeric type and the odd values become rejects,
 * instead of the whole column turning into text because of one 'n/a'.
 */
function mostlyNumeric(ok: number, total: number): boolean {
  if (total === 0) return false;
  const bad = total - ok;
  return ok / total >= 0.99 || (bad <= 1 && ok >= 3);
}

/** SQL condition: a text field that does not fit its numeric type (a '1.5' in a BIGINT column does not; TRY_CAST would round it). */
function notCastable(expr: string, type: string): string | null {
  if (type === 'VARCHAR') return null;
  const fits = type === 'BIGINT' ? `regexp_full_match(${expr}, '\\s*[+-]?[0-9]{1,18}\\s*')` : `TRY_CAST(${expr} AS ${type}) IS NOT NULL`;
  return `(${expr} IS NOT NULL AND NOT ${fits})`;
}

/** SQL aggregates for numericType: non-null count, integer-looking count, number count of a text expression. */
function numericProbe(expr: string): string {
  return `count(${expr}), count_if(regexp_full_match(${expr}, '\\s*[+-]?[0-9]{1,18}\\s*')), count_if(TRY_CAST(${expr} AS DOUBLE) IS NOT NULL)`;
}

/** Read numericProbe's three counts for field i of a result row: BIGINT, DOUBLE, or null (keep text). */
function numericType(row: unknown[], i: number): 'BIGINT' | 'DOUBLE' | null {
  const num = (v: unknown): number => (v === null || v === undefined ? 0 : Number(v));
  const total = num(row[3 * i]), ints = num(row[3 * i + 1]), nums = num(row[3 * i + 2]);
  if (!mostlyNumeric(nums, total)) return null;
  return ints === nums ? 'BIGINT' : 'DOUBLE';
}

/** DESCRIBE a query: column names and DuckDB types. */
export async function describe(con: DuckDBConnection, sql: string): Promise<{ name: string; type: string }[]> {
  const res = await con.runAndReadAll(`DESCRIBE ${sql}`);
  return res.getRows().map((r) => ({ name: String(toPlain(r[0])), type: String(toPlain(r[1])) }));
}

/** One reject's message in the product's words: "file X: column 'temp' expected DOUBLE, found 'n/a' at line 812". */
function rejectMessage(file: string, type: string, duckMsg: string, line: number | null, col: string | null): string {
  const at = line === null ? '' : ` at line ${line}`;
  const cast = /Could not convert string "(.*)" to '([A-Z0-9_]+)'/.exec(duckMsg);
  if (type === 'CAST' && cast) return `file ${file}: column '${col ?? '?'}' expected ${cast[2]}, found '${cast[1]}'${at}`;
  const cols = /Expected Number of Columns: (\d+) Found: (\d+)/.exec(duckMsg);
  if (cols) return `file ${file}: expected ${cols[1]} columns, found ${cols[2]}${at}`;
  return `file ${file}: ${duckMsg.split('\n')[0]}${at}`;
}

/** Turn a DuckDB failure on a file into a specific, stack-free message. */
export function explainDuckError(err: unknown, f: SniffedFile): WorkbenchError {
  if (err instanceof WorkbenchError) return err;
  const raw = err instanceof Error ? err.message : String(err);
  const msg = firstLine(raw);
  const json = /Malformed JSON in file "[^"]*", at byte (\d+) in (line|record\/value) (\d+): (.*?)\.?\s*$/.exec(msg);
  if (json) {
    const where = json[2] === 'line' ? `line ${json[3]}` : `record ${json[3]}`;
    return new WorkbenchError('PARSE_FAILED', `file ${f.path}: malformed JSON at ${where} (byte ${json[1]}): ${json[4]}`, { file: f.path, [json[2] === 'line' ? 'line' : 'record']: Number(json[3]) });
  }
  if (/sniffing file/i.test(msg) || /not possible to automatically detect/i.test(raw)) {
    return new WorkbenchError('PARSE_FAILED', `file ${f.path}: could not detect the delimiter and columns; set the delimiter and header explicitly`, { file: f.path });
  }
  if (/Invalid unicode/i.test(msg)) return new WorkbenchError('FILE_UNREADABLE', `file ${f.path} is not valid UTF-8 text`, { file: f.path });
  const conv = /Conversion Error: (.*)/.exec(msg);
  if (conv) return new WorkbenchError('SCHEMA_MISMATCH', `file ${f.path}: ${conv[1]} (its columns do not match the dataset's types)`, { file: f.path });
  const binder = /Binder Error: (.*)/.exec(msg);
  if (binder) return new WorkbenchError('SCHEMA_MISMATCH', `file ${f.path}: ${binder[1]}`, { file: f.path });
  return new WorkbenchError('PARSE_FAILED', `file ${f.path}: ${msg.replace(/^[A-Za-z ]+Error: /, '')}`, { file: f.path });
}
