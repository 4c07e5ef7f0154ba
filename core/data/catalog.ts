/**
 * The dataset catalog (fleetlens.datasets / sources / rejects) and the small
 * read paths over it: list, get, roles, preview, rejects, delete.
 */
import type { DuckDBConnection } from '@duckdb/node-api';
import { WorkbenchError } from '../api/errors.ts';
import type { ColumnInfo, ColumnRole, DatasetInfo, RejectRow, SourceFile, TablePage } from './api.ts';
import { ident, type Workspace } from '../workspace/workspace.ts';
import type { Plain } from '../workspace/values.ts';
import { applyRoles, isTemporalType } from './roles.ts';
import { markUnsorted, orderSettled } from './order.ts';

const NAME_RE = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;
const RESERVED = new Set(['fleetlens', 'main', 'select', 'table', 'from', 'where', 'order', 'group']);
export const MAX_PAGE = 5000;

/** Dataset names double as table names: plain identifiers only, so SQL console users can type them. */
export function validateDatasetName(name: unknown): string {
  if (typeof name !== 'string' || !NAME_RE.test(name)) {
    throw new WorkbenchError('INVALID_ARGUMENT', `dataset name '${String(name)}' is not valid: use letters, digits and _ (not starting with a digit), at most 63 characters`);
  }
  if (RESERVED.has(name.toLowerCase()) || name.startsWith('__fl_')) throw new WorkbenchError('INVALID_ARGUMENT', `dataset name '${name}' is reserved`);
  return name;
}

function toIso(v: Plain): string {
  return v === null ? '' : new Date(String(v).replace(' ', 'T') + (String(v).includes('+') || String(v).endsWith('Z') ? '' : 'Z')).toISOString();
}

/** Time span values: numbers stay numbers (cycles), timestamps stay as DuckDB prints them. */
function spanValue(v: Plain, type: string | undefined): string | number {
  if (v === null) return '';
  if (type && !isTemporalType(type)) {
    const n = Number(v);
    if (Number.isFinite(n)) return n;
  }
  return String(v);
}

async function buildInfo(ws: Workspace, row: Record<string, Plain>): Promise<DatasetInfo> {
  const name = String(row.name);
  const columns = JSON.parse(String(row.columns_json)) as ColumnInfo[];
  const srcRows = await ws.query(
    'SELECT path, bytes, rows, checksum, added_at FROM fleetlens.sources WHERE dataset = $name ORDER BY added_at, path',
    { name },
  );
  const sources: SourceFile[] = srcRows.map((r) => ({
    path: String(r.path),
    bytes: Number(r.bytes),
    rows: Number(r.rows),
    checksum: String(r.checksum),
    addedAt: toIso(r.added_at ?? null),
  }));
  const rej = await ws.query('SELECT count(*) AS n FROM fleetlens.rejects WHERE dataset = $name', { name });
  const timeCol = columns.find((c) => c.role === 'time');
  const timeSpan =
    row.time_min === null || row.time_min === undefined ? null : { min: spanValue(row.time_min, timeCol?.type), max: spanValue(row.time_max ?? null, timeCol?.type) };
  return {
    name,
    rowCount: Number(row.row_count),
    columns,
    sources,
    timeSpan,
    rejectCount: Number(rej[0]?.n ?? 0),
    createdAt: toIso(row.created_at ?? null),
    updatedAt: toIso(row.updated_at ?? null),
  };
}

export async function listDatasets(ws: Workspace): Promise<DatasetInfo[]> {
  const rows = await ws.query('SELECT * FROM fleetlens.datasets ORDER BY updated_at DESC, name');
  return Promise.all(rows.map((r) => buildInfo(ws, r)));
}

export async function getDataset(ws: Workspace, name: string): Promise<DatasetInfo> {
  const rows = await ws.query('SELECT * FROM fleetlens.datasets WHERE name = $name', { name });
  if (!rows[0]) throw new WorkbenchError('DATASET_NOT_FOUND', `dataset '${name}' does not exist`, { dataset: name });
  return buildInfo(ws, rows[0]);
}

/** Catalog columns read on a given connection (inside an import transaction). */
export async function readColumns(con: DuckDBConnection, name: string): Promise<ColumnInfo[]> {
  const res = await con.runAndReadAll('SELECT columns_json FROM fleetlens.datasets WHERE name = $name', { name });
  const v = res.getRows()[0]?.[0];
  return v ? (JSON.parse(String(v)) as ColumnInfo[]) : [];
}

export async function setRoles(ws: Workspace, name: string, roles: Record<string, ColumnRole>): Promise<DatasetInfo> {
  const info = await getDataset(ws, name);
  let next: ColumnInfo[];
  try {
    next = applyRoles(info.columns, roles);
  } catch (err) {
    throw new WorkbenchError('INVALID_ARGUMENT', `dataset '${name}': ${(err as Error).message}`, { dataset: name });
  }
  const time = next.find((c) => c.role === 'time');
  let tmin: string | null = null;
  let tmax: string | null = null;
  if (time) {
    const r = await ws.query(`SELECT min(${ident(time.name)})::VARCHAR AS a, max(${ident(time.name)})::VARCHAR AS b FROM ${ident(name)}`);
    tmin = r[0]?.a === null ? null : String(r[0]?.a);
    tmax = r[0]?.b === null ? null : String(r[0]?.b);
  }
  await ws.run('UPDATE fleetlens.datasets SET columns_json = $cols, time_min = $tmin, time_max = $tmax, updated_at = now()::TIMESTAMP WHERE name = $name', {
    cols: JSON.stringify(next),
    tmin,
    tmax,
    name,
  });
  return getDataset(ws, name);
}

function pageBounds(offset: number | undefined, limit: number | undefined): { offset: number; limit: number } {
  const o = Math.max(0, Math.floor(offset ?? 0));
  const l = Math.min(MAX_PAGE, Math.max(0, Math.floor(limit ?? 200)));
  return { offset: o, limit: l };
}

export async function previewDataset(ws: Workspace, name: string, offset?: number, limit?: number): Promise<TablePage> {
  const info = await getDataset(ws, name);
  const b = pageBounds(offset, limit);
  const rows = await ws.query(`SELECT * FROM ${ident(name)} LIMIT ${b.limit} OFFSET ${b.offset}`);
  return toPage(info.columns, rows, info.rowCount, b.offset);
}

/** Row objects → the columnar TablePage shape. */
export function toPage(columns: { name: string; type: string }[], rows: Record<string, Plain>[], total: number, offset: number): TablePage {
  return {
    columns: columns.map((c) => ({ name: c.name, type: c.type })),
    values: columns.map((c) => rows.map((r) => r[c.name] ?? null)),
    total,
    offset,
  };
}

export async function datasetRejects(ws: Workspace, name: string, offset?: number, limit?: number): Promise<{ rows: RejectRow[]; total: number }> {
  await getDataset(ws, name);
  const b = pageBounds(offset, limit);
  const total = await ws.query('SELECT count(*) AS n FROM fleetlens.rejects WHERE dataset = $name', { name });
  const rows = await ws.query(
    `SELECT file, line, column_name, error_type, message, raw_line FROM fleetlens.rejects WHERE dataset = $name ORDER BY file, line LIMIT ${b.limit} OFFSET ${b.offset}`,
    { name },
  );
  return {
    total: Number(total[0]?.n ?? 0),
    rows: rows.map((r) => ({
      file: String(r.file),
      line: r.line === null ? null : Number(r.line),
      column: r.column_name === null ? null : String(r.column_name),
      errorType: String(r.error_type),
      message: String(r.message),
      rawLine: r.raw_line === null ? null : String(r.raw_line),
    })),
  };
}

export async function deleteDataset(ws: Workspace, name: string): Promise<void> {
  await getDataset(ws, name);
  await orderSettled(ws, name);
  await ws.transaction(async (con) => {
    await con.run(`DROP TABLE IF EXISTS ${ident(name)}`);
    // Explore's cached summaries of this dataset go with it.
    for (const unit of ['trip', 'device']) await con.run(`DROP TABLE IF EXISTS fleetlens.${ident(`summary__${name}__${unit}`)}`);
    await markUnsorted(con, name, false);
    await con.run(`DELETE FROM fleetlens.meta WHERE key LIKE $k`, { k: `summary:${name}:%` });
    for (const t of ['datasets', 'sources', 'rejects']) {
      await con.run(`DELETE FROM fleetlens.${t} WHERE ${t === 'datasets' ? 'name' : 'dataset'} = $name`, { name });
    }
  });
}

