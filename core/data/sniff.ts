/**
 * Look at the first bytes of each file before DuckDB does, so that the common
 * mistakes (missing file, empty file, a binary file, a Parquet file with a .csv
 * name) get a specific message instead of a sniffer dump. Reads at most 64 KiB
 * per file; the rows themselves are read by DuckDB.
 */
import { createHash } from 'node:crypto';
import { closeSync, openSync, readSync, statSync } from 'node:fs';
import { extname } from 'node:path';
import { WorkbenchError } from '../api/errors.ts';
import type { FileFormat } from './api.ts';

export type ConcreteFormat = Exclude<FileFormat, 'auto'>;

export interface SniffedFile {
  path: string;
  bytes: number;
  format: ConcreteFormat;
  /** Whitespace/text files: does the first line look like a header? */
  header?: boolean;
  /** Whitespace files: number of fields per line seen in the sample. */
  fieldCount?: number;
}

const HEAD_BYTES = 64 * 1024;

function readHead(path: string, bytes: number, n: number, position = 0): Buffer {
  const fd = openSync(path, 'r');
  try {
    const buf = Buffer.alloc(Math.min(n, bytes));
    const got = readSync(fd, buf, 0, buf.length, position);
    return buf.subarray(0, got);
  } finally {
    closeSync(fd);
  }
}

/** Stat a path with specific errors; returns its size. */
export function statFile(path: string): number {
  let st;
  try {
    st = statSync(path);
  } catch {
    throw new WorkbenchError('FILE_NOT_FOUND', `file ${path} does not exist`, { file: path });
  }
  if (st.isDirectory()) throw new WorkbenchError('FILE_UNREADABLE', `${path} is a folder, not a file (use a glob such as ${path}/*.csv)`, { file: path });
  if (st.size === 0) throw new WorkbenchError('FILE_EMPTY', `file ${path} is empty`, { file: path });
  return st.size;
}

/** Decide a file's format from its extension and first bytes. */
export function sniffFile(path: string, requested: FileFormat = 'auto'): SniffedFile {
  const bytes = statFile(path);
  const head = readHead(path, bytes, HEAD_BYTES);
  const isParquet = head.length >= 4 && head.subarray(0, 4).toString('latin1') === 'PAR1';
  const ext = extname(path).toLowerCase();
  const byExt: ConcreteFormat | null =
    ext === '.parquet' || ext === '.pq' ? 'parquet' : ext === '.json' || ext === '.ndjson' || ext === '.jsonl' ? 'json' : ext === '.csv' || ext === '.tsv' ? 'csv' : null;
  if (requested === 'parquet' || byExt === 'parquet' || isParquet) {
    if (!isParquet) {
      throw new WorkbenchError('FILE_UNREADABLE', `file ${path} is not a Parquet file (it does not start with the PAR1 magic bytes)`, { file: path });
    }
    return { path, bytes, format: 'parquet' };
  }
  const binaryAt = firstBinaryByte(head);
  if (binaryAt >= 0) {
    throw new WorkbenchError(
      'FILE_UNREADABLE',
      `file ${path} is not a text, JSON or Parquet file (binary content at byte ${binaryAt})`,
      { file: path, byte: binaryAt },
    );
  }
  const text = head.toString('utf8');
  const firstNonSpace = text.trimStart()[0];
  if (requested === 'json' || (requested === 'auto' && (byExt === 'json' || (byExt === null && (firstNonSpace === '{' || firstNonSpace === '['))))) {
    return { path, bytes, format: 'json' };
  }
  const lines = sampleLines(text, head.length < bytes);
  if (lines.length === 0) throw new WorkbenchError('FILE_EMPTY', `file ${path} has no data lines`, { file: path });
  if (requested === 'whitespace' || (requested === 'auto' && byExt !== 'csv' && looksWhitespaceSeparated(lines))) {
    const fields = lines[0]!.trim().split(/\s+/);
    return { path, bytes, format: 'whitespace', header: fields.every((f) => !isNumberToken(f)), fieldCount: modalFieldCount(lines).count };
  }
  return { path, bytes, format: 'csv' };
}

/** Index of the first byte that cannot appear in UTF-8 text (NUL or most C0 controls), or -1. */
function firstBinaryByte(head: Buffer): number {
  for (let i = 0; i < head.length; i++) {
    const b = head[i]!;
    if (b === 0 || (b < 0x20 && b !== 0x09 && b !== 0x0a && b !== 0x0d && b !== 0x0c)) return i;
  }
  return -1;
}

function sampleLines(text: string, truncated: boolean): string[] {
  const lines = text.split(/\r?\n/);
  if (truncated) lines.pop(); // the last line may be cut mid-way
  return lines.filter((l) => l.trim().length > 0).slice(0, 50);
}

function isNumberToken(s: string): boolean {
  return s !== '' && Number.isFinite(Number(s));
}

/** Most common whitespace-separated field count of the sample lines. */
function modalFieldCount(lines: string[]): { count: number; share: number } {
  const freq = new Map<number, number>();
  for (const l of lines) {
    const n = l.trim().split(/\s+/).length;
    freq.set(n, (freq.get(n) ?? 0) + 1);
  }
  let best = 0, bestN = 0;
  for (const [n, k] of freq) if (k > bestN) { best = n; bestN = k; }
  return { count: best, share: bestN / lines.length };
}

/** No usual delimiter anywhere and most lines (≥ 80%) have the same number (≥ 2) of whitespace-separated fields. */
function looksWhitespaceSeparated(lines: string[]): boolean {
  if (lines.some((l) => /[,;\t|]/.test(l))) return false;
  const m = modalFieldCount(lines);
  return m.count >= 2 && m.share >= 0.8;
}

/** Cheap, stable fingerprint: SHA-256 of size, first MiB and last MiB. */
export function fileChecksum(path: string, bytes: number): string {
  const h = createHash('sha256');
  h.update(String(bytes));
  const mib = 1024 * 1024;
  h.update(readHead(path, bytes, mib));
  if (bytes > mib) h.update(readHead(path, bytes, mib, Math.max(mib, bytes - mib)));
  return h.digest('hex');
}
