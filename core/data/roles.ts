/**
 * Column role guessing (issue #3): a best first guess from names and types so a
 * new user rarely edits anything. At most one time, device, trip and label column.
 */
import type { ColumnInfo, ColumnRole } from './api.ts';

const TIME_NAMES = /^(timestamp|time|ts|datetime|date_?time|event_?time|time_?stamp|cycle|cycles|time_?cycles?|t)$/i;
const DEVICE_NAMES = /^(device|device_?id|unit|unit_?(id|number|nr)|engine|engine_?id|machine|machine_?id|asset|asset_?id|vehicle|vehicle_?id|pump_?id|serial|serial_?number|sensor_?id|equipment_?id)$/i;
const TRIP_NAMES = /^(trip|trip_?id|run_?id|session|session_?id|flight|flight_?id|journey_?id|episode_?id|ride_?id)$/i;
const LABEL_NAMES = /^(label|labels|defect|defects|anomaly|is_?anomaly|anomalous|fault|is_?fault|failure|failed|target|y|outlier|is_?outlier|alarm)$/i;

const NUMERIC = /^(TINYINT|SMALLINT|INTEGER|BIGINT|HUGEINT|UTINYINT|USMALLINT|UINTEGER|UBIGINT|FLOAT|DOUBLE|REAL|DECIMAL.*)$/i;
const INTEGER = /^(TINYINT|SMALLINT|INTEGER|BIGINT|HUGEINT|UTINYINT|USMALLINT|UINTEGER|UBIGINT)$/i;
const TEMPORAL = /^(TIMESTAMP.*|DATE|TIME.*)$/i;

export function isNumericType(type: string): boolean {
  return NUMERIC.test(type);
}

export function isTemporalType(type: string): boolean {
  return TEMPORAL.test(type);
}

/** The role a default feature recipe groups rows by: trips when there are any, else devices. */
export function defaultGroupRole(cols: readonly { role: ColumnRole }[]): 'trip' | 'device' | null {
  return cols.some((c) => c.role === 'trip') ? 'trip' : cols.some((c) => c.role === 'device') ? 'device' : null;
}

/** Guess roles for columns given as (name, type). */
export function guessRoles(cols: { name: string; type: string }[]): ColumnInfo[] {
  const taken = new Set<ColumnRole>();
  const claim = (role: ColumnRole): boolean => {
    if (taken.has(role)) return false;
    taken.add(role);
    return true;
  };
  // Temporal-typed columns outrank name matches for the time axis.
  const firstTemporal = cols.find((c) => isTemporalType(c.type));
  return cols.map((c): ColumnInfo => {
    const { name, type } = c;
    let role: ColumnRole;
    if (firstTemporal ? c === firstTemporal && claim('time') : TIME_NAMES.test(name) && (isNumericType(type)) && claim('time')) {
      role = 'time';
    } else if (DEVICE_NAMES.test(name) && claim('device')) {
      role = 'device';
    } else if (TRIP_NAMES.test(name) && claim('trip')) {
      role = 'trip';
    } else if (LABEL_NAMES.test(name) && (INTEGER.test(type) || /^BOOL/i.test(type)) && claim('label')) {
      role = 'label';
    } else if (/^(VARCHAR|BOOLEAN|ENUM.*)$/i.test(type) || (INTEGER.test(type) && /(_id|_code|_type|category|class)$/i.test(name))) {
      role = 'categorical';
    } else if (isNumericType(type)) {
      role = 'sensor';
    } else {
      role = 'ignore';
    }
    return { name, type, role };
  });
}

/** Validate a role edit: one column per singular role, sensors numeric, time numeric or temporal. */
export function applyRoles(cols: ColumnInfo[], edits: Record<string, ColumnRole>): ColumnInfo[] {
  const names = new Set(cols.map((c) => c.name));
  for (const n of Object.keys(edits)) {
    if (!names.has(n)) throw new Error(`unknown column '${n}'`);
  }
  const next = cols.map((c) => ({ ...c, role: edits[c.name] ?? c.role }));
  for (const role of ['time', 'device', 'trip', 'label'] as const) {
    const holders = next.filter((c) => c.role === role);
    if (holders.length > 1) throw new Error(`only one column can have the role '${role}' (got ${holders.map((c) => `'${c.name}'`).join(', ')})`);
  }
  for (const c of next) {
    if (c.role === 'sensor' && !isNumericType(c.type)) throw new Error(`column '${c.name}' is ${c.type}, a sensor must be numeric`);
    if (c.role === 'time' && !isNumericType(c.type) && !isTemporalType(c.type)) {
      throw new Error(`column '${c.name}' is ${c.type}, the time axis must be a timestamp, date or number`);
    }
  }
  return next;
}
