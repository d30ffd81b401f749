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
    // Not unref'd: a pending backoff or heartbeat is work the process is waiting for. Whoever
    // starts a timer stops it on close (coordinator.close, agent.close).
    return { id: setTimeout(fn, ms) };
  },
  clearTimeout: (h) => clearTimeout(h.id as ReturnType<typeof setTimeout>),
};
