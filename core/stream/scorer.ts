/**
 * Online scoring of one partition's events (issue #7): field mapping, validation,
 * per-group incremental features (features/online.ts), the detector's scoreRow,
 * the model threshold, a per-device "k of the last n" alarm rule and explanations
 * for alarms. Pure and synchronous: no I/O, so the pipeline, tests and the
 * live-vs-batch check all drive the very same code. Fed a device's events in time
 * order, the scores equal the batch scores of the same rows (tests/stream/live-vs-batch).
 *
 * A per-group model (a parent run routing each value of a column to a child run's model,
 * with a global fallback) is scored by routing each record the same way batch scoring does.
 *
 * State is kept per group (featurizer) and per device (last time, alarm window) under
 * string keys, so the pipeline can persist exactly the entries that changed and load
 * the ones it lacks.
 */
import { WorkbenchError } from '../api/errors.ts';
import { createOnlineFeaturizer, type OnlineEvent, type OnlineFeaturizer } from '../features/online.ts';
import { planFeatures } from '../features/recipe.ts';
import type { Contribution, Detector } from '../models/detector.ts';
import { detectorFromJSON } from '../models/registry.ts';
import type { RunModel } from '../models/train.ts';
import type { AlarmRule, DeadLetterReason, SensorContribution } from './api.ts';

/** One trained model: what a record is scored with. */
export interface LiveEngine {
  runId: string;
  model: RunModel;
}

/** What a stream scores with: one run's model, or a per-group parent's routing over child models. */
export type LiveModel =
  | { kind: 'single'; engine: LiveEngine }
  | {
      kind: 'per-group';
      /** Column whose value picks the child model. */
      column: string;
      routes: Record<string, LiveEngine>;
      /** Global model for small and unseen groups; null when none finished. */
      fallback: LiveEngine | null;
      /** Values known from training that the fallback serves. */
      fallbackGroups: string[];
    };

export interface ScorerOptions {
  /** Event JSON path → model column; unmapped columns are read from the field of the same name. */
  mapping?: Record<string, string>;
  /** Column (after mapping) naming the device; null = the model's group key stands in. */
  deviceColumn: string | null;
  /** Time strings parse as dates (epoch ms) when true; as numbers otherwise. Numbers pass as is. */
  temporal: boolean;
  /** Default { k: 1, n: 1 }. */
  alarmRule?: AlarmRule;
  /** When given, devices outside it are dead-lettered as unknown_device. */
  knownDevices?: ReadonlySet<string> | null;
  /**
   * Per-group models, a value the model was not trained on: scored by the fallback model
   * (`fallback`, the batch behaviour) or dead-lettered (`dead-letter`). Default `fallback`;
   * without a fallback model such records are dead-lettered anyway.
   */
  unknownGroups?: 'fallback' | 'dead-letter';
  /**
   * Event JSON path of a producer event id used for de-duplication; null = none. The stored
   * `event_id` is read from this field, or from `event_id` when it is null.
   */
  dedupeField?: string | null;
  /** Ids remembered for de-duplication; default 50,000 (the pipeline uses 10,000 per partition). */
  dedupeWindow?: number;
}

/** The columns a scorer reads, by role. */
export interface ScorerColumns {
  time: string;
  groups: string[];
  sensors: string[];
  categoricals: string[];
  device: string | null;
  /** Every column read, each once, in a stable order (the stored table's value columns). */
  all: string[];
}

export interface ScoredItem {
  kind: 'scored';
  /** Index of the record inside the event body (0 for a single object). */
  item: number;
  eventId: string | null;
  device: string;
  /** Epoch ms for temporal models, else the time-axis value. */
  time: number;
  /** Mapped values by model column (sensors as numbers, NaN = missing; others as text or null). */
  values: OnlineEvent;
  /** Null when fill is 'drop' and a feature is missing (the batch path skips such rows). */
  score: number | null;
  /** Threshold of the model that scored it. */
  threshold: number;
  /** Run whose model scored it (a child run for per-group models). */
  runId: string;
  anomaly: boolean;
  /** The alarm rule holds at this event. */
  alarm: boolean;
  /** The alarm rule just turned true for this device: an alarm is raised here. */
  raised: boolean;
  /** Only when raised. */
  contributions: Contribution[] | null;
  sensors: SensorContribution[] | null;
}

export interface DeadItem {
  kind: 'dead';
  /** Index inside the body; null when the body itself is unusable. */
  item: number | null;
  eventId: string | null;
  device: string | null;
  reason: DeadLetterReason;
  detail: string;
}

export interface DuplicateItem {
  kind: 'duplicate';
  item: number;
  eventId: string;
}

export type ItemResult = ScoredItem | DeadItem | DuplicateItem;

/** A record past phase 1 of scoring (see Scorer.stage), waiting for its score and alarm state. */
export interface StagedItem {
  kind: 'staged';
  item: number;
  eventId: string | null;
  device: string;
  time: number;
  values: OnlineEvent;
  /** Row of the model's staged features that `settle` scores; −1 when `score` holds the score (null: dropped row). */
  row: number;
  /** The features when `row` is −1 and the row was not dropped. */
  features: Float64Array | null;
  score: number | null;
  /** Scorer-internal: the model and the device entry. */
  eng: unknown;
  dev: unknown;
}

/** A decoded event body: its records, or why there are none. */
export type Decoded = { ok: true; records: unknown[]; array: boolean } | { ok: false; reason: DeadLetterReason; detail: string; text: string };

export interface Scorer {
  readonly columns: ScorerColumns;
  /** Sensor names of the model(s). */
  readonly sensors: string[];
  /**
   * Validate, featurize and score one record (item `item` of its event body), advancing the
   * group and device state. `fallbackId` is the event id when the record has no dedupe field
   * (e.g. from the event's application properties).
   */
  process(record: unknown, item: number, fallbackId: string | null): ItemResult;
  /**
   * `process` in two phases, for batches: `stage` each record in order (it returns dead and
   * duplicate results at once), then `settle` the staged ones, in the same order, to score them
   * (one matrix per model) and apply threshold and alarm rule. Staging a batch then settling it
   * gives the same results and state as processing its records one by one. `settle` takes every
   * record staged since the previous `settle`.
   */
  stage(record: unknown, item: number, fallbackId: string | null): ItemResult | StagedItem;
  settle(staged: readonly StagedItem[]): ScoredItem[];
  /** State keys a record will touch (group and device); for loading state before `process`. */
  keysOf(record: unknown): string[];
  /** Whether state for `key` is in memory. */
  has(key: string): boolean;
  /** Serialize the state under `key` (undefined when absent). */
  exportState(key: string): string | undefined;
  /** Load state saved by exportState. Throws INVALID_ARGUMENT when it does not fit the model. */
  importState(key: string, json: string): void;
  /** Keys changed since the last call, then forgets them. */
  takeDirty(): string[];
  /** Drop clean state not used for `idleMs` (it is persisted; it reloads on demand). Returns how many. */
  evictIdle(idleMs: number, now?: number): number;
  /** Remember ids as seen (after a restart, from storage; or ids of undecodable events). */
  seedSeen(ids: Iterable<string>): void;
  /** Whether an id is among the remembered ones (always false without a dedupe field). */
  isSeen(id: string): boolean;
  /** Keys changed since the last takeDirty. */
  dirtyCount(): number;
  /** Entries in memory: groups and devices. */
  size(): { groups: number; devices: number };
}

interface Path {
  text: string;
  segs: (string | number)[];
}

function compilePath(text: string): Path {
  return { text, segs: text.split('.').map((s) => (/^\d+$/.test(s) ? Number(s) : s)) };
}

/** Value at `path`: an exact key first (keys may contain dots), else walk the segments. Undefined when absent. */
export function readPath(record: unknown, path: Path): unknown {
  if (typeof record !== 'object' || record === null) return undefined;
  const rec = record as Record<string, unknown>;
  if (Object.hasOwn(rec, path.text)) return rec[path.text];
  if (path.segs.length === 1) return undefined;
  let cur: unknown = record;
  for (const s of path.segs) {
    if (typeof cur !== 'object' || cur === null) return undefined;
    if (Array.isArray(cur)) {
      if (typeof s !== 'number') return undefined;
      cur = cur[s];
    } else {
      const o = cur as Record<string, unknown>;
      const k = String(s);
      if (!Object.hasOwn(o, k)) return undefined;
      cur = o[k];
    }
  }
  return cur;
}

/** Decode an event body (Buffer, text, or an already parsed value) into records. */
export function decodeBody(body: unknown): Decoded {
  let value: unknown = body;
  let text: string;
  if (body instanceof Uint8Array) {
    const buf = Buffer.isBuffer(body) ? body : Buffer.from(body.buffer, body.byteOffset, body.byteLength);
    text = buf.toString('utf8');
    try {
      value = JSON.parse(text);
    } catch {
      // Lossy decoding (U+FFFD for bad bytes) would hide the real bytes in the dead-letter table.
      if (text.includes('\uFFFD') && !Buffer.from(text, 'utf8').equals(buf)) text = 'base64:' + buf.toString('base64');
      return { ok: false, reason: 'invalid_json', detail: 'the body is not valid JSON', text };
    }
  } else if (typeof body === 'string') {
    text = body;
    try {
      value = JSON.parse(body);
    } catch {
      return { ok: false, reason: 'invalid_json', detail: 'the body is not valid JSON', text };
    }
  } else {
    text = JSON.stringify(body) ?? String(body);
  }
  if (Array.isArray(value)) {
    if (value.length === 0) return { ok: false, reason: 'not_an_object', detail: 'the body is an empty array', text };
    return { ok: true, records: value, array: true };
  }
  if (typeof value === 'object' && value !== null) return { ok: true, records: [value], array: false };
  return { ok: false, reason: 'not_an_object', detail: `the body is a JSON ${value === null ? 'null' : typeof value}, not an object`, text };
}

/** Epoch ms of a date-time text (`YYYY-MM-DD HH:MM:SS[.fff]` is UTC, like DuckDB's TIMESTAMP); NaN when unparseable. */
export function parseTime(v: unknown, temporal: boolean): number {
  if (typeof v === 'number') return Number.isFinite(v) ? v : NaN;
  if (typeof v !== 'string') return NaN;
  const t = v.trim();
  if (t === '') return NaN;
  const n = Number(t);
  if (Number.isFinite(n)) return n;
  if (!temporal) return NaN;
  let iso = t.includes('T') ? t : t.replace(' ', 'T');
  // No zone given means UTC, as DuckDB reads a TIMESTAMP.
  if (/^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?$/.test(iso)) iso += iso.length === 10 ? 'T00:00:00Z' : 'Z';
  return Date.parse(iso);
}

interface GroupEntry {
  f: OnlineFeaturizer;
  used: number;
}

interface DeviceEntry {
  /** Time of the device's latest accepted event; -Infinity before any. */
  last: number;
  /** Last n anomaly flags, oldest first. */
  flags: number[];
  inAlarm: boolean;
  used: number;
}

const DEFAULT_DEDUPE = 50_000;
/** Where the stored event id comes from when no dedupe field is set (what `fleetlens replay` sends). */
export const ID_FIELD = 'event_id';

/** The engines of a live model, routes first, fallback last. */
export function enginesOf(m: LiveModel): LiveEngine[] {
  return m.kind === 'single' ? [m.engine] : [...Object.values(m.routes), ...(m.fallback ? [m.fallback] : [])];
}

/** Accept a bare RunModel as a single-model LiveModel. */
export function asLiveModel(m: RunModel | LiveModel, runId = ''): LiveModel {
  return 'kind' in m ? m : { kind: 'single', engine: { runId, model: m } };
}

/**
 * Which columns a model reads, given the device column: the union over its engines (their
 * sensors, categoricals, time and group columns) plus the routing and device columns.
 * Engines of one model must share the time column and group columns.
 */
export function scorerColumns(model: RunModel | LiveModel, deviceColumn: string | null): ScorerColumns {
  const live = asLiveModel(model);
  const engines = enginesOf(live);
  if (engines.length === 0) throw new WorkbenchError('MODEL_FAILED', 'the per-group model has no finished child model');
  const first = engines[0]!.model.recipe;
  for (const e of engines) {
    const c = e.model.recipe.columns;
    if (c.time !== first.columns.time || c.groups.join('\u0000') !== first.columns.groups.join('\u0000')) {
      throw new WorkbenchError('MODEL_FAILED', `the models of run ${e.runId} order rows differently (time or group columns) from the others`);
    }
  }
  const sensors = [...new Set(engines.flatMap((e) => e.model.recipe.recipe.sensors))];
  const categoricals = [...new Set(engines.flatMap((e) => e.model.recipe.recipe.categoricals))];
  const route = live.kind === 'per-group' ? [live.column] : [];
  const all = [...new Set([...sensors, ...categoricals, first.columns.time, ...first.columns.groups, ...route, ...(deviceColumn ? [deviceColumn] : [])])];
  return { time: first.columns.time, groups: first.columns.groups, sensors, categoricals, device: deviceColumn, all };
}

/** Feature name → the sensor or categorical column it derives from. */
function featureSources(model: RunModel): Map<string, string> {
  const m = new Map<string, string>();
  for (const f of planFeatures(model.recipe.recipe)) m.set(f.name, model.recipe.recipe.sensors[f.sensor]!);
  for (const c of model.recipe.categories) {
    for (const v of c.values) m.set(`${c.column}=${v}`, c.column);
    m.set(`${c.column}=__other__`, c.column);
  }
  return m;
}

/** Validate an alarm rule; default 1 of 1. */
export function checkAlarmRule(rule: AlarmRule | undefined): AlarmRule {
  const r = rule ?? { k: 1, n: 1 };
  if (!Number.isInteger(r.n) || r.n < 1 || r.n > 1000 || !Number.isInteger(r.k) || r.k < 1 || r.k > r.n) {
    throw new WorkbenchError('INVALID_ARGUMENT', `alarmRule needs whole numbers 1 ≤ k ≤ n ≤ 1000, got k=${String(r.k)} n=${String(r.n)}`);
  }
  return { k: r.k, n: r.n };
}

/**
 * Column → compiled path, from a mapping of event path → column. Throws INVALID_ARGUMENT for a
 * column mapped twice or a mapping onto a column the model does not read.
 */
function columnPaths(columns: ScorerColumns, mapping: Record<string, string> | undefined): Map<string, Path> {
  const out = new Map<string, Path>();
  const mapped = new Map<string, string>();
  for (const [path, col] of Object.entries(mapping ?? {})) {
    if (typeof col !== 'string' || !columns.all.includes(col)) {
      throw new WorkbenchError('INVALID_ARGUMENT', `mapping '${path}' → '${String(col)}': the model reads no column '${String(col)}' (it reads ${columns.all.join(', ')})`);
    }
    if (mapped.has(col)) throw new WorkbenchError('INVALID_ARGUMENT', `mapping names column '${col}' twice ('${mapped.get(col)}' and '${path}')`);
    if (path.trim() === '') throw new WorkbenchError('INVALID_ARGUMENT', `mapping for '${col}' has an empty path`);
    mapped.set(col, path);
  }
  for (const c of columns.all) out.set(c, compilePath(mapped.get(c) ?? c));
  return out;
}

interface Engine {
  runId: string;
  fitted: RunModel['recipe'];
  detector: Detector;
  threshold: number;
  sources: Map<string, string>;
  /** Prefix of this engine's group state keys (per-group models keep one featurizer per child). */
  prefix: string;
  /** Features of the rows staged for it since the last settle, row after row (grown as needed). */
  buf: Float64Array;
  rows: number;
  width: number;
}

/**
 * Build a scorer for a run's model (or a per-group model). Throws MODEL_FAILED when a detector
 * cannot be loaded, INVALID_ARGUMENT for a bad mapping or alarm rule.
 */
export function createScorer(model: RunModel | LiveModel, opts: ScorerOptions): Scorer {
  const live = asLiveModel(model);
  const columns = scorerColumns(live, opts.deviceColumn);
  const engineOf = (e: LiveEngine, perGroup: boolean): Engine => {
    let detector: Detector;
    try {
      detector = detectorFromJSON(e.model.detector);
    } catch (err) {
      throw new WorkbenchError('MODEL_FAILED', `cannot load the detector of run ${e.runId || '(model)'}: ${(err as Error).message}`);
    }
    const width = e.model.recipe.featureNames.length;
    return { runId: e.runId, fitted: e.model.recipe, detector, threshold: e.model.threshold, sources: featureSources(e.model), prefix: perGroup ? `g:${e.runId}|` : 'g:', buf: new Float64Array(width * 64), rows: 0, width };
  };
  const routes = new Map<string, Engine>();
  let fallback: Engine | null = null;
  let single: Engine | null = null;
  let fallbackGroups = new Set<string>();
  if (live.kind === 'single') {
    single = engineOf(live.engine, false);
  } else {
    for (const [v, e] of Object.entries(live.routes)) routes.set(v, engineOf(e, true));
    fallback = live.fallback ? engineOf(live.fallback, true) : null;
    fallbackGroups = new Set(live.fallbackGroups);
  }
  const routePath = live.kind === 'per-group' ? compilePath(live.column) : null;
  const routeIsDevice = live.kind === 'per-group' && live.column === opts.deviceColumn;
  const unknownGroups = opts.unknownGroups ?? 'fallback';
  const paths = columnPaths(columns, opts.mapping);
  const rule = checkAlarmRule(opts.alarmRule);
  const dedupePath = opts.dedupeField ? compilePath(opts.dedupeField) : null;
  const idPath = dedupePath ?? compilePath(ID_FIELD);
  const dedupeCap = opts.dedupeWindow ?? DEFAULT_DEDUPE;
  const known = opts.knownDevices ?? null;
  const sensorSet = new Set(columns.sensors);
  const timePath = paths.get(columns.time)!;
  const devicePath = columns.device ? paths.get(columns.device)! : null;
  const groupPaths = columns.groups.map((c) => paths.get(c)!);
  const mappedRoute = routePath ? paths.get(live.kind === 'per-group' ? live.column : '')! : null;

  const groups = new Map<string, GroupEntry>();
  const devices = new Map<string, DeviceEntry>();
  const dirty = new Set<string>();
  const seen = new Set<string>();
  const seenOrder: string[] = [];
  let seenHead = 0;

  const remember = (id: string): void => {
    if (seen.has(id)) return;
    seen.add(id);
    if (seenOrder.length < dedupeCap) {
      seenOrder.push(id);
    } else {
      seen.delete(seenOrder[seenHead]!);
      seenOrder[seenHead] = id;
      seenHead = (seenHead + 1) % dedupeCap;
    }
  };

  const text = (v: unknown): string | null => (v === null || v === undefined ? null : typeof v === 'object' ? JSON.stringify(v) : String(v));
  // The featurizer's own group key: JSON array of the group values as text.
  const groupKeyOf =
    groupPaths.length === 1
      ? (record: unknown): string => '[' + JSON.stringify(text(readPath(record, groupPaths[0]!))) + ']'
      : (record: unknown): string => JSON.stringify(groupPaths.map((p) => text(readPath(record, p))));
  // The featurizer keys groups by String(value) of the mapped values; that is this key unless a
  // group column is a sensor (its value is then a number, NaN for null).
  const featurizerKeyIsGroupKey = !columns.groups.some((c) => sensorSet.has(c));
  // Consecutive events often carry the same time text (devices reporting on the same tick).
  let lastRawTime: unknown = undefined;
  let lastTime = NaN;
  const deviceOf = (record: unknown, groupKey: string): string => (devicePath ? text(readPath(record, devicePath)) ?? '' : groupKey);

  /** The engine for a record, or why there is none. */
  const route = (record: unknown): Engine | { reason: DeadLetterReason; detail: string } => {
    if (single) return single;
    const v = text(readPath(record, mappedRoute!)) ?? '';
    const e = routes.get(v);
    if (e) return e;
    const knownValue = fallbackGroups.has(v);
    if (fallback && (knownValue || unknownGroups === 'fallback')) return fallback;
    const what = routeIsDevice ? 'device' : `${mappedRoute!.text} value`;
    return {
      reason: routeIsDevice ? 'unknown_device' : 'unknown_group',
      detail: fallback ? `${what} '${v}' has no model of its own` : `${what} '${v}' has no model and there is no fallback model`,
    };
  };

  const newDevice = (now: number): DeviceEntry => ({ last: -Infinity, flags: [], inAlarm: false, used: now });

  const explainSensors = (eng: Engine, contribs: Contribution[]): SensorContribution[] => {
    const by = new Map<string, number>();
    for (const c of contribs) {
      const s = eng.sources.get(c.feature) ?? c.feature;
      by.set(s, (by.get(s) ?? 0) + c.weight);
    }
    return [...by.entries()].map(([sensor, weight]) => ({ sensor, weight })).sort((a, b) => b.weight - a.weight).slice(0, 3);
  };

  /**
   * Phase 1 of scoring a record: validate, featurize (advancing the group's state), check order
   * and duplicates. Throws only when the detector refuses the row's features.
   */
  function stage(record: unknown, item: number, fallbackId: string | null): ItemResult | StagedItem {
    const dead = (reason: DeadLetterReason, detail: string, eventId: string | null, device: string | null): DeadItem => {
      if (eventId !== null) remember(eventId);
      return { kind: 'dead', item, eventId, device, reason, detail };
    };
    const idValue = readPath(record, idPath);
    const eventId = idValue !== undefined && idValue !== null ? text(idValue) : fallbackId;
    if (typeof record !== 'object' || record === null || Array.isArray(record)) {
      return dead('not_an_object', `record ${item} is ${record === null ? 'null' : Array.isArray(record) ? 'an array' : `a ${typeof record}`}, not an object`, eventId, null);
    }
    if (dedupePath && eventId !== null && seen.has(eventId)) return { kind: 'duplicate', item, eventId };
    const values: OnlineEvent = {};
    for (const c of columns.all) {
      const p = paths.get(c)!;
      const v = readPath(record, p);
      if (v === undefined) return dead('missing_field', `field '${p.text}'${p.text === c ? '' : ` (column '${c}')`} is missing`, eventId, null);
      if (sensorSet.has(c)) {
        if (v === null) {
          values[c] = NaN;
        } else if (typeof v === 'number') {
          values[c] = v;
        } else if (typeof v === 'string' && v.trim() !== '' && Number.isFinite(Number(v))) {
          values[c] = Number(v);
        } else {
          return dead('non_numeric', `field '${p.text}' is ${JSON.stringify(v)?.slice(0, 60)}, not a number`, eventId, null);
        }
      } else if (c !== columns.time) {
        values[c] = text(v);
      }
    }
    const rawTime = readPath(record, timePath);
    let time: number;
    if (rawTime === lastRawTime && typeof rawTime === 'string') {
      time = lastTime;
    } else {
      time = parseTime(rawTime, opts.temporal);
      lastRawTime = rawTime;
      lastTime = time;
    }
    const groupKey = groupKeyOf(record);
    const device = deviceOf(record, groupKey);
    if (Number.isNaN(time)) return dead('bad_timestamp', `field '${timePath.text}' is ${JSON.stringify(rawTime)?.slice(0, 60)}, not a ${opts.temporal ? 'date-time' : 'number'}`, eventId, device);
    values[columns.time] = rawTime as string | number;
    if (known && !known.has(device)) return dead('unknown_device', `device '${device}' is not one the model knows`, eventId, device);
    const eng = route(record);
    if (!('runId' in eng)) return dead(eng.reason, eng.detail, eventId, device);
    const now = Date.now();
    const dkey = 'd:' + device;
    let dev = devices.get(dkey);
    if (!dev) devices.set(dkey, (dev = newDevice(now)));
    if (time < dev.last) return dead('out_of_order', `time ${String(rawTime)} is before the device's previous event`, eventId, device);

    const gkey = eng.prefix + groupKey;
    let g = groups.get(gkey);
    if (!g) groups.set(gkey, (g = { f: createOnlineFeaturizer(eng.fitted), used: now }));
    const w = eng.width;
    if ((eng.rows + 1) * w > eng.buf.length) {
      const bigger = new Float64Array(eng.buf.length * 2);
      bigger.set(eng.buf);
      eng.buf = bigger;
    }
    const at = eng.rows * w;
    const dropped = g.f.pushInto(values, eng.buf, at, featurizerKeyIsGroupKey ? groupKey : undefined);
    g.used = now;
    dirty.add(gkey);
    let score: number | null = null;
    let row = -1;
    let features: Float64Array | null = null;
    if (!dropped) {
      // Finite rows are scored later, together (settle); a row the detector would refuse is scored
      // now, so that it throws here, leaving the state exactly as scoring it alone would.
      const buf = eng.buf;
      let finite = true;
      for (let j = at; j < at + w; j++) if (buf[j]! - buf[j]! !== 0) finite = false;
      if (finite) {
        row = eng.rows++;
      } else {
        features = buf.slice(at, at + w);
        score = eng.detector.scoreRow(features);
      }
    }
    dev.last = time;
    dev.used = now;
    dirty.add(dkey);
    if (eventId !== null) remember(eventId);
    return { kind: 'staged', item, eventId, device, time, values, row, features, score, eng, dev };
  }

  /**
   * Phase 2: score the staged rows that wait for it, one matrix per model (the detectors' batch
   * path gives the very same numbers as scoring rows one by one), then apply threshold and alarm
   * rule to every staged row in staging order.
   */
  function settle(staged: readonly StagedItem[]): ScoredItem[] {
    const scored = new Map<Engine, Float64Array>();
    for (const e of single ? [single] : [...routes.values(), ...(fallback ? [fallback] : [])]) {
      if (e.rows === 0) continue;
      const cols = e.width;
      const data = e.buf.subarray(0, e.rows * cols);
      let out: Float64Array;
      try {
        out = e.detector.score({ rows: e.rows, cols, data, columns: e.detector.columns });
      } catch {
        // Not expected (rows were checked); score row by row so a bad row fails alone.
        out = new Float64Array(e.rows);
        for (let r = 0; r < e.rows; r++) {
          try {
            out[r] = e.detector.scoreRow(data.subarray(r * cols, (r + 1) * cols));
          } catch {
            out[r] = NaN;
          }
        }
      }
      scored.set(e, out);
    }
    const results: ScoredItem[] = new Array<ScoredItem>(staged.length);
    for (let i = 0; i < staged.length; i++) {
      const st = staged[i]!;
      const eng = st.eng as Engine;
      const dev = st.dev as DeviceEntry;
      const score = st.row >= 0 ? scored.get(eng)![st.row]! : st.score;
      const anomaly = score !== null && score >= eng.threshold;
      dev.flags.push(anomaly ? 1 : 0);
      if (dev.flags.length > rule.n) dev.flags.shift();
      let hits = 0;
      for (const f of dev.flags) hits += f;
      const alarm = hits >= rule.k;
      const raised = alarm && !dev.inAlarm;
      dev.inAlarm = alarm;
      let contributions: Contribution[] | null = null;
      let sensors: SensorContribution[] | null = null;
      if (raised && score !== null) {
        try {
          const row = st.features ?? eng.buf.subarray(st.row * eng.width, (st.row + 1) * eng.width);
          contributions = eng.detector.explain(row, 8);
          sensors = explainSensors(eng, contributions);
        } catch {
          // An explanation is a courtesy: the alarm stands without one.
          contributions = [];
          sensors = [];
        }
      }
      results[i] = { kind: 'scored', item: st.item, eventId: st.eventId, device: st.device, time: st.time, values: st.values, score, threshold: eng.threshold, runId: eng.runId, anomaly, alarm, raised, contributions, sensors };
    }
    for (const e of scored.keys()) e.rows = 0;
    return results;
  }

  function process(record: unknown, item: number, fallbackId: string | null): ItemResult {
    const r = stage(record, item, fallbackId);
    return r.kind === 'staged' ? settle([r])[0]! : r;
  }

  function keysOf(record: unknown): string[] {
    if (typeof record !== 'object' || record === null || Array.isArray(record)) return [];
    const gk = groupKeyOf(record);
    const eng = route(record);
    const device = 'd:' + deviceOf(record, gk);
    return 'runId' in eng ? [eng.prefix + gk, device] : [device];
  }

  const fittedOf = (key: string): RunModel['recipe'] | null => {
    if (single) return single.fitted;
    for (const e of [...routes.values(), ...(fallback ? [fallback] : [])]) if (key.startsWith(e.prefix)) return e.fitted;
    return null;
  };

  function exportState(key: string): string | undefined {
    if (key.startsWith('g:')) {
      const g = groups.get(key);
      return g ? JSON.stringify(g.f.state()) : undefined;
    }
    const d = devices.get(key);
    return d ? JSON.stringify({ last: Number.isFinite(d.last) ? d.last : null, flags: d.flags, inAlarm: d.inAlarm }) : undefined;
  }

  function importState(key: string, json: string): void {
    const parsed: unknown = JSON.parse(json);
    const now = Date.now();
    if (key.startsWith('g:')) {
      const fitted = fittedOf(key);
      if (!fitted) throw new WorkbenchError('INVALID_ARGUMENT', `state '${key}' belongs to no model of this stream`);
      const f = createOnlineFeaturizer(fitted);
      f.restore(parsed);
      groups.set(key, { f, used: now });
      return;
    }
    const o = parsed as { last?: unknown; flags?: unknown; inAlarm?: unknown };
    if (typeof o !== 'object' || o === null || !Array.isArray(o.flags)) throw new WorkbenchError('INVALID_ARGUMENT', `device state '${key}' is malformed`);
    const flags = (o.flags as unknown[]).map((x) => (x === 1 ? 1 : 0)).slice(-rule.n);
    devices.set(key, { last: typeof o.last === 'number' ? o.last : -Infinity, flags, inAlarm: o.inAlarm === true, used: now });
  }

  function takeDirty(): string[] {
    const out = [...dirty];
    dirty.clear();
    return out;
  }

  function evictIdle(idleMs: number, now = Date.now()): number {
    let n = 0;
    for (const [k, g] of groups) if (now - g.used > idleMs && !dirty.has(k)) (groups.delete(k), n++);
    for (const [k, d] of devices) if (now - d.used > idleMs && !dirty.has(k)) (devices.delete(k), n++);
    return n;
  }

  return {
    columns,
    sensors: columns.sensors,
    process,
    stage,
    settle,
    keysOf,
    has: (key) => groups.has(key) || devices.has(key),
    exportState,
    importState,
    takeDirty,
    evictIdle,
    seedSeen: (ids) => {
      for (const id of ids) remember(id);
    },
    isSeen: (id) => dedupePath !== null && seen.has(id),
    dirtyCount: () => dirty.size,
    size: () => ({ groups: groups.size, devices: devices.size }),
  };
}
