/**
 * Batch scoring with a run's model (issue #5 item 8): every row of a dataset
 * through the fitted recipe and the detector, written to CSV or Parquet with
 * score, alarm and — for alarm rows — the top contributing features.
 */
import { extname } from 'node:path';
import type { DuckDBAppender } from '@duckdb/node-api';
import { WorkbenchError } from '../api/errors.ts';
import { streamFeatures } from '../features/batch.ts';
import { datasetContext } from '../explore/context.ts';
import { ident, lit, type Workspace } from '../workspace/workspace.ts';
import type { ExperimentStore } from '../experiments/store.ts';
import { ModelWorker } from './model-client.ts';
import type { RunModel } from './train.ts';

/** Columns of the dataset a model needs: its sensors, categoricals and grouping/time columns. */
export function requiredColumns(model: RunModel): string[] {
  const f = model.recipe;
  return [...new Set([...f.recipe.sensors, ...f.recipe.categoricals, f.columns.time, ...f.columns.groups])];
}

/** Refuse a dataset that lacks columns the model's recipe needs, naming them. */
export async function checkColumns(ws: Workspace, model: RunModel, dataset: string): Promise<void> {
  const ctx = await datasetContext(ws, dataset);
  const missing = requiredColumns(model).filter((c) => !ctx.info.columns.some((x) => x.name === c));
  if (missing.length) {
    throw new WorkbenchError('INVALID_ARGUMENT', `dataset '${dataset}' lacks column(s) ${missing.map((m) => `'${m}'`).join(', ')} that the model's recipe needs`, { missing });
  }
}

export async function scoreDataset(ws: Workspace, store: ExperimentStore, runId: string, dataset: string, out: string): Promise<{ path: string; rows: number; alarms: number }> {
  const model = (await store.artifact(runId, 'model')) as RunModel;
  await checkColumns(ws, model, dataset);
  const format = extname(out).toLowerCase() === '.parquet' ? 'parquet' : extname(out).toLowerCase() === '.csv' ? 'csv' : null;
  if (!format) throw new WorkbenchError('INVALID_ARGUMENT', `output must end in .csv or .parquet, got '${out}'`);
  const ctx = await datasetContext(ws, dataset);
  const keep = [...new Set([ctx.device, ctx.trip, ctx.time].filter((c): c is string => c !== null))];
  const tmp = `fleetlens.${ident(`scoring__${runId}__${Date.now()}`)}`;
  await ws.run(`CREATE TABLE ${tmp} (rid DOUBLE, score DOUBLE, alarm BOOLEAN, top_features VARCHAR)`);
  const worker = new ModelWorker();
  const con = await ws.connect();
  let app: DuckDBAppender | null = null;
  let rows = 0;
  let alarms = 0;
  try {
    await worker.load(model.detector);
    app = await con.createAppender(tmp.split('.')[1]!.replace(/"/g, ''), 'fleetlens');
    const cols = model.recipe.featureNames.length;
    for await (const chunk of streamFeatures(ws, dataset, model.recipe, { includeColumns: keep })) {
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
      rows += chunk.rows;
      alarms += alarmIdx.length;
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
    await worker.close();
    await ws.run(`DROP TABLE IF EXISTS ${tmp}`);
  }
  return { path: out, rows, alarms };
}
