/**
 * Live page (issue #7 item 7): subscribe to an Event Hub and watch a model
 * score it. `#/live/new` is the connect form, `#/live/<subscriptionId>` one
 * subscription's running view (so a reload comes back to it); bare `#/live`
 * opens the newest live subscription of this engine, else the form.
 */
import { useEffect, useState } from 'react';
import type { StreamStatus } from '../../../../core/stream/api.ts';
import { call, on } from '../../api/client.ts';
import { ErrorBox } from '../../components/Notices.tsx';
import { navigate, routeHash } from '../../route.ts';
import { ConnectForm } from './ConnectForm.tsx';
import { isLive } from './live-format.ts';
import { RunningView } from './RunningView.tsx';
import './live.css';

/** `#/live/<subscriptionId>` so a reload comes back to the running view; `#/live/new` for the form. */
function liveHash(subscriptionId: string | null): string {
  return routeHash('live', subscriptionId ?? 'new');
}

export function LivePage({ rest }: { rest: string[] }) {
  const selected = rest[0] ?? null;
  const [subs, setSubs] = useState<StreamStatus[] | null>(null);
  const [listError, setListError] = useState<unknown>(null);

  useEffect(() => {
    let alive = true;
    call('stream.list', {}).then(
      (list) => alive && setSubs(list),
      (err: unknown) => alive && setListError(err),
    );
    return () => {
      alive = false;
    };
  }, [selected]);

  // Keep the strip's states current from the same once-a-second ticks (one update per tick, not per event).
  useEffect(
    () =>
      on('stream.stats', (s) =>
        setSubs((cur) => {
          if (!cur) return cur;
          const i = cur.findIndex((x) => x.subscriptionId === s.subscriptionId);
          if (i < 0) return [s, ...cur];
          if (cur[i]!.state === s.state) return cur;
          const next = cur.slice();
          next[i] = s;
          return next;
        }),
      ),
    [],
  );

  // Bare #/live: the newest live subscription, else the form.
  useEffect(() => {
    if (selected !== null || subs === null) return;
    const current = subs.find((s) => isLive(s.state));
    navigate(liveHash(current?.subscriptionId ?? null), { replace: true });
  }, [selected, subs]);

  let body;
  if (selected === null) body = listError !== null ? <ErrorBox title="Could not list subscriptions" error={listError} /> : <div className="lv-loading muted">Reading subscriptions…</div>;
  else if (selected === 'new') body = <ConnectForm onStarted={(id) => navigate(liveHash(id), { replace: true })} />;
  else body = <RunningView key={selected} subscriptionId={selected} onNew={() => navigate(liveHash(null))} />;

  return (
    <div className="live-page" data-testid="live-page">
      {subs !== null && subs.length > 0 && (
        <nav className="lv-subs" aria-label="Subscriptions of this engine">
          <span className="lv-label">Subscriptions</span>
          {subs.map((s) => (
            <a key={s.subscriptionId} href={liveHash(s.subscriptionId)} className={`lv-sub${s.subscriptionId === selected ? ' on' : ''}`} title={`${s.endpoint} · ${s.consumerGroup} → ${s.table}`} data-testid="live-sub">
              <span className={`lv-dot lv-dot-${s.state}`} aria-hidden="true" />
              <span className="mono">{s.endpoint.split('/').pop()}</span> → <span className="mono">{s.table}</span>
              <span className="muted"> · {s.state}</span>
            </a>
          ))}
          <a href={liveHash(null)} className={`lv-sub lv-sub-new${selected === 'new' ? ' on' : ''}`} data-testid="live-sub-new">
            + New
          </a>
        </nav>
      )}
      {body}
    </div>
  );
}
