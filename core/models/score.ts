/**
 * Batch scoring with a run's model (issue #5 item 8, issue #6 item 5): every row
 * of a dataset through the fitted recipe and the detector, written to CSV or
 * Parquet with score, alarm and — for alarm rows — the top contributing features.
 * A per-group parent routes each group's rows to its child's model (small and
 * unseen groups to the global fallback). Models resolve through the registry.
 */
import { extname } from 'node:path';
import type { DuckDBAppender } from '@duckdb/node-api';
import { WorkbenchError } from '../api/errors.ts';
import { streamFeatures } from '../features/batch.ts';
import { datasetContext } from '../explore/context.ts';
import { ident, lit, type Workspace } from '../workspace/workspace.ts';
import type { ExperimentStore } from '../experiments/store.ts';
import type { PerGroupModel } from '../experiments/orchestrate.ts';
import { ModelWorker } from './model-client.ts';
import type { RunModel } from './train.ts';

type AnyModel = RunModel | PerGroupModel;

function isPerGroup(m: AnyModel): m is PerGroupModel {
  return (m as PerGroupModel).kind === 'per-group';
}

/** Columns of the dataset a run's model needs: its sensors, categoricals, grouping/time columns (and the routing column). */
export async function requiredColumnsOf(store: ExperimentStore, runId: string): Promise<string[]> {
  const m = (await store.artifact(runId, 'model')) as AnyModel;
  if (!isPerGroup(m)) {
    const f = m.recipe;
    return [...new Set([...f.recipe.sensors, ...f.recipe.categoricals, f.columns.time, ...f.columns.groups])];
  }
  const cols = new Set<string>([m.column]);
  for (const id of [...Object.values(m.routes), ...(m.fallback ? [m.fallback] : [])]) for (const c of await requiredColumnsOf(store, id)) cols.add(c);
  return [...cols];
}

/** Refuse a dataset that lacks columns the model needs, naming them. */
export async function checkColumns(ws: Workspace, store: ExperimentStore, runId: string, dataset: string): Promise<void> {
  const ctx = await datasetContext(ws, dataset);
  const missing = (await requiredColumnsOf(store, runId)).filter((c) => !ctx.info.columns.some((x) => x.name === c));
  if (missing.length) {
    throw new WorkbenchError('INVALID_ARGUMENT', `dataset '${dataset}' lacks column(s) ${missing.map((m) => `'${m}'`).join(', ')} that the model's recipe needs`, { missing });
  }
}

/** Score the rows matching `filter` with one run's model, appending (rid, score, alarm, top_features) to the appender. */
async function scoreInto(ws: Workspace, model: RunModel, dataset: string, filter: string | undefined, app: DuckDBAppender): Promise<{ rows: number; alarms: number }> {
  const worker = new ModelWorker();
  let rows = 0;
  let alarms = 0;
  try {
    await worker.load(model.detector);
    const cols = model.recipe.featureNames.length;
    for await (const chunk of streamFeatures(ws, dataset, model.recipe, { filter })) {
      const copy = Float64Array.from(chunk.matrix.data);
      const scores = await worker.score(chunk.matrix);
      const alarmIdx: number[] = [];
      for (let i = 0; i < chunk.rows; i++) if (scores[i]! >= model.threshold) alarmIdx.push(i);
      const rowsToExplain = new Float64Array(alarmIdx.length * cols);
      alarmIdx.forEach((r, k) => rowsToExplain.set(copy.subarray(r * cols, (r + 1) * cols), k * cols));
      const expl = alarmIdx.length ? await worker.explain(rowsToExplain, cols, 3) : [];
      const top = new Map(alarmIdx.map((r, k) => [r, expl[k]!.map((c) => c.feature).join(';')]));
      for (let i = 0; i < chunk.rows; i++) {
        app.appendDouble(chunk.rowIndex[i]!);
        app.appendDouble(scores[i]!);
        app.appendBoolean(scores[i]! >= model.threshold);
        app.appendVarchar(top.get(i) ?? '');
        app.endRow();
      }
      app.flushSync();
      rows += chunk.rows;
      alarms += alarmIdx.length;
    }
  } finally {
    await worker.close();
  }
  return { rows, alarms };
}

export async function scoreDataset(ws: Workspace, store: ExperimentStore, runId: string, dataset: string, out: string): Promise<{ path: string; rows: number; alarms: number }> {
  await checkColumns(ws, store, runId, dataset);
  const format = extname(out).toLowerCase() === '.parquet' ? 'parquet' : extname(out).toLowerCase() === '.csv' ? 'csv' : null;
  if (!format) throw new WorkbenchError('INVALID_ARGUMENT', `output must end in .csv or .parquet, got '${out}'`);
  const model = (await store.artifact(runId, 'model')) as AnyModel;
  const ctx = await datasetContext(ws, dataset);
  const keep = [...new Set([ctx.device, ctx.trip, ctx.time].filter((c): c is string => c !== null))];
  const name = `scoring__${runId}__${Date.now()}`;
  const tmp = `fleetlens.${ident(name)}`;
  await ws.run(`CREATE TABLE ${tmp} (rid DOUBLE, score DOUBLE, alarm BOOLEAN, top_features VARCHAR)`);
  const con = await ws.connect();
  let app: DuckDBAppender | null = null;
  let rows = 0;
  let alarms = 0;
  try {
    app = await con.createAppender(name, 'fleetlens');
    if (isPerGroup(model)) {
      const col = `${ident(model.column)}::VARCHAR`;
      const routed = Object.keys(model.routes);
      for (const [value, child] of Object.entries(model.routes)) {
        const r = await scoreInto(ws, (await store.artifact(child, 'model')) as RunModel, dataset, `${col} = ${lit(value)}`, app);
        rows += r.rows;
        alarms += r.alarms;
      }
      if (model.fallback) {
        const rest = routed.length ? `(${col} IS NULL OR ${col} NOT IN (${routed.map(lit).join(', ')}))` : 'true';
        const r = await scoreInto(ws, (await store.artifact(model.fallback, 'model')) as RunModel, dataset, rest, app);
        rows += r.rows;
        alarms += r.alarms;
      }
    } else {
      const r = await scoreInto(ws, model, dataset, undefined, app);
      rows = r.rows;
      alarms = r.alarms;
    }
    app.closeSync();
    app = null;
    const cols2 = keep.map((c) => `d.${ident(c)}`).join(', ');
    await ws.run(
      `COPY (SELECT ${cols2}${cols2 ? ', ' : ''}s.score, s.alarm, s.top_features FROM ${tmp} s JOIN ${ident(dataset)} d ON d.rowid = s.rid::BIGINT ORDER BY s.rid) TO ${lit(out)} (FORMAT ${format}${format === 'csv' ? ', HEADER' : ''})`,
    );
  } finally {
    app?.closeSync();
    con.closeSync();
    await ws.run(`DROP TABLE IF EXISTS ${tmp}`);
  }
  return { path: out, rows, alarms };
}
