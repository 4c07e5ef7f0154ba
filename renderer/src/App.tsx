/** App shell: header (workspace, version), left navigation, hash-routed pages. */
import { useEffect, useState, type ReactNode } from 'react';
import type { AppInfo } from '../../core/api/contract.ts';
import { WorkbenchError } from '../../core/api/errors.ts';
import { call, forgetToken, NO_TOKEN_MESSAGE, type Connection } from './api/client.ts';
import { ErrorBoundary } from './components/ErrorBoundary.tsx';
import { ErrorBox, ToastProvider } from './components/Notices.tsx';
import { DataPage } from './pages/DataPage.tsx';
import { ExplorePage } from './pages/ExplorePage.tsx';
import { ExperimentsPage } from './pages/experiments/ExperimentsPage.tsx';
import { LivePage } from './pages/live/LivePage.tsx';
import { runIdFromHash } from './pages/models/links.ts';
import { ModelsPage } from './pages/models/ModelsPage.tsx';
import { RunPage } from './pages/models/RunPage.tsx';
import { PAGES, routeHash, useRoute, type PageId } from './route.ts';

const LABELS: Record<PageId, string> = { data: 'Data', explore: 'Explore', models: 'Models', experiments: 'Experiments', live: 'Live' };

/** 16 px stroke icons, inline so the strict CSP needs no extra sources. */
const ICONS: Record<PageId, ReactNode> = {
  data: (
    <>
      <ellipse cx="8" cy="3.5" rx="5.5" ry="2" />
      <path d="M2.5 3.5v9c0 1.1 2.5 2 5.5 2s5.5-.9 5.5-2v-9M2.5 8c0 1.1 2.5 2 5.5 2s5.5-.9 5.5-2" />
    </>
  ),
  explore: <path d="M1.5 13.5h13M3 11l3-4 3 2.5 4.5-6" />,
  models: (
    <>
      <circle cx="4" cy="4" r="1.8" />
      <circle cx="12" cy="4" r="1.8" />
      <circle cx="8" cy="12" r="1.8" />
      <path d="M5.3 5.3 7 10.4M10.7 5.3 9 10.4M5.8 4h4.4" />
    </>
  ),
  experiments: <path d="M6 1.5h4M6.5 1.5v4.5L2.5 13a1 1 0 0 0 .9 1.5h9.2a1 1 0 0 0 .9-1.5L9.5 6V1.5M4.5 10h7" />,
  live: (
    <>
      <circle cx="8" cy="8" r="1.6" />
      <path d="M5 5a4.2 4.2 0 0 0 0 6M11 5a4.2 4.2 0 0 1 0 6M3 3a7 7 0 0 0 0 10M13 3a7 7 0 0 1 0 10" />
    </>
  ),
};

/** Full-page explanation for browser mode without a (valid) token. */
export function TokenMessage({ stale = false }: { stale?: boolean }) {
  return (
    <div className="token-page" data-testid="token-message">
      <div className="token-card">
        <div className="brand-mark big">Fleetlens</div>
        <h1>This page needs its access token</h1>
        <p className="token-lead" title={NO_TOKEN_MESSAGE}>
          Open the URL printed by <code>npm run web</code> (it carries the access token).
        </p>
        <p className="muted">
          {stale ? 'The token this tab has is not accepted by this server (a restarted server makes a new one). ' : ''}
          Browser mode serves the workbench on 127.0.0.1 and answers only requests that carry the per-launch token. Start it with <code>npm run web</code> (or{' '}
          <code>fleetlens web</code>) and open the <code>http://127.0.0.1:PORT/?token=…</code> address it prints; the token is then kept for this tab only.
        </p>
      </div>
    </div>
  );
}

export function App({ connection }: { connection: Connection }) {
  const route = useRoute();
  // A run page (#/runs/<id>) belongs with the experiments it is listed in.
  const active: PageId = runIdFromHash(window.location.hash) !== null ? 'experiments' : route.page;
  const [info, setInfo] = useState<AppInfo | null>(null);
  const [infoError, setInfoError] = useState<unknown>(null);
  const [tokenState, setTokenState] = useState<'ok' | 'missing' | 'stale'>(connection.kind === 'no-token' ? 'missing' : 'ok');

  useEffect(() => {
    if (tokenState !== 'ok') return;
    call('app.info', {}).then(setInfo, (err: unknown) => {
      if (err instanceof WorkbenchError && err.code === 'UNAUTHORIZED') {
        forgetToken();
        setTokenState('stale');
      } else {
        setInfoError(err);
      }
    });
  }, [tokenState]);

  useEffect(() => {
    document.title = `${LABELS[route.page]} · Fleetlens`;
  }, [route.page]);

  if (tokenState !== 'ok') return <TokenMessage stale={tokenState === 'stale'} />;

  return (
    <ToastProvider>
      <div className="app">
        <header className="topbar" data-testid="topbar">
          <a className="brand" href={routeHash('data')}>
            <span className="brand-logo" aria-hidden="true" />
            Fleetlens
          </a>
          <span className="topbar-sep" />
          <span className="topbar-label">workspace</span>
          <span className="workspace-path mono" title={info?.workspace} data-testid="workspace-path">
            {info?.workspace ?? '…'}
          </span>
          <span className="spacer" />
          {info && (
            <>
              <span className="pill" title="How this window reaches the engine">
                {info.mode === 'electron' ? 'desktop' : info.mode}
              </span>
              <span className="version" data-testid="app-version">
                v{info.version}
              </span>
            </>
          )}
        </header>
        <nav className="sidenav" aria-label="Pages">
          {PAGES.map((p) => (
            <a key={p} href={routeHash(p)} className={`nav-item${active === p ? ' active' : ''}`} aria-current={active === p ? 'page' : undefined} data-testid={`nav-${p}`}>
              <svg viewBox="0 0 16 16" width="16" height="16" fill="none" stroke="currentColor" strokeWidth="1.3" strokeLinecap="round" strokeLinejoin="round" aria-hidden="true">
                {ICONS[p]}
              </svg>
              {LABELS[p]}
            </a>
          ))}
        </nav>
        <main className="main">
          {infoError !== null && (
            <div className="banner">
              <ErrorBox title="The Fleetlens engine did not answer" error={infoError} testId="engine-error" />
            </div>
          )}
          <ErrorBoundary resetKey={route.page}>{runIdFromHash(window.location.hash) !== null ? <RunPage key={runIdFromHash(window.location.hash)} runId={runIdFromHash(window.location.hash)!} /> : route.page === 'data' ? <DataPage rest={route.rest} /> : route.page === 'explore' ? <ExplorePage rest={route.rest} /> : route.page === 'models' ? <ModelsPage rest={route.rest} /> : route.page === 'experiments' ? <ExperimentsPage rest={route.rest} /> : <LivePage rest={route.rest} />}</ErrorBoundary>
        </main>
      </div>
    </ToastProvider>
  );
}
