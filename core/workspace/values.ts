/**
 * DuckDB values → JSON-safe plain values: BIGINT/HUGEINT become numbers (exact
 * below 2^53, which covers row counts and ids in practice), temporal and
 * decimal values become their SQL text, everything else its string form.
 */
import type { DuckDBValue } from '@duckdb/node-api';

export type Plain = string | number | boolean | null;

export function toPlain(v: DuckDBValue | undefined): Plain {
  if (v === null || v === undefined) return null;
  switch (typeof v) {
    case 'number':
    case 'string':
    case 'boolean':
      return v;
    case 'bigint':
      return Number(v);
    default:
      return String(v);
  }
}
