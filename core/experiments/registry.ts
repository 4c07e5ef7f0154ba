/**
 * Model registry (issue #6 item 5): a run's model registered as `name` version N,
 * movable aliases (production, staging, …), and a model card. References resolve
 * as `name@alias`, `name@N`, or a bare run id.
 */
import { userInfo } from 'node:os';
import { WorkbenchError } from '../api/errors.ts';
import type { Workspace } from '../workspace/workspace.ts';
import type { ExperimentStore } from './store.ts';
import type { ModelCard, ModelVersion } from './api.ts';

function safeUser(): string {
  try {
    return userInfo().username || 'unknown';
  } catch {
    return 'unknown';
  }
}

const NAME_RE = /^[A-Za-z][A-Za-z0-9_.\-]{0,62}$/;
const ALIAS_RE = /^[A-Za-z][A-Za-z0-9_\-]{0,31}$/;

export class ModelRegistry {
  private ready: Promise<void> | null = null;

  constructor(
    private readonly ws: Workspace,
    private readonly store: ExperimentStore,
  ) {}

  private init(): Promise<void> {
    this.ready ??= this.ws.run(`
      CREATE TABLE IF NOT EXISTS fleetlens.model_versions (name VARCHAR NOT NULL, version INTEGER NOT NULL, run_id VARCHAR NOT NULL, registered_at TIMESTAMP NOT NULL, registered_by VARCHAR NOT NULL, description VARCHAR NOT NULL, PRIMARY KEY (name, version));
      CREATE TABLE IF NOT EXISTS fleetlens.model_aliases (name VARCHAR NOT NULL, alias VARCHAR NOT NULL, version INTEGER NOT NULL, PRIMARY KEY (name, alias));`);
    return this.ready;
  }

  async register(runId: string, name: string, description = ''): Promise<ModelVersion> {
    await this.init();
    if (!NAME_RE.test(name)) throw new WorkbenchError('INVALID_ARGUMENT', `model name '${name}' is not valid: letters, digits, . _ - (starting with a letter)`);
    const run = await this.store.getRun(runId);
    if (run.status !== 'finished') throw new WorkbenchError('INVALID_ARGUMENT', `run ${runId} is ${run.status}; only finished runs can be registered`);
    if (!(await this.store.artifactNames(runId)).includes('model')) throw new WorkbenchError('INVALID_ARGUMENT', `run ${runId} has no model to register`);
    const next = Number((await this.ws.query(`SELECT coalesce(max(version), 0) + 1 AS v FROM fleetlens.model_versions WHERE name = $name`, { name }))[0]!.v);
    const who = process.env.USER ?? process.env.USERNAME ?? safeUser();
    await this.ws.run(`INSERT INTO fleetlens.model_versions VALUES ($name, $v, $run, now()::TIMESTAMP, $who, $d)`, { name, v: next, run: runId, who, d: description });
    return this.version(name, next);
  }

  async setAlias(name: string, alias: string, version: number): Promise<ModelVersion> {
    await this.init();
    if (!ALIAS_RE.test(alias)) throw new WorkbenchError('INVALID_ARGUMENT', `alias '${alias}' is not valid`);
    if (/^\d+$/.test(alias)) throw new WorkbenchError('INVALID_ARGUMENT', 'an alias cannot be a number (numbers name versions)');
    await this.version(name, version);
    await this.ws.run(`INSERT OR REPLACE INTO fleetlens.model_aliases VALUES ($name, $alias, $v)`, { name, alias, v: version });
    return this.version(name, version);
  }

  async deleteAlias(name: string, alias: string): Promise<void> {
    await this.init();
    await this.ws.run(`DELETE FROM fleetlens.model_aliases WHERE name = $name AND alias = $alias`, { name, alias });
  }

  async version(name: string, version: number): Promise<ModelVersion> {
    await this.init();
    const rows = await this.ws.query(
      `SELECT v.*, (SELECT list(alias ORDER BY alias) FROM fleetlens.model_aliases a WHERE a.name = v.name AND a.version = v.version)::VARCHAR AS aliases
       FROM fleetlens.model_versions v WHERE name = $name AND version = $v`,
      { name, v: version },
    );
    if (!rows[0]) throw new WorkbenchError('NOT_FOUND', `model ${name} has no version ${version}`);
    return this.toVersion(rows[0]);
  }

  private toVersion(r: Record<string, string | number | boolean | null>): ModelVersion {
    const aliases = r.aliases === null || r.aliases === undefined ? [] : String(r.aliases).replace(/^\[|\]$/g, '').split(',').map((s) => s.trim()).filter(Boolean);
    return {
      name: String(r.name),
      version: Number(r.version),
      runId: String(r.run_id),
      aliases,
      registeredAt: new Date(String(r.registered_at).replace(' ', 'T') + 'Z').toISOString(),
      registeredBy: String(r.registered_by),
      description: String(r.description),
    };
  }

  async list(): Promise<ModelVersion[]> {
    await this.init();
    const rows = await this.ws.query(
      `SELECT v.*, (SELECT list(alias ORDER BY alias) FROM fleetlens.model_aliases a WHERE a.name = v.name AND a.version = v.version)::VARCHAR AS aliases
       FROM fleetlens.model_versions v ORDER BY name, version DESC`,
    );
    return rows.map((r) => this.toVersion(r));
  }

  /** `name@alias`, `name@N`, `name` (latest version) or a run id → run id. */
  async resolve(ref: string): Promise<{ runId: string; version: ModelVersion | null }> {
    await this.init();
    const at = ref.lastIndexOf('@');
    if (at > 0) {
      const name = ref.slice(0, at);
      const sel = ref.slice(at + 1);
      if (/^\d+$/.test(sel)) {
        const v = await this.version(name, Number(sel));
        return { runId: v.runId, version: v };
      }
      const a = await this.ws.query(`SELECT version FROM fleetlens.model_aliases WHERE name = $name AND alias = $alias`, { name, alias: sel });
      if (!a[0]) {
        const known = (await this.ws.query(`SELECT alias FROM fleetlens.model_aliases WHERE name = $name ORDER BY 1`, { name })).map((r) => String(r.alias));
        throw new WorkbenchError('NOT_FOUND', `model ${name} has no alias '${sel}'${known.length ? ` (it has ${known.join(', ')})` : ''}`);
      }
      const v = await this.version(name, Number(a[0].version));
      return { runId: v.runId, version: v };
    }
    const latest = await this.ws.query(`SELECT max(version) AS v FROM fleetlens.model_versions WHERE name = $name`, { name: ref });
    if (latest[0] && latest[0].v !== null) {
      const v = await this.version(ref, Number(latest[0].v));
      return { runId: v.runId, version: v };
    }
    await this.store.getRun(ref).catch(() => {
      throw new WorkbenchError('NOT_FOUND', `no registered model or run named '${ref}'`);
    });
    return { runId: ref, version: null };
  }

  async card(ref: string, requiredColumns: (runId: string) => Promise<string[]>): Promise<ModelCard> {
    const { runId, version } = await this.resolve(ref);
    const run = await this.store.getRun(runId);
    const model = (await this.store.artifact(runId, 'model')) as { recipe?: { recipe: unknown }; threshold?: number };
    return {
      ...(version ?? { name: '', version: 0, runId, aliases: [], registeredAt: '', registeredBy: '', description: '' }),
      run,
      detector: String(run.params.detector ?? ''),
      params: run.params,
      recipe: model.recipe?.recipe ?? null,
      threshold: typeof model.threshold === 'number' ? model.threshold : null,
      metrics: run.metrics,
      fingerprint: run.fingerprint,
      requiredColumns: await requiredColumns(runId),
    };
  }
}
