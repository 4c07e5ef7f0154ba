/**
 * Explore's part of the hash: `#/explore/<dataset>/<tab>` and, for the trip
 * view, `#/explore/<dataset>/view/<trip|device>/<device>/<trip>`, so a reload
 * (or a link pasted into a note) comes back to the same chart.
 */
import { routeHash } from '../../route.ts';

export const EXPLORE_TABS = ['overview', 'trips', 'view', 'distributions', 'profile', 'sql'] as const;
export type ExploreTab = (typeof EXPLORE_TABS)[number];

export const TAB_LABELS: Record<ExploreTab, string> = {
  overview: 'Overview',
  trips: 'Trips',
  view: 'Trip view',
  distributions: 'Distributions',
  profile: 'Profile',
  sql: 'SQL',
};

/** What the trip view charts: one trip, or one device across all its trips. */
export interface ChartTarget {
  scope: 'trip' | 'device';
  device: string | null;
  /** Kept in device scope too, so toggling back returns to the same trip. */
  trip: string | null;
}

export interface ExploreRoute {
  dataset: string | null;
  tab: ExploreTab;
  target: ChartTarget | null;
}

/** Stands for "no value" in a path segment (the router drops empty segments). */
const NONE = '~';

export function parseExploreRoute(rest: string[]): ExploreRoute {
  const dataset = rest[0] ?? null;
  const tab: ExploreTab = (EXPLORE_TABS as readonly string[]).includes(rest[1] ?? '') ? (rest[1] as ExploreTab) : 'overview';
  let target: ChartTarget | null = null;
  if (tab === 'view' && (rest[2] === 'trip' || rest[2] === 'device')) {
    const device = rest[3] === undefined || rest[3] === NONE ? null : rest[3];
    const trip = rest[4] === undefined || rest[4] === NONE ? null : rest[4];
    if (device !== null || trip !== null) target = { scope: rest[2] === 'trip' && trip !== null ? 'trip' : 'device', device, trip };
  }
  return { dataset, tab, target };
}

export function exploreHash(dataset: string, tab: ExploreTab = 'overview', target?: ChartTarget | null): string {
  if (tab === 'view' && target) return routeHash('explore', dataset, 'view', target.scope, target.device ?? NONE, target.trip ?? NONE);
  return routeHash('explore', dataset, tab);
}
