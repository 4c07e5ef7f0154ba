import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Workbench } from '../../core/app.ts';
import { dropUnusedRows, holdRows, scoresTable, writeRunScores } from '../../core/experiments/scores.ts';
import { tempDir } from '../helpers/tmp.ts';
import { openSampleFleet } from '../helpers/fleet.ts';

let wb: Workbench;
const tmp = tempDir();

beforeAll(async () => {
  wb = await openSampleFleet(tmp);
});
afterAll(async () => {
  await wb.close();
  tmp.cleanup();
});

async function fleetlensTables(prefix: string): Promise<string[]> {
  return (await wb.workspace.query(`SELECT table_name AS t FROM duckdb_tables() WHERE schema_name = 'fleetlens' AND starts_with(table_name, $p) ORDER BY 1`, { p: prefix })).map((r) => String(r.t));
}

describe('stored scores', () => {
  it('trials sharing a preparation share one rows table; each run reads its own scores, aligned with its rows', async () => {
    const { parentId } = await wb.api['models.sweep']({
      base: { dataset: 'fleet', detector: 'isolation-forest', experiment: 'scores', seed: 5 },
      mode: 'grid',
      space: { n_trees: [10, 20, 30] },
      metric: 'roc_auc',
    });
    await wb.api['models.wait']({ runId: parentId });
    const kids = (await wb.api['runs.list']({ experiment: 'scores' })).filter((r) => r.parentId === parentId);
    expect(kids.map((k) => k.status)).toEqual(['finished', 'finished', 'finished']);
    expect(await fleetlensTables('rows__')).toHaveLength(1);

    for (const k of kids) {
      const t = `fleetlens.${scoresTable(k.id)}`;
      const [s] = await wb.workspace.query(`SELECT count(*) AS n, count(DISTINCT rid) AS ids, count(*) FILTER (WHERE alarm <> (score >= $th)) AS wrong FROM ${t}`, { th: k.metrics.threshold! });
      expect(Number(s!.n)).toBe(k.metrics.test_rows);
      expect(Number(s!.ids)).toBe(k.metrics.test_rows);
      expect(Number(s!.wrong)).toBe(0);
      // The run's top anomaly, stored with its row id when the run ended, is the same row in the stored scores.
      const top = (await wb.api['runs.artifact']({ runId: k.id, name: 'top_anomalies' })) as { rid: number; score: number; device: string; t: number }[];
      const [row] = await wb.workspace.query(`SELECT score, device, t FROM ${t} WHERE rid = $rid`, { rid: top[0]!.rid });
      expect(row).toEqual({ score: top[0]!.score, device: top[0]!.device, t: top[0]!.t });
    }
    // Different models, different scores over the same rows.
    const sums = await Promise.all(kids.map(async (k) => Number((await wb.workspace.query(`SELECT sum(score) AS s FROM fleetlens.${scoresTable(k.id)}`))[0]!.s)));
    expect(new Set(sums).size).toBe(3);

    // The run page's series reads a view like a table.
    const series = await wb.api['runs.scoreSeries']({ runId: kids[1]!.id });
    expect(series.score.length).toBeGreaterThan(0);
    expect(series.devices.length).toBeGreaterThan(0);

    // Deleting one run keeps the rows the others read; deleting the rest lets them go.
    await wb.api['runs.delete']({ runIds: [kids[0]!.id] });
    expect(await fleetlensTables('rows__')).toHaveLength(1);
    expect(Number((await wb.workspace.query(`SELECT count(*) AS n FROM fleetlens.${scoresTable(kids[1]!.id)}`))[0]!.n)).toBe(kids[1]!.metrics.test_rows);
    await wb.api['runs.delete']({ runIds: [parentId] });
    expect(await fleetlensTables('rows__')).toEqual([]);
    expect(await fleetlensTables('scorevals__')).toEqual([]);
    const views = await wb.workspace.query(`SELECT view_name FROM duckdb_views() WHERE schema_name = 'fleetlens'`);
    expect(views).toEqual([]);
  });

  it('a score write that fails leaves neither values nor a view behind', async () => {
    await expect(writeRunScores(wb.workspace, 'rows__00000000000000ff', 'failedrun', Float64Array.from([0.1, 0.9]), 0.5)).rejects.toThrow(/rows__00000000000000ff/);
    expect(await fleetlensTables('scorevals__')).toEqual([]);
    expect(await wb.workspace.query(`SELECT view_name FROM duckdb_views() WHERE schema_name = 'fleetlens'`)).toEqual([]);
  });

  it('keeps a rows table a live preparation holds, even with no run reading it yet', async () => {
    await wb.workspace.run(`CREATE TABLE fleetlens.rows__00000000000000aa (rid DOUBLE)`);
    const release = holdRows(wb.workspace, 'rows__00000000000000aa');
    await dropUnusedRows(wb.workspace);
    expect(await fleetlensTables('rows__')).toEqual(['rows__00000000000000aa']);
    release();
    await dropUnusedRows(wb.workspace);
    expect(await fleetlensTables('rows__')).toEqual([]);
  });
});
