/**
 * On-demand paging for virtual tables: the table reports which rows are on
 * screen, this hook fetches the pages covering them (plus one ahead and one
 * behind), keeps a bounded cache, and drops answers that arrive for a table
 * that has since changed. Rows never all sit in memory, so a table of millions
 * of rows costs what the screen shows.
 */
import { useCallback, useEffect, useRef, useState } from 'react';

export type Cell = string | number | boolean | null;

/** One fetched page: `count` rows, read cell by cell (keeps the wire's columnar layout). */
export interface LoadedPage {
  count: number;
  cell(row: number, col: number): Cell;
}

/** Fetch rows [offset, offset+limit). */
export type PageLoader = (offset: number, limit: number) => Promise<LoadedPage>;

export interface PagedRows {
  /** Cell value, or undefined while its page is not loaded. */
  getCell(row: number, col: number): Cell | undefined;
  isLoaded(row: number): boolean;
  /** Tell the hook which rows are visible (inclusive). */
  request(first: number, last: number): void;
  /** Error of the last failed page fetch; cleared by retry(). */
  error: unknown;
  retry(): void;
  /** The first page once loaded (to size columns from real values). */
  firstPage: LoadedPage | null;
  /** Changes whenever a page arrives, so dependents re-render. */
  version: number;
}

/** Pages kept in memory: 40 × 500 rows is far more than any screen, and bounded. */
const MAX_PAGES = 40;
const MAX_IN_FLIGHT = 2;
/** Wait for the scroll to pause this long before fetching, so a scrollbar drag across millions of rows does not fetch every page it passes. */
const SETTLE_MS = 40;

/**
 * Page cache for one table. `resetKey` identifies the table contents (dataset
 * name + update time): a new key empties the cache.
 */
export function usePagedRows(loader: PageLoader, pageSize: number, resetKey: string): PagedRows {
  const pages = useRef(new Map<number, LoadedPage>());
  const inFlight = useRef(new Set<number>());
  const wanted = useRef<{ first: number; last: number } | null>(null);
  const generation = useRef(0);
  const timer = useRef<number | null>(null);
  const loaderRef = useRef(loader);
  loaderRef.current = loader;
  const [version, setVersion] = useState(0);
  const [error, setError] = useState<unknown>(null);
  const [firstPage, setFirstPage] = useState<LoadedPage | null>(null);
  const errorRef = useRef<unknown>(null);

  const evict = useCallback((centre: number) => {
    if (pages.current.size <= MAX_PAGES) return;
    const far = [...pages.current.keys()].sort((a, b) => Math.abs(b - centre) - Math.abs(a - centre));
    for (const p of far.slice(0, pages.current.size - MAX_PAGES)) pages.current.delete(p);
  }, []);

  const pump = useCallback((): void => {
    const w = wanted.current;
    if (!w || errorRef.current !== null) return;
    const firstP = Math.floor(w.first / pageSize);
    const lastP = Math.floor(w.last / pageSize);
    // Visible pages first, then one page of read-ahead each way.
    const order: number[] = [];
    for (let p = firstP; p <= lastP; p++) order.push(p);
    order.push(lastP + 1, firstP - 1);
    for (const p of order) {
      if (inFlight.current.size >= MAX_IN_FLIGHT) return;
      if (p < 0 || pages.current.has(p) || inFlight.current.has(p)) continue;
      const gen = generation.current;
      inFlight.current.add(p);
      loaderRef.current(p * pageSize, pageSize).then(
        (page) => {
          if (gen !== generation.current) return;
          inFlight.current.delete(p);
          if (page.count > 0 || p === 0) pages.current.set(p, page);
          if (p === 0) setFirstPage(page);
          evict(firstP);
          setVersion((v) => v + 1);
          pump();
        },
        (err: unknown) => {
          if (gen !== generation.current) return;
          inFlight.current.delete(p);
          errorRef.current = err;
          setError(err);
        },
      );
    }
  }, [pageSize, evict]);

  useEffect(() => {
    generation.current++;
    pages.current = new Map();
    inFlight.current = new Set();
    errorRef.current = null;
    setError(null);
    setFirstPage(null);
    setVersion((v) => v + 1);
    if (wanted.current) pump();
  }, [resetKey, pump]);

  useEffect(
    () => () => {
      if (timer.current !== null) window.clearTimeout(timer.current);
    },
    [],
  );

  const request = useCallback(
    (first: number, last: number) => {
      wanted.current = { first, last };
      const missing = !pages.current.has(Math.floor(first / pageSize)) || !pages.current.has(Math.floor(last / pageSize));
      if (timer.current !== null) window.clearTimeout(timer.current);
      // Nothing on screen is missing: read ahead at once; otherwise wait for the scroll to settle.
      if (!missing && inFlight.current.size === 0) pump();
      else timer.current = window.setTimeout(pump, inFlight.current.size === 0 && pages.current.size === 0 ? 0 : SETTLE_MS);
    },
    [pageSize, pump],
  );

  const retry = useCallback(() => {
    errorRef.current = null;
    setError(null);
    pump();
  }, [pump]);

  const getCell = useCallback(
    (row: number, col: number): Cell | undefined => {
      const page = pages.current.get(Math.floor(row / pageSize));
      if (!page) return undefined;
      const r = row % pageSize;
      return r < page.count ? page.cell(r, col) : undefined;
    },
    [pageSize],
  );

  const isLoaded = useCallback(
    (row: number): boolean => {
      const page = pages.current.get(Math.floor(row / pageSize));
      return page !== undefined && row % pageSize < page.count;
    },
    [pageSize],
  );

  return { getCell, isLoaded, request, error, retry, firstPage, version };
}
