/** Time source injected everywhere leases, heartbeats, backoff and watchdogs are computed. */
export interface Clock {
  now(): number;
  setTimeout(fn: () => void, ms: number): TimerHandle;
  clearTimeout(handle: TimerHandle): void;
}

export interface TimerHandle {
  readonly id: unknown;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => {
    const t: unknown = setTimeout(fn, ms);
    // In Node a pending timer must not keep a finished CLI alive; browsers return a number.
    (t as { unref?: () => void }).unref?.();
    return { id: t };
  },
  clearTimeout: (h) => clearTimeout(h.id as ReturnType<typeof setTimeout>),
};
