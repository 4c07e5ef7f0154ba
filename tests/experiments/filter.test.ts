import { describe, expect, it } from 'vitest';
import { filterRuns, parseFilter } from '../../core/experiments/filter.ts';
import { WorkbenchError } from '../../core/api/errors.ts';
import type { RunInfo } from '../../core/experiments/api.ts';

function run(id: string, metrics: Record<string, number>, params: Record<string, string | number>, tags: string[] = [], status: RunInfo['status'] = 'finished'): RunInfo {
  return { id, experiment: 'e', parentId: null, name: `run ${id}`, status, startedAt: '', endedAt: null, durationMs: null, seed: 1, params, metrics, tags, notes: '', dataset: 'fleet', fingerprint: null, appVersion: '0', error: null, progress: 1, phase: '', children: 0 };
}

const runs = [
  run('a', { f1: 0.7, roc_auc: 0.9 }, { detector: 'pca', n_trees: 0 }, ['baseline']),
  run('b', { f1: 0.4, roc_auc: 0.8 }, { detector: 'isolation-forest', n_trees: 100 }),
  run('c', { f1: 0.55 }, { detector: 'pca' }, [], 'failed'),
];

const ids = (q: string) => filterRuns(runs, q).map((r) => r.id);

describe('runs filter language', () => {
  it('filters by metrics, params, tags, status, name with and/or/not/parentheses', () => {
    expect(ids("metrics.f1 > 0.5 and params.detector = 'pca'")).toEqual(['a', 'c']);
    expect(ids("metrics.f1 > 0.5 and params.detector = 'pca' and not status = 'failed'")).toEqual(['a']);
    expect(ids("(tags contains 'baseline' or params.n_trees >= 100)")).toEqual(['a', 'b']);
    expect(ids("name ~ 'B'")).toEqual(['b']);
    expect(ids('metrics.roc_auc <= 0.8')).toEqual(['b']);
    expect(ids('')).toEqual(['a', 'b', 'c']);
    expect(ids('metrics.f1 != 0.4')).toEqual(['a', 'c']);
    expect(ids('metrics.f1 >= -1')).toEqual(['a', 'b', 'c']);
  });

  it('says where a syntax error is', () => {
    const err = (q: string) => { try { parseFilter(q); } catch (e) { return e as WorkbenchError; } throw new Error('no error'); };
    const e1 = err('metrics.f1 > and');
    expect(e1.code).toBe('INVALID_ARGUMENT');
    expect(e1.message).toMatch(/expected a value .* at position 14/);
    expect(e1.details).toEqual({ position: 13 });
    expect(err("params.detector = 'pca").message).toMatch(/unterminated string at position 19/);
    expect(err('(metrics.f1 > 1').message).toMatch(/expected '\)'/);
    expect(err('metrics.f1 > 1 extra').message).toMatch(/unexpected 'extra' at position 16/);
    expect(err('colour = 1').message).toMatch(/unknown field 'colour'/);
  });

  it('names unknown metrics and parameters', () => {
    expect(() => filterRuns(runs, 'metrics.f2 > 1')).toThrow(/unknown metric 'f2' \(runs have f1, roc_auc\)/);
    expect(() => filterRuns(runs, "params.depth = 'x'")).toThrow(/unknown parameter 'depth'/);
  });
});
