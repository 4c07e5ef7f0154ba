/**
 * The experiment store in the workspace (issue #5 item 5): tables
 * fleetlens.experiments, fleetlens.runs, fleetlens.artifacts, and the scored
 * test rows of each run (fleetlens."scores__<run id>", see scores.ts).
 */
import { createHash, randomBytes } from 'node:crypto';
import { WorkbenchError } from '../api/errors.ts';
import type { DatasetInfo } from '../data/api.ts';
import type { DatasetFingerprint, ExperimentInfo, RunInfo, RunStatus } from './api.ts';
import type { Workspace } from '../workspace/workspace.ts';
import { dropRunScores, dropUnusedRows } from './scores.ts';
import type { Plain } from '../workspace/values.ts';
import { KeyedSerial } from '../util/keyed-serial.ts';

const ARTIFACT_COLUMNS = 'run_id VARCHAR NOT NULL, name VARCHAR NOT NULL, content VARCHAR NOT NULL';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS fleetlens.experiments (name VARCHAR PRIMARY KEY, created_at TIMESTAMP NOT NULL);
CREATE TABLE IF NOT EXISTS fleetlens.runs (
  id VARCHAR PRIMARY KEY, experiment VARCHAR NOT NULL, parent_id VARCHAR, name VARCHAR NOT NULL, status VARCHAR NOT NULL,
  started_at TIMESTAMP NOT NULL, ended_at TIMESTAMP, duration_ms DOUBLE, seed BIGINT NOT NULL,
  params VARCHAR NOT NULL, metrics VARCHAR NOT NULL, tags VARCHAR NOT NULL, notes VARCHAR NOT NULL,
  dataset VARCHAR NOT NULL, fingerprint VARCHAR, app_version VARCHAR NOT NULL, error VARCHAR,
  progress DOUBLE NOT NULL, phase VARCHAR NOT NULL
);
CREATE TABLE IF NOT EXISTS fleetlens.artifacts (${ARTIFACT_COLUMNS});
`;

/*
 * The artifacts table has no key: one row per (run, name) is kept by putArtifacts, which replaces a name
 * by delete and insert in one transaction, one write per run at a time (one engine opens a workspace).
 * With a primary key, DuckDB's commit of a few artifacts grew with the rows already stored: with 400
 * runs' artifacts (~300 kB each) 40–140 ms, with 2,000 up to 660 ms, and a sweep's other writes (its
 * scores) kept it there; the first commit after opening the bench workspace took 1.1 s. Without the
 * key, 2–9 ms at both sizes (measured, .scratch-perf/artscale.mts). Lookups by run scan two short
 * text columns: well under a millisecond at 10k rows.
 *
 * DuckDB also keeps a deleted row's content in its row group, so deleting runs does not shrink the
 * table: the bench workspace held 9,535 artifact rows, 22 of them live. tidyArtifacts rewrites the
 * table at start-up when it still has the key (workspaces from before) or when the dead rows
 * outnumber both the live ones and 1,024.
 */
const DEAD_ARTIFACTS_MIN = 1024;

/** The rewrite of fleetlens.artifacts (its live rows into a table without a key), to run in one transaction. */
export const REWRITE_ARTIFACTS_SQL = [
  `DROP TABLE IF EXISTS fleetlens.artifacts__tidy`,
  `CREATE TABLE fleetlens.artifacts__tidy (${ARTIFACT_COLUMNS})`,
  `INSERT INTO fleetlens.artifacts__tidy SELECT run_id, name, content FROM fleetlens.artifacts`,
  `DROP TABLE fleetlens.artifacts`,
  `ALTER TABLE fleetlens.artifacts__tidy RENAME TO artifacts`,
];

/** Short, sortable, collision-resistant run ids: time prefix + random suffix. */
export function newRunId(): string {
  return Date.now().toString(36) + randomBytes(4).toString('hex');
}

export function fingerprintOf(info: DatasetInfo): DatasetFingerprint {
  const body = {
    dataset: info.name,
    rowCount: info.rowCount,
    columns: info.columns.map((c) => ({ name: c.name, type: c.type, role: c.role })),
    timeSpan: info.timeSpan,
    sources: info.sources.map((s) => ({ path: s.path, bytes: s.bytes, checksum: s.checksum })),
  };
  return { ...body, hash: createHash('sha256').update(JSON.stringify(body)).digest('hex') };
}

function iso(v: Plain | undefined): string {
  if (v === null || v === undefined) return '';
  return new Date(String(v).replace(' ', 'T') + 'Z').toISOString();
}

export class ExperimentStore {
  private ready: Promise<void> | null = null;
  /** Artifact writes, one at a time per run. */
  private readonly artifactWrites = new KeyedSerial();

  constructor(readonly ws: Workspace) {}

  private init(): Promise<void> {
    this.ready ??= this.ws.run(SCHEMA).then(() => this.tidyArtifacts());
    return this.ready;
  }

  /**
   * Rewrite fleetlens.artifacts without its former primary key, or without its dead rows when they
   * are many (see the note on the table). Called once, when the store starts, before any write. One
   * transaction: a process killed before its commit leaves the table as it was, one killed after it
   * leaves the rewrite in the write-ahead log, which DuckDB replays (tested). A rewrite that fails is
   * rolled back and warned about, and the store goes on with the table as it was (tested).
   */
  private async tidyArtifacts(): Promise<void> {
    const [t] = await this.ws.query(
      `SELECT (SELECT count(*) FROM duckdb_constraints() WHERE schema_name = 'fleetlens' AND table_name = 'artifacts' AND constraint_type = 'PRIMARY KEY') AS keyed,
         (SELECT estimated_size FROM duckdb_tables() WHERE schema_name = 'fleetlens' AND table_name = 'artifacts') AS stored,
         (SELECT count(*) FROM fleetlens.artifacts) AS live`,
    );
    const live = Number(t?.live ?? 0);
    const dead = Number(t?.stored ?? 0) - live;
    if (!(Number(t?.keyed ?? 0) > 0) && !(dead >= Math.max(DEAD_ARTIFACTS_MIN, live))) return;
    try {
      await this.ws.transaction(async (con) => {
        for (const sql of REWRITE_ARTIFACTS_SQL) await con.run(sql);
      });
      // The dead rows' blocks become free for reuse now, not at some later checkpoint.
      await this.ws.run('CHECKPOINT');
    } catch (err) {
      // Rolled back: the table as it was still works (putArtifacts deletes before it inserts, key or not),
      // only slower. The workspace opens; the rewrite is tried again at the next start.
      process.emitWarning(`could not rewrite the artifacts table of ${this.ws.path} (${(err as Error).message.split('\n')[0]}); it is used as it is and rewritten at the next start`, { code: 'FLEETLENS_ARTIFACTS_TIDY' });
    }
  }

  async ensureExperiment(name: string): Promise<void> {
    await this.init();
    if (!name.trim()) throw new WorkbenchError('INVALID_ARGUMENT', 'experiment name must not be empty');
    await this.ws.run(`INSERT INTO fleetlens.experiments VALUES ($name, now()::TIMESTAMP) ON CONFLICT DO NOTHING`, { name });
  }

  async createRun(r: { id?: string; experiment: string; parentId?: string | null; name: string; seed: number; params: RunInfo['params']; dataset: string; fingerprint: DatasetFingerprint | null; appVersion: string; tags?: string[] }): Promise<RunInfo> {
    await this.ensureExperiment(r.experiment);
    const id = r.id ?? newRunId();
    await this.ws.run(
      `INSERT INTO fleetlens.runs VALUES ($id, $exp, $parent, $name, 'running', now()::TIMESTAMP, NULL, NULL, $seed, $params, '{}', $tags, '', $dataset, $fp, $ver, NULL, 0, 'queued')`,
      {
        id,
        exp: r.experiment,
        parent: r.parentId ?? null,
        name: r.name,
        seed: r.seed,
        params: JSON.stringify(r.params),
        tags: JSON.stringify(r.tags ?? []),
        dataset: r.dataset,
        fp: r.fingerprint ? JSON.stringify(r.fingerprint) : null,
        ver: r.appVersion,
      },
    );
    return this.getRun(id);
  }

  /**
   * End the runs a previous engine left running: only one engine opens a workspace at a time (DuckDB
   * locks the file), so at start-up a run still marked running was cut short by a killed or crashed
   * process. It fails with the phase it had reached; its artifacts and scores so far stay.
   */
  async endInterrupted(): Promise<void> {
    await this.init();
    await this.ws.run(
      `UPDATE fleetlens.runs SET status = 'failed', ended_at = now()::TIMESTAMP, duration_ms = epoch_ms(now()::TIMESTAMP) - epoch_ms(started_at),
         error = 'the engine stopped during ''' || phase || ''' (the process was killed or crashed); train it again', phase = 'failed'
       WHERE status = 'running'`,
    );
  }

  async progress(id: string, progress: number, phase: string): Promise<void> {
    await this.ws.run(`UPDATE fleetlens.runs SET progress = $p, phase = $phase WHERE id = $id`, { id, p: progress, phase });
  }

  async finish(id: string, status: Exclude<RunStatus, 'running'>, metrics: Record<string, number>, error: string | null = null): Promise<RunInfo> {
    const clean: Record<string, number> = {};
    for (const [k, v] of Object.entries(metrics)) if (Number.isFinite(v)) clean[k] = v;
    await this.ws.run(
      `UPDATE fleetlens.runs SET status = $status, metrics = $metrics, error = $error, ended_at = now()::TIMESTAMP,
         duration_ms = epoch_ms(now()::TIMESTAMP) - epoch_ms(started_at), progress = CASE WHEN $status = 'finished' THEN 1 ELSE progress END,
         phase = $status WHERE id = $id`,
      { id, status, metrics: JSON.stringify(clean), error },
    );
    return this.getRun(id);
  }

  async putArtifact(runId: string, name: string, content: unknown): Promise<void> {
    await this.putArtifacts(runId, { [name]: content });
  }

  /**
   * Store several artifacts of a run in one transaction (on a connection of its own: the shared one
   * interleaves its callers' statements), so they appear together or not at all; a name the run
   * already has is replaced. Writes for one run go one after the other, so that two of them cannot
   * both find a name absent and insert it twice.
   */
  async putArtifacts(runId: string, artifacts: Record<string, unknown>): Promise<void> {
    await this.init();
    const entries = Object.entries(artifacts);
    if (entries.length === 0) return;
    await this.artifactWrites.run(runId, () =>
      this.ws.transaction(async (con) => {
        for (const [name, content] of entries) {
          await con.run(`DELETE FROM fleetlens.artifacts WHERE run_id = $run AND name = $name`, { run: runId, name });
          await con.run(`INSERT INTO fleetlens.artifacts VALUES ($run, $name, $content)`, { run: runId, name, content: JSON.stringify(content) });
        }
      }),
    );
  }

  async artifact(runId: string, name: string): Promise<unknown> {
    await this.init();
    const rows = await this.ws.query(`SELECT content FROM fleetlens.artifacts WHERE run_id = $run AND name = $name`, { run: runId, name });
    if (!rows[0]) throw new WorkbenchError('NOT_FOUND', `run ${runId} has no artifact '${name}'`, { runId, name });
    return JSON.parse(String(rows[0].content));
  }

  async artifactNames(runId: string): Promise<string[]> {
    await this.init();
    return (await this.ws.query(`SELECT name FROM fleetlens.artifacts WHERE run_id = $run ORDER BY name`, { run: runId })).map((r) => String(r.name));
  }

  private toRun(r: Record<string, Plain>, children: number): RunInfo {
    return {
      id: String(r.id),
      experiment: String(r.experiment),
      parentId: r.parent_id === null ? null : String(r.parent_id),
      name: String(r.name),
      status: String(r.status) as RunStatus,
      startedAt: iso(r.started_at),
      endedAt: r.ended_at === null ? null : iso(r.ended_at),
      durationMs: r.duration_ms === null ? null : Number(r.duration_ms),
      seed: Number(r.seed),
      params: JSON.parse(String(r.params)) as RunInfo['params'],
      metrics: JSON.parse(String(r.metrics)) as RunInfo['metrics'],
      tags: JSON.parse(String(r.tags)) as string[],
      notes: String(r.notes),
      dataset: String(r.dataset),
      fingerprint: r.fingerprint === null ? null : (JSON.parse(String(r.fingerprint)) as DatasetFingerprint),
      appVersion: String(r.app_version),
      error: r.error === null ? null : String(r.error),
      progress: Number(r.progress),
      phase: String(r.phase),
      children,
    };
  }

  async getRun(id: string): Promise<RunInfo> {
    await this.init();
    // The count as its own scalar subquery, not correlated with the row: DuckDB plans a correlated one as a
    // join over every run, ~9 ms of CPU against ~3 ms (measured), and a sweep reads its runs ~20 times a trial.
    const rows = await this.ws.query(`SELECT *, (SELECT count(*) FROM fleetlens.runs WHERE parent_id = $id) AS n_children FROM fleetlens.runs WHERE id = $id`, { id });
    if (!rows[0]) throw new WorkbenchError('NOT_FOUND', `run ${id} does not exist`, { runId: id });
    return this.toRun(rows[0], Number(rows[0].n_children));
  }

  async listRuns(experiment?: string): Promise<RunInfo[]> {
    await this.init();
    const rows = await this.ws.query(
      `SELECT r.*, coalesce(c.n, 0) AS n_children FROM fleetlens.runs r
       LEFT JOIN (SELECT parent_id, count(*) AS n FROM fleetlens.runs WHERE parent_id IS NOT NULL GROUP BY parent_id) c ON c.parent_id = r.id
       ${experiment ? 'WHERE experiment = $exp' : ''} ORDER BY started_at DESC, id DESC`,
      experiment ? { exp: experiment } : undefined,
    );
    return rows.map((r) => this.toRun(r, Number(r.n_children)));
  }

  async listExperiments(): Promise<ExperimentInfo[]> {
    await this.init();
    const rows = await this.ws.query(
      `SELECT e.name, e.created_at, count(r.id) AS runs, max(r.started_at) AS last FROM fleetlens.experiments e LEFT JOIN fleetlens.runs r ON r.experiment = e.name GROUP BY 1, 2 ORDER BY last DESC NULLS LAST, e.name`,
    );
    return rows.map((r) => ({ name: String(r.name), runs: Number(r.runs), createdAt: iso(r.created_at), lastRunAt: r.last === null ? null : iso(r.last) }));
  }

  async update(id: string, patch: { name?: string; notes?: string; tags?: string[] }): Promise<RunInfo> {
    await this.getRun(id);
    if (patch.name !== undefined) {
      if (!patch.name.trim()) throw new WorkbenchError('INVALID_ARGUMENT', 'a run name must not be empty');
      await this.ws.run(`UPDATE fleetlens.runs SET name = $v WHERE id = $id`, { id, v: patch.name });
    }
    if (patch.notes !== undefined) await this.ws.run(`UPDATE fleetlens.runs SET notes = $v WHERE id = $id`, { id, v: patch.notes });
    if (patch.tags !== undefined) await this.ws.run(`UPDATE fleetlens.runs SET tags = $v WHERE id = $id`, { id, v: JSON.stringify([...new Set(patch.tags.map((t) => t.trim()).filter(Boolean))]) });
    return this.getRun(id);
  }

  /** Delete runs with their children, artifacts and scores; returns the ids of the runs that existed, children first. */
  async deleteRuns(ids: string[]): Promise<string[]> {
    await this.init();
    const deleted: string[] = [];
    for (const id of ids) {
      const children = (await this.ws.query(`SELECT id FROM fleetlens.runs WHERE parent_id = $id`, { id })).map((r) => String(r.id));
      if (children.length) deleted.push(...(await this.deleteRuns(children)));
      await dropRunScores(this.ws, id);
      await this.ws.run(`DELETE FROM fleetlens.artifacts WHERE run_id = $id`, { id });
      const before = (await this.ws.query(`SELECT count(*) n FROM fleetlens.runs WHERE id = $id`, { id }))[0]!.n;
      await this.ws.run(`DELETE FROM fleetlens.runs WHERE id = $id`, { id });
      if (Number(before) > 0) deleted.push(id);
    }
    // Test rows no remaining run reads go too.
    await dropUnusedRows(this.ws);
    return deleted;
  }
}

export { scoresTable } from './scores.ts';
