/** A dataset's column roles as Explore uses them (mirrors core/explore/context.ts, from the catalog entry). */
import type { DatasetInfo } from '../../../../core/data/api.ts';

export interface DatasetRoles {
  time: string | null;
  /** Time column is a timestamp/date (epoch ms on the wire) rather than a number such as a cycle. */
  temporal: boolean;
  device: string | null;
  trip: string | null;
  label: string | null;
  sensors: string[];
  categoricals: string[];
}

export function datasetRoles(info: DatasetInfo): DatasetRoles {
  const role = (r: string): string | null => info.columns.find((c) => c.role === r)?.name ?? null;
  const timeCol = info.columns.find((c) => c.role === 'time') ?? null;
  return {
    time: timeCol?.name ?? null,
    temporal: timeCol !== null && /TIMESTAMP|DATE/i.test(timeCol.type),
    device: role('device'),
    trip: role('trip'),
    label: role('label'),
    sensors: info.columns.filter((c) => c.role === 'sensor').map((c) => c.name),
    categoricals: info.columns.filter((c) => c.role === 'categorical').map((c) => c.name),
  };
}

/** Title of the time axis: the time column's name (its ticks show dates or raw values such as cycles). */
export function timeAxisTitle(roles: DatasetRoles): string {
  return roles.time ?? 'time';
}

/** Changes whenever the dataset's rows or roles change: part of every cache key. */
export function datasetVersion(info: DatasetInfo): string {
  return `${info.updatedAt}|${info.rowCount}|${info.columns.map((c) => `${c.name}:${c.role}`).join(',')}`;
}
