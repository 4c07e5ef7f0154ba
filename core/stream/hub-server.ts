/**
 * A local Event Hubs-compatible AMQP 1.0 server, for tests and demos (not a production broker).
 * The real `@azure/event-hubs` v6 clients talk to it through a connection string with
 * `UseDevelopmentEmulator=true`; the protocol facts it relies on are in
 * shared/design/eventhubs-amqp.md.
 *
 * What it does: SASL ANONYMOUS, `$cbs` put-token with SAS verification, `$management` READ for hub and
 * partition info, batched publishing (message format 0x80013700), partition routing (explicit,
 * Jenkins lookup3 partition key hash, round-robin), receivers positioned by offset, sequence number
 * or enqueued time, credit-based delivery, and an optional append-only log file.
 *
 * Retention: every stored event stays in memory for the life of the server, bounded only by the log
 * file (or by nothing, in memory mode). There is no time- or size-based expiry yet, so a long demo
 * grows without limit; beginningSequenceNumber is therefore always 0.
 *
 * Durability: a publish is accepted only after its records were handed to the OS (write completed),
 * which survives a process crash but not a power loss (no fsync).
 *
 * One server per store file: nothing locks it.
 *
 * Not implemented: idempotent publishing, owner-level (epoch) receiver exclusivity, geo-replication,
 * AAD/JWT tokens, WebSockets, TLS. Any consumer group name is accepted. Tokens are verified when
 * presented (put-token, management requests); an authorised link is not cut when its token expires.
 */
import fs from 'node:fs';
import { Socket, type AddressInfo, type Server } from 'node:net';
import { createHmac, timingSafeEqual } from 'node:crypto';
import zlib from 'node:zlib';
import rhea from 'rhea';
import type { AmqpError, Connection, Container, Delivery, EventContext, Receiver, Sender, Session } from 'rhea';
import { partitionForKey } from './lookup3.ts';

/** Options for {@link LocalEventHubServer.start}. */
export interface HubServerOptions {
  /** TCP port; 0 (the default) picks an ephemeral one. */
  port?: number;
  /** Only 127.0.0.1; the connection string names it too, so `localhost` resolving to ::1 never matters. */
  host?: '127.0.0.1';
  /** Event hub name (EntityPath). Default `telemetry`. */
  hubName?: string;
  /** Number of partitions, ids "0".."n-1". Default 4. */
  partitions?: number;
  /** Append-only log file; events are reloaded from it on start. Absent = memory only. */
  storeFile?: string;
  /** SAS key name clients must sign with. Default `RootManageSharedAccessKey`. */
  sharedAccessKeyName?: string;
  /** SAS key (used as raw UTF-8 bytes, like the SDK does). Default `fleetlens-local-dev-key`. */
  sharedAccessKey?: string;
  /** Largest transfer accepted, advertised as max_message_size on attach. Default 1 MiB. */
  maxMessageSize?: number;
}

/** Partition metadata, shaped like the SDK's PartitionProperties. */
export interface HubPartitionInfo {
  eventHubName: string;
  partitionId: string;
  beginningSequenceNumber: number;
  lastEnqueuedSequenceNumber: number;
  lastEnqueuedOffset: string;
  lastEnqueuedOnUtc: Date;
  isEmpty: boolean;
}

/** Counters for tests and the bench. */
export interface HubStats {
  hubName: string;
  /** Stored (committed) events per partition, index = partition id. */
  eventsPerPartition: number[];
  totalEvents: number;
  /** Bytes of pre-encoded events held in memory. */
  storedBytes: number;
  /** Open AMQP connections. */
  connections: number;
  /** Attached consumer (receive) links. */
  consumers: number;
  /** Bytes dropped from the end of the log file on load (a torn or corrupt tail). */
  discardedTailBytes: number;
}

/** What went wrong, for callers that branch on it. */
export type HubServerErrorCode =
  | 'INVALID_OPTION'
  | 'LISTEN_FAILED'
  | 'STORE_INVALID'
  | 'STORE_MISMATCH'
  | 'STORE_IO'
  | 'UNKNOWN_PARTITION';

/** Error thrown by {@link LocalEventHubServer} to its callers. */
export class HubServerError extends Error {
  /** Machine-readable reason. */
  readonly code: HubServerErrorCode;
  constructor(code: HubServerErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'HubServerError';
    this.code = code;
  }
}

const DEFAULT_KEY_NAME = 'RootManageSharedAccessKey';
const DEFAULT_KEY = 'fleetlens-local-dev-key';
const BATCH_FORMAT = 0x80013700;
const PUBLISH_CREDIT = 100;
const CONTROL_CREDIT = 100;
const SAS_TOKEN_TYPE = 'servicebus.windows.net:sastoken';
const RUNTIME_METRIC_CAPABILITY = 'com.microsoft:enable-receiver-runtime-metric';
const SELECTOR_FILTER_KEY = 'apache.org:selector-filter:string';

// AMQP bytes. Events are spliced at the byte level rather than decoded and re-encoded: it keeps
// the client's exact encoding (types of properties, body sections) and never decodes bodies.

class AmqpFormatError extends Error {
  override name = 'AmqpFormatError';
}

const SECTION_SYMBOLS: Record<string, number> = {
  'amqp:header:list': 0x70,
  'amqp:delivery-annotations:map': 0x71,
  'amqp:message-annotations:map': 0x72,
  'amqp:properties:list': 0x73,
  'amqp:application-properties:map': 0x74,
  'amqp:data:binary': 0x75,
  'amqp:amqp-sequence:list': 0x76,
  'amqp:value:*': 0x77,
  'amqp:footer:map': 0x78,
};

function need(buf: Buffer, pos: number, n: number): void {
  if (pos + n > buf.length) throw new AmqpFormatError('truncated AMQP value');
}

/** End position of the encoded value starting at `pos`; the type code's high nibble fixes its width class. */
function skipValue(buf: Buffer, pos: number): number {
  need(buf, pos, 1);
  const code = buf[pos]!;
  const p = pos + 1;
  if (code === 0x00) return skipValue(buf, skipValue(buf, p));
  let end: number;
  switch (code >> 4) {
    case 0x4: end = p; break;
    case 0x5: end = p + 1; break;
    case 0x6: end = p + 2; break;
    case 0x7: end = p + 4; break;
    case 0x8: end = p + 8; break;
    case 0x9: end = p + 16; break;
    case 0xa:
    case 0xc:
    case 0xe:
      need(buf, p, 1);
      end = p + 1 + buf[p]!;
      break;
    case 0xb:
    case 0xd:
    case 0xf:
      need(buf, p, 4);
      end = p + 4 + buf.readUInt32BE(p);
      break;
    default:
      throw new AmqpFormatError(`unknown AMQP type code 0x${code.toString(16)}`);
  }
  if (end > buf.length) throw new AmqpFormatError('truncated AMQP value');
  return end;
}

/** A string or symbol at `pos`, or undefined for any other type (null included). */
function readText(buf: Buffer, pos: number): string | undefined {
  need(buf, pos, 1);
  const code = buf[pos]!;
  if (code === 0xa1 || code === 0xa3) {
    need(buf, pos + 1, 1);
    const len = buf[pos + 1]!;
    need(buf, pos + 2, len);
    return buf.toString('utf8', pos + 2, pos + 2 + len);
  }
  if (code === 0xb1 || code === 0xb3) {
    need(buf, pos + 1, 4);
    const len = buf.readUInt32BE(pos + 1);
    need(buf, pos + 5, len);
    return buf.toString('utf8', pos + 5, pos + 5 + len);
  }
  return undefined;
}

interface SectionSpan {
  code: number;
  start: number;
  valueStart: number;
  end: number;
}

function readSection(buf: Buffer, pos: number): SectionSpan {
  need(buf, pos, 2);
  if (buf[pos] !== 0x00) throw new AmqpFormatError('expected a described message section');
  const d = pos + 1;
  const dc = buf[d]!;
  let code: number;
  let valueStart: number;
  if (dc === 0x53) {
    need(buf, d + 1, 1);
    code = buf[d + 1]!;
    valueStart = d + 2;
  } else if (dc === 0x80) {
    need(buf, d + 1, 8);
    code = buf.readUInt32BE(d + 1) === 0 ? buf.readUInt32BE(d + 5) : -1;
    valueStart = d + 9;
  } else if (dc === 0x44) {
    code = 0;
    valueStart = d + 1;
  } else {
    const symbol = readText(buf, d);
    if (symbol === undefined) throw new AmqpFormatError('unsupported section descriptor');
    code = SECTION_SYMBOLS[symbol] ?? -1;
    valueStart = skipValue(buf, d);
  }
  return { code, start: pos, valueStart, end: skipValue(buf, valueStart) };
}

/** Calls `fn` for each key/value pair of the map encoded at `pos` (a null counts as empty). */
function forEachMapEntry(buf: Buffer, pos: number, fn: (keyStart: number, valueStart: number, end: number) => void): void {
  need(buf, pos, 1);
  const code = buf[pos]!;
  let count: number;
  let p: number;
  if (code === 0xc1) {
    need(buf, pos, 3);
    count = buf[pos + 2]!;
    p = pos + 3;
  } else if (code === 0xd1) {
    need(buf, pos, 9);
    count = buf.readUInt32BE(pos + 5);
    p = pos + 9;
  } else if (code === 0x40) {
    return;
  } else {
    throw new AmqpFormatError('message annotations are not a map');
  }
  for (let i = 0; i + 1 < count; i += 2) {
    const valueStart = skipValue(buf, p);
    const end = skipValue(buf, valueStart);
    fn(p, valueStart, end);
    p = end;
  }
}

/** Payloads of a batch envelope's data sections, plus the envelope's partition key. */
function splitBatch(raw: Buffer): { events: Buffer[]; partitionKey: string | undefined } {
  const events: Buffer[] = [];
  let partitionKey: string | undefined;
  let pos = 0;
  while (pos < raw.length) {
    const s = readSection(raw, pos);
    if (s.code === 0x72) {
      forEachMapEntry(raw, s.valueStart, (k, v) => {
        if (readText(raw, k) === 'x-opt-partition-key') partitionKey = readText(raw, v);
      });
    } else if (s.code === 0x75) {
      const c = raw[s.valueStart]!;
      const lenWidth = c === 0xa0 ? 1 : c === 0xb0 ? 4 : 0;
      if (lenWidth === 0) throw new AmqpFormatError('data section is not binary');
      events.push(raw.subarray(s.valueStart + 1 + lenWidth, s.end));
    }
    pos = s.end;
  }
  return { events, partitionKey };
}

/** One published event cut into the parts the stored encoding is rebuilt from. */
interface ParsedEvent {
  header: Buffer | null;
  /** Client annotations (raw key+value bytes) minus the broker-owned ones. */
  annotations: Buffer[];
  annotationBytes: number;
  partitionKey: string | undefined;
  /** properties, application-properties, body and footer, untouched. */
  rest: Buffer;
}

const BROKER_ANNOTATIONS = new Set(['x-opt-sequence-number', 'x-opt-offset', 'x-opt-enqueued-time']);

function parseEvent(raw: Buffer): ParsedEvent {
  let header: Buffer | null = null;
  const annotations: Buffer[] = [];
  let annotationBytes = 0;
  let partitionKey: string | undefined;
  let pos = 0;
  while (pos < raw.length) {
    const s = readSection(raw, pos);
    if (s.code === 0x70) {
      header = raw.subarray(s.start, s.end);
    } else if (s.code === 0x72) {
      forEachMapEntry(raw, s.valueStart, (k, v, end) => {
        const key = readText(raw, k);
        if (key !== undefined && BROKER_ANNOTATIONS.has(key)) return;
        if (key === 'x-opt-partition-key') partitionKey = readText(raw, v);
        annotations.push(raw.subarray(k, end));
        annotationBytes += end - k;
      });
    } else if (s.code !== 0x71) {
      // Delivery annotations (0x71) are per hop and dropped; everything from here on is kept as is.
      break;
    }
    pos = s.end;
  }
  return { header, annotations, annotationBytes, partitionKey, rest: raw.subarray(pos) };
}

function symbolBytes(s: string): Buffer {
  const b = Buffer.from(s, 'utf8');
  return Buffer.concat([Buffer.from([0xa3, b.length]), b]);
}

const KEY_SEQ = symbolBytes('x-opt-sequence-number');
const KEY_OFFSET = symbolBytes('x-opt-offset');
const KEY_ENQUEUED = symbolBytes('x-opt-enqueued-time');
const KEY_LAST_SEQ = symbolBytes('last_enqueued_sequence_number');
const KEY_LAST_OFFSET = symbolBytes('last_enqueued_offset');
const KEY_LAST_TIME = symbolBytes('last_enqueued_time_utc');
const KEY_RETRIEVAL = symbolBytes('runtime_info_retrieval_time_utc');

function writeInt64(buf: Buffer, pos: number, n: number): void {
  const hi = Math.floor(n / 4294967296);
  buf.writeInt32BE(hi, pos);
  buf.writeUInt32BE(n - hi * 4294967296, pos + 4);
}

/** Typed 8-byte value (long 0x81 / timestamp 0x83) at `pos`; returns the end. */
function writeTyped64(buf: Buffer, pos: number, code: number, n: number): number {
  buf[pos] = code;
  writeInt64(buf, pos + 1, n);
  return pos + 9;
}

function writeStr8(buf: Buffer, pos: number, ascii: string): number {
  buf[pos] = 0xa1;
  buf[pos + 1] = ascii.length;
  buf.write(ascii, pos + 2, 'latin1');
  return pos + 2 + ascii.length;
}

/** Bytes of the message-annotation map items: the client's plus sequence number, offset and enqueued time. */
function annotationItemsLength(ev: ParsedEvent, offsetText: string): number {
  return ev.annotationBytes + KEY_SEQ.length + 9 + KEY_OFFSET.length + 2 + offsetText.length + KEY_ENQUEUED.length + 9;
}

/** Bytes of the stored (outgoing) encoding of `ev`. */
function storedLength(ev: ParsedEvent, offsetText: string): number {
  return (ev.header?.length ?? 0) + 12 + annotationItemsLength(ev, offsetText) + ev.rest.length;
}

/** Encodes the outgoing form of `ev` (header, message annotations with broker fields, rest) at `pos`. */
function writeStored(buf: Buffer, pos: number, ev: ParsedEvent, seq: number, offsetText: string, enqueuedMs: number): number {
  let p = pos;
  if (ev.header) p += ev.header.copy(buf, p);
  const items = annotationItemsLength(ev, offsetText);
  buf[p] = 0x00; buf[p + 1] = 0x53; buf[p + 2] = 0x72; buf[p + 3] = 0xd1;
  buf.writeUInt32BE(4 + items, p + 4);
  buf.writeUInt32BE(2 * (ev.annotations.length + 3), p + 8);
  p += 12;
  for (const a of ev.annotations) p += a.copy(buf, p);
  p += KEY_SEQ.copy(buf, p);
  p = writeTyped64(buf, p, 0x81, seq);
  p += KEY_OFFSET.copy(buf, p);
  p = writeStr8(buf, p, offsetText);
  p += KEY_ENQUEUED.copy(buf, p);
  p = writeTyped64(buf, p, 0x83, enqueuedMs);
  p += ev.rest.copy(buf, p);
  return p;
}


interface TokenGrant {
  /** Lower-case path the token's resource covers ('' = the whole namespace). */
  path: string;
}

/** Lower-case entity path of an `sb://host:port/path` URI, or undefined when it isn't one. */
function uriPath(uri: string): string | undefined {
  try {
    const u = new URL(uri);
    return decodeURIComponent(u.pathname).replace(/^\/+|\/+$/g, '').toLowerCase();
  } catch {
    return undefined;
  }
}

function covers(grantPath: string, path: string): boolean {
  return grantPath === '' || path === grantPath || path.startsWith(grantPath + '/');
}

/** Checks a `SharedAccessSignature sr=..&sig=..&se=..&skn=..` token; returns the reason on failure. */
function verifySasToken(token: unknown, keyName: string, key: string): TokenGrant | string {
  if (typeof token !== 'string' || !token.startsWith('SharedAccessSignature ')) return 'not a SharedAccessSignature token';
  const fields = new Map<string, string>();
  for (const part of token.slice('SharedAccessSignature '.length).split('&')) {
    const eq = part.indexOf('=');
    if (eq > 0) fields.set(part.slice(0, eq), part.slice(eq + 1));
  }
  const sr = fields.get('sr');
  const sig = fields.get('sig');
  const se = fields.get('se');
  const skn = fields.get('skn');
  if (!sr || !sig || !se || !skn) return 'token lacks sr, sig, se or skn';
  let sigBytes: Buffer;
  let resource: string;
  let name: string;
  try {
    sigBytes = Buffer.from(decodeURIComponent(sig), 'base64');
    resource = decodeURIComponent(sr);
    name = decodeURIComponent(skn);
  } catch {
    return 'token is not URL-encoded correctly';
  }
  if (name !== keyName) return `unknown key name '${name}'`;
  // The signed text is the still-encoded resource, a newline, then the expiry.
  const expected = createHmac('sha256', Buffer.from(key, 'utf8')).update(`${sr}\n${se}`).digest();
  if (sigBytes.length !== expected.length || !timingSafeEqual(sigBytes, expected)) return 'invalid signature';
  const expiry = Number(se);
  if (!Number.isFinite(expiry) || expiry * 1000 < Date.now()) return 'token expired';
  const path = uriPath(resource);
  if (path === undefined) return `invalid resource '${resource}'`;
  return { path };
}

// Log file layout: a header, then records `u32 bodyLength | u32 crc32(body) | body`, with body =
// `u16 partition | u16 0 | f64 seq | f64 offset | f64 enqueuedMs | u32 headerEnd | stored message`.
// The stored message is exactly what is sent to consumers, so reloading needs no re-encoding.

const FILE_MAGIC = Buffer.from('FLHUBLG1', 'latin1');
const FILE_HEADER_FIXED = 20;
const RECORD_PREFIX = 8;
const RECORD_META = 32;
const READ_CHUNK = 16 * 1024 * 1024;

let crcTable: Int32Array | null = null;

/** Standard CRC-32; zlib's native one when this Node has it (20.15+). */
function crc32(data: Uint8Array): number {
  if (typeof zlib.crc32 === 'function') return zlib.crc32(data);
  if (!crcTable) {
    crcTable = new Int32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      crcTable[n] = c;
    }
  }
  let crc = -1;
  for (let i = 0; i < data.length; i++) crc = crcTable[(crc ^ data[i]!) & 0xff]! ^ (crc >>> 8);
  return (crc ^ -1) >>> 0;
}

function writeAll(fd: number, bufs: Buffer[], cb: (err: Error | null) => void): void {
  fs.writev(fd, bufs, (err, written) => {
    if (err) return cb(err);
    let left = written;
    let i = 0;
    while (i < bufs.length && left >= bufs[i]!.length) left -= bufs[i++]!.length;
    if (i === bufs.length) return cb(null);
    const rest = [bufs[i]!.subarray(left), ...bufs.slice(i + 1)];
    writeAll(fd, rest, cb);
  });
}

/** Serialised appends with group commit: whatever queued while a write ran goes out in the next one. */
class LogAppender {
  private queue: Buffer[] = [];
  private callbacks: Array<(err: Error | null) => void> = [];
  private writing = false;
  private idle: Array<() => void> = [];
  error: Error | null = null;

  constructor(readonly fd: number) {}

  append(buf: Buffer, cb: (err: Error | null) => void): void {
    if (this.error) {
      cb(this.error);
      return;
    }
    this.queue.push(buf);
    this.callbacks.push(cb);
    if (!this.writing) this.flush();
  }

  private flush(): void {
    const bufs = this.queue;
    const cbs = this.callbacks;
    this.queue = [];
    this.callbacks = [];
    this.writing = true;
    writeAll(this.fd, bufs, (err) => {
      this.writing = false;
      if (err) this.error = new HubServerError('STORE_IO', `append to the hub log failed: ${err.message}`, { cause: err });
      for (const cb of cbs) cb(this.error);
      if (this.queue.length > 0) {
        this.flush();
      } else {
        for (const w of this.idle.splice(0)) w();
      }
    });
  }

  /** Resolves once every queued append has completed. */
  drain(): Promise<void> {
    if (!this.writing && this.queue.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.idle.push(resolve));
  }
}


interface StoredEvent {
  seq: number;
  offset: number;
  enqueuedMs: number;
  /** The full outgoing message, encoded once at store time. */
  bytes: Buffer;
  /** Length of the header section, where delivery annotations get inserted. */
  headerEnd: number;
}

class Partition {
  /** Committed events; index === sequence number because retention keeps everything. */
  readonly events: StoredEvent[] = [];
  readonly subscribers = new Set<Subscription>();
  nextSeq = 0;
  nextOffset = 0;
  lastAssignedMs = 0;
  storedBytes = 0;

  constructor(readonly id: string) {}

  /** First index whose offset is > (or >=) `offset`. */
  indexByOffset(offset: number, inclusive: boolean): number {
    let lo = 0;
    let hi = this.events.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      const o = this.events[mid]!.offset;
      if (inclusive ? o >= offset : o > offset) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  }

  /** First index enqueued strictly after `ms` (enqueued times never decrease within a partition). */
  indexAfterTime(ms: number): number {
    let lo = 0;
    let hi = this.events.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.events[mid]!.enqueuedMs > ms) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  }
}

interface Subscription {
  sender: Sender;
  partition: Partition;
  conn: ConnState;
  /** Index of the next event to send. */
  next: number;
  runtimeMetric: boolean;
  /** Sent since rhea last processed the session; its credit count lags until then. */
  unprocessed: number;
  tickPending: boolean;
}

interface ConnState {
  connection: Connection;
  /** Paths authorised by successful put-token calls. */
  grants: Set<string>;
  /** CBS and management reply links, by link name (= the requests' reply-to). */
  replyLinks: Map<string, Sender>;
  subs: Set<Subscription>;
  socket: Socket | null;
}

type ReceiverRole =
  | { kind: 'cbs'; conn: ConnState }
  | { kind: 'management'; conn: ConnState }
  | { kind: 'publish'; conn: ConnState; partition: Partition | null; pending: number };

/** Own-property read on an unknown value (rhea's decoded objects are untyped). */
function prop(o: unknown, key: string): unknown {
  if (o === null || typeof o !== 'object') return undefined;
  return (o as Record<string, unknown>)[key];
}

function addressOf(terminus: unknown): string | undefined {
  const a = prop(terminus, 'address');
  return typeof a === 'string' ? a : undefined;
}

/** rhea keeps a link's live credit in an untyped field. */
function creditOf(link: Sender | Receiver): number {
  const c = prop(link, 'credit');
  return typeof c === 'number' ? c : 0;
}

function capabilitiesOf(v: unknown): string[] {
  if (typeof v === 'string') return [v];
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];
}

const SELECTOR_RE = /^\s*amqp\.annotation\.(x-opt-offset|x-opt-sequence-number|x-opt-enqueued-time)\s*(>=|>)\s*'([^']*)'\s*$/i;

/** Parses the SDK's selector filter into a start index; returns an error text when unusable. */
function startIndex(p: Partition, selector: string | undefined): number | string {
  if (selector === undefined) return 0;
  const m = SELECTOR_RE.exec(selector);
  if (!m) return `unsupported selector filter: ${selector}`;
  const field = m[1]!.toLowerCase();
  const inclusive = m[2] === '>=';
  const value = m[3]!;
  const end = p.events.length;
  if (field === 'x-opt-offset') {
    if (value === '@latest') return end;
    const o = Number(value);
    if (!Number.isFinite(o)) return `invalid offset '${value}'`;
    return p.indexByOffset(o, inclusive);
  }
  const n = Number(value);
  if (!Number.isFinite(n)) return `invalid ${field} '${value}'`;
  if (field === 'x-opt-sequence-number') return Math.min(end, Math.max(0, inclusive ? n : n + 1));
  // Enqueued times are whole milliseconds, so ">= t" is "> t - 1".
  return p.indexAfterTime(inclusive ? n - 1 : n);
}

const corked = new WeakSet<Socket>();

/**
 * rhea writes every frame with its own socket.write, from a nextTick after the sends or input that
 * caused them. Corking until setImmediate (after those ticks and this loop turn's other I/O) turns a
 * burst of frames into one writev.
 */
function corkUntilImmediate(socket: Socket): void {
  if (corked.has(socket) || socket.destroyed) return;
  corked.add(socket);
  socket.cork();
  setImmediate(() => {
    corked.delete(socket);
    socket.uncork();
  });
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}


interface ResolvedOptions {
  port: number;
  hubName: string;
  partitions: number;
  storeFile: string | undefined;
  keyName: string;
  key: string;
  maxMessageSize: number;
}

function resolveOptions(opts: HubServerOptions): ResolvedOptions {
  const bad = (msg: string): never => {
    throw new HubServerError('INVALID_OPTION', msg);
  };
  const port = opts.port ?? 0;
  if (!Number.isInteger(port) || port < 0 || port > 65535) bad(`port must be an integer in 0..65535, got ${port}`);
  if (opts.host !== undefined && opts.host !== '127.0.0.1') bad(`host must be 127.0.0.1, got ${String(opts.host)}`);
  const hubName = opts.hubName ?? 'telemetry';
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,255}$/.test(hubName)) bad(`invalid hub name '${hubName}'`);
  const partitions = opts.partitions ?? 4;
  if (!Number.isInteger(partitions) || partitions < 1 || partitions > 1024) {
    bad(`partitions must be an integer in 1..1024, got ${partitions}`);
  }
  const keyName = opts.sharedAccessKeyName ?? DEFAULT_KEY_NAME;
  const key = opts.sharedAccessKey ?? DEFAULT_KEY;
  // These end up inside a `k=v;` connection string.
  if (!keyName || /[;=]/.test(keyName)) bad('sharedAccessKeyName must be non-empty without ; or =');
  if (!key || key.includes(';')) bad('sharedAccessKey must be non-empty without ;');
  const maxMessageSize = opts.maxMessageSize ?? 1_048_576;
  if (!Number.isInteger(maxMessageSize) || maxMessageSize < 1024) {
    bad(`maxMessageSize must be an integer >= 1024, got ${maxMessageSize}`);
  }
  return { port, hubName, partitions, storeFile: opts.storeFile, keyName, key, maxMessageSize };
}

/**
 * The local Event Hubs-compatible server. Create with {@link LocalEventHubServer.start}, point the
 * SDK at {@link LocalEventHubServer.connectionString}, and {@link LocalEventHubServer.stop} it when done.
 */
export class LocalEventHubServer {
  /** Event hub name (EntityPath). */
  readonly hubName: string;
  /** Always loopback v4. */
  readonly host = '127.0.0.1';
  private readonly opts: ResolvedOptions;
  private readonly partitions: Partition[];
  private readonly container: Container;
  private readonly sockets = new Set<Socket>();
  private readonly conns = new Map<Connection, ConnState>();
  private readonly roles = new WeakMap<Receiver, ReceiverRole>();
  private readonly subsBySender = new WeakMap<Sender, Subscription>();
  private server: Server | null = null;
  private listenPort = 0;
  private appender: LogAppender | null = null;
  private createdMs = Date.now();
  private discardedTailBytes = 0;
  private roundRobin = 0;
  private stopping: Promise<void> | null = null;
  private closing = false;
  private lastPublishAt = 0;

  private constructor(opts: ResolvedOptions) {
    this.opts = opts;
    this.hubName = opts.hubName;
    this.partitions = Array.from({ length: opts.partitions }, (_, i) => new Partition(String(i)));
    this.container = rhea.create_container({ id: `fleetlens-local-hub-${process.pid}` });
    this.wire();
  }

  /**
   * Starts a server: loads `storeFile` (dropping a torn tail) when given, then listens.
   * @throws HubServerError INVALID_OPTION, STORE_INVALID, STORE_MISMATCH, STORE_IO or LISTEN_FAILED.
   */
  static async start(opts: HubServerOptions = {}): Promise<LocalEventHubServer> {
    const srv = new LocalEventHubServer(resolveOptions(opts));
    if (srv.opts.storeFile !== undefined) srv.openStore(srv.opts.storeFile);
    try {
      await srv.listen();
    } catch (err) {
      if (srv.appender) fs.closeSync(srv.appender.fd);
      throw err;
    }
    return srv;
  }

  /** The port actually listened on (resolves an ephemeral 0). */
  get port(): number {
    return this.listenPort;
  }

  /** Connection string for EventHubProducerClient / EventHubConsumerClient (plain TCP via UseDevelopmentEmulator). */
  get connectionString(): string {
    const o = this.opts;
    return (
      `Endpoint=sb://${this.host}:${this.port};SharedAccessKeyName=${o.keyName};SharedAccessKey=${o.key};` +
      `EntityPath=${o.hubName};UseDevelopmentEmulator=true`
    );
  }

  /** Partition ids, "0".."n-1". */
  get partitionIds(): string[] {
    return this.partitions.map((p) => p.id);
  }

  /**
   * Metadata of one partition, from committed events only.
   * @throws HubServerError UNKNOWN_PARTITION.
   */
  partitionInfo(id: string): HubPartitionInfo {
    const p = this.partition(id);
    if (!p) throw new HubServerError('UNKNOWN_PARTITION', `hub '${this.hubName}' has no partition '${id}'`);
    const last = p.events[p.events.length - 1];
    return {
      eventHubName: this.hubName,
      partitionId: p.id,
      beginningSequenceNumber: last ? 0 : -1,
      lastEnqueuedSequenceNumber: last ? last.seq : -1,
      lastEnqueuedOffset: last ? String(last.offset) : '-1',
      lastEnqueuedOnUtc: new Date(last ? last.enqueuedMs : 0),
      isEmpty: !last,
    };
  }

  /** Stored events per partition and connection counters. */
  stats(): HubStats {
    let consumers = 0;
    for (const c of this.conns.values()) consumers += c.subs.size;
    const eventsPerPartition = this.partitions.map((p) => p.events.length);
    return {
      hubName: this.hubName,
      eventsPerPartition,
      totalEvents: eventsPerPartition.reduce((a, b) => a + b, 0),
      storedBytes: this.partitions.reduce((a, p) => a + p.storedBytes, 0),
      connections: this.conns.size,
      consumers,
      discardedTailBytes: this.discardedTailBytes,
    };
  }

  /**
   * Stops listening and drops every client. Idempotent; pending log appends always finish first.
   *
   * graceful (default): for up to `drainMs` (default 500) new publishes are refused as server-busy
   * (the SDK retries them, later reaching the next server) until publishers have been quiet for
   * 50 ms; publishes being stored are finished and acknowledged; then an AMQP close with
   * `amqp:connection:forced`, and the sockets close (forced after 1 s). The drain matters because
   * neither the SDK nor rhea-promise fails a send whose link or connection closes: the send waits
   * for its attempt timeout (and, with the default 60 s, can hit the SDK bug in the design notes).
   * `drainMs: 0` closes at once, which is how to reproduce that.
   *
   * abrupt (`graceful: false`): sockets are destroyed at once; in-flight publishes may be stored
   * without acknowledgement, and the SDK's retry then stores them twice.
   */
  stop(opts: { graceful?: boolean; drainMs?: number } = {}): Promise<void> {
    this.stopping ??= this.shutdown(opts.graceful ?? true, Math.max(0, opts.drainMs ?? 500));
    return this.stopping;
  }

  private async shutdown(graceful: boolean, drainMs: number): Promise<void> {
    const server = this.server;
    const closed = server ? new Promise<void>((resolve) => server.close(() => resolve())) : Promise.resolve();
    this.closing = true;
    if (graceful) {
      const drainUntil = Date.now() + drainMs;
      while (Date.now() < drainUntil && Date.now() - this.lastPublishAt < 50) await delay(10);
      if (this.appender) await this.appender.drain();
      // The acknowledgements just queued are written before the close frames (same rhea tick).
      for (const c of this.conns.values()) {
        c.connection.close({ condition: 'amqp:connection:forced', description: 'the local event hub server is shutting down' });
      }
      const deadline = Date.now() + 1000;
      while (this.sockets.size > 0 && Date.now() < deadline) await delay(10);
    }
    // An error (not a bare destroy) makes rhea run its disconnect path and clear its heartbeat timers.
    for (const s of this.sockets) s.destroy(new Error('local event hub server stopped'));
    await closed;
    for (const p of this.partitions) p.subscribers.clear();
    this.conns.clear();
    if (this.appender) {
      await this.appender.drain();
      fs.closeSync(this.appender.fd);
    }
  }

  private partition(id: string): Partition | undefined {
    return /^\d+$/.test(id) ? this.partitions[Number(id)] : undefined;
  }

  private async listen(): Promise<void> {
    const server = this.container.listen({
      port: this.opts.port,
      host: this.host,
      container_id: 'fleetlens-local-hub',
      properties: { product: 'fleetlens-local-hub' },
      // Publish links settle only after storage and meter credit themselves.
      receiver_options: { credit_window: 0, autoaccept: false, max_message_size: this.opts.maxMessageSize },
      // Events go out pre-settled (snd-settle-mode settled), as the service's consumers expect: no
      // per-event dispositions, and the session's delivery buffer never fills with unacknowledged events.
      sender_options: { snd_settle_mode: 1 },
    });
    server.on('connection', (socket: Socket) => {
      this.sockets.add(socket);
      socket.once('close', () => this.sockets.delete(socket));
      // Frames answering this input (flow-driven transfers, dispositions) go out in one write.
      socket.prependListener('data', () => corkUntilImmediate(socket));
    });
    await new Promise<void>((resolve, reject) => {
      server.once('listening', resolve);
      server.once('error', (err: Error) => {
        const message = `cannot listen on ${this.host}:${this.opts.port}: ${err.message}`;
        reject(new HubServerError('LISTEN_FAILED', message, { cause: err }));
      });
    });
    this.server = server;
    this.listenPort = (server.address() as AddressInfo).port;
  }


  private openStore(path: string): void {
    let fd: number;
    try {
      fd = fs.openSync(path, 'a+');
    } catch (err) {
      throw new HubServerError('STORE_IO', `cannot open hub log ${path}: ${errorText(err)}`, { cause: err });
    }
    try {
      this.loadStore(fd, path);
    } catch (err) {
      fs.closeSync(fd);
      throw err;
    }
    this.appender = new LogAppender(fd);
  }

  private loadStore(fd: number, path: string): void {
    const size = fs.fstatSync(fd).size;
    const fixed = Buffer.alloc(Math.min(size, FILE_HEADER_FIXED));
    fs.readSync(fd, fixed, 0, fixed.length, 0);
    const n = Math.min(size, FILE_MAGIC.length);
    if (!fixed.subarray(0, n).equals(FILE_MAGIC.subarray(0, n))) {
      throw new HubServerError('STORE_INVALID', `${path} is not a hub log file`);
    }
    if (size < FILE_HEADER_FIXED || size < FILE_HEADER_FIXED + fixed.readUInt16LE(10)) {
      // A new file, or a crash while its header was being written: start it afresh.
      this.writeStoreHeader(fd);
      this.discardedTailBytes = size;
      return;
    }
    const nameLen = fixed.readUInt16LE(10);
    const nameBytes = Buffer.alloc(nameLen);
    fs.readSync(fd, nameBytes, 0, nameLen, FILE_HEADER_FIXED);
    const parts = fixed.readUInt16LE(8);
    const storedName = nameBytes.toString('utf8');
    if (parts !== this.partitions.length || storedName !== this.hubName) {
      throw new HubServerError(
        'STORE_MISMATCH',
        `${path} holds hub '${storedName}' with ${parts} partitions, not '${this.hubName}' with ${this.partitions.length}`,
      );
    }
    this.createdMs = fixed.readDoubleLE(12);
    const validEnd = this.readRecords(fd, FILE_HEADER_FIXED + nameLen, size, path);
    if (validEnd < size) {
      // Cut the torn tail so new records follow the last good one.
      fs.ftruncateSync(fd, validEnd);
      this.discardedTailBytes = size - validEnd;
    }
  }

  private writeStoreHeader(fd: number): void {
    const nameBytes = Buffer.from(this.hubName, 'utf8');
    const header = Buffer.alloc(FILE_HEADER_FIXED + nameBytes.length);
    FILE_MAGIC.copy(header, 0);
    header.writeUInt16LE(this.partitions.length, 8);
    header.writeUInt16LE(nameBytes.length, 10);
    header.writeDoubleLE(this.createdMs, 12);
    nameBytes.copy(header, FILE_HEADER_FIXED);
    fs.ftruncateSync(fd, 0);
    fs.writeSync(fd, header);
  }

  /**
   * Replays records from `start`; returns the end of the last valid one. Reading stops at the first
   * record that is short or fails its checksum (a torn append); a record that checksums but does not
   * continue its partition means the file is not ours to truncate.
   */
  private readRecords(fd: number, start: number, size: number, path: string): number {
    let buf = Buffer.alloc(0);
    let p = 0;
    let filePos = start;
    let validEnd = start;
    const ensure = (n: number): boolean => {
      if (buf.length - p >= n) return true;
      // Checked before allocating, so a garbage length field cannot ask for gigabytes.
      if (buf.length - p + (size - filePos) < n) return false;
      const keep = buf.length - p;
      const next = Buffer.allocUnsafe(keep + Math.min(Math.max(READ_CHUNK, n), size - filePos));
      buf.copy(next, 0, p);
      let got = keep;
      while (got < next.length) {
        const r = fs.readSync(fd, next, got, next.length - got, filePos);
        if (r === 0) break;
        got += r;
        filePos += r;
      }
      buf = next.subarray(0, got);
      p = 0;
      return buf.length >= n;
    };
    while (ensure(RECORD_PREFIX)) {
      const bodyLen = buf.readUInt32LE(p);
      if (bodyLen < RECORD_META || !ensure(RECORD_PREFIX + bodyLen)) break;
      const body = buf.subarray(p + RECORD_PREFIX, p + RECORD_PREFIX + bodyLen);
      if (crc32(body) !== buf.readUInt32LE(p + 4)) break;
      const part = this.partitions[body.readUInt16LE(0)];
      const seq = body.readDoubleLE(4);
      const offset = body.readDoubleLE(12);
      const enqueuedMs = body.readDoubleLE(20);
      const headerEnd = body.readUInt32LE(28);
      const bytes = body.subarray(RECORD_META);
      if (!part || seq !== part.nextSeq || offset !== part.nextOffset || headerEnd > bytes.length) {
        const where = `${path}: record at byte ${validEnd}`;
        throw new HubServerError('STORE_INVALID', `${where} does not continue partition ${body.readUInt16LE(0)}`);
      }
      part.events.push({ seq, offset, enqueuedMs, bytes, headerEnd });
      part.nextSeq++;
      part.nextOffset += bytes.length;
      part.lastAssignedMs = Math.max(part.lastAssignedMs, enqueuedMs);
      part.storedBytes += bytes.length;
      p += RECORD_PREFIX + bodyLen;
      validEnd += RECORD_PREFIX + bodyLen;
    }
    return validEnd;
  }


  private wire(): void {
    const c = this.container;
    c.on('connection_open', (ctx: EventContext) => this.connState(ctx.connection));
    c.on('receiver_open', (ctx: EventContext) => this.onReceiverOpen(ctx));
    c.on('sender_open', (ctx: EventContext) => this.onSenderOpen(ctx));
    c.on('message', (ctx: EventContext) => this.onMessage(ctx));
    c.on('sendable', (ctx: EventContext) => {
      const sub = ctx.sender ? this.subsBySender.get(ctx.sender) : undefined;
      if (sub) this.pump(sub);
    });
    c.on('sender_close', (ctx: EventContext) => {
      if (ctx.sender) this.dropSender(ctx.sender);
    });
    c.on('receiver_close', () => undefined);
    c.on('session_close', (ctx: EventContext) => {
      if (ctx.session) this.dropSession(ctx.session);
    });
    c.on('connection_close', (ctx: EventContext) => this.dropConnection(ctx.connection));
    c.on('disconnected', (ctx: EventContext) => this.dropConnection(ctx.connection));
    // Without these rhea would print, or throw an unhandled 'error' event, on a misbehaving client.
    c.on('connection_error', () => undefined);
    c.on('protocol_error', () => undefined);
    c.on('error', () => undefined);
  }

  private connState(connection: Connection): ConnState {
    let st = this.conns.get(connection);
    if (!st) {
      const socket = prop(connection, 'socket');
      const s = socket instanceof Socket ? socket : null;
      st = { connection, grants: new Set(), replyLinks: new Map(), subs: new Set(), socket: s };
      this.conns.set(connection, st);
    }
    return st;
  }

  private dropSender(sender: Sender): void {
    const sub = this.subsBySender.get(sender);
    if (sub) {
      sub.partition.subscribers.delete(sub);
      sub.conn.subs.delete(sub);
      this.subsBySender.delete(sender);
    }
    const st = this.conns.get(sender.connection);
    if (st && st.replyLinks.get(sender.name) === sender) st.replyLinks.delete(sender.name);
  }

  private dropSession(session: Session): void {
    const st = this.conns.get(session.connection);
    if (!st) return;
    for (const sub of [...st.subs]) if (sub.sender.session === session) this.dropSender(sub.sender);
    for (const [, s] of st.replyLinks) if (s.session === session) this.dropSender(s);
  }

  private dropConnection(connection: Connection): void {
    const st = this.conns.get(connection);
    if (!st) return;
    for (const sub of st.subs) {
      sub.partition.subscribers.delete(sub);
      this.subsBySender.delete(sub.sender);
    }
    this.conns.delete(connection);
  }

  private authorized(st: ConnState, path: string): boolean {
    for (const g of st.grants) if (covers(g, path)) return true;
    return false;
  }

  private refuse(link: Sender | Receiver, condition: string, description: string): void {
    const error: AmqpError = { condition, description };
    link.close(error);
  }

  private onReceiverOpen(ctx: EventContext): void {
    const r = ctx.receiver;
    if (!r) return;
    const st = this.connState(ctx.connection);
    const address = addressOf(r.target) ?? '';
    r.set_target({ address });
    const source = addressOf(r.source);
    if (source !== undefined) r.set_source({ address: source });
    if (address === '$cbs' || address === '$management') {
      this.roles.set(r, { kind: address === '$cbs' ? 'cbs' : 'management', conn: st });
      r.add_credit(CONTROL_CREDIT);
      return;
    }
    const m = /^([^/]+)(?:\/Partitions\/([^/]+))?$/i.exec(address);
    if (!m || m[1]!.toLowerCase() !== this.hubName.toLowerCase()) {
      this.refuse(r, 'amqp:not-found', `no messaging entity at '${address}'`);
      return;
    }
    let partition: Partition | null = null;
    if (m[2] !== undefined) {
      partition = this.partition(m[2]) ?? null;
      if (!partition) {
        this.refuse(r, 'amqp:not-found', `hub '${this.hubName}' has no partition '${m[2]}'`);
        return;
      }
    }
    if (!this.authorized(st, address.toLowerCase())) {
      this.refuse(r, 'amqp:unauthorized-access', `no valid put-token for '${address}'`);
      return;
    }
    this.roles.set(r, { kind: 'publish', conn: st, partition, pending: 0 });
    r.add_credit(PUBLISH_CREDIT);
  }

  private onSenderOpen(ctx: EventContext): void {
    const s = ctx.sender;
    if (!s) return;
    const st = this.connState(ctx.connection);
    const address = addressOf(s.source) ?? '';
    const target = addressOf(s.target);
    if (target !== undefined) s.set_target({ address: target });
    if (address === '$cbs' || address === '$management') {
      s.set_source({ address });
      st.replyLinks.set(s.name, s);
      return;
    }
    const filter = prop(s.source, 'filter');
    const selectorValue = prop(prop(filter, SELECTOR_FILTER_KEY), 'value');
    // Echo the source, filter included, as the service does.
    if (filter && typeof filter === 'object') s.set_source({ address, filter: filter as Record<string, unknown> });
    else s.set_source({ address });
    const m = /^([^/]+)\/ConsumerGroups\/([^/]+)\/Partitions\/([^/]+)$/i.exec(address);
    if (!m || m[1]!.toLowerCase() !== this.hubName.toLowerCase()) {
      this.refuse(s, 'amqp:not-found', `no messaging entity at '${address}'`);
      return;
    }
    const partition = this.partition(m[3]!);
    if (!partition) {
      this.refuse(s, 'amqp:not-found', `hub '${this.hubName}' has no partition '${m[3]}'`);
      return;
    }
    if (!this.authorized(st, address.toLowerCase())) {
      this.refuse(s, 'amqp:unauthorized-access', `no valid put-token for '${address}'`);
      return;
    }
    const start = startIndex(partition, typeof selectorValue === 'string' ? selectorValue : undefined);
    if (typeof start === 'string') {
      this.refuse(s, 'com.microsoft:argument-error', start);
      return;
    }
    const sub: Subscription = {
      sender: s,
      partition,
      conn: st,
      next: start,
      runtimeMetric: capabilitiesOf(s.desired_capabilities).includes(RUNTIME_METRIC_CAPABILITY),
      unprocessed: 0,
      tickPending: false,
    };
    partition.subscribers.add(sub);
    st.subs.add(sub);
    this.subsBySender.set(s, sub);
  }

  /** Sends committed events while the link has credit; called again on 'sendable' and on new commits. */
  private pump(sub: Subscription): void {
    const s = sub.sender;
    if (!s.is_open()) return;
    const events = sub.partition.events;
    // rhea decrements credit only when it processes the session (next tick), so count our own sends.
    let budget = creditOf(s) - sub.unprocessed;
    let sent = 0;
    while (budget > 0 && sub.next < events.length && s.sendable()) {
      const ev = events[sub.next++]!;
      s.send(sub.runtimeMetric ? this.withRuntimeInfo(ev, sub.partition) : ev.bytes, undefined, 0);
      budget--;
      sent++;
    }
    if (sent === 0) return;
    if (sub.conn.socket) corkUntilImmediate(sub.conn.socket);
    sub.unprocessed += sent;
    if (!sub.tickPending) {
      sub.tickPending = true;
      // Queued after rhea's own nextTick for these sends, so credit is current when this runs.
      process.nextTick(() => {
        sub.tickPending = false;
        sub.unprocessed = 0;
      });
    }
  }

  private withRuntimeInfo(ev: StoredEvent, p: Partition): Buffer {
    const last = p.events[p.events.length - 1];
    const offsetText = last ? String(last.offset) : '-1';
    const items =
      KEY_LAST_SEQ.length + 9 + KEY_LAST_OFFSET.length + 2 + offsetText.length + KEY_LAST_TIME.length + 9 + KEY_RETRIEVAL.length + 9;
    const da = Buffer.allocUnsafe(12 + items);
    da[0] = 0x00; da[1] = 0x53; da[2] = 0x71; da[3] = 0xd1;
    da.writeUInt32BE(4 + items, 4);
    da.writeUInt32BE(8, 8);
    let q = 12;
    q += KEY_LAST_SEQ.copy(da, q);
    q = writeTyped64(da, q, 0x81, last ? last.seq : -1);
    q += KEY_LAST_OFFSET.copy(da, q);
    q = writeStr8(da, q, offsetText);
    q += KEY_LAST_TIME.copy(da, q);
    q = writeTyped64(da, q, 0x83, last ? last.enqueuedMs : 0);
    q += KEY_RETRIEVAL.copy(da, q);
    writeTyped64(da, q, 0x83, Date.now());
    return Buffer.concat([ev.bytes.subarray(0, ev.headerEnd), da, ev.bytes.subarray(ev.headerEnd)]);
  }

  private onMessage(ctx: EventContext): void {
    const r = ctx.receiver;
    const d = ctx.delivery;
    if (!r || !d) return;
    const role = this.roles.get(r);
    if (!role) {
      d.reject({ condition: 'amqp:not-allowed', description: 'link is not attached to an entity' });
      return;
    }
    const message: unknown = ctx.message;
    if (role.kind === 'publish') {
      this.onPublish(r, role, d, message);
      return;
    }
    if (role.kind === 'cbs') this.onCbs(role.conn, message);
    else this.onManagement(role.conn, message);
    d.accept();
    this.topUp(r, CONTROL_CREDIT, 0);
  }

  private topUp(r: Receiver, window: number, pending: number): void {
    const credit = creditOf(r);
    if (credit + pending <= window / 2) r.add_credit(window - credit - pending);
  }

  private reply(st: ConnState, request: unknown, status: number, description: string, condition?: string, body?: unknown): void {
    const replyTo = prop(request, 'reply_to');
    const link = typeof replyTo === 'string' ? st.replyLinks.get(replyTo) : undefined;
    // Without a reply link the SDK can only time out; nothing else can be done for it.
    if (typeof replyTo !== 'string' || !link || !link.is_open()) return;
    const id = prop(request, 'message_id');
    const correlationId = typeof id === 'string' || typeof id === 'number' || Buffer.isBuffer(id) ? id : undefined;
    const props: Record<string, unknown> = { 'status-code': rhea.types.wrap_int(status), 'status-description': description };
    if (condition) props['error-condition'] = condition;
    link.send({ correlation_id: correlationId, to: replyTo, application_properties: props, body });
  }

  private onCbs(st: ConnState, request: unknown): void {
    const props = prop(request, 'application_properties');
    const operation = prop(props, 'operation');
    const audience = prop(props, 'name');
    const type = prop(props, 'type');
    if (operation !== 'put-token') {
      this.reply(st, request, 501, `unsupported $cbs operation '${String(operation)}'`, 'amqp:not-implemented');
      return;
    }
    if (type !== SAS_TOKEN_TYPE) {
      this.reply(st, request, 401, `token type '${String(type)}' is not supported; use a SAS key`, 'amqp:unauthorized-access');
      return;
    }
    const audiencePath = typeof audience === 'string' ? uriPath(audience) : undefined;
    if (audiencePath === undefined) {
      this.reply(st, request, 400, 'put-token needs an audience URI in "name"', 'com.microsoft:argument-error');
      return;
    }
    const grant = verifySasToken(prop(request, 'body'), this.opts.keyName, this.opts.key);
    if (typeof grant === 'string') {
      this.reply(st, request, 401, `InvalidSignature: ${grant}`, 'amqp:unauthorized-access');
      return;
    }
    if (!covers(grant.path, audiencePath)) {
      this.reply(st, request, 401, `token resource does not cover '${String(audience)}'`, 'amqp:unauthorized-access');
      return;
    }
    st.grants.add(audiencePath);
    this.reply(st, request, 202, 'Accepted');
  }

  private onManagement(st: ConnState, request: unknown): void {
    const props = prop(request, 'application_properties');
    const operation = prop(props, 'operation');
    const name = prop(props, 'name');
    const type = prop(props, 'type');
    const grant = verifySasToken(prop(props, 'security_token'), this.opts.keyName, this.opts.key);
    if (typeof grant === 'string') {
      this.reply(st, request, 401, `InvalidSignature: ${grant}`, 'amqp:unauthorized-access');
      return;
    }
    if (operation !== 'READ') {
      this.reply(st, request, 501, `unsupported $management operation '${String(operation)}'`, 'amqp:not-implemented');
      return;
    }
    if (typeof name !== 'string' || name.toLowerCase() !== this.hubName.toLowerCase()) {
      this.reply(st, request, 404, `no event hub named '${String(name)}'`, 'amqp:not-found');
      return;
    }
    if (!covers(grant.path, this.hubName.toLowerCase())) {
      this.reply(st, request, 401, `token does not cover hub '${this.hubName}'`, 'amqp:unauthorized-access');
      return;
    }
    if (type === 'com.microsoft:eventhub') {
      this.reply(st, request, 200, 'OK', undefined, {
        name: this.hubName,
        type: 'com.microsoft:eventhub',
        created_at: new Date(this.createdMs),
        partition_count: rhea.types.wrap_int(this.partitions.length),
        partition_ids: this.partitionIds,
      });
      return;
    }
    if (type === 'com.microsoft:partition') {
      const id = prop(props, 'partition');
      const p = typeof id === 'string' ? this.partition(id) : undefined;
      if (!p) {
        this.reply(st, request, 400, `partition '${String(id)}' is out of range`, 'com.microsoft:argument-out-of-range');
        return;
      }
      const info = this.partitionInfo(p.id);
      this.reply(st, request, 200, 'OK', undefined, {
        name: this.hubName,
        type: 'com.microsoft:partition',
        partition: p.id,
        begin_sequence_number: rhea.types.wrap_long(info.beginningSequenceNumber),
        last_enqueued_sequence_number: rhea.types.wrap_long(info.lastEnqueuedSequenceNumber),
        last_enqueued_offset: info.lastEnqueuedOffset,
        last_enqueued_time_utc: info.lastEnqueuedOnUtc,
        is_partition_empty: info.isEmpty,
      });
      return;
    }
    this.reply(st, request, 400, `unknown entity type '${String(type)}'`, 'com.microsoft:argument-error');
  }

  private onPublish(r: Receiver, role: Extract<ReceiverRole, { kind: 'publish' }>, d: Delivery, message: unknown): void {
    const finish = (error?: AmqpError): void => {
      role.pending--;
      if (error) d.reject(error);
      else d.accept();
      if (r.is_open()) this.topUp(r, PUBLISH_CREDIT, role.pending);
    };
    role.pending++;
    this.lastPublishAt = Date.now();
    if (this.closing) {
      finish({ condition: 'com.microsoft:server-busy', description: 'the local event hub server is shutting down' });
      return;
    }
    if (this.appender?.error) {
      finish({ condition: 'amqp:internal-error', description: this.appender.error.message });
      return;
    }
    let raw: Buffer;
    let events: Buffer[];
    let envelopeKey: string | undefined;
    try {
      // rhea hands over raw bytes for non-zero formats and a decoded message for format 0.
      raw = Buffer.isBuffer(message) ? message : rhea.message.encode(message);
      if (raw.length > this.opts.maxMessageSize) {
        const description = `${raw.length} bytes exceed ${this.opts.maxMessageSize}`;
        finish({ condition: 'amqp:link:message-size-exceeded', description });
        return;
      }
      if (d.format === BATCH_FORMAT) {
        const batch = splitBatch(raw);
        events = batch.events;
        envelopeKey = batch.partitionKey;
      } else if (d.format === 0) {
        events = [raw];
      } else {
        finish({ condition: 'amqp:not-implemented', description: `message format ${d.format} is not supported` });
        return;
      }
    } catch (err) {
      finish({ condition: 'amqp:decode-error', description: errorText(err) });
      return;
    }
    if (events.length === 0) {
      finish();
      return;
    }
    let parsed: ParsedEvent[];
    try {
      parsed = events.map(parseEvent);
    } catch (err) {
      finish({ condition: 'amqp:decode-error', description: errorText(err) });
      return;
    }
    const key = envelopeKey ?? parsed[0]!.partitionKey;
    const count = this.partitions.length;
    const p = role.partition ?? this.partitions[key !== undefined ? partitionForKey(key, count) : this.roundRobin++ % count]!;
    this.store(p, parsed, (err) => finish(err ? { condition: 'amqp:internal-error', description: err.message } : undefined));
  }

  /**
   * Numbers and encodes a transfer's events into one buffer (file records included), appends it,
   * then makes the events visible and wakes the partition's consumers.
   */
  private store(p: Partition, parsed: ParsedEvent[], done: (err: Error | null) => void): void {
    const enqueuedMs = Math.max(Date.now(), p.lastAssignedMs);
    p.lastAssignedMs = enqueuedMs;
    const offsets: string[] = [];
    let total = 0;
    let nextOffset = p.nextOffset;
    for (const ev of parsed) {
      const offsetText = String(nextOffset);
      offsets.push(offsetText);
      const len = storedLength(ev, offsetText);
      nextOffset += len;
      total += RECORD_PREFIX + RECORD_META + len;
    }
    const buf = Buffer.allocUnsafe(total);
    const records: StoredEvent[] = [];
    let pos = 0;
    const partIndex = Number(p.id);
    for (let i = 0; i < parsed.length; i++) {
      const ev = parsed[i]!;
      const seq = p.nextSeq++;
      const offset = p.nextOffset;
      const msgStart = pos + RECORD_PREFIX + RECORD_META;
      const msgEnd = writeStored(buf, msgStart, ev, seq, offsets[i]!, enqueuedMs);
      const body = buf.subarray(pos + RECORD_PREFIX, msgEnd);
      body.writeUInt16LE(partIndex, 0);
      body.writeUInt16LE(0, 2);
      body.writeDoubleLE(seq, 4);
      body.writeDoubleLE(offset, 12);
      body.writeDoubleLE(enqueuedMs, 20);
      body.writeUInt32LE(ev.header?.length ?? 0, 28);
      buf.writeUInt32LE(body.length, pos);
      if (this.appender) buf.writeUInt32LE(crc32(body), pos + 4);
      const bytes = buf.subarray(msgStart, msgEnd);
      records.push({ seq, offset, enqueuedMs, bytes, headerEnd: ev.header?.length ?? 0 });
      p.nextOffset += bytes.length;
      pos = msgEnd;
    }
    const commit = (): void => {
      for (const rec of records) {
        p.events.push(rec);
        p.storedBytes += rec.bytes.length;
      }
      for (const sub of p.subscribers) this.pump(sub);
    };
    if (!this.appender) {
      commit();
      done(null);
      return;
    }
    this.appender.append(buf, (err) => {
      if (!err) commit();
      done(err);
    });
  }
}
