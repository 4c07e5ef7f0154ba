/**
 * One subscription's figures for the running view. At thousands of events per
 * second the page must never render per event: the engine already sums events
 * into one `stream.stats` per second, and `stream.alert`s (up to 50 a second)
 * are buffered here and applied together with the next stats tick, so the view
 * renders about once a second whatever the event rate.
 */
import { useEffect, useRef, useState } from 'react';
import type { StreamAlert, StreamStatus } from '../../../../core/stream/api.ts';
import { call, on } from '../../api/client.ts';

/** Alerts kept in the feed; older ones stay in `<table>_alarms` (stream.alerts reads them). */
export const FEED_CAP = 200;

/** Flush buffered alerts this long after the first one when no stats tick comes (a stopped stream sends none). */
const ALERT_FALLBACK_MS = 1500;

/** Identity of an alert: the event (partition, sequence number) and the device, since one event may carry several records. */
export function alertKey(a: StreamAlert): string {
  return `${a.partitionId}:${a.sequenceNumber}:${a.device}:${a.time}`;
}

export interface LiveStream {
  status: StreamStatus | null;
  /** Newest first, at most FEED_CAP. */
  alerts: StreamAlert[];
  /** Failure of the initial status or alerts read (e.g. the engine restarted and forgot the id). */
  loadError: unknown;
  /** Replace the status after a Pause/Resume/Stop answer, without waiting for the next tick. */
  setStatus(s: StreamStatus): void;
}

/**
 * Follow `subscriptionId`: its status (initial read, then every `stream.stats`) and its
 * alert feed (the stored recent alarms, then every `stream.alert`). `onNewAlerts` gets each
 * batch of newly pushed alerts once, oldest first (for desktop notifications).
 */
export function useLiveStream(subscriptionId: string, onNewAlerts?: (batch: StreamAlert[]) => void): LiveStream {
  const [status, setStatus] = useState<StreamStatus | null>(null);
  const [alerts, setAlerts] = useState<StreamAlert[]>([]);
  const [loadError, setLoadError] = useState<unknown>(null);
  const notify = useRef(onNewAlerts);
  notify.current = onNewAlerts;

  useEffect(() => {
    let alive = true;
    let pending: StreamAlert[] = [];
    let pendingStatus: StreamStatus | null = null;
    let timer = 0;
    const seen = new Set<string>();

    const flush = (): void => {
      if (timer) window.clearTimeout(timer);
      timer = 0;
      if (!alive) return;
      const batch = pending.filter((a) => !seen.has(alertKey(a)));
      pending = [];
      for (const a of batch) seen.add(alertKey(a));
      // One state update per tick for both: React batches them into one render.
      if (pendingStatus) setStatus(pendingStatus);
      pendingStatus = null;
      if (batch.length) {
        setAlerts((prev) => [...batch.slice().reverse(), ...prev].slice(0, FEED_CAP));
        notify.current?.(batch);
      }
      // The set only guards against the stored list and the pushes overlapping: keep it bounded, oldest out first.
      for (const k of seen) {
        if (seen.size <= FEED_CAP * 5) break;
        seen.delete(k);
      }
    };

    const offStats = on('stream.stats', (s) => {
      if (s.subscriptionId !== subscriptionId) return;
      pendingStatus = s;
      flush();
    });
    const offAlert = on('stream.alert', (a) => {
      if (a.subscriptionId !== subscriptionId) return;
      // A burst longer than the feed cannot be shown anyway; keep the newest.
      if (pending.length >= FEED_CAP) pending.shift();
      pending.push(a);
      timer ||= window.setTimeout(flush, ALERT_FALLBACK_MS);
    });

    setStatus(null);
    setAlerts([]);
    setLoadError(null);
    call('stream.status', { subscriptionId }).then(
      (s) => alive && setStatus((cur) => cur ?? s),
      (err: unknown) => alive && setLoadError(err),
    );
    call('stream.alerts', { subscriptionId, limit: FEED_CAP }).then(
      (stored) => {
        if (!alive) return;
        const fresh = stored.filter((a) => !seen.has(alertKey(a)));
        for (const a of fresh) seen.add(alertKey(a));
        // Pushed alerts may have landed first; both lists are newest first, so sort the union by enqueue order.
        setAlerts((prev) => [...prev, ...fresh].sort((x, y) => (x.enqueuedAt < y.enqueuedAt ? 1 : x.enqueuedAt > y.enqueuedAt ? -1 : y.sequenceNumber - x.sequenceNumber)).slice(0, FEED_CAP));
      },
      // The feed then starts empty and fills from pushes; the status read reports a dead subscription.
      () => undefined,
    );

    return () => {
      alive = false;
      offStats();
      offAlert();
      if (timer) window.clearTimeout(timer);
    };
  }, [subscriptionId]);

  return { status, alerts, loadError, setStatus };
}
