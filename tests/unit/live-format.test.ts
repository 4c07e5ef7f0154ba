/**
 * The Live page's pure helpers (issue #7 item 7): connection strings read without
 * echoing the key, the mapping table ↔ request mapping, error wording per code,
 * and the model picker's choices.
 */
import { describe, expect, it } from 'vitest';
import { WorkbenchError } from '../../core/api/errors.ts';
import type { ModelVersion, RunInfo } from '../../core/experiments/api.ts';
import type { StreamPreviewResponse } from '../../core/stream/api.ts';
import { describeConnectError, duplicateFields, formatEventTime, initialMapping, mappingRequest, modelChoices, parseConnectionString } from '../../renderer/src/pages/live/live-format.ts';

describe('parseConnectionString', () => {
  it('reads host, hub and policy of a full string (keys with = kept whole)', () => {
    const info = parseConnectionString('Endpoint=sb://ns.servicebus.windows.net/;SharedAccessKeyName=listen;SharedAccessKey=abc+/def==;EntityPath=telemetry');
    expect(info).toEqual({ host: 'ns.servicebus.windows.net', entityPath: 'telemetry', keyName: 'listen', problem: null });
  });

  it('names what is missing, never the key', () => {
    expect(parseConnectionString('SharedAccessKey=secret').problem).toMatch(/no Endpoint/);
    expect(parseConnectionString('Endpoint=https://x;SharedAccessKey=secret').problem).toMatch(/sb:\/\//);
    expect(parseConnectionString('Endpoint=sb://x/;SharedAccessKey=secret').problem).toMatch(/SharedAccessKeyName/);
    expect(parseConnectionString('Endpoint=sb://x/;SharedAccessKeyName=k').problem).toMatch(/no SharedAccessKey\./);
    for (const s of ['SharedAccessKey=secret', 'Endpoint=https://x;SharedAccessKey=secret']) expect(parseConnectionString(s).problem).not.toContain('secret');
  });

  it('accepts a SAS token instead of a key, and a string without EntityPath', () => {
    const info = parseConnectionString('endpoint=sb://127.0.0.1:5672;SharedAccessSignature=SharedAccessSignature sr=x&sig=y');
    expect(info.problem).toBeNull();
    expect(info.host).toBe('127.0.0.1:5672');
    expect(info.entityPath).toBeNull();
  });
});

describe('mapping', () => {
  const preview: StreamPreviewResponse = {
    partitionIds: ['0'],
    events: [],
    fields: [
      { path: 'telemetry.temp', types: ['number'], example: '21.5', count: 3 },
      { path: 'device_id', types: ['string'], example: 'dev-1', count: 3 },
      { path: 'ts', types: ['string'], example: '2026-01-01T00:00:00Z', count: 3 },
    ],
    modelColumns: ['temperature', 'timestamp', 'device_id', 'pressure'],
    suggestedMapping: { 'telemetry.temp': 'temperature', ts: 'timestamp' },
    unmatched: ['pressure'],
  };

  it('starts from same-named fields, then the suggestion, else none', () => {
    expect(initialMapping(preview)).toEqual([
      { column: 'temperature', field: 'telemetry.temp' },
      { column: 'timestamp', field: 'ts' },
      { column: 'device_id', field: 'device_id' },
      { column: 'pressure', field: '' },
    ]);
  });

  it('sends renamed fields only (identity and empty rows are the engine default)', () => {
    expect(mappingRequest(initialMapping(preview))).toEqual({ 'telemetry.temp': 'temperature', ts: 'timestamp' });
    expect(mappingRequest([{ column: 'a', field: 'a' }])).toBeUndefined();
  });

  it('flags a field feeding two columns', () => {
    expect([...duplicateFields([{ column: 'a', field: 'x' }, { column: 'b', field: 'x' }, { column: 'c', field: '' }, { column: 'd', field: '' }])]).toEqual(['x']);
  });
});

describe('describeConnectError', () => {
  it('tells auth, unreachable, bad string, model and other failures apart', () => {
    expect(describeConnectError(new WorkbenchError('EVENTHUB_AUTH', 'cannot reach event hub h/x: InvalidSignature')).kind).toBe('auth');
    expect(describeConnectError(new WorkbenchError('EVENTHUB_FAILED', 'cannot reach event hub h/x: connect ECONNREFUSED', { sdkCode: 'ECONNREFUSED' })).kind).toBe('unreachable');
    expect(describeConnectError(new WorkbenchError('EVENTHUB_FAILED', 'cannot reach event hub h/x: no answer within 20 s (wrong host or port, or the hub is down)')).kind).toBe('unreachable');
    expect(describeConnectError(new WorkbenchError('INVALID_ARGUMENT', 'connectionString is not an Event Hubs connection string (Endpoint=sb://…)')).kind).toBe('connection-string');
    expect(describeConnectError(new WorkbenchError('NOT_FOUND', 'run abc has no model')).kind).toBe('model');
    expect(describeConnectError(new WorkbenchError('INVALID_ARGUMENT', "consumer group '$Default' of hub 'h' already feeds table 't' with model m")).kind).toBe('settings');
  });
});

describe('modelChoices', () => {
  const run = (over: Partial<RunInfo>): RunInfo =>
    ({ id: 'r', experiment: 'e', parentId: null, name: 'iforest', status: 'finished', startedAt: '2026-03-01T10:00:00.000Z', params: { detector: 'isolation-forest' }, dataset: 'fleet', children: 0, ...over }) as RunInfo;

  it('lists aliases, unaliased versions, then finished model runs (not sweep parents or children)', () => {
    const versions = [{ name: 'pump', version: 2, aliases: ['production', 'staging'] }, { name: 'pump', version: 1, aliases: [] }] as ModelVersion[];
    const runs = [
      run({ id: 'a' }),
      run({ id: 'b', status: 'running' }),
      run({ id: 'c', parentId: 'p' }),
      run({ id: 'sweep', children: 4, params: { 'sweep.mode': 'grid' } }),
      run({ id: 'per-group', children: 3, params: { 'group.column': 'model_id' } }),
    ];
    expect(modelChoices(versions, runs).map((c) => c.ref)).toEqual(['pump@production', 'pump@staging', 'pump@1', 'a', 'per-group']);
  });
});

describe('formatEventTime', () => {
  it('shows naive timestamps as their UTC wall clock, other axes as numbers', () => {
    expect(formatEventTime(Date.UTC(2026, 0, 27, 4, 31, 5), true)).toBe('2026-01-27 04:31:05');
    expect(formatEventTime(118, false)).toBe('118');
  });
});
