/**
 * A killed engine (SIGKILL mid-training) leaves no run marked running forever: the next
 * engine to open the workspace ends it as failed, naming the phase it had reached, and
 * keeps what was stored (the request, the dataset). Training works again.
 */
import { afterAll, describe, expect, it } from 'vitest';
import type { RunInfo } from '../../core/experiments/api.ts';
import { createWorkbench } from '../../core/app.ts';
import { engineClient, forkEngine } from '../helpers/engine-client.ts';
import { SAMPLE_FLEET } from '../helpers/fleet.ts';
import { tempDir } from '../helpers/tmp.ts';

const tmp = tempDir('fleetlens-kill-train-');
afterAll(() => tmp.cleanup());

describe('SIGKILL during training', () => {
  it('ends the interrupted run as failed at the next start, keeping its request and the data', async () => {
    const ws = tmp.file('ws.duckdb');
    const child = forkEngine(ws);
    const client = engineClient(child);
    await client.ready;
    await client.call('datasets.import', { dataset: 'fleet', files: [SAMPLE_FLEET] });
    // Enough trees that the fit lasts well beyond the event that announces it.
    const fitting = new Promise<RunInfo>((resolve) => client.on('runs.updated', (r) => r.status === 'running' && r.phase.startsWith('fitting') && resolve(r)));
    const { runId } = await client.call('models.train', { dataset: 'fleet', detector: 'isolation-forest', experiment: 'killed', params: { n_trees: 10_000, sample_size: 512 } });
    const seen = await fitting;
    expect(seen.id).toBe(runId);
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));

    const wb = await createWorkbench({ workspace: ws, mode: 'in-process' });
    try {
      const run = await wb.api['runs.get']({ runId });
      expect(run.status).toBe('failed');
      expect(run.error).toMatch(/^the engine stopped during 'fitting isolation-forest[^']*' \(the process was killed or crashed\)/);
      expect(run.endedAt).not.toBeNull();
      expect(run.artifacts).toContain('request');
      expect((await wb.api['runs.list']({ experiment: 'killed' })).map((r) => [r.id, r.status])).toEqual([[runId, 'failed']]);
      expect((await wb.api['datasets.list']({})).map((d) => d.name)).toEqual(['fleet']);
      // The workspace is fully usable: the same training now finishes.
      const again = await wb.api['models.train']({ dataset: 'fleet', detector: 'isolation-forest', experiment: 'killed', params: { n_trees: 20 } });
      expect((await wb.api['models.wait'](again)).status).toBe('finished');
    } finally {
      await wb.close();
    }
  }, 60_000);
});
