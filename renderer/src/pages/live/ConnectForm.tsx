/**
 * Connect form of the Live page (issue #7 item 7): an Event Hub, a model, how
 * event fields map onto the model's columns, an optional k-of-n alarm rule and
 * the table to store into. Preview peeks at the first events (nothing is
 * consumed) and suggests the mapping. The connection string stays in this
 * form's memory until Start hands it to the engine, and is then dropped: it is
 * never shown again.
 */
import { useEffect, useMemo, useState, type FormEvent } from 'react';
import type { StartPosition, StreamPreviewResponse, StreamStartRequest } from '../../../../core/stream/api.ts';
import { call } from '../../api/client.ts';
import { describeError } from '../../components/Notices.tsx';
import { describeConnectError, duplicateFields, initialMapping, mappingRequest, modelChoices, parseConnectionString, type MappingRow, type ModelChoice } from './live-format.ts';
import { FieldsTable, MappingTable } from './MappingTable.tsx';

const POSITIONS: { value: StartPosition; label: string; help: string }[] = [
  { value: 'checkpoint', label: 'Checkpoint', help: 'Resume after what this consumer group already stored here; new partitions start at their earliest event.' },
  { value: 'earliest', label: 'Earliest', help: 'Read every retained event from the start (a first start only).' },
  { value: 'latest', label: 'Latest', help: 'Skip the backlog: only events that arrive from now on.' },
];

/** The engine's table rule (a plain SQL identifier), checked here so the field says it at once. */
const TABLE_RE = /^[A-Za-z_][A-Za-z0-9_]{0,49}$/;

/** Key of the connection string in the desktop app's OS keychain (Electron safeStorage). */
const SECRET_KEY = 'eventhub.connectionString';

type Busy = 'preview' | 'start' | null;

export function ConnectForm({ onStarted }: { onStarted(subscriptionId: string): void }) {
  const [cs, setCs] = useState('');
  const [hub, setHub] = useState('');
  const [group, setGroup] = useState('$Default');
  const [position, setPosition] = useState<StartPosition>('checkpoint');
  const [model, setModel] = useState('');
  const [choices, setChoices] = useState<ModelChoice[] | null>(null);
  const [choicesError, setChoicesError] = useState<unknown>(null);
  const [alarmOn, setAlarmOn] = useState(false);
  const [k, setK] = useState('3');
  const [n, setN] = useState('5');
  const [table, setTable] = useState('live_scores');
  const [preview, setPreview] = useState<StreamPreviewResponse | null>(null);
  const [previewModel, setPreviewModel] = useState('');
  const [rows, setRows] = useState<MappingRow[]>([]);
  const [busy, setBusy] = useState<Busy>(null);
  const [error, setError] = useState<unknown>(null);
  // Read once: the preload's object may be a fresh proxy per access, and it is an effect dependency.
  const [secrets] = useState(() => window.fleetlensDesktop?.secrets ?? null);
  const [remember, setRemember] = useState(false);
  const [hasSaved, setHasSaved] = useState(false);

  const info = useMemo(() => parseConnectionString(cs), [cs]);

  useEffect(() => {
    let alive = true;
    Promise.all([call('registry.list', {}), call('runs.list', {})]).then(
      ([versions, runs]) => {
        if (!alive) return;
        const list = modelChoices(versions, runs);
        setChoices(list);
        // Production first when there is one, else the newest finished run.
        setModel((cur) => cur || (list.find((c) => c.ref.endsWith('@production')) ?? list[0])?.ref || '');
      },
      (err: unknown) => alive && setChoicesError(err),
    );
    secrets?.load(SECRET_KEY).then(
      (v) => alive && setHasSaved(v !== null),
      // No keychain: nothing saved, nothing to offer.
      () => undefined,
    );
    return () => {
      alive = false;
    };
  }, [secrets]);

  const k1 = Number(k);
  const n1 = Number(n);
  const alarmProblem = alarmOn && !(Number.isInteger(k1) && Number.isInteger(n1) && k1 >= 1 && n1 >= 1 && k1 <= n1 && n1 <= 1000) ? 'k and n are whole numbers with 1 ≤ k ≤ n ≤ 1000' : null;
  const tableProblem = TABLE_RE.test(table.trim()) ? null : 'Letters, digits and _ only, not starting with a digit, at most 50 characters';
  const csProblem = cs.trim() === '' ? null : info.problem;
  const hubProblem = cs.trim() !== '' && !info.problem && !info.entityPath && hub.trim() === '' ? 'The connection string has no EntityPath: name the hub' : null;
  const dups = duplicateFields(rows);
  const missing = rows.filter((r) => r.field === '').map((r) => r.column);

  /** What preview and start share. Only sends the hub name when the string does not carry it. */
  const target = (): { connectionString: string; eventHubName?: string; consumerGroup: string } => ({
    connectionString: cs.trim(),
    ...(info.entityPath ? {} : { eventHubName: hub.trim() }),
    consumerGroup: group.trim() || '$Default',
  });

  const runPreview = async (forModel: string): Promise<void> => {
    if (busy || cs.trim() === '' || csProblem || hubProblem) return;
    setBusy('preview');
    setError(null);
    try {
      const res = await call('stream.preview', { ...target(), count: 20, timeoutMs: 5000, ...(forModel ? { model: forModel } : {}) });
      setPreview(res);
      setPreviewModel(forModel);
      setRows(initialMapping(res));
    } catch (err) {
      setError(err);
    } finally {
      setBusy(null);
    }
  };

  // A mapping is suggested for one model's columns: choosing another model after a preview asks again.
  useEffect(() => {
    // Keyed on the model only: runPreview reads the other fields as they are now.
    if (preview && model !== previewModel && busy === null && cs.trim() !== '') void runPreview(model);
  }, [model]);

  const start = async (e: FormEvent): Promise<void> => {
    e.preventDefault();
    if (busy || cs.trim() === '' || csProblem || hubProblem || alarmProblem || tableProblem || !model || dups.size) return;
    setBusy('start');
    setError(null);
    const req: StreamStartRequest = {
      ...target(),
      startPosition: position,
      model,
      table: table.trim(),
      ...(preview && previewModel === model ? { mapping: mappingRequest(rows) } : {}),
      ...(alarmOn ? { alarmRule: { k: k1, n: n1 } } : {}),
    };
    try {
      const { subscriptionId } = await call('stream.start', req);
      if (remember && secrets) {
        // Saving is a convenience: a keychain failure must not undo a started stream.
        await secrets.save(SECRET_KEY, req.connectionString).catch(() => undefined);
      }
      // The engine holds the string now; the page forgets it (it is never shown again).
      setCs('');
      onStarted(subscriptionId);
    } catch (err) {
      setError(err);
      setBusy(null);
    }
  };

  const useSaved = async (): Promise<void> => {
    const v = await secrets?.load(SECRET_KEY).catch(() => null);
    if (v) setCs(v);
  };

  const errView = error === null ? null : describeConnectError(error);
  const errText = error === null ? null : describeError(error);
  const canPreview = busy === null && cs.trim() !== '' && !csProblem && !hubProblem;
  const canStart = canPreview && !!model && !alarmProblem && !tableProblem && dups.size === 0;

  return (
    <form className="panel lv-form" onSubmit={(e) => void start(e)} data-testid="live-form" autoComplete="off">
      <div className="panel-head">
        <h2>Subscribe to an event hub</h2>
        <span className="muted">score live telemetry with a trained model</span>
      </div>
      <div className="lv-form-grid">
        <fieldset className="lv-fieldset">
          <legend>Event hub</legend>
          <label className="lv-field">
            <span className="lv-label">Connection string</span>
            <input
              type="password"
              value={cs}
              onChange={(e) => setCs(e.target.value)}
              placeholder="Endpoint=sb://…;SharedAccessKeyName=…;SharedAccessKey=…;EntityPath=…"
              spellCheck={false}
              autoComplete="off"
              data-testid="live-connection"
              aria-invalid={csProblem ? true : undefined}
            />
            {csProblem ? (
              <span className="hint warn" data-testid="live-connection-problem">
                {csProblem}
              </span>
            ) : (
              <span className="hint">
                {info.host ? (
                  <>
                    <span className="mono">{info.host}</span>
                    {info.keyName ? <> · policy <span className="mono">{info.keyName}</span></> : null} ·{' '}
                  </>
                ) : null}
                {secrets ? 'Handed to the engine on Start and not shown again; kept in memory unless remembered below.' : 'Browser mode keeps it in the engine’s memory only: after a restart of the engine, paste it again. It is never shown again here.'}
              </span>
            )}
            {secrets && (
              <span className="lv-inline">
                <label className="lv-check">
                  <input type="checkbox" checked={remember} onChange={(e) => setRemember(e.target.checked)} /> Remember in the OS keychain
                </label>
                {hasSaved && cs === '' && (
                  <button type="button" className="btn btn-small" onClick={() => void useSaved()}>
                    Use the saved one
                  </button>
                )}
              </span>
            )}
          </label>
          <div className="lv-row">
            <label className="lv-field">
              <span className="lv-label">Hub name</span>
              <input value={info.entityPath ?? hub} onChange={(e) => setHub(e.target.value)} readOnly={info.entityPath !== null} placeholder="from EntityPath, else type it" data-testid="live-hub" />
              {hubProblem ? <span className="hint warn">{hubProblem}</span> : info.entityPath ? <span className="hint">from EntityPath</span> : null}
            </label>
            <label className="lv-field">
              <span className="lv-label">Consumer group</span>
              <input value={group} onChange={(e) => setGroup(e.target.value)} placeholder="$Default" data-testid="live-group" />
            </label>
          </div>
          <div className="lv-field">
            <span className="lv-label">Start position</span>
            <div className="segmented" role="radiogroup" aria-label="Start position">
              {POSITIONS.map((p) => (
                <label key={p.value} className={position === p.value ? 'on' : ''} title={p.help}>
                  <input type="radio" name="lv-position" value={p.value} checked={position === p.value} onChange={() => setPosition(p.value)} data-testid={`live-position-${p.value}`} />
                  {p.label}
                </label>
              ))}
            </div>
            <span className="hint">{POSITIONS.find((p) => p.value === position)?.help}</span>
          </div>
        </fieldset>
        <fieldset className="lv-fieldset">
          <legend>Scoring</legend>
          <label className="lv-field">
            <span className="lv-label">Model</span>
            <select value={model} onChange={(e) => setModel(e.target.value)} disabled={!choices || choices.length === 0} data-testid="live-model">
              {choices === null && <option value="">{choicesError ? 'could not list models' : 'loading models…'}</option>}
              {choices?.length === 0 && <option value="">no trained model yet</option>}
              {choices && choices.some((c) => c.group === 'registered') && (
                <optgroup label="Registered models">
                  {choices
                    .filter((c) => c.group === 'registered')
                    .map((c) => (
                      <option key={c.ref} value={c.ref}>
                        {c.label}
                      </option>
                    ))}
                </optgroup>
              )}
              {choices && choices.some((c) => c.group === 'run') && (
                <optgroup label="Finished runs">
                  {choices
                    .filter((c) => c.group === 'run')
                    .map((c) => (
                      <option key={c.ref} value={c.ref}>
                        {c.label}
                      </option>
                    ))}
                </optgroup>
              )}
            </select>
            {choicesError !== null ? (
              <span className="hint warn">Could not list models: {describeError(choicesError).message}</span>
            ) : choices?.length === 0 ? (
              <span className="hint warn">
                Train one on the <a href="#/models">Models page</a> first.
              </span>
            ) : (
              <span className="hint">A registered name@alias is resolved to its version once, at Start.</span>
            )}
          </label>
          <div className="lv-field">
            <span className="lv-label">Alarm rule</span>
            <span className="lv-inline">
              <label className="lv-check">
                <input type="checkbox" checked={alarmOn} onChange={(e) => setAlarmOn(e.target.checked)} data-testid="live-alarm-on" /> alarm when
              </label>
              <input className="lv-num" value={k} onChange={(e) => setK(e.target.value)} disabled={!alarmOn} inputMode="numeric" aria-label="k" data-testid="live-alarm-k" />
              <span>of the last</span>
              <input className="lv-num" value={n} onChange={(e) => setN(e.target.value)} disabled={!alarmOn} inputMode="numeric" aria-label="n" data-testid="live-alarm-n" />
              <span>events of a device are anomalous</span>
            </span>
            {alarmProblem ? <span className="hint warn">{alarmProblem}</span> : <span className="hint">{alarmOn ? 'Fewer, steadier alarms.' : 'Off: every anomalous event that follows a normal one raises an alarm.'}</span>}
          </div>
          <label className="lv-field">
            <span className="lv-label">Store scored events in table</span>
            <input className="mono" value={table} onChange={(e) => setTable(e.target.value)} spellCheck={false} data-testid="live-table" aria-invalid={tableProblem ? true : undefined} />
            {tableProblem ? (
              <span className="hint warn">{tableProblem}</span>
            ) : (
              <span className="hint">
                Dead letters go to <span className="mono">{table.trim()}_dead_letters</span>, alarms to <span className="mono">{table.trim()}_alarms</span>; query them in Explore › SQL.
              </span>
            )}
          </label>
        </fieldset>
      </div>
      <div className="lv-actions">
        <button type="button" className="btn" disabled={!canPreview} onClick={() => void runPreview(model)} data-testid="live-preview">
          {busy === 'preview' ? 'Reading first events…' : 'Preview'}
        </button>
        <button type="submit" className="btn btn-primary" disabled={!canStart} data-testid="live-start">
          {busy === 'start' ? 'Connecting…' : 'Start'}
        </button>
        <span className="hint">{preview ? 'Check the mapping below, then Start.' : 'Preview reads the first events (nothing is consumed) and suggests how fields map onto the model.'}</span>
      </div>
      {errView && errText && (
        <div className="lv-error" role="alert" data-testid="live-form-error" data-kind={errView.kind}>
          <div className="error-box">
            <div className="error-box-head">
              <span className="error-box-title" data-testid="live-form-error-title">
                {errView.title}
              </span>
              {errText.code && <span className="code-chip">{errText.code}</span>}
              <button type="button" className="icon-button" aria-label="Dismiss" onClick={() => setError(null)}>
                ×
              </button>
            </div>
            {errView.hint && <div className="lv-error-hint">{errView.hint}</div>}
            <div className="error-box-message mono" data-testid="live-form-error-message">
              {errText.message}
            </div>
          </div>
        </div>
      )}
      {preview && (
        <section className="lv-preview" data-testid="live-preview-result">
          <div className="lv-preview-head">
            <b>{preview.events.length}</b>&nbsp;{preview.events.length === 1 ? 'event' : 'events'} read from partitions {preview.partitionIds.join(', ')}
            {preview.events.length === 0 && <span className="hint warn">&nbsp;· the hub holds no events yet: the mapping cannot be checked until some arrive</span>}
            {previewModel !== model && <span className="hint warn">&nbsp;· suggested for another model; reading again…</span>}
          </div>
          {preview.modelColumns.length > 0 ? (
            <>
              <MappingTable rows={rows} fields={preview.fields} duplicates={dups} onChange={setRows} />
              {missing.length > 0 && (
                <div className="hint warn lv-preview-note" data-testid="live-mapping-missing">
                  No field for {missing.map((m) => `‘${m}’`).join(', ')}: events without it are dead-lettered as missing_field. Pick a field above if one carries it.
                </div>
              )}
              {dups.size > 0 && <div className="hint warn lv-preview-note">A field can feed one column only: {[...dups].join(', ')}.</div>}
            </>
          ) : (
            <>
              <div className="hint lv-preview-note">Choose a model to map these fields onto its columns.</div>
              <FieldsTable fields={preview.fields} />
            </>
          )}
          {preview.events.length > 0 && (
            <details className="lv-events">
              <summary>First events</summary>
              <pre className="mono" data-testid="live-preview-events">
                {preview.events
                  .slice(0, 5)
                  .map((ev) => `#${ev.sequenceNumber} · partition ${ev.partitionId} · ${ev.enqueuedAt}\n${JSON.stringify(ev.body)}`)
                  .join('\n\n')}
              </pre>
            </details>
          )}
        </section>
      )}
    </form>
  );
}
