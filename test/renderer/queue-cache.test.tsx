import { describe, expect, it, vi } from 'vitest';
import { JobPageCache, PAGE_SIZE } from '../../renderer/src/state/job-page-cache.ts';
import { createThrottle } from '../../renderer/src/state/throttle.ts';
import { job } from './queue-fake-api.tsx';

const page = (p: number, total: number) =>
  Array.from({ length: Math.max(0, Math.min(PAGE_SIZE, total - p * PAGE_SIZE)) }, (_, k) => job(p * PAGE_SIZE + k + 1));

describe('JobPageCache', () => {
  it('claims each missing page once, and only pages inside the total', () => {
    const cache = new JobPageCache();
    expect(cache.claimMissing(0, 50)).toEqual([{ page: 0, generation: 0 }]);
    expect(cache.claimMissing(0, 50)).toEqual([]);
    cache.store(0, 0, page(0, 450), 450);
    expect(cache.claimMissing(150, 10_000).map((c) => c.page)).toEqual([1, 2]);
    expect(cache.get(5)?.id).toBe(6);
    expect(cache.indexOf(6)).toBe(5);
  });

  it('keeps stale rows on screen after invalidate until their page is fetched again', () => {
    const cache = new JobPageCache();
    cache.claimMissing(0, 0);
    cache.store(0, 0, page(0, 3), 3);
    cache.invalidate();
    expect(cache.get(0)?.id).toBe(1);
    const [claim] = cache.claimMissing(0, 2);
    expect(claim).toEqual({ page: 0, generation: 1 });
    cache.store(0, 1, [job(3), job(1)], 2);
    expect(cache.get(0)?.id).toBe(3);
    expect(cache.get(2)).toBeUndefined();
    expect(cache.indexOf(2)).toBeUndefined();
  });

  it('ignores an older answer arriving after a newer one', () => {
    const cache = new JobPageCache();
    cache.store(0, 1, [job(9)], 1);
    cache.store(0, 0, [job(1)], 1);
    expect(cache.get(0)?.id).toBe(9);
  });

  it('forgets the stale copy of a job that moved to another page', () => {
    const cache = new JobPageCache();
    cache.store(0, 0, page(0, 400), 400);
    cache.store(1, 0, page(1, 400), 400);
    cache.invalidate();
    // job 250 (index 249, page 1) moved to the top.
    cache.store(0, 1, [job(250), ...page(0, 400).slice(0, 199)], 400);
    expect(cache.indexOf(250)).toBe(0);
    expect(cache.get(249)).toBeUndefined();
    expect(cache.claimMissing(0, 300).map((c) => c.page)).toEqual([1]);
  });

  it('patches loaded rows and says whether the state changed', () => {
    const cache = new JobPageCache();
    cache.store(0, 0, [job(1), job(2)], 2);
    expect(cache.patch(job(1, { percent: 50 }))).toBe('progress');
    expect(cache.get(0)?.percent).toBe(50);
    expect(cache.patch(job(2, { state: 'running' }))).toBe('state');
    expect(cache.patch(job(3))).toBe('absent');
  });

  it('lets a failed page be claimed again', () => {
    const cache = new JobPageCache();
    const [c] = cache.claimMissing(0, 0);
    cache.release(c!.page, c!.generation);
    expect(cache.claimMissing(0, 0)).toHaveLength(1);
  });
});

describe('createThrottle', () => {
  it('runs at once, then folds calls within the window into one trailing run', () => {
    vi.useFakeTimers();
    let t = 0;
    const fn = vi.fn();
    const th = createThrottle(fn, 500, () => t);
    th.schedule();
    expect(fn).toHaveBeenCalledTimes(1);
    t = 100;
    th.schedule();
    th.schedule();
    expect(fn).toHaveBeenCalledTimes(1);
    t = 500;
    vi.advanceTimersByTime(400);
    expect(fn).toHaveBeenCalledTimes(2);
    th.cancel();
    vi.useRealTimers();
  });
});
