import { useCallback, useEffect, useMemo, useReducer, useRef, useState } from 'react';
import type { JobState } from '../../../../core/shared/job-state.ts';
import type { JobSort } from '../../../../core/shared/protocol/index.ts';
import { useApp, useFrames } from '../../app-context.tsx';
import { PAGE_SIZE, JobPageCache } from '../../state/job-page-cache.ts';
import { onJobsChanged } from '../../state/jobs-changed.ts';
import { createThrottle } from '../../state/throttle.ts';

export interface JobListQuery {
  states: JobState[];
  q: string;
  sort: JobSort;
  dir: 'asc' | 'desc';
}

/** Live changes refetch the visible pages at most this often. */
export const REFRESH_MS = 500;
/** A scrolled-to window is fetched once the list has held still this long… */
export const SETTLE_MS = 80;
/** …or at least this often while it keeps moving. */
export const MAX_WAIT_MS = 300;

export interface JobPages {
  cache: JobPageCache;
  /** Changes whenever rows in the cache change (a render key, nothing more). */
  version: number;
  /** Rows matching the filter; null until the first answer. */
  total: number | null;
  /** All jobs per state, regardless of the filter. */
  counts: Record<string, number>;
  error: unknown;
  /** The list indexes on screen (plus overscan): fetches the pages they need. */
  show(start: number, end: number): void;
  /** Refetches what is on screen and the counts (throttled). */
  refresh(): void;
}

/**
 * The queue's data: pages of `GET /jobs` around the viewport in a sparse cache, patched by live
 * job frames. A frame that changes a job's state, or brings a job never seen before, may change
 * the order or the counts, so those schedule a refetch of the visible pages instead.
 */
export function useJobPages(query: JobListQuery): JobPages {
  const { api, events, now } = useApp();
  const key = JSON.stringify(query);
  const cache = useMemo(() => new JobPageCache(), [key]);
  const [version, bump] = useReducer((n: number) => n + 1, 0);
  const [counts, setCounts] = useState<Record<string, number>>({});
  const [error, setError] = useState<unknown>(null);
  const range = useRef({ start: 0, end: 0 });
  const queryRef = useRef(query);
  queryRef.current = query;
  /** Last state seen in a frame, per job: an off-screen job's progress must not cause refetches. */
  const seen = useRef(new Map<number, JobState>());

  const settle = useRef<ReturnType<typeof setTimeout> | undefined>(undefined);
  const settleSince = useRef<number | null>(null);
  useEffect(() => () => clearTimeout(settle.current), [cache]);

  const fetchVisible = useCallback(
    () => {
      clearTimeout(settle.current);
      settle.current = undefined;
      settleSince.current = null;
      const { start, end } = range.current;
      for (const { page, generation } of cache.claimMissing(start, end)) {
        api.jobs({ ...queryRef.current, offset: page * PAGE_SIZE, limit: PAGE_SIZE }).then(
          (res) => {
            cache.store(page, generation, res.jobs, res.total);
            setCounts(res.counts);
            setError(null);
            bump();
          },
          (err: unknown) => {
            cache.release(page, generation);
            setError(err);
          },
        );
      }
    },
    [api, cache],
  );

  /**
   * While the list is flung through thousands of rows, fetching every page it passes costs a
   * request and a parse per page never looked at: pages are fetched once the viewport has held
   * still for SETTLE_MS, or at least every MAX_WAIT_MS during a long slow scroll. The first page
   * (nothing loaded yet) is fetched at once.
   */
  const show = useCallback(
    (start: number, end: number) => {
      range.current = { start, end };
      if (cache.total === null) return fetchVisible();
      const t = now();
      settleSince.current ??= t;
      clearTimeout(settle.current);
      if (t - settleSince.current >= MAX_WAIT_MS) return fetchVisible();
      settle.current = setTimeout(fetchVisible, SETTLE_MS);
    },
    [cache, fetchVisible, now],
  );

  const throttle = useMemo(
    () =>
      createThrottle(
        () => {
          cache.invalidate();
          fetchVisible();
        },
        REFRESH_MS,
        now,
      ),
    [cache, fetchVisible, now],
  );
  useEffect(() => () => throttle.cancel(), [throttle]);

  useFrames((frame) => {
    if (frame.type !== 'jobs') return;
    let patched = false;
    let stale = false;
    for (const job of frame.jobs) {
      const before = seen.current.get(job.id);
      seen.current.set(job.id, job.state);
      const result = cache.patch(job);
      if (result !== 'absent') patched = true;
      if (result === 'state' || (result === 'absent' && before !== job.state)) stale = true;
    }
    if (patched) bump();
    // Before the first page answers, that answer is the refetch.
    if (stale && cache.total !== null) throttle.schedule();
  });

  // Frames missed while the socket was down are gone: refetch when it comes back.
  useEffect(() => {
    let down = false;
    return events.onState((s) => {
      if (s === 'closed') down = true;
      else if (s === 'open' && down) {
        down = false;
        throttle.schedule();
      }
    });
  }, [events, throttle]);
  useEffect(() => onJobsChanged(() => throttle.schedule()), [throttle]);

  return { cache, version, total: cache.total, counts, error, show, refresh: throttle.schedule };
}
