/**
 * Hash routing (`#/data/<dataset>/<tab>`): works the same under file:// in
 * Electron and http:// in browser mode, and survives reloads.
 */
import { useEffect, useState } from 'react';

export type PageId = 'data' | 'explore' | 'models' | 'experiments' | 'live';

export const PAGES: readonly PageId[] = ['data', 'explore', 'models', 'experiments', 'live'];

export interface Route {
  page: PageId;
  /** Path segments after the page, URI-decoded. */
  rest: string[];
}

/** Parse a location hash; anything unknown falls back to the Data page. */
export function parseHash(hash: string): Route {
  const parts = hash.replace(/^#\/?/, '').split('/').filter(Boolean).map((p) => {
    try {
      return decodeURIComponent(p);
    } catch {
      return p;
    }
  });
  const page = (PAGES as readonly string[]).includes(parts[0] ?? '') ? (parts[0] as PageId) : 'data';
  return { page, rest: page === parts[0] ? parts.slice(1) : [] };
}

/** Build a hash such as `#/data/fleet/preview`. */
export function routeHash(page: PageId, ...rest: string[]): string {
  return '#/' + [page, ...rest.map(encodeURIComponent)].join('/');
}

/** Navigate; replace keeps tab switches out of the back-button history. */
export function navigate(hash: string, opts: { replace?: boolean } = {}): void {
  if (window.location.hash === hash) return;
  if (opts.replace) {
    window.history.replaceState(window.history.state, '', hash);
    window.dispatchEvent(new HashChangeEvent('hashchange'));
  } else {
    window.location.hash = hash;
  }
}

/** The current route, updated on hashchange. */
export function useRoute(): Route {
  const [route, setRoute] = useState(() => parseHash(window.location.hash));
  useEffect(() => {
    const onChange = (): void => setRoute(parseHash(window.location.hash));
    window.addEventListener('hashchange', onChange);
    return () => window.removeEventListener('hashchange', onChange);
  }, []);
  return route;
}
