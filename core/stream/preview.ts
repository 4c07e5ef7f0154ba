/**
 * `stream.preview`: peek at the first events of a hub without a checkpoint store
 * (nothing is claimed or moved) and suggest how their fields map onto a model.
 */
import { EventHubConsumerClient, earliestEventPosition, type ReceivedEventData } from '@azure/event-hubs';
import { WorkbenchError } from '../api/errors.ts';
import type { PreviewEvent, PreviewField, StreamPreviewRequest, StreamPreviewResponse } from './api.ts';
import { TUNED_RETRY, hubError, hubTarget, probeHub } from './eventhub.ts';
import { decodeBody } from './scorer.ts';

function jsonType(v: unknown): string {
  return v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v;
}

/** Leaf fields of records (objects recursed, arrays and scalars are leaves). */
export function collectFields(records: unknown[]): PreviewField[] {
  const by = new Map<string, { types: Set<string>; example: string; count: number }>();
  const walk = (v: unknown, prefix: string): void => {
    if (typeof v === 'object' && v !== null && !Array.isArray(v)) {
      for (const [k, x] of Object.entries(v)) walk(x, prefix ? `${prefix}.${k}` : k);
      return;
    }
    if (!prefix) return;
    let f = by.get(prefix);
    if (!f) by.set(prefix, (f = { types: new Set(), example: (typeof v === 'string' ? v : JSON.stringify(v) ?? String(v)).slice(0, 80), count: 0 }));
    f.types.add(jsonType(v));
    f.count++;
  };
  for (const r of records) walk(r, '');
  return [...by.entries()].map(([path, f]) => ({ path, types: [...f.types].sort(), example: f.example, count: f.count })).sort((a, b) => b.count - a.count || (a.path < b.path ? -1 : 1));
}

function norm(s: string): string {
  return s.toLowerCase().replace(/[^a-z0-9]/g, '');
}

/**
 * Suggest `mapping` (event path → column) for columns without a field of their exact name: first a
 * field whose last segment matches the column ignoring case and punctuation, then one whose last
 * segment and the column share a prefix of at least 3 characters. Each field is used once.
 */
export function suggestMapping(fields: PreviewField[], columns: string[]): { mapping: Record<string, string>; unmatched: string[] } {
  const paths = fields.map((f) => f.path);
  const used = new Set(columns.filter((c) => paths.includes(c)));
  const mapping: Record<string, string> = {};
  const unmatched: string[] = [];
  const last = (p: string): string => norm(p.split('.').at(-1)!);
  for (const c of columns) {
    if (paths.includes(c)) continue;
    const n = norm(c);
    const pick =
      paths.find((p) => !used.has(p) && last(p) === n) ??
      paths.find((p) => !used.has(p) && norm(p) === n) ??
      paths.find((p) => {
        const l = last(p);
        return !used.has(p) && Math.min(l.length, n.length) >= 3 && (l.startsWith(n) || n.startsWith(l));
      });
    if (pick) {
      mapping[pick] = c;
      used.add(pick);
    } else {
      unmatched.push(c);
    }
  }
  return { mapping, unmatched };
}

/** Read the first `count` events (merged across partitions by enqueued time) and describe them. */
export async function previewHub(req: StreamPreviewRequest, modelColumns: string[] | null): Promise<StreamPreviewResponse> {
  const target = hubTarget(req.connectionString, req.eventHubName);
  const count = req.count ?? 20;
  const timeoutMs = req.timeoutMs ?? 5000;
  if (!Number.isInteger(count) || count < 1 || count > 500) throw new WorkbenchError('INVALID_ARGUMENT', 'count must be a whole number from 1 to 500');
  if (!Number.isFinite(timeoutMs) || timeoutMs < 100 || timeoutMs > 60_000) throw new WorkbenchError('INVALID_ARGUMENT', 'timeoutMs must be between 100 and 60000');
  const cg = req.consumerGroup ?? '$Default';
  let client: EventHubConsumerClient;
  try {
    client = req.eventHubName
      ? new EventHubConsumerClient(cg, req.connectionString, req.eventHubName, { retryOptions: TUNED_RETRY })
      : new EventHubConsumerClient(cg, req.connectionString, { retryOptions: TUNED_RETRY });
  } catch (err) {
    throw hubError(err, 'cannot create the Event Hubs client');
  }
  try {
    const partitionIds = await probeHub(req.connectionString, req.eventHubName, cg);
    const got = new Map<string, ReceivedEventData[]>(partitionIds.map((id) => [id, []]));
    const drained = new Set<string>();
    let lastError: unknown = null;
    let finish = (): void => undefined;
    const finished = new Promise<void>((resolve) => (finish = resolve));
    const timer = setTimeout(finish, timeoutMs);
    const sub = client.subscribe(
      {
        processEvents: async (events, ctx) => {
          const list = got.get(ctx.partitionId)!;
          // An empty batch after maxWaitTime means the partition has nothing more.
          if (events.length === 0) drained.add(ctx.partitionId);
          for (const e of events) if (list.length < count) list.push(e);
          if (partitionIds.every((id) => drained.has(id) || got.get(id)!.length >= count)) finish();
        },
        processError: async (err) => {
          lastError = err;
        },
      },
      { startPosition: earliestEventPosition, maxBatchSize: count, maxWaitTimeInSeconds: 1, skipParsingBodyAsJson: true },
    );
    await finished;
    clearTimeout(timer);
    await sub.close().catch(() => undefined);
    const all = [...got.values()].flat().sort((a, b) => a.enqueuedTimeUtc.getTime() - b.enqueuedTimeUtc.getTime()).slice(0, count);
    if (all.length === 0 && lastError) throw hubError(lastError, `cannot read event hub ${target.display}`);
    const partOf = new Map<ReceivedEventData, string>();
    for (const [id, list] of got) for (const e of list) partOf.set(e, id);
    const records: unknown[] = [];
    const events: PreviewEvent[] = all.map((e) => {
      const d = decodeBody(e.body);
      if (d.ok) records.push(...d.records);
      return {
        partitionId: partOf.get(e)!,
        sequenceNumber: e.sequenceNumber,
        enqueuedAt: e.enqueuedTimeUtc.toISOString(),
        body: d.ok ? (d.array ? d.records : d.records[0]) : d.text,
      };
    });
    const fields = collectFields(records);
    const suggestion = modelColumns ? suggestMapping(fields, modelColumns) : null;
    return {
      partitionIds,
      events,
      fields,
      modelColumns: modelColumns ?? [],
      suggestedMapping: suggestion?.mapping ?? null,
      unmatched: suggestion?.unmatched ?? [],
    };
  } finally {
    await client.close().catch(() => undefined);
  }
}
