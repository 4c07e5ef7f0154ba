/**
 * Resolve a dataset's roles into the SQL pieces every Explore query needs.
 * The time axis is always exposed as a DOUBLE: epoch milliseconds for
 * timestamps, the raw value for numeric axes (e.g. C-MAPSS cycles).
 */
import { WorkbenchError } from '../api/errors.ts';
import type { DatasetInfo } from '../data/api.ts';
import { getDataset, validateDatasetName } from '../data/catalog.ts';
import { isTemporalType } from '../data/roles.ts';
import { ident, type Workspace } from '../workspace/workspace.ts';

export interface DatasetContext {
  info: DatasetInfo;
  table: string;
  time: string | null;
  /** SQL expression of the time axis as DOUBLE, or null. */
  timeExpr: string | null;
  temporal: boolean;
  device: string | null;
  trip: string | null;
  label: string | null;
  sensors: string[];
  categoricals: string[];
}

export async function datasetContext(ws: Workspace, name: string): Promise<DatasetContext> {
  const info = await getDataset(ws, validateDatasetName(name));
  const role = (r: string): string | null => info.columns.find((c) => c.role === r)?.name ?? null;
  const timeCol = info.columns.find((c) => c.role === 'time') ?? null;
  const temporal = timeCol ? isTemporalType(timeCol.type) : false;
  const time = timeCol?.name ?? null;
  return {
    info,
    table: ident(info.name),
    time,
    timeExpr: time === null ? null : temporal ? `epoch_ms(${ident(time)}::TIMESTAMP)::DOUBLE` : `${ident(time)}::DOUBLE`,
    temporal,
    device: role('device'),
    trip: role('trip'),
    label: role('label'),
    sensors: info.columns.filter((c) => c.role === 'sensor').map((c) => c.name),
    categoricals: info.columns.filter((c) => c.role === 'categorical').map((c) => c.name),
  };
}

/** The label as a 0/1 number expression (booleans and integers alike; NULL counts as 0). */
export function labelExpr(ctx: DatasetContext): string | null {
  return ctx.label === null ? null : `coalesce((${ident(ctx.label)} <> 0)::INT, 0)`;
}

export function requireColumn(ctx: DatasetContext, name: string, what = 'column'): string {
  if (!ctx.info.columns.some((c) => c.name === name)) {
    throw new WorkbenchError('INVALID_ARGUMENT', `${what} '${name}' is not in dataset '${ctx.info.name}'`, { dataset: ctx.info.name, column: name });
  }
  return name;
}

export function requireSensor(ctx: DatasetContext, name: string): string {
  requireColumn(ctx, name);
  const col = ctx.info.columns.find((c) => c.name === name)!;
  if (!/INT|DOUBLE|FLOAT|REAL|DECIMAL|NUMERIC/i.test(col.type)) {
    throw new WorkbenchError('INVALID_ARGUMENT', `column '${name}' is ${col.type}, not numeric`, { dataset: ctx.info.name, column: name });
  }
  return name;
}

export function num(v: unknown): number {
  return v === null || v === undefined ? Number.NaN : Number(v);
}
