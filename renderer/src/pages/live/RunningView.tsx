/**
 * A running (or finished) subscription: state and controls, KPI tiles from the
 * once-a-second `stream.stats`, backlog per partition, live device charts and
 * the alarm feed. Renders about once a second whatever the event rate: the
 * tiles follow the stats tick, alarms are batched onto it (use-live-stream.ts)
 * and the charts poll on their own (DeviceCharts.tsx).
 */
import { memo, useCallback, useEffect, useMemo, useRef, useState, type ReactNode } from 'react';
import type { DatasetInfo } from '../../../../core/data/api.ts';
import type { RunInfo } from '../../../../core/experiments/api.ts';
import type { PartitionStatus, StreamAlert, StreamStatus } from '../../../../core/stream/api.ts';
import { WorkbenchError } from '../../../../core/api/errors.ts';
import { call } from '../../api/client.ts';
import { describeError, ErrorBox, useToasts } from '../../components/Notices.tsx';
import { formatCount, formatDateTime, formatDuration } from '../../format.ts';
import { runHash } from '../models/links.ts';
import { AlertFeed, type ExploreTarget } from './AlertFeed.tsx';
import { DeviceCharts } from './DeviceCharts.tsx';
import { formatLatency, formatPerSecond, formatRate, isLive } from './live-format.ts';
import { notifyPermission, requestNotifyPermission, showAlarmNotification, type NotifyPermission } from './notify.ts';
import { FEED_CAP, useLiveStream } from './use-live-stream.ts';

/** At most one desktop notification this often; alarms in between are counted into the next one. */
const NOTIFY_EVERY_MS = 10_000;

const STATE_LABEL: Record<StreamStatus['state'], string> = { starting: 'Starting', running: 'Running', paused: 'Paused', stopping: 'Stopping', stopped: 'Stopped', failed: 'Failed' };

/** What the training dataset tells the page: time axis, device list, Explore links. */
interface ModelContext {
  run: RunInfo | null;
  dataset: DatasetInfo | null;
  devices: string[];
}

export function RunningView({ subscriptionId, onNew }: { subscriptionId: string; onNew(): void }) {
  const toasts = useToasts();
  const [permission, setPermission] = useState<NotifyPermission>(notifyPermission);
  const [notifyOn, setNotifyOn] = useState(notifyPermission() === 'granted');
  const notifyState = useRef({ on: notifyOn, lastAt: 0, pending: [] as StreamAlert[], count: 0, timer: 0 });
  notifyState.current.on = notifyOn && permission === 'granted';

  const onNewAlerts = useCallback((batch: StreamAlert[]) => {
    const st = notifyState.current;
    if (!st.on) return;
    st.pending.push(...batch);
    st.count += batch.length;
    const fire = (): void => {
      st.timer = 0;
      st.lastAt = Date.now();
      showAlarmNotification(st.pending.slice(-20), st.count);
      st.pending = [];
      st.count = 0;
    };
    const wait = st.lastAt + NOTIFY_EVERY_MS - Date.now();
    if (wait <= 0) fire();
    else st.timer ||= window.setTimeout(fire, wait);
  }, []);
  useEffect(() => () => window.clearTimeout(notifyState.current.timer), []);

  const { status, alerts, loadError, setStatus } = useLiveStream(subscriptionId, onNewAlerts);
  const [acting, setActing] = useState<'pause' | 'resume' | 'stop' | null>(null);
  const [ctx, setCtx] = useState<ModelContext>({ run: null, dataset: null, devices: [] });
  // The charted device survives a trip to Explore and back (the view remounts) for this tab.
  const deviceKey = `fleetlens.live.device.${subscriptionId}`;
  const [device, setDevice] = useState(() => readSession(deviceKey) ?? '');
  const userPicked = useRef(device !== '');

  // The model's run and its training dataset: names, time axis, devices, Explore links.
  const runId = status?.model ?? null;
  useEffect(() => {
    if (!runId) return;
    let alive = true;
    void (async () => {
      const run = await call('runs.get', { runId }).catch(() => null);
      if (!alive || !run) return;
      setCtx((c) => ({ ...c, run }));
      const dataset = await call('datasets.get', { name: run.dataset }).catch(() => null);
      if (!alive || !dataset) return;
      setCtx((c) => ({ ...c, dataset }));
      const hasDevice = dataset.columns.some((c) => c.role === 'device');
      if (!hasDevice) return;
      const page = await call('explore.trips', { dataset: dataset.name, unit: 'device', sort: { column: 'device', desc: false }, limit: 500 }).catch(() => null);
      const col = page ? page.columns.findIndex((c) => c.name === 'device') : -1;
      if (!alive || !page || col < 0) return;
      // TablePage is columnar: values[c][r].
      setCtx((c) => ({ ...c, devices: (page.values[col] ?? []).map((v) => String(v ?? '')).filter(Boolean) }));
    })();
    return () => {
      alive = false;
    };
  }, [runId]);

  // Until the analyst picks a device, chart the first one that raised an alarm.
  useEffect(() => {
    if (!userPicked.current && !device && alerts.length > 0) setDevice(alerts[0]!.device);
  }, [alerts, device]);

  const pickDevice = useCallback(
    (d: string) => {
      userPicked.current = true;
      setDevice(d);
      writeSession(deviceKey, d);
    },
    [deviceKey],
  );

  const act = async (what: 'pause' | 'resume' | 'stop'): Promise<void> => {
    setActing(what);
    try {
      const s = what === 'pause' ? await call('stream.pause', { subscriptionId }) : what === 'resume' ? await call('stream.resume', { subscriptionId }) : await call('stream.stop', { subscriptionId });
      setStatus(s);
    } catch (err) {
      toasts.notifyError(`Could not ${what} the stream`, err);
    } finally {
      setActing(null);
    }
  };

  const askNotify = async (): Promise<void> => {
    const p = await requestNotifyPermission();
    setPermission(p);
    setNotifyOn(p === 'granted');
  };

  const dataset = ctx.dataset;
  const roles = useMemo(() => {
    const time = dataset?.columns.find((c) => c.role === 'time') ?? null;
    return { timeTitle: time?.name ?? 'time', temporal: time ? /TIMESTAMP|DATE/i.test(time.type) : true };
  }, [dataset]);
  const table = status?.table ?? '';
  const target = useMemo<ExploreTarget>(
    () => ({ dataset: dataset?.name ?? null, temporal: roles.temporal, tripColumn: dataset?.columns.find((c) => c.role === 'trip')?.name ?? null, span: axisSpan(dataset, roles.temporal), table }),
    [dataset, roles.temporal, table],
  );
  const alertDevices = useMemo(() => [...new Set(alerts.map((a) => a.device))].sort().join('\u0001'), [alerts]);
  const devices = useMemo(() => [...new Set([...ctx.devices, ...(alertDevices ? alertDevices.split('\u0001') : [])])].sort(), [ctx.devices, alertDevices]);

  if (loadError !== null && !status) {
    const gone = loadError instanceof WorkbenchError && loadError.code === 'NOT_FOUND';
    return (
      <div className="lv-gone" data-testid="live-gone">
        <ErrorBox title={gone ? 'This subscription is not known to the engine' : 'Could not read the subscription'} error={loadError} />
        <p className="muted">{gone ? 'Subscriptions live as long as the engine that runs them: after a restart, subscribe again (a checkpoint start resumes where it stopped).' : ''}</p>
        <button type="button" className="btn btn-primary" onClick={onNew}>
          New subscription
        </button>
      </div>
    );
  }
  if (!status) return <div className="lv-loading muted">Reading the subscription…</div>;

  const live = isLive(status.state);
  return (
    <div className="lv-running" data-testid="live-running" data-state={status.state}>
      <section className="panel lv-head">
        <span className={`lv-state lv-state-${status.state}`} data-testid="live-state">
          <span className="lv-dot" aria-hidden="true" />
          {STATE_LABEL[status.state]}
        </span>
        <span className="lv-head-item mono" title="Endpoint and hub (the key is never shown)">
          {status.endpoint}
        </span>
        <span className="lv-head-item">
          group <span className="mono">{status.consumerGroup}</span>
        </span>
        <span className="lv-head-item">
          model{' '}
          <a href={runHash(status.model)} className="mono" title={status.model}>
            {ctx.run?.name ?? status.model.slice(0, 8)}
          </a>
        </span>
        <span className="lv-head-item">
          table <span className="mono">{status.table}</span>
        </span>
        <span className="lv-head-item muted" title={status.startedAt}>
          since {formatDateTime(status.startedAt)}
        </span>
        <span className="spacer" />
        {live && <NotifyButton permission={permission} on={notifyOn} onAsk={() => void askNotify()} onToggle={() => setNotifyOn((v) => !v)} />}
        {live ? (
          <>
            {status.state === 'paused' ? (
              <button type="button" className="btn" disabled={acting !== null} onClick={() => void act('resume')} data-testid="live-resume">
                {acting === 'resume' ? 'Resuming…' : 'Resume'}
              </button>
            ) : (
              <button type="button" className="btn" disabled={acting !== null || status.state !== 'running'} onClick={() => void act('pause')} data-testid="live-pause">
                {acting === 'pause' ? 'Pausing…' : 'Pause'}
              </button>
            )}
            <button type="button" className="btn btn-danger-outline" disabled={acting !== null || status.state === 'stopping'} onClick={() => void act('stop')} data-testid="live-stop" title="Store the events in hand, write checkpoints and release the hub">
              {acting === 'stop' || status.state === 'stopping' ? 'Stopping…' : 'Stop'}
            </button>
          </>
        ) : (
          <button type="button" className="btn btn-primary" onClick={onNew} data-testid="live-new">
            New subscription
          </button>
        )}
      </section>
      {status.state === 'paused' && <div className="notice lv-banner">Paused: the hub keeps new events and the backlog grows until Resume.</div>}
      {status.lastError && (
        <div className={status.state === 'failed' ? 'lv-banner' : 'notice lv-banner'} data-testid="live-last-error">
          {status.state === 'failed' ? (
            <ErrorBox title="The stream failed" error={status.lastError} />
          ) : (
            <>
              <b>Last problem</b> ({formatDateTime(status.lastError.at)}, the stream kept going): {status.lastError.message} <span className="code-chip">{status.lastError.code}</span>
            </>
          )}
        </div>
      )}
      <KpiTiles status={status} />
      <div className="lv-body">
        <DeviceCharts subscriptionId={subscriptionId} live={live} temporal={roles.temporal} timeTitle={roles.timeTitle} device={device} devices={devices} onDevice={pickDevice} />
        <div className="lv-side">
          <Partitions partitions={status.partitions} live={live} />
          <AlertFeed alerts={alerts} target={target} onChart={pickDevice} cap={FEED_CAP} />
        </div>
      </div>
    </div>
  );
}

function readSession(key: string): string | null {
  try {
    return window.sessionStorage.getItem(key);
  } catch {
    // Storage disabled: the choice lasts as long as the view.
    return null;
  }
}

function writeSession(key: string, value: string): void {
  try {
    window.sessionStorage.setItem(key, value);
  } catch {
    // As above.
  }
}

/**
 * The dataset's time span on the chart axis: epoch ms for timestamps (naive values read as
 * UTC, as the engine does), raw numbers otherwise; null when unknown.
 */
function axisSpan(d: DatasetInfo | null, temporal: boolean): [number, number] | null {
  if (!d?.timeSpan) return null;
  const at = (v: string | number): number => {
    if (typeof v === 'number') return v;
    if (!temporal) return Number(v);
    const iso = v.trim().replace(' ', 'T');
    return Date.parse(/Z$|[+-]\d\d:?\d\d$/.test(iso) ? iso : `${iso}Z`);
  };
  const span: [number, number] = [at(d.timeSpan.min), at(d.timeSpan.max)];
  return Number.isFinite(span[0]) && Number.isFinite(span[1]) ? span : null;
}

function NotifyButton({ permission, on, onAsk, onToggle }: { permission: NotifyPermission; on: boolean; onAsk(): void; onToggle(): void }) {
  if (permission === 'unsupported') return null;
  if (permission === 'denied') {
    return (
      <span className="hint" title="Allow notifications for this page in the browser’s site settings, then reload">
        notifications blocked
      </span>
    );
  }
  if (permission === 'default') {
    return (
      <button type="button" className="btn" onClick={onAsk} data-testid="live-notify" title="Ask for permission to show a desktop notification on new alarms">
        Notify me of alarms
      </button>
    );
  }
  return (
    <button type="button" className={`btn${on ? ' lv-toggle-on' : ''}`} aria-pressed={on} onClick={onToggle} data-testid="live-notify" title="Desktop notification on new alarms (at most one every 10 s)">
      {on ? 'Notifications on' : 'Notifications off'}
    </button>
  );
}

/** The counters, once per stats tick. `data-value` carries the raw number for tests and tooltips. */
const KpiTiles = memo(function KpiTiles({ status: s }: { status: StreamStatus }) {
  const [reasons, setReasons] = useState<{ reason: string; n: number }[] | null>(null);
  const [reasonsError, setReasonsError] = useState<unknown>(null);
  const [loadingReasons, setLoadingReasons] = useState(false);
  const uptime = Date.now() - new Date(s.startedAt).getTime();
  const stopped = !isLive(s.state);

  // Status has counts only; the reasons are in the dead-letter table, read when asked (one query, not per tick).
  const loadReasons = async (): Promise<void> => {
    setLoadingReasons(true);
    setReasonsError(null);
    try {
      const res = await call('sql.run', { sql: `SELECT reason, count(*) AS n FROM "${s.table}_dead_letters" GROUP BY reason ORDER BY n DESC`, limit: 20 });
      // TablePage is columnar: values[c][r].
      const [reasonCol = [], countCol = []] = res.values;
      setReasons(reasonCol.map((r, i) => ({ reason: String(r), n: Number(countCol[i]) })));
    } catch (err) {
      setReasonsError(err);
    } finally {
      setLoadingReasons(false);
    }
  };

  return (
    <section className="lv-kpis" data-testid="live-kpis">
      {/* The last stats of a stopped stream still carry its 5 s average; nothing is being received any more. */}
      <Tile id="eps" label="Events / s" value={formatPerSecond(stopped ? 0 : s.eventsPerSecond)} raw={stopped ? 0 : s.eventsPerSecond} sub={`${formatCount(s.counts.received)} received${stopped ? ' · stopped' : ` · ${formatDuration(Math.max(0, uptime))}`}`} />
      <Tile id="p50" label="Latency p50" value={formatLatency(s.latencyMs.p50)} raw={s.latencyMs.p50} sub="enqueued → stored, last 10 s" />
      <Tile id="p99" label="Latency p99" value={formatLatency(s.latencyMs.p99)} raw={s.latencyMs.p99} sub="enqueued → stored, last 10 s" tone={s.latencyMs.p99 !== null && s.latencyMs.p99 > 5000 ? 'warn' : undefined} />
      <Tile id="rate" label="Anomaly rate" value={formatRate(s.anomalyRate)} raw={s.anomalyRate} sub="score ≥ threshold, last 10 s" />
      <Tile id="stored" label="Stored" value={formatCount(s.counts.stored)} raw={s.counts.stored} sub={`${formatCount(s.totals.stored)} in table${s.counts.duplicates ? ` · ${formatCount(s.counts.duplicates)} duplicates skipped` : ''}`} />
      <Tile id="dead" label="Dead-lettered" value={formatCount(s.counts.deadLettered)} raw={s.counts.deadLettered} tone={s.counts.deadLettered > 0 ? 'warn' : undefined} sub={`${formatCount(s.totals.deadLettered)} in table`}>
        {s.totals.deadLettered > 0 && (
          <div className="lv-reasons">
            {reasons === null ? (
              <button type="button" className="lv-linkbtn" onClick={() => void loadReasons()} disabled={loadingReasons} data-testid="live-dead-reasons">
                {loadingReasons ? 'reading…' : 'reasons'}
              </button>
            ) : (
              <ul data-testid="live-dead-reasons-list">
                {reasons.map((r) => (
                  <li key={r.reason}>
                    <span className="mono">{r.reason}</span> {formatCount(r.n)}
                  </li>
                ))}
                <li>
                  <button type="button" className="lv-linkbtn" onClick={() => void loadReasons()}>
                    refresh
                  </button>
                </li>
              </ul>
            )}
            {reasonsError !== null && <span className="hint warn">{describeError(reasonsError).message}</span>}
          </div>
        )}
      </Tile>
      <Tile id="alarms" label="Alarms" value={formatCount(s.counts.alarms)} raw={s.counts.alarms} tone={s.counts.alarms > 0 ? 'alarm' : undefined} sub={`${formatCount(s.totals.alarms)} in table`} />
    </section>
  );
});

function Tile({ id, label, value, raw, sub, tone, children }: { id: string; label: string; value: string; raw: number | null; sub: string; tone?: 'warn' | 'alarm'; children?: ReactNode }) {
  return (
    <div className={`panel lv-tile${tone ? ` lv-tile-${tone}` : ''}`} data-testid={`live-kpi-${id}`} data-value={raw === null ? '' : String(raw)}>
      <div className="lv-tile-label">{label}</div>
      <div className="lv-tile-value">{value}</div>
      <div className="lv-tile-sub">{sub}</div>
      {children}
    </div>
  );
}

/** Backlog per partition: a table with a bar per row, scaled to the largest backlog. */
const Partitions = memo(function Partitions({ partitions, live }: { partitions: PartitionStatus[]; live: boolean }) {
  const max = Math.max(1, ...partitions.map((p) => p.backlog ?? 0));
  const total = partitions.reduce((sum, p) => sum + (p.backlog ?? 0), 0);
  return (
    <section className="panel lv-parts" data-testid="live-partitions">
      <div className="panel-head">
        <h2>Backlog per partition</h2>
        <span className="muted">{formatCount(total)} events behind</span>
      </div>
      <table className="grid lv-parts-table">
        <thead>
          <tr>
            <th>partition</th>
            <th className="num">processed seq</th>
            <th className="num">last in hub</th>
            <th>backlog (events)</th>
          </tr>
        </thead>
        <tbody>
          {partitions.map((p) => (
            <tr key={p.partitionId} data-testid="live-partition" data-backlog={p.backlog ?? ''} className={p.owned || !live ? undefined : 'lv-not-owned'} title={p.owned || !live ? undefined : 'Another instance reads this partition'}>
              <td className="mono">
                {p.partitionId}
                {/* A stopped subscription has released every partition: that is not another reader. */}
                {!p.owned && live && <span className="hint"> · not ours</span>}
              </td>
              <td className="num">{p.lastSequenceNumber === null ? '–' : formatCount(p.lastSequenceNumber)}</td>
              <td className="num">{p.lastEnqueuedSequenceNumber === null ? '–' : formatCount(p.lastEnqueuedSequenceNumber)}</td>
              <td className="lv-bar-cell">
                <span className="lv-bar">
                  <span style={{ width: `${p.backlog ? Math.max(2, (p.backlog / max) * 100) : 0}%` }} />
                </span>
                <span className="num lv-bar-num">{p.backlog === null ? '–' : formatCount(p.backlog)}</span>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
});
