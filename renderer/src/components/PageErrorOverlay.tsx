/** The card a paged virtual table shows over its rows when a page could not be fetched. */
import { useMemo, type ReactNode } from 'react';
import { ErrorBox } from './Notices.tsx';
import type { PagedRows } from './use-paged-rows.ts';

/**
 * The `overlay` of a VirtualTable fed by usePagedRows: the fetch error with a
 * Retry button while `paged.error` is set, undefined otherwise (no overlay).
 */
export function usePageErrorOverlay(paged: Pick<PagedRows, 'error' | 'retry'>, title: string, testId: string): ReactNode | undefined {
  const { error, retry } = paged;
  return useMemo(
    () =>
      error !== null ? (
        <div className="overlay-card">
          <ErrorBox title={title} error={error} testId={testId} />
          <button type="button" className="btn" onClick={retry}>
            Retry
          </button>
        </div>
      ) : undefined,
    [error, retry, title, testId],
  );
}
