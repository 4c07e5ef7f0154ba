/**
 * Pure helpers of the Live page (issue #7 item 7): connection-string checks that
 * never echo the key, the field mapping table ↔ `StreamStartRequest.mapping`,
 * specific wording for connection errors, model choices and KPI formatting.
 * No DOM here, so tests/unit/live-format.test.ts runs them under Node.
 */
import type { ModelVersion, RunInfo } from '../../../../core/experiments/api.ts';
import type { PreviewField, StreamPreviewResponse, StreamState } from '../../../../core/stream/api.ts';
import { WorkbenchError } from '../../../../core/api/errors.ts';

/** What the form may show about a connection string: never the key itself. */
export interface ConnectionInfo {
  /** `host[:port]` of the Endpoint. */
  host: string | null;
  /** EntityPath, when the string names the hub. */
  entityPath: string | null;
  keyName: string | null;
  /** Why the string cannot work, as one sentence; null when it looks usable. */
  problem: string | null;
}

/**
 * Read the parts of an Event Hubs connection string (`Key=value;…`, keys case-insensitive,
 * values may contain `=` as base64 keys do). Checked here so a typo is named at once,
 * before a round trip; the engine checks again.
 */
export function parseConnectionString(text: string): ConnectionInfo {
  const parts = new Map<string, string>();
  for (const piece of text.trim().split(';')) {
    const eq = piece.indexOf('=');
    if (eq <= 0) continue;
    parts.set(piece.slice(0, eq).trim().toLowerCase(), piece.slice(eq + 1).trim());
  }
  const endpoint = parts.get('endpoint') ?? null;
  let host: string | null = null;
  if (endpoint) {
    const m = /^sb:\/\/([^/;]+)/i.exec(endpoint);
    host = m ? m[1]! : null;
  }
  const entityPath = parts.get('entitypath') || null;
  const keyName = parts.get('sharedaccesskeyname') || null;
  const hasSas = (parts.get('sharedaccesssignature') ?? '') !== '';
  let problem: string | null = null;
  if (!endpoint) problem = 'The connection string has no Endpoint=sb://… part. Copy it whole from the hub’s “Shared access policies”.';
  else if (!host) problem = 'The Endpoint must start with sb:// followed by the namespace host (e.g. sb://mynamespace.servicebus.windows.net/).';
  else if (!hasSas && !keyName) problem = 'The connection string has no SharedAccessKeyName.';
  else if (!hasSas && !parts.get('sharedaccesskey')) problem = 'The connection string has no SharedAccessKey.';
  return { host, entityPath, keyName, problem };
}

/** One row of the mapping table: a model column and the event field that feeds it ('' = none found). */
export interface MappingRow {
  column: string;
  field: string;
}

/**
 * The rows the preview suggests: a field of the column's own name first, then the engine's
 * suggestion (`suggestedMapping` is field → column), else none.
 */
export function initialMapping(preview: StreamPreviewResponse): MappingRow[] {
  const paths = new Set(preview.fields.map((f) => f.path));
  const byColumn = new Map<string, string>();
  for (const [field, column] of Object.entries(preview.suggestedMapping ?? {})) byColumn.set(column, field);
  return preview.modelColumns.map((column) => ({ column, field: paths.has(column) ? column : byColumn.get(column) ?? '' }));
}

/**
 * The request's `mapping` (event path → column). Identity rows are left out (the engine reads
 * unmapped columns from the field of the same name), and so are rows without a field.
 */
export function mappingRequest(rows: MappingRow[]): Record<string, string> | undefined {
  const out: Record<string, string> = {};
  for (const r of rows) if (r.field !== '' && r.field !== r.column) out[r.field] = r.column;
  return Object.keys(out).length ? out : undefined;
}

/** Fields used by more than one column: a mapping the engine cannot express (one field → one column). */
export function duplicateFields(rows: MappingRow[]): Set<string> {
  const seen = new Set<string>();
  const dup = new Set<string>();
  for (const r of rows) {
    if (r.field === '') continue;
    if (seen.has(r.field)) dup.add(r.field);
    seen.add(r.field);
  }
  return dup;
}

/** Example value of a field, for the mapping table. */
export function fieldExample(fields: PreviewField[], path: string): string {
  return fields.find((f) => f.path === path)?.example ?? '';
}

/** A connection or start error as a specific title and what to check. */
export interface ConnectErrorView {
  kind: 'connection-string' | 'auth' | 'unreachable' | 'hub' | 'model' | 'settings' | 'other';
  title: string;
  hint: string;
}

/** Name the failure the way an analyst fixes it: the string, the key, the host, the model. */
export function describeConnectError(err: unknown): ConnectErrorView {
  const code = err instanceof WorkbenchError ? err.code : null;
  const message = err instanceof Error ? err.message : String(err);
  const sdk = err instanceof WorkbenchError && typeof err.details?.sdkCode === 'string' ? err.details.sdkCode : '';
  if (code === 'EVENTHUB_AUTH') {
    return { kind: 'auth', title: 'Authentication failed', hint: 'The hub refused the shared access key. Check SharedAccessKeyName and SharedAccessKey (copy them again; keys are case-sensitive) and that the policy has the Listen right.' };
  }
  if (code === 'EVENTHUB_FAILED') {
    if (/ECONNREFUSED|ENOTFOUND|EAI_AGAIN|ETIMEDOUT|EHOSTUNREACH|ENETUNREACH|ServiceUnavailable/i.test(`${sdk} ${message}`) || /no answer within/i.test(message)) {
      return { kind: 'unreachable', title: 'Event hub unreachable', hint: 'Nothing answered at the Endpoint host. Check the host name and port, the network or VPN, and that the hub is running.' };
    }
    if (/not ?found|EntityNotFound|does not exist/i.test(`${sdk} ${message}`)) {
      return { kind: 'hub', title: 'Event hub not found', hint: 'The namespace answered but has no such hub or consumer group. Check EntityPath (or the hub name) and the consumer group.' };
    }
    return { kind: 'hub', title: 'Event hub error', hint: 'The hub answered with an error; the message below says which.' };
  }
  if (code === 'INVALID_ARGUMENT' && /connection ?string|EntityPath|eventHubName/i.test(message)) {
    return { kind: 'connection-string', title: 'Bad connection string', hint: 'Paste the whole string: Endpoint=sb://…;SharedAccessKeyName=…;SharedAccessKey=…[;EntityPath=…].' };
  }
  if (code === 'NOT_FOUND' || code === 'MODEL_FAILED' || (code === 'INVALID_ARGUMENT' && /^model\b/i.test(message))) {
    return { kind: 'model', title: 'Model problem', hint: 'Choose another model: registered versions and finished runs are listed.' };
  }
  if (code === 'INVALID_ARGUMENT') return { kind: 'settings', title: 'Settings refused', hint: 'Change the setting named below and try again.' };
  return { kind: 'other', title: 'Could not connect', hint: '' };
}

/** One entry of the model picker. */
export interface ModelChoice {
  /** What `stream.start` takes: `name@alias`, `name@N` or a run id. */
  ref: string;
  label: string;
  group: 'registered' | 'run';
}

/**
 * Registered versions first (by alias, else by number), then finished top-level runs,
 * newest first (the order runs.list gives).
 */
export function modelChoices(versions: ModelVersion[], runs: RunInfo[]): ModelChoice[] {
  const out: ModelChoice[] = [];
  for (const v of versions) {
    if (v.aliases.length) for (const a of v.aliases) out.push({ ref: `${v.name}@${a}`, label: `${v.name}@${a} (v${v.version})`, group: 'registered' });
    else out.push({ ref: `${v.name}@${v.version}`, label: `${v.name}@${v.version}`, group: 'registered' });
  }
  for (const r of runs) {
    if (r.status !== 'finished' || r.parentId !== null) continue;
    // Sweep and repeat parents only summarise their children; a per-group parent routes to them.
    if (r.children > 0 && !('group.column' in r.params)) continue;
    const detector = typeof r.params.detector === 'string' ? r.params.detector : '';
    out.push({ ref: r.id, label: `${r.name}${detector && !r.name.includes(detector) ? ` · ${detector}` : ''} · ${r.dataset} · ${r.startedAt.slice(0, 16).replace('T', ' ')}`, group: 'run' });
  }
  return out;
}

/** Percent with one decimal, or an en dash. */
export function formatRate(x: number | null): string {
  return x === null || !Number.isFinite(x) ? '–' : `${(x * 100).toFixed(x < 0.1 ? 2 : 1)} %`;
}

/** Milliseconds for a KPI: "840 ms", "12.4 s", or an en dash. */
export function formatLatency(ms: number | null): string {
  if (ms === null || !Number.isFinite(ms)) return '–';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 100_000) return `${(ms / 1000).toFixed(1)} s`;
  return `${Math.round(ms / 1000)} s`;
}

/** Events per second: whole numbers, thousands separated. */
export function formatPerSecond(x: number): string {
  return Math.round(x).toLocaleString('en-US');
}

/**
 * An event time: epoch ms as "2026-03-14 09:26:05", other axis values as numbers. Event
 * timestamps are naive wall-clock values that the engine turns into epoch ms as if UTC (as
 * Explore does), so they are formatted in UTC to show exactly what the device sent.
 */
export function formatEventTime(t: number, temporal: boolean): string {
  if (!Number.isFinite(t)) return '–';
  if (!temporal) return Number.isInteger(t) ? String(t) : t.toFixed(2);
  const d = new Date(t);
  const p = (x: number): string => String(x).padStart(2, '0');
  return `${d.getUTCFullYear()}-${p(d.getUTCMonth() + 1)}-${p(d.getUTCDate())} ${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())}`;
}

/** States in which the subscription holds the hub (buttons enabled, stats flowing). */
export function isLive(state: StreamState): boolean {
  return state === 'starting' || state === 'running' || state === 'paused' || state === 'stopping';
}
