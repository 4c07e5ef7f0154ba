/**
 * The contract suite: one set of behaviours every transport must carry
 * identically. Run in-process (in-process.test.ts) and over HTTP/WebSocket
 * (http.test.ts); the Electron IPC transport runs the same suite where Electron's
 * binary exists.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { WorkbenchClient } from '../../core/api/contract.ts';
import { WorkbenchError } from '../../core/api/errors.ts';
import type { ImportProgress } from '../../core/data/api.ts';
import { smallCsv, tempDir } from '../helpers/tmp.ts';

export interface ContractHarness {
  client: WorkbenchClient;
  /** Let transport events settle (e.g. WebSocket delivery). */
  settle?: () => Promise<void>;
  close(): Promise<void>;
}

export function describeContract(name: string, make: (workspace: string) => Promise<ContractHarness>): void {
  describe(`contract: ${name}`, () => {
    let h: ContractHarness;
    const tmp = tempDir();
    beforeAll(async () => {
      h = await make(tmp.file('ws.duckdb'));
    });
    afterAll(async () => {
      await h.close();
      tmp.cleanup();
    });

    it('app.info names the product, version and workspace', async () => {
      const info = await h.client.call('app.info', {});
      expect(info.name).toBe('Fleetlens');
      expect(info.version).toMatch(/^\d+\.\d+\.\d+/);
      expect(info.workspace).toBe(tmp.dir + '/ws.duckdb');
    });

    it('imports a file with progress events and lists, gets and previews it', async () => {
      const seen: ImportProgress[] = [];
      const off = h.client.on('datasets.importProgress', (p) => seen.push(p));
      const changed: string[] = [];
      const off2 = h.client.on('datasets.changed', (p) => changed.push(p.name));
      const res = await h.client.call('datasets.import', { dataset: 'fleet', files: [tmp.file('a.csv', smallCsv(200))], jobId: 'c1' });
      await h.settle?.();
      off();
      off2();
      expect(res.jobId).toBe('c1');
      expect(res.rowsAdded).toBe(200);
      expect(seen.length).toBeGreaterThan(0);
      expect(seen.every((p) => p.jobId === 'c1')).toBe(true);
      expect(changed).toContain('fleet');
      const list = await h.client.call('datasets.list', {});
      expect(list.map((d) => d.name)).toContain('fleet');
      const ds = await h.client.call('datasets.get', { name: 'fleet' });
      expect(ds.rowCount).toBe(200);
      const page = await h.client.call('datasets.preview', { name: 'fleet', limit: 3 });
      expect(page.columns.map((c) => c.name)).toEqual(['device_id', 'trip_id', 'timestamp', 'temperature', 'rotation_speed', 'defect']);
      expect(page.values[4]).toEqual([1000, 1001, 1002]);
    });

    it('edits roles and refuses invalid edits with a specific error', async () => {
      const ds = await h.client.call('datasets.setRoles', { name: 'fleet', roles: { defect: 'categorical' } });
      expect(ds.columns.find((c) => c.name === 'defect')!.role).toBe('categorical');
      const err = await h.client.call('datasets.setRoles', { name: 'fleet', roles: { device_id: 'sensor' } }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(WorkbenchError);
      expect((err as WorkbenchError).code).toBe('INVALID_ARGUMENT');
      expect((err as WorkbenchError).message).toContain("column 'device_id' is VARCHAR, a sensor must be numeric");
    });

    it('carries WorkbenchError codes and messages across the transport', async () => {
      const err = await h.client.call('datasets.get', { name: 'nope' }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(WorkbenchError);
      expect((err as WorkbenchError).code).toBe('DATASET_NOT_FOUND');
      expect((err as WorkbenchError).message).toBe("dataset 'nope' does not exist");
      const bad = await h.client.call('datasets.import', { dataset: 'x', files: [tmp.dir + '/missing.csv'] }).catch((e: unknown) => e);
      expect((bad as WorkbenchError).code).toBe('FILE_NOT_FOUND');
      // A method outside the contract is refused by name.
      const unknown = await (h.client.call as (m: string, r: object) => Promise<unknown>)('nope.method', {}).catch((e: unknown) => e);
      expect((unknown as WorkbenchError).code).toBe('UNKNOWN_METHOD');
    });

    it('pages rejects and deletes datasets', async () => {
      const lines = smallCsv(50).trimEnd().split('\n');
      lines[10] = 'dev-1,t,2026-01-01 00:00:00,1.0,2,0,extra';
      await h.client.call('datasets.import', { dataset: 'rj', files: [tmp.file('r.csv', lines.join('\n'))] });
      const r = await h.client.call('datasets.rejects', { name: 'rj' });
      expect(r.total).toBe(1);
      expect(r.rows[0]!.line).toBe(11);
      await h.client.call('datasets.delete', { name: 'rj' });
      const list = await h.client.call('datasets.list', {});
      expect(list.map((d) => d.name)).not.toContain('rj');
    });

    it('trains a run with runs.updated events and deletes it with a runs.deleted event', async () => {
      const updates: string[] = [];
      const deleted: string[][] = [];
      const off = h.client.on('runs.updated', (r) => updates.push(r.status));
      const off2 = h.client.on('runs.deleted', (e) => deleted.push(e.runIds));
      const { runId } = await h.client.call('models.train', { dataset: 'fleet', detector: 'robust-z', experiment: 'contract', seed: 1, label: null, threshold: { kind: 'contamination', value: 0.05 } });
      await h.client.call('models.wait', { runId });
      const run = await h.client.call('runs.get', { runId });
      expect(run.error ?? run.status).toBe('finished');
      const res = await h.client.call('runs.delete', { runIds: [runId, 'no-such-run'] });
      await h.settle?.();
      off();
      off2();
      expect(updates).toContain('finished');
      expect(res.deleted).toBe(1);
      expect(deleted).toEqual([[runId]]);
      expect((await h.client.call('runs.list', { experiment: 'contract' })).map((r) => r.id)).not.toContain(runId);
    });
  });
}
