/**
 * Scoring one partition's batch of events (issue #7), shaped for a worker thread:
 * the bodies arrive packed in one buffer, and the scored rows leave as columns
 * (typed arrays and string arrays), so that crossing threads and appending to
 * DuckDB cost little per event. Pure and synchronous apart from loading missing
 * state, which the caller does between `prepareBatch` and `scoreBatch`.
 *
 * The same code runs in `score-worker.ts` (the pipeline's default) and inline
 * (`InlineScoring`), so both score identically.
 */
import { isAscii } from 'node:buffer';
import { WorkbenchError } from '../api/errors.ts';
import { scrub } from './eventhub.ts';
import type { AlarmRow, DeadRow } from './persist.ts';
import { decodeBody, type Decoded, type ItemResult, type Scorer, type StagedItem } from './scorer.ts';

/** One partition's events, packed for crossing a thread. Built by {@link packBatch}. */
export interface PackedBatch {
  partitionId: string;
  n: number;
  /** Body bytes of every event, back to back; body i ends at `ends[i]`. */
  bytes: Uint8Array;
  ends: Int32Array;
  /** Bodies that are not bytes (AMQP value sections), by event index; null when none. */
  others: Map<number, unknown> | null;
  seq: Float64Array;
  enqueuedMs: Float64Array;
  /** Event id from the application properties, per event (null: none). */
  propIds: (string | null)[];
  /** Events up to this sequence number only rebuild state: nothing of them is stored. */
  replayUpTo: number;
}

/** What {@link packBatch} needs of an SDK event. */
export interface RawEvent {
  body: unknown;
  sequenceNumber: number;
  enqueuedTimeUtc: Date;
  properties?: Record<string, unknown>;
}

/** Pack events for scoring; `idField` names the application property holding the event id. */
export function packBatch(partitionId: string, events: readonly RawEvent[], idField: string, replayUpTo: number): PackedBatch {
  const n = events.length;
  let total = 0;
  for (let i = 0; i < n; i++) {
    const b = events[i]!.body;
    if (b instanceof Uint8Array) total += b.byteLength;
  }
  const bytes = new Uint8Array(total);
  const ends = new Int32Array(n);
  const seq = new Float64Array(n);
  const enqueuedMs = new Float64Array(n);
  const propIds: (string | null)[] = new Array<string | null>(n);
  let others: Map<number, unknown> | null = null;
  let at = 0;
  for (let i = 0; i < n; i++) {
    const ev = events[i]!;
    const b = ev.body;
    if (b instanceof Uint8Array) {
      bytes.set(b, at);
      at += b.byteLength;
    } else {
      (others ??= new Map()).set(i, b);
    }
    ends[i] = at;
    seq[i] = ev.sequenceNumber;
    enqueuedMs[i] = ev.enqueuedTimeUtc.getTime();
    const pv = ev.properties ? ev.properties[idField] : undefined;
    propIds[i] = pv !== undefined && pv !== null ? String(pv) : null;
  }
  return { partitionId, n, bytes, ends, others, seq, enqueuedMs, propIds, replayUpTo };
}

/** Buffers of a packed batch, for `postMessage` transfer lists. */
export function batchTransfer(b: PackedBatch): ArrayBuffer[] {
  return [b.bytes.buffer as ArrayBuffer, b.ends.buffer as ArrayBuffer, b.seq.buffer as ArrayBuffer, b.enqueuedMs.buffer as ArrayBuffer];
}

/** Flags of a scored row. */
export const ANOMALY = 1;
export const ALARM = 2;
export const RAISED = 4;
/** The row has no score (fill 'drop' with a missing feature). */
export const NO_SCORE = 8;

/**
 * Scored rows as columns. Value columns follow the scorer's `columns.all` order (the stored
 * table's value columns): sensors as numbers (NaN = missing), the time column as `time`,
 * the others as text.
 */
export interface ScoredColumns {
  n: number;
  seq: Float64Array;
  enqueuedMs: Float64Array;
  item: Int32Array;
  eventId: (string | null)[];
  device: string[];
  /** Epoch ms for temporal models, else the time-axis value. */
  time: Float64Array;
  /** NaN where the NO_SCORE flag is set. */
  score: Float64Array;
  threshold: Float64Array;
  flags: Uint8Array;
  /** Per value column: its numbers (sensor columns) or null. */
  num: (Float64Array | null)[];
  /** Per value column: its texts (columns other than sensors and time) or null. */
  text: ((string | null)[] | null)[];
}

/** What the stored table needs to know of the value columns. */
export interface ValueColumnKinds {
  valueColumns: string[];
  sensorSet: ReadonlySet<string>;
  timeColumn: string;
}

function emptyColumns(kinds: ValueColumnKinds, capacity: number): ScoredColumns {
  const numeric = (c: string): boolean => kinds.sensorSet.has(c);
  return {
    n: 0,
    seq: new Float64Array(capacity),
    enqueuedMs: new Float64Array(capacity),
    item: new Int32Array(capacity),
    eventId: [],
    device: [],
    time: new Float64Array(capacity),
    score: new Float64Array(capacity),
    threshold: new Float64Array(capacity),
    flags: new Uint8Array(capacity),
    num: kinds.valueColumns.map((c) => (numeric(c) ? new Float64Array(capacity) : null)),
    text: kinds.valueColumns.map((c) => (!numeric(c) && c !== kinds.timeColumn ? [] : null)),
  };
}

/** Trim typed arrays to `n` rows (views, no copy). */
function trimmed(c: ScoredColumns): ScoredColumns {
  const n = c.n;
  return {
    ...c,
    seq: c.seq.subarray(0, n),
    enqueuedMs: c.enqueuedMs.subarray(0, n),
    item: c.item.subarray(0, n),
    time: c.time.subarray(0, n),
    score: c.score.subarray(0, n),
    threshold: c.threshold.subarray(0, n),
    flags: c.flags.subarray(0, n),
    num: c.num.map((a) => (a ? a.subarray(0, n) : null)),
  };
}

/** A scored row as an object (tests, and callers that build rows one by one). */
export interface ScoredRowInput {
  sequenceNumber: number;
  enqueuedMs: number;
  item: number;
  eventId: string | null;
  device: string;
  time: number;
  values: Record<string, number | string | boolean | null | undefined>;
  score: number | null;
  threshold: number;
  anomaly: boolean;
  alarm: boolean;
  raised: boolean;
}

/** Columns from row objects. */
export function columnsOf(rows: readonly ScoredRowInput[], kinds: ValueColumnKinds): ScoredColumns {
  const c = emptyColumns(kinds, rows.length);
  for (const r of rows) appendRow(c, kinds, r.sequenceNumber, r.enqueuedMs, r.item, r.eventId, r.device, r.time, r.values, r.score, r.threshold, (r.anomaly ? ANOMALY : 0) | (r.alarm ? ALARM : 0) | (r.raised ? RAISED : 0));
  return c;
}

function appendRow(
  c: ScoredColumns,
  kinds: ValueColumnKinds,
  seq: number,
  enqueuedMs: number,
  item: number,
  eventId: string | null,
  device: string,
  time: number,
  values: Record<string, unknown>,
  score: number | null,
  threshold: number,
  flags: number,
): void {
  const i = c.n++;
  c.seq[i] = seq;
  c.enqueuedMs[i] = enqueuedMs;
  c.item[i] = item;
  c.eventId.push(eventId);
  c.device.push(device);
  c.time[i] = time;
  c.score[i] = score === null ? NaN : score;
  c.threshold[i] = threshold;
  c.flags[i] = flags | (score === null ? NO_SCORE : 0);
  const cols = kinds.valueColumns;
  for (let k = 0; k < cols.length; k++) {
    const num = c.num[k];
    if (num) {
      const v = values[cols[k]!];
      num[i] = typeof v === 'number' ? v : NaN;
      continue;
    }
    const text = c.text[k];
    if (text) {
      const v = values[cols[k]!];
      text.push(v === null || v === undefined ? null : String(v));
    }
  }
}

/** The outcome of scoring one batch. */
export interface BatchResult {
  scored: ScoredColumns;
  dead: DeadRow[];
  alarms: AlarmRow[];
  /** Events skipped as already seen (dedupe field). */
  duplicates: number;
  /** State entries changed since the last snapshot, when one was asked for. */
  snapshot: { key: string; value: string }[] | null;
  /** Saved state entries that could not be loaded (ignored; the state starts afresh). */
  stateErrors: string[];
  /** The scorer holds changes not yet in a snapshot. */
  dirty: boolean;
}

/** A batch decoded, before scoring: what state it still needs. */
export interface PreparedBatch {
  decoded: Decoded[];
  /** State keys the batch touches that are not in memory. */
  missing: string[];
}

/** Decode every body and list the state keys not in memory. */
export function prepareBatch(scorer: Scorer, b: PackedBatch): PreparedBatch {
  const decoded: Decoded[] = new Array<Decoded>(b.n);
  const missing = new Set<string>();
  // Mostly ASCII JSON: then each body's text is its Latin-1 decoding (the same text UTF-8 gives,
  // decoded faster).
  const bytes = Buffer.from(b.bytes.buffer, b.bytes.byteOffset, b.bytes.byteLength);
  const ascii = isAscii(bytes);
  for (let i = 0; i < b.n; i++) {
    const start = i === 0 ? 0 : b.ends[i - 1]!;
    const end = b.ends[i]!;
    let body: unknown;
    if (b.others?.has(i)) body = b.others.get(i);
    else if (ascii) body = bytes.toString('latin1', start, end);
    else body = b.bytes.subarray(start, end);
    // A text body decodes as the same bytes would (decodeBody): JSON, or a dead letter with the text.
    const d = decodeBody(body);
    decoded[i] = d;
    if (!d.ok) continue;
    for (const rec of d.records) for (const k of scorer.keysOf(rec)) if (!scorer.has(k)) missing.add(k);
  }
  return { decoded, missing: [...missing] };
}

/** Load saved state entries into the scorer; returns the messages of entries that did not fit. */
export function importStates(scorer: Scorer, entries: Iterable<[string, string]>): string[] {
  const errors: string[] = [];
  for (const [k, v] of entries) {
    try {
      scorer.importState(k, v);
    } catch (err) {
      errors.push(`saved state ${k} ignored: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
  return errors;
}

export interface ScoreOptions {
  /** Take a snapshot of the changed state after the batch. */
  snapshot: boolean;
  /** With a snapshot: drop clean state idle for this long, ms. */
  evictIdleMs: number;
}

/** Changed state entries of a scorer, serialized. */
export function takeSnapshot(scorer: Scorer): { key: string; value: string }[] {
  const out: { key: string; value: string }[] = [];
  for (const key of scorer.takeDirty()) {
    const value = scorer.exportState(key);
    if (value !== undefined) out.push({ key, value });
  }
  return out;
}

/**
 * Score a prepared batch. Events at or below `replayUpTo` go through the scorer (rebuilding
 * state) but yield nothing; the others yield scored rows, dead letters and alarms.
 */
export function scoreBatch(scorer: Scorer, b: PackedBatch, prepared: PreparedBatch, kinds: ValueColumnKinds, opts: ScoreOptions): BatchResult {
  const cols = emptyColumns(kinds, Math.max(1, b.n));
  const dead: DeadRow[] = [];
  const alarms: AlarmRow[] = [];
  let duplicates = 0;
  const pid = b.partitionId;
  // Phase 1 in event order (validation, features, order and duplicate checks), then phase 2 for
  // the staged records together (scores as matrices, threshold, alarm rule), in the same order.
  const staged: StagedItem[] = [];
  /** Per staged record: its event index, or −1 when it is replayed (state only, nothing stored). */
  const origin: number[] = [];
  for (let i = 0; i < b.n; i++) {
    const seq = b.seq[i]!;
    const replay = seq <= b.replayUpTo;
    const enqueuedMs = b.enqueuedMs[i]!;
    const d = prepared.decoded[i]!;
    const propId = b.propIds[i] ?? null;
    if (!d.ok) {
      if (propId !== null && scorer.isSeen(propId)) {
        if (!replay) duplicates++;
        continue;
      }
      if (propId !== null) scorer.seedSeen([propId]);
      if (!replay) dead.push({ partitionId: pid, sequenceNumber: seq, enqueuedMs, item: null, eventId: propId, device: null, reason: d.reason, detail: d.detail, body: d.text });
      continue;
    }
    const records = d.records;
    for (let item = 0; item < records.length; item++) {
      const rec = records[item];
      let res: ItemResult | StagedItem;
      try {
        res = scorer.stage(rec, item, propId);
      } catch (err) {
        // A model that throws on one record must not stop the partition (it would throw again after every restart).
        res = { kind: 'dead', item, eventId: propId, device: null, reason: 'scoring_failed', detail: scrub(err instanceof Error ? err.message : String(err)).slice(0, 500) };
      }
      if (res.kind === 'staged') {
        staged.push(res);
        origin.push(replay ? -1 : i);
        continue;
      }
      if (replay) continue;
      if (res.kind === 'duplicate') duplicates++;
      else if (res.kind === 'dead') dead.push({ partitionId: pid, sequenceNumber: seq, enqueuedMs, item: res.item, eventId: res.eventId, device: res.device, reason: res.reason, detail: res.detail, body: JSON.stringify(rec) ?? '' });
    }
  }
  const settled = staged.length ? scorer.settle(staged) : [];
  for (let k = 0; k < settled.length; k++) {
    const i = origin[k]!;
    if (i < 0) continue;
    const res = settled[k]!;
    const seq = b.seq[i]!;
    const enqueuedMs = b.enqueuedMs[i]!;
    if (cols.n === cols.seq.length) grow(cols);
    appendRow(cols, kinds, seq, enqueuedMs, res.item, res.eventId, res.device, res.time, res.values, res.score, res.threshold, (res.anomaly ? ANOMALY : 0) | (res.alarm ? ALARM : 0) | (res.raised ? RAISED : 0));
    if (res.raised && res.score !== null) {
      const features = (res.contributions ?? []).map((c) => ({ feature: c.feature, weight: c.weight, value: c.value }));
      alarms.push({ partitionId: pid, sequenceNumber: seq, enqueuedMs, item: res.item, eventId: res.eventId, device: res.device, time: res.time, score: res.score, threshold: res.threshold, sensors: res.sensors ?? [], features });
    }
  }
  let snapshot: { key: string; value: string }[] | null = null;
  if (opts.snapshot) {
    snapshot = takeSnapshot(scorer);
    scorer.evictIdle(opts.evictIdleMs);
  }
  return { scored: trimmed(cols), dead, alarms, duplicates, snapshot, stateErrors: [], dirty: scorer.dirtyCount() > 0 };
}

/** Double the capacity (events holding arrays of several records). */
function grow(c: ScoredColumns): void {
  const cap = c.seq.length * 2;
  const g = <T extends Float64Array | Int32Array | Uint8Array>(a: T): T => {
    const out = new (a.constructor as new (n: number) => T)(cap);
    out.set(a);
    return out;
  };
  c.seq = g(c.seq);
  c.enqueuedMs = g(c.enqueuedMs);
  c.item = g(c.item);
  c.time = g(c.time);
  c.score = g(c.score);
  c.threshold = g(c.threshold);
  c.flags = g(c.flags);
  c.num = c.num.map((a) => (a ? g(a) : null));
}

/** Buffers of a result, for `postMessage` transfer lists. */
export function resultTransfer(r: BatchResult): ArrayBuffer[] {
  const s = r.scored;
  const out = new Set<ArrayBuffer>();
  for (const a of [s.seq, s.enqueuedMs, s.item, s.time, s.score, s.threshold, s.flags, ...s.num]) if (a) out.add(a.buffer as ArrayBuffer);
  return [...out];
}

/** The value-column kinds of a scorer's columns (the stored table's value columns). */
export function kindsOf(scorer: Scorer): ValueColumnKinds {
  const c = scorer.columns;
  return { valueColumns: c.all, sensorSet: new Set(c.sensors), timeColumn: c.time };
}

/** Raised by the scoring engines for a scorer never opened, or dropped. */
export function noScorer(key: string): WorkbenchError {
  return new WorkbenchError('INTERNAL', `no scorer '${key}' (the scoring worker restarted or the partition was closed)`);
}
