/**
 * Stream slice of the handler object (see core/app.ts): the engine's live
 * subscriptions, their events on the bus, and their shutdown on close.
 */
import { WorkbenchError } from '../api/errors.ts';
import type { EventBus } from '../api/events.ts';
import type { ExperimentStore } from '../experiments/store.ts';
import type { Workspace } from '../workspace/workspace.ts';
import type { StreamApi, StreamStartRequest, StreamStatus } from './api.ts';
import { hubTarget, installCrashGuard } from './eventhub.ts';
import { StreamPipeline, knownDevices, readAlerts, resolveModel, unknownGroups, type ResolvedModel } from './pipeline.ts';
import { previewHub } from './preview.ts';
import { scorerColumns } from './scorer.ts';

export interface StreamDeps {
  workspace: Workspace;
  store: ExperimentStore;
  events: EventBus;
  /** Registry reference (`name@alias`, `name@N`, `name`) or run id → run id. */
  resolveRef?: (ref: string) => Promise<string>;
}

/** The subscriptions of one engine. */
export class StreamManager {
  private readonly subs = new Map<string, StreamPipeline>();
  /** Consumer groups and tables of subscriptions being started (the checks below must see them too). */
  private readonly starting = new Set<string>();

  constructor(readonly deps: StreamDeps) {}

  /** A model reference resolved to the run's model. */
  async model(ref: unknown, deviceField?: string): Promise<ResolvedModel> {
    if (typeof ref !== 'string' || ref.trim() === '') throw new WorkbenchError('INVALID_ARGUMENT', 'model must be a run id or a registry reference (name@alias)');
    const runId = this.deps.resolveRef ? await this.deps.resolveRef(ref) : ref;
    return resolveModel(this.deps.store, runId, deviceField);
  }

  async start(req: StreamStartRequest): Promise<{ subscriptionId: string }> {
    if (req.persistConnection) {
      throw new WorkbenchError('INVALID_ARGUMENT', 'persistConnection needs the desktop app (OS keychain); this engine keeps connection strings in memory only');
    }
    const group = req.consumerGroup ?? '$Default';
    for (const p of this.subs.values()) {
      const st = p.status();
      if (st.state === 'stopped' || st.state === 'failed') continue;
      if (st.consumerGroup === group && p.target.display === hubDisplay(req)) {
        throw new WorkbenchError('INVALID_ARGUMENT', `consumer group '${group}' of ${st.endpoint} is already read by subscription ${st.subscriptionId}; stop it or use another consumer group`);
      }
      if (st.table.toLowerCase() === (req.table ?? 'live_scores').toLowerCase()) {
        throw new WorkbenchError('INVALID_ARGUMENT', `table '${st.table}' is already written by subscription ${st.subscriptionId}; choose another table`);
      }
    }
    const claims = [`group:${hubDisplay(req) ?? ''}|${group}`, `table:${(req.table ?? 'live_scores').toLowerCase()}`];
    if (claims.some((c) => this.starting.has(c))) throw new WorkbenchError('INVALID_ARGUMENT', 'a subscription with this consumer group or table is being started');
    claims.forEach((c) => this.starting.add(c));
    try {
      return await this.startChecked(req, group);
    } finally {
      claims.forEach((c) => this.starting.delete(c));
    }
  }

  private async startChecked(req: StreamStartRequest, group: string): Promise<{ subscriptionId: string }> {
    const model = await this.model(req.model, req.deviceField);
    const known = await knownDevices(this.deps.workspace, model, req.unknownDevices);
    // The SDK's late uncaught TypeError must not take the whole engine down (design doc §8).
    installCrashGuard({ all: false, log: (line) => process.stderr.write(`fleetlens stream: ${line}\n`) });
    const events = this.deps.events;
    const pipeline = await StreamPipeline.start({
      workspace: this.deps.workspace,
      connectionString: req.connectionString,
      eventHubName: req.eventHubName,
      consumerGroup: group,
      startPosition: req.startPosition,
      model,
      mapping: req.mapping,
      alarmRule: req.alarmRule,
      knownDevices: known,
      unknownGroups: unknownGroups(model, req.unknownDevices),
      dedupeField: req.dedupeField ?? null,
      table: req.table,
      maxBatchSize: req.maxBatchSize,
      onStats: (s) => events.emit('stream.stats', s),
      onAlert: (a) => events.emit('stream.alert', a),
    });
    this.subs.set(pipeline.id, pipeline);
    return { subscriptionId: pipeline.id };
  }

  get(id: unknown): StreamPipeline {
    const p = typeof id === 'string' ? this.subs.get(id) : undefined;
    if (!p) throw new WorkbenchError('NOT_FOUND', `no stream subscription '${String(id)}'`);
    return p;
  }

  list(): StreamStatus[] {
    return [...this.subs.values()].map((p) => p.status()).sort((a, b) => (a.startedAt < b.startedAt ? 1 : -1));
  }

  /** Stop every subscription (engine shutdown). */
  async closeAll(): Promise<void> {
    await Promise.all([...this.subs.values()].map((p) => p.stop().catch(() => undefined)));
  }
}

function hubDisplay(req: StreamStartRequest): string | null {
  try {
    return hubTarget(req.connectionString, req.eventHubName).display;
  } catch {
    // A bad string fails in the pipeline with the proper error.
    return null;
  }
}

export function streamHandlers(m: StreamManager): StreamApi {
  const deps = m.deps;
  return {
    'stream.start': (req) => m.start(req),
    'stream.stop': async (req) => {
      const p = m.get(req.subscriptionId);
      await p.stop();
      return p.status();
    },
    'stream.pause': async (req) => m.get(req.subscriptionId).pause(),
    'stream.resume': async (req) => m.get(req.subscriptionId).resume(),
    'stream.status': async (req) => m.get(req.subscriptionId).status(),
    'stream.list': async () => m.list(),
    'stream.preview': async (req) => {
      let columns: string[] | null = null;
      if (req.model !== undefined) {
        const model = await m.model(req.model);
        columns = scorerColumns(model.live, model.deviceColumn).all;
      }
      return previewHub(req, columns);
    },
    'stream.alerts': async (req) => {
      if (req.subscriptionId !== undefined) {
        const p = m.get(req.subscriptionId);
        return readAlerts(deps.workspace, p.table, { device: req.device, limit: req.limit, subscriptionId: p.id });
      }
      if (typeof req.table !== 'string') throw new WorkbenchError('INVALID_ARGUMENT', 'give subscriptionId or table');
      return readAlerts(deps.workspace, req.table, { device: req.device, limit: req.limit });
    },
    'stream.deviceSeries': async (req) => m.get(req.subscriptionId).deviceSeries(String(req.device), req.sensors, req.points ?? 300),
  };
}
