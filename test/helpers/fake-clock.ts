import type { Clock, TimerHandle } from '../../core/shared/clock.ts';

interface Timer {
  id: number;
  at: number;
  fn: () => void;
}

/**
 * A FAKE clock for unit tests: time stands still until the test calls `advance(ms)`, which fires
 * every due timer in time order (ties in scheduling order), including timers that fired timers
 * schedule, with `now()` reading each timer's due time while it runs. Nothing here touches real
 * time, so leases, backoff, heartbeats and watchdogs can be driven deterministically.
 */
export class FakeClock implements Clock {
  private time: number;
  private nextId = 1;
  private readonly timers = new Map<number, Timer>();

  /** @param start epoch-ms the clock reads before the first `advance`. */
  constructor(start = 1_700_000_000_000) {
    this.time = start;
  }

  now(): number {
    return this.time;
  }

  setTimeout(fn: () => void, ms: number): TimerHandle {
    const id = this.nextId++;
    // Like Node: a negative or NaN delay means "as soon as possible", never in the past.
    const delay = Number.isFinite(ms) && ms > 0 ? ms : 0;
    this.timers.set(id, { id, at: this.time + delay, fn });
    return { id };
  }

  clearTimeout(handle: TimerHandle): void {
    this.timers.delete(handle.id as number);
  }

  /** Moves time forward by `ms`, firing every timer due on the way; returns how many fired. */
  advance(ms: number): number {
    if (!Number.isFinite(ms) || ms < 0) throw new RangeError(`Expected a non-negative number of ms, got ${ms}`);
    const target = this.time + ms;
    let fired = 0;
    for (let t = this.nextDue(target); t; t = this.nextDue(target)) {
      this.timers.delete(t.id);
      this.time = t.at;
      fired++;
      t.fn();
    }
    this.time = target;
    return fired;
  }

  /** Timers scheduled and not yet fired or cleared. */
  pending(): number {
    return this.timers.size;
  }

  private nextDue(limit: number): Timer | undefined {
    let best: Timer | undefined;
    for (const t of this.timers.values()) {
      if (t.at > limit) continue;
      if (!best || t.at < best.at || (t.at === best.at && t.id < best.id)) best = t;
    }
    return best;
  }
}
