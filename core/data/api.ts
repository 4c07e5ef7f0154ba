/**
 * Datasets slice of the API contract (issue #3): the catalog, ingest, roles,
 * previews and rejects. Types only: the renderer imports this with `import type`.
 */

/** What a column means to Fleetlens. Guessed on ingest from name and type; editable. */
export type ColumnRole = 'time' | 'device' | 'trip' | 'label' | 'categorical' | 'sensor' | 'ignore';

export interface ColumnInfo {
  name: string;
  /** DuckDB type name, e.g. DOUBLE, BIGINT, VARCHAR, TIMESTAMP. */
  type: string;
  role: ColumnRole;
}

export interface SourceFile {
  /** Absolute path (or the glob as given, expanded into one entry per file). */
  path: string;
  bytes: number;
  /** Rows this file contributed. */
  rows: number;
  /** SHA-256 of the first and last MiB plus the size: cheap, stable fingerprint of large files. */
  checksum: string;
  /** ISO timestamp of the ingest that added it. */
  addedAt: string;
}

export interface DatasetInfo {
  /** Also the table name in the workspace (a plain SQL identifier). */
  name: string;
  rowCount: number;
  columns: ColumnInfo[];
  sources: SourceFile[];
  /** Min/max of the time column as ISO strings (timestamps) or numbers (e.g. cycles); null without a time role. */
  timeSpan: { min: string | number; max: string | number } | null;
  /** Rows DuckDB could not parse, kept in the rejects table. */
  rejectCount: number;
  createdAt: string;
  updatedAt: string;
}

export type FileFormat = 'auto' | 'csv' | 'whitespace' | 'parquet' | 'json';

export interface ImportRequest {
  /** Client-chosen id for progress events and cancel; generated when absent. */
  jobId?: string;
  /** Target dataset; a SQL identifier: letters, digits, underscore, not starting with a digit. */
  dataset: string;
  /** File paths or glob patterns (DuckDB glob syntax); at least one. */
  files: string[];
  /** create (default): fail if the dataset exists; append: add rows (columns matched by name); replace: swap atomically. */
  mode?: 'create' | 'append' | 'replace';
  /** Default auto: by extension, then by sniffing the first bytes. */
  format?: FileFormat;
  /** Column names for files without a header (required for headerless files to get names other than column0..). */
  columns?: string[];
  /** Text files only: whether the first line is a header (default: detected). */
  header?: boolean;
  /** Text files only: one-character delimiter (default: detected). */
  delimiter?: string;
}

export interface ImportResult {
  jobId: string;
  dataset: DatasetInfo;
  /** Rows added by this import. */
  rowsAdded: number;
  /** Rejected rows of this import (also counted in dataset.rejectCount). */
  rejected: number;
  elapsedMs: number;
}

export interface ImportProgress {
  jobId: string;
  dataset: string;
  phase: 'reading' | 'finishing';
  /** Fraction in [0, 1] of the input bytes read. */
  fraction: number;
  /** Estimated input bytes read so far, over all files of the import. */
  bytesDone: number;
  bytesTotal: number;
  /** Rows stored from files already finished. */
  rowsDone: number;
  /** Index of the file being read and the number of files. */
  file: number;
  files: number;
}

/** A page of rows, column-major: values[c][r] is column c of row r. Times as DuckDB prints them (`2026-01-27 04:31:00`), BIGINTs as numbers. */
export interface TablePage {
  columns: { name: string; type: string }[];
  values: (string | number | boolean | null)[][];
  /** Total rows available (for virtual scrolling). */
  total: number;
  offset: number;
}

export interface RejectRow {
  file: string;
  line: number | null;
  column: string | null;
  errorType: string;
  message: string;
  /** The offending line as read, truncated to 1,000 characters. */
  rawLine: string | null;
}

export interface DatasetsApi {
  /** Every dataset in the workspace, newest first. */
  'datasets.list': (req: Record<string, never>) => Promise<DatasetInfo[]>;
  /** One dataset; DATASET_NOT_FOUND if absent. */
  'datasets.get': (req: { name: string }) => Promise<DatasetInfo>;
  /**
   * Ingest files into a dataset. Resolves when done. DuckDB reads the files; rows never pass
   * through JS. Emits datasets.importProgress. The workspace is unchanged on failure or cancel
   * (the whole import is one transaction). Unparseable rows go to the rejects table.
   */
  'datasets.import': (req: ImportRequest) => Promise<ImportResult>;
  /** Cancel a running import; resolves true if a job with that id was running. */
  'datasets.cancelImport': (req: { jobId: string }) => Promise<boolean>;
  /** Change column roles; only the named columns change. */
  'datasets.setRoles': (req: { name: string; roles: Record<string, ColumnRole> }) => Promise<DatasetInfo>;
  /** Rows [offset, offset+limit) in storage order; limit capped at 5,000. */
  'datasets.preview': (req: { name: string; offset?: number; limit?: number }) => Promise<TablePage>;
  /** Rejected rows of a dataset, paged; limit capped at 5,000. */
  'datasets.rejects': (req: { name: string; offset?: number; limit?: number }) => Promise<{ rows: RejectRow[]; total: number }>;
  /** Drop a dataset, its rejects and catalog entry. */
  'datasets.delete': (req: { name: string }) => Promise<void>;
}

export interface DatasetsEvents {
  'datasets.importProgress': ImportProgress;
  /** The catalog changed (import, delete, roles). */
  'datasets.changed': { name: string };
}
