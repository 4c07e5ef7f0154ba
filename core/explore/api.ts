/**
 * Explore slice of the API contract (issue #4): fleet overview, notable trips,
 * downsampled trip charts, distributions, profiles and the SQL console. All
 * computed in DuckDB; chart series travel as typed arrays, already reduced to
 * what a screen can show.
 */
import type { TablePage } from '../data/api.ts';

/** Label rate of one group (device, model, factory…). */
export interface GroupRate {
  key: string;
  rows: number;
  labelled: number;
  /** labelled / rows, in [0, 1]. */
  rate: number;
}

export interface FleetOverview {
  dataset: string;
  rows: number;
  /** Distinct devices; null without a device role. */
  devices: number | null;
  /** Distinct trips (device+trip); null without a trip role. */
  trips: number | null;
  timeSpan: { min: string | number; max: string | number } | null;
  /** Whether the time axis is a timestamp (true) or a number such as a cycle count (false). */
  temporal: boolean;
  label: string | null;
  /** Overall label rate, null without a label role. */
  labelRate: number | null;
  /** Label rate per device, highest rate first (at most 500 devices). */
  labelByDevice: GroupRate[];
  /** Label rate per value of every categorical column (at most 50 values each, by rows). */
  labelByCategory: { column: string; groups: GroupRate[] }[];
  /** Rows per day (temporal axis) or per time bucket (numeric axis). */
  rowsOverTime: { bucket: string[]; rows: number[]; unit: 'day' | 'bucket' };
  /** Share of NULLs per column, in [0, 1]. */
  missing: { column: string; rate: number }[];
}

export type TripPreset = 'labelled' | 'longest' | 'missing' | 'extreme';

export interface TripsRequest {
  dataset: string;
  /** One row per trip (default when a trip role exists) or per device. */
  unit?: 'trip' | 'device';
  /** A preset sets the sort: most labelled events, longest, most missing data, most extreme readings. */
  preset?: TripPreset;
  /** Sort column of the result (overrides preset), descending by default. */
  sort?: { column: string; desc?: boolean };
  /** Case-insensitive substring filter on device and trip ids. */
  search?: string;
  /** Only trips with at least this many labelled rows. */
  minLabelled?: number;
  offset?: number;
  limit?: number;
}

export interface TripsPage extends TablePage {
  /** Sensors summarised (per sensor: min, max, mean columns). */
  sensors: string[];
}

export interface SeriesRequest {
  dataset: string;
  /** One trip, or one device across all its trips. */
  device?: string;
  trip?: string;
  sensors: string[];
  /** Visible window on the time axis (epoch ms for timestamps, raw numbers otherwise); whole range when absent. */
  range?: [number, number];
  /** Plot width in pixels; each trace gets at most ~4 points per pixel column (M4). Default 1000, max 4000. */
  width?: number;
}

export interface SeriesTrace {
  sensor: string;
  /** x: epoch ms (temporal axis) or raw time values. */
  x: Float64Array;
  /** y: NaN where the reading is missing. */
  y: Float64Array;
}

export interface SeriesResponse {
  temporal: boolean;
  /** Rows in the requested window before downsampling. */
  rawRows: number;
  /** Whether the traces are downsampled (M4: first, last, min, max per pixel bucket) or raw. */
  downsampled: boolean;
  /** Full extent of the selection (for resetting zoom). */
  extent: [number, number] | null;
  traces: SeriesTrace[];
  /** Time of labelled rows (reduced to one per pixel bucket when many). */
  labelled: Float64Array;
  /** Trip starts within the window (device view). */
  tripStarts: { trip: string; x: number }[];
}

export interface DistributionRequest {
  dataset: string;
  sensor: string;
  /** Split by the label or by a categorical column (at most 12 groups, largest first). */
  splitBy?: string;
  bins?: number;
}

export interface DistributionGroup {
  key: string;
  count: number;
  /** Counts per bin, same bin edges for every group. */
  hist: Float64Array;
  box: { min: number; q1: number; median: number; q3: number; max: number; mean: number; lowerFence: number; upperFence: number };
}

export interface DistributionResponse {
  sensor: string;
  splitBy: string | null;
  /** Bin edges, length bins + 1. */
  edges: Float64Array;
  groups: DistributionGroup[];
}

export interface ScatterRequest {
  dataset: string;
  x: string;
  y: string;
  /** Colour by the label, a categorical, or 'trip'. */
  colorBy?: string;
  /** Above this many rows a density heatmap is returned instead of points (default 50,000). */
  maxPoints?: number;
}

export type ScatterResponse =
  | { kind: 'points'; x: Float64Array; y: Float64Array; color: string[] | null; colorBy: string | null; sampled: boolean; total: number }
  | { kind: 'density'; xEdges: Float64Array; yEdges: Float64Array; counts: Float64Array /* row-major ny × nx */; nx: number; ny: number; total: number };

export interface CorrelationResponse {
  sensors: string[];
  /** Pearson r, row-major n × n; NaN where undefined (constant column). */
  r: Float64Array;
}

export interface ColumnProfile {
  name: string;
  type: string;
  role: string;
  count: number;
  nulls: number;
  distinct: number;
  min: string | number | null;
  max: string | number | null;
  mean: number | null;
  std: number | null;
  q25: number | null;
  q50: number | null;
  q75: number | null;
  /** Exactly one distinct non-null value. */
  constant: boolean;
  /** Two distinct values only (e.g. C-MAPSS s6): near-constant, worth a look. */
  binary: boolean;
}

export interface SqlResult extends TablePage {
  elapsedMs: number;
  /** Whether the result was cut at the row limit. */
  truncated: boolean;
  statementType: string;
}

export interface SqlHistoryEntry {
  sql: string;
  at: string;
  ok: boolean;
  elapsedMs: number;
  rows: number | null;
  error: string | null;
}

export interface ExploreApi {
  /** Fleet overview of a dataset. */
  'explore.overview': (req: { dataset: string }) => Promise<FleetOverview>;
  /** Notable trips (or devices): sortable, filterable, paged. Summary is cached per dataset version. */
  'explore.trips': (req: TripsRequest) => Promise<TripsPage>;
  /** Downsampled multi-sensor series of a trip or device, for the visible window. */
  'explore.series': (req: SeriesRequest) => Promise<SeriesResponse>;
  'explore.distribution': (req: DistributionRequest) => Promise<DistributionResponse>;
  'explore.scatter': (req: ScatterRequest) => Promise<ScatterResponse>;
  'explore.correlation': (req: { dataset: string; sensors?: string[] }) => Promise<CorrelationResponse>;
  'explore.profile': (req: { dataset: string }) => Promise<ColumnProfile[]>;
  /**
   * Run SQL against the workspace. Read-only unless allowWrite: statements that modify data
   * (INSERT, UPDATE, DELETE, CREATE, DROP, ALTER, COPY, ATTACH…) are refused with WRITE_NOT_ALLOWED.
   * Errors carry DuckDB's message (QUERY_FAILED). At most `limit` rows (default 10,000, max 100,000).
   */
  'sql.run': (req: { sql: string; allowWrite?: boolean; limit?: number }) => Promise<SqlResult>;
  /** Export a read-only query's full result to a CSV or Parquet file. */
  'sql.export': (req: { sql: string; path: string; format: 'csv' | 'parquet' }) => Promise<{ path: string; rows: number }>;
  /** Most recent queries first (at most 200 kept). */
  'sql.history': (req: Record<string, never>) => Promise<SqlHistoryEntry[]>;
}
