/**
 * The alarm feed: newest first, capped (see use-live-stream.ts), each alarm with
 * its event time, device, score against the threshold and the sensors that
 * drove it. The device links to Explore's view of that device in the model's
 * training dataset; a click first reads the alarm event's own trip from the
 * scored table (the stream's times need not match the dataset's, trip ids do)
 * so the view opens on that trip when the dataset has it.
 */
import { memo, useCallback, type MouseEvent } from 'react';
import type { StreamAlert } from '../../../../core/stream/api.ts';
import { call } from '../../api/client.ts';
import { navigate } from '../../route.ts';
import { exploreHashAt } from '../models/links.ts';
import { alertKey } from './use-live-stream.ts';
import { formatEventTime } from './live-format.ts';

/** What the links need to know; a null dataset means there is nothing to open in Explore. */
export interface ExploreTarget {
  /** The model's training dataset, when it is in this workspace. */
  dataset: string | null;
  temporal: boolean;
  /** The dataset's trip column (also stored in the scored table when the model reads it), else null. */
  tripColumn: string | null;
  /** The dataset's time span on its axis (epoch ms when temporal): an alarm time outside it is not passed on. */
  span: [number, number] | null;
  /** Scored-events table of the subscription. */
  table: string;
}

const sqlText = (v: string): string => `'${v.replace(/'/g, "''")}'`;
const sqlIdent = (v: string): string => `"${v.replace(/"/g, '""')}"`;

/** A device's trips in the dataset: start times, ascending, and where its data ends. */
interface DeviceTrips {
  starts: { trip: string; x: number }[];
  end: number | null;
}

/** Cached per dataset and device: a busy feed links to the same few devices. */
const tripCache = new Map<string, Promise<DeviceTrips | null>>();

function datasetTrips(dataset: string, device: string): Promise<DeviceTrips | null> {
  const key = `${dataset}\u0000${device}`;
  let p = tripCache.get(key);
  if (!p) {
    // No sensors and a narrow width: only the extent and the trip starts are wanted.
    p = call('explore.series', { dataset, device, sensors: [], width: 50 }).then(
      (r) => ({ starts: [...r.tripStarts].sort((x, y) => x.x - y.x), end: r.extent?.[1] ?? null }),
      () => null,
    );
    tripCache.set(key, p);
  }
  return p;
}

/** Where an alarm opens: the event's trip when the dataset has it, and whether that trip's time range holds the alarm time. */
interface AlarmPlace {
  trip: string;
  /** The dataset's trip covers the alarm time (the streamed event is that very data), so zooming to it shows the moment. */
  covers: boolean;
}

/** The alarm event's trip, read from the scored table, when the dataset has that trip; else null. */
async function alarmPlace(a: StreamAlert, target: ExploreTarget): Promise<AlarmPlace | null> {
  if (!target.dataset || !target.tripColumn) return null;
  try {
    const res = await call('sql.run', {
      sql: `SELECT CAST(${sqlIdent(target.tripColumn)} AS VARCHAR) AS trip FROM ${sqlIdent(target.table)} WHERE eh_partition = ${sqlText(a.partitionId)} AND eh_sequence = ${Math.trunc(a.sequenceNumber)} AND device_key = ${sqlText(a.device)} LIMIT 1`,
      limit: 1,
    });
    const trip = res.values[0]?.[0];
    if (typeof trip !== 'string' || trip === '') return null;
    const known = await datasetTrips(target.dataset, a.device);
    const i = known ? known.starts.findIndex((s) => s.trip === trip) : -1;
    if (!known || i < 0) return null;
    const from = known.starts[i]!.x;
    const to = known.starts[i + 1]?.x ?? known.end ?? from;
    return { trip, covers: a.time >= from && a.time <= to };
  } catch {
    // The model may not read the trip column (then the table has none): the device view is the answer.
    return null;
  }
}

/**
 * The Explore hash for an alarm: its trip when known, else its device. The zoom window around
 * the alarm time goes along only where the dataset holds that time (a replay or another fleet
 * can carry the same trip ids at other times), so the view never opens on an empty stretch.
 */
function alarmHash(a: StreamAlert, target: ExploreTarget, place: AlarmPlace | null): string | null {
  if (!target.dataset) return null;
  const inside = place ? place.covers : target.span !== null && a.time >= target.span[0] && a.time <= target.span[1];
  return exploreHashAt({ dataset: target.dataset, device: a.device, trip: place?.trip ?? null, t: inside ? a.time : null, temporal: target.temporal });
}

export const AlertFeed = memo(function AlertFeed({ alerts, target, onChart, cap }: { alerts: StreamAlert[]; target: ExploreTarget; onChart(device: string): void; cap: number }) {
  return (
    <section className="panel lv-feed" data-testid="live-feed">
      <div className="panel-head">
        <h2>Alarms</h2>
        <span className="muted" data-testid="live-feed-count">
          {alerts.length === 0 ? 'none yet' : alerts.length >= cap ? `latest ${cap}` : `${alerts.length}`}
        </span>
      </div>
      {alerts.length === 0 ? (
        <div className="lv-feed-empty" data-testid="live-feed-empty">
          No alarms in this subscription yet. An alarm fires when a device’s events cross the model threshold (per the alarm rule); each one lands here and in the <span className="mono">_alarms</span> table.
        </div>
      ) : (
        <ol className="lv-feed-list">
          {alerts.map((a) => (
            <AlertRow key={alertKey(a)} alert={a} target={target} onChart={onChart} />
          ))}
        </ol>
      )}
    </section>
  );
});

const AlertRow = memo(function AlertRow({ alert: a, target, onChart }: { alert: StreamAlert; target: ExploreTarget; onChart(device: string): void }) {
  const href = alarmHash(a, target, null);
  const open = useCallback(
    async (e: MouseEvent<HTMLAnchorElement>) => {
      // Modified clicks open the plain device link in a new tab/window as the browser would.
      if (!href || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
      e.preventDefault();
      navigate(alarmHash(a, target, await alarmPlace(a, target)) ?? href);
    },
    [a, target, href],
  );
  const over = a.threshold > 0 ? a.score / a.threshold : null;
  return (
    <li className="lv-alert" data-testid="live-alert" data-device={a.device} data-time={a.time}>
      <div className="lv-alert-line">
        <span className="lv-alert-time mono" title={`enqueued ${a.enqueuedAt} · partition ${a.partitionId} · sequence ${a.sequenceNumber}${a.eventId ? ` · event ${a.eventId}` : ''}`}>
          {formatEventTime(a.time, target.temporal)}
        </span>
        {href ? (
          <a className="lv-alert-device mono" href={href} onClick={(e) => void open(e)} title={`Open ${a.device} (its trip when known) in Explore, dataset ${target.dataset}`} data-testid="live-alert-link">
            {a.device}
          </a>
        ) : (
          <span className="lv-alert-device mono" title="The model's training dataset is not in this workspace: nothing to open in Explore">
            {a.device}
          </span>
        )}
        <span className="spacer" />
        <span className="lv-alert-score" title={`score ${a.score} ≥ threshold ${a.threshold}`}>
          score <b className="mono">{a.score.toPrecision(3)}</b>
          {over !== null && <span className="muted"> ×{over.toFixed(2)}</span>}
        </span>
        <button type="button" className="btn btn-small" onClick={() => onChart(a.device)} title={`Chart ${a.device} above`}>
          chart
        </button>
      </div>
      {a.sensors.length > 0 && (
        <div className="lv-alert-sensors">
          {a.sensors.map((s) => (
            <span key={s.sensor} className="lv-contrib" title={`share of the detector's weight: ${s.weight.toFixed(3)}`}>
              <span className="lv-contrib-bar" style={{ width: `${Math.round(Math.min(1, s.weight / (a.sensors[0]!.weight || 1)) * 100)}%` }} />
              <span className="mono">{s.sensor}</span>
            </span>
          ))}
        </div>
      )}
    </li>
  );
});
