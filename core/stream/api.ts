/**
 * Stream slice of the API contract (issue #7): live scoring of an Event Hub with a
 * trained model. A subscription reads every partition of a hub with the real
 * Event Hubs SDK, scores each event with the run's model (incremental features,
 * per-device state), and stores scored events, dead letters and alarms in the
 * workspace exactly once. Types only.
 *
 * Secrets: connection strings are accepted by `stream.start` and `stream.preview`,
 * held in memory by the engine only, never logged, never returned, never persisted.
 */
import type { SerializedError } from '../api/errors.ts';

/**
 * Where partitions start reading.
 * - `checkpoint`: resume after what this consumer group already stored in this
 *   workspace; partitions it never read start at their earliest retained event.
 * - `earliest`: a first start from the beginning of each partition; refused when the
 *   consumer group already has checkpoints here (use `checkpoint`, or another group).
 * - `latest`: skip any backlog: every partition starts at its next new event.
 */
export type StartPosition = 'checkpoint' | 'earliest' | 'latest';

/** Raise an alarm when at least `k` of a device's last `n` scored events are anomalous. */
export interface AlarmRule {
  /** 1 ≤ k ≤ n. */
  k: number;
  /** 1 ≤ n ≤ 1000. */
  n: number;
}

/** Why an event was not scored. Dead letters never stop the stream. */
export type DeadLetterReason =
  /** The body is not valid JSON (text stored as is, or `base64:` + bytes when not UTF-8). */
  | 'invalid_json'
  /** Valid JSON, but neither an object nor an array of objects. */
  | 'not_an_object'
  /** A mapped field is absent (detail names it). */
  | 'missing_field'
  /** A sensor field holds text that is not a number, a boolean, an object or an array. */
  | 'non_numeric'
  /** The time field is neither a number nor a parseable date-time. */
  | 'bad_timestamp'
  /** The event is older than the device's previous event. */
  | 'out_of_order'
  /** The device is not one the model knows (per-device models, or `unknownDevices: 'dead-letter'`). */
  | 'unknown_device'
  /** Per-group model: the record's group value has no model and there is no fallback model. */
  | 'unknown_group'
  /** The model threw on this record (detail has the message); the stream goes on. */
  | 'scoring_failed';

export interface StreamStartRequest {
  /**
   * Event Hubs connection string (`Endpoint=sb://…;SharedAccessKeyName=…;SharedAccessKey=…[;EntityPath=hub]`).
   * Kept in engine memory only; never logged or returned.
   */
  connectionString: string;
  /** Hub name when the connection string has no EntityPath. */
  eventHubName?: string;
  /** Default `$Default`. */
  consumerGroup?: string;
  /** Default `checkpoint`. */
  startPosition?: StartPosition;
  /** The model: a training run id, or a registry reference (`name@alias`, `name@N`, `name` = latest version). */
  model: string;
  /**
   * Event JSON path → model column, e.g. `{ "telemetry.temp": "temperature" }`. Paths are
   * dot-separated keys (numeric segments index arrays); a key containing dots matches as a whole first.
   * Model columns not named here are read from the field of the same name (identity).
   */
  mapping?: Record<string, string>;
  /**
   * Column (after mapping) that identifies a device: per-device order checks, alarm rules and
   * charts. Default: the training dataset's device-role column, else the model's first group column.
   */
  deviceField?: string;
  /** Default { k: 1, n: 1 }: every anomalous event that follows a normal one raises an alarm. */
  alarmRule?: AlarmRule;
  /**
   * Events of devices the model was not trained on: `dead-letter` or `accept`. Default
   * `dead-letter` for per-device models (the device column is a one-hot categorical), else `accept`.
   */
  unknownDevices?: 'accept' | 'dead-letter';
  /**
   * Field (event JSON path, or application property of that name) carrying a producer event id.
   * When set, an event whose id was already stored or dead-lettered recently (the last 10,000 per
   * partition) is skipped as a duplicate: publishing is at-least-once, so a retried send can store
   * an event twice in the hub. Default null: no de-duplication beyond (partition, sequence number).
   * The tables' `event_id` column holds this field, or the `event_id` field when it is null.
   */
  dedupeField?: string | null;
  /**
   * Table (in the workspace's main schema) for scored events; dead letters go to `<table>_dead_letters`
   * and alarms to `<table>_alarms`. Created when absent. Default `live_scores`.
   */
  table?: string;
  /** Most events per partition per SDK batch, 1..5000. Default 1000. */
  maxBatchSize?: number;
  /**
   * Keep the connection string across restarts. Only the Electron shell can (OS keychain via
   * safeStorage); this engine refuses `true` with INVALID_ARGUMENT. Default false.
   */
  persistConnection?: boolean;
}

export interface PartitionStatus {
  partitionId: string;
  /** Whether this subscription currently reads the partition (another instance may own it). */
  owned: boolean;
  /** Sequence number of the last event stored or dead-lettered from this partition; null before any. */
  lastSequenceNumber: number | null;
  /** Last sequence number the hub holds for the partition, as last reported; null when unknown or empty. */
  lastEnqueuedSequenceNumber: number | null;
  /** Events in the hub not yet processed (lastEnqueued − last processed); null when unknown. */
  backlog: number | null;
}

export type StreamState = 'starting' | 'running' | 'paused' | 'stopping' | 'stopped' | 'failed';

export interface StreamStatus {
  subscriptionId: string;
  state: StreamState;
  /** `host[:port]/hub`, for display: never the key. */
  endpoint: string;
  eventHubName: string;
  consumerGroup: string;
  /** Run id of the model (registry references are resolved at start). */
  model: string;
  /** Scored-events table. */
  table: string;
  /** ISO time the subscription started. */
  startedAt: string;
  /** Events received per second, averaged over the last 5 s. */
  eventsPerSecond: number;
  /** End-to-end latency (enqueued in the hub → scored and stored), ms, over the last 10 s; null without events. */
  latencyMs: { p50: number | null; p99: number | null };
  /** Share of scored events at or above the model threshold over the last 10 s; null without events. */
  anomalyRate: number | null;
  /** Counts since this subscription started (in this process). */
  counts: {
    received: number;
    stored: number;
    deadLettered: number;
    /** Skipped as already seen (see `dedupeField`). */
    duplicates: number;
    alarms: number;
  };
  /** Rows in the workspace tables of this subscription (all runs, this one included). */
  totals: { stored: number; deadLettered: number; alarms: number };
  partitions: PartitionStatus[];
  /** The latest error (connection loss, storage retry…); the stream keeps going unless state is `failed`. */
  lastError: (SerializedError & { at: string }) | null;
}

export interface SensorContribution {
  /** Sensor (or categorical) column of the model. */
  sensor: string;
  /** Sum of the weights of the features derived from it; higher = more responsible. */
  weight: number;
}

export interface StreamAlert {
  subscriptionId: string;
  device: string;
  /** Event time: epoch ms for temporal models, else the raw time-axis value. */
  time: number;
  /** ISO time the event was enqueued in the hub. */
  enqueuedAt: string;
  eventId: string | null;
  partitionId: string;
  sequenceNumber: number;
  score: number;
  threshold: number;
  /** Top contributing sensors, most responsible first (at most 3). */
  sensors: SensorContribution[];
  /** Top contributing features (at most 8), as the detector ranks them. */
  features: { feature: string; weight: number; value: number }[];
}

export interface PreviewEvent {
  partitionId: string;
  sequenceNumber: number;
  /** ISO time the hub enqueued it. */
  enqueuedAt: string;
  /** Parsed JSON body (object, or array of objects), or the raw text when it is not JSON. */
  body: unknown;
}

export interface PreviewField {
  /** Dot path usable as a mapping key. */
  path: string;
  /** JSON types seen: 'number', 'string', 'boolean', 'null', 'object', 'array'. */
  types: string[];
  /** First value seen, as text (at most 80 characters). */
  example: string;
  /** Records (array items count separately) that carry the field. */
  count: number;
}

export interface StreamPreviewRequest {
  connectionString: string;
  eventHubName?: string;
  /**
   * Default `$Default`. Reading does not move any checkpoint. On Azure, a group that a running
   * subscription reads refuses this reader (the subscription holds the partitions exclusively);
   * preview through a group of its own then.
   */
  consumerGroup?: string;
  /** Events to peek, 1..500; default 20. The first ones of each partition, merged by enqueued time. */
  count?: number;
  /** Give up waiting for more events after this long, ms; default 5000. */
  timeoutMs?: number;
  /** A run id or registry reference: when given, a mapping onto its columns is suggested. */
  model?: string;
}

export interface StreamPreviewResponse {
  partitionIds: string[];
  events: PreviewEvent[];
  /** Leaf fields of the records, most common first. */
  fields: PreviewField[];
  /** Columns the model reads (sensors, categoricals, time, groups, device); empty without `model`. */
  modelColumns: string[];
  /**
   * Suggested `mapping` (event path → model column) for the columns whose field is not named
   * exactly like the column; null without `model`.
   */
  suggestedMapping: Record<string, string> | null;
  /** Model columns no field could be matched to. */
  unmatched: string[];
}

export interface DeviceSeries {
  device: string;
  /** Event time per point (epoch ms for temporal models), oldest first. */
  time: Float64Array;
  /** Values per requested sensor, aligned with `time`; NaN where missing. */
  sensors: { name: string; values: Float64Array }[];
  /** Score per point; NaN where the event could not be scored (fill 'drop'). */
  score: Float64Array;
  /** 1 where the score was at or above the threshold. */
  anomaly: Uint8Array;
  threshold: number;
  /** Alarms of this device within the window, oldest first. */
  alarms: { time: number; score: number }[];
}

export interface StreamApi {
  /**
   * Start a subscription. Checks the connection and the model first (EVENTHUB_AUTH,
   * EVENTHUB_FAILED, NOT_FOUND, INVALID_ARGUMENT), then returns while reading goes on in the
   * background. Creates the tables when absent. Emits `stream.stats` every second and
   * `stream.alert` per alarm until stopped.
   */
  'stream.start': (req: StreamStartRequest) => Promise<{ subscriptionId: string }>;
  /**
   * Stop: finish and store the events in hand, write the checkpoints, release the partitions.
   * Resolves when done; the status stays readable until the engine closes. No-op when stopped.
   */
  'stream.stop': (req: { subscriptionId: string }) => Promise<StreamStatus>;
  /** Stop taking new events (the hub keeps them; backlog grows) until `stream.resume`. */
  'stream.pause': (req: { subscriptionId: string }) => Promise<StreamStatus>;
  'stream.resume': (req: { subscriptionId: string }) => Promise<StreamStatus>;
  /** Current figures of one subscription. NOT_FOUND for unknown ids. */
  'stream.status': (req: { subscriptionId: string }) => Promise<StreamStatus>;
  /** Every subscription of this engine (running or stopped), newest first. */
  'stream.list': (req: Record<string, never>) => Promise<StreamStatus[]>;
  /**
   * Peek at the first events of a hub (no checkpoint is touched) and, given a model,
   * suggest a field mapping. Bodies may be one JSON object or an array of objects.
   */
  'stream.preview': (req: StreamPreviewRequest) => Promise<StreamPreviewResponse>;
  /**
   * Recent alarms, newest first, with their top contributing sensors, read from the
   * `<table>_alarms` table (so alarms of earlier runs show too). Give a subscription or a table.
   * `limit` default 50, at most 1000.
   */
  'stream.alerts': (req: { subscriptionId?: string; table?: string; device?: string; limit?: number }) => Promise<StreamAlert[]>;
  /**
   * The recent events of one device for live charts: the last `points` (default 300, at most
   * 600; more is clamped) events this subscription scored for it, with sensor values, scores and
   * alarms, from memory (the last 1,000 devices seen). `sensors` default: every sensor of the
   * model. Empty arrays for a device not seen since the subscription started.
   */
  'stream.deviceSeries': (req: { subscriptionId: string; device: string; sensors?: string[]; points?: number }) => Promise<DeviceSeries>;
}

export interface StreamEvents {
  /** Every second per live subscription, and once more when it stops. */
  'stream.stats': StreamStatus;
  /** One per alarm raised (the k-of-n rule turning true for a device). At most 50 per second per subscription; the rest are stored but not pushed. */
  'stream.alert': StreamAlert;
}
