import { useSyncExternalStore } from 'react';

export const VIEWS = ['queue', 'devices', 'presets', 'history', 'settings'] as const;
export type ViewName = (typeof VIEWS)[number];

export interface Route {
  view: ViewName;
  /** `#/queue/job/<id>`: the job whose detail is open beside the list. */
  jobId: number | null;
}

/** `#/queue` (default), `#/queue/job/12`, `#/devices` … ; anything unknown is the queue. */
export function parseRoute(hash: string): Route {
  const parts = hash.replace(/^#\/?/, '').split('/').filter(Boolean);
  const view = (VIEWS as readonly string[]).includes(parts[0] ?? '') ? (parts[0] as ViewName) : 'queue';
  const id = view === 'queue' && parts[1] === 'job' ? Number(parts[2]) : NaN;
  return { view, jobId: Number.isSafeInteger(id) && id > 0 ? id : null };
}

export function routeHash(route: Partial<Route> & { view: ViewName }): string {
  return route.view === 'queue' && route.jobId ? `#/queue/job/${route.jobId}` : `#/${route.view}`;
}

export function navigate(route: Partial<Route> & { view: ViewName }): void {
  const hash = routeHash(route);
  if (window.location.hash !== hash) window.location.hash = hash;
}

function subscribe(fn: () => void): () => void {
  window.addEventListener('hashchange', fn);
  return () => window.removeEventListener('hashchange', fn);
}

/** The current route, re-rendering on every hash change (back/forward included). */
export function useHashRoute(): Route {
  const hash = useSyncExternalStore(subscribe, () => window.location.hash);
  return parseRoute(hash);
}
