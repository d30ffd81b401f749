/** Reconnect delays: exponential growth capped at `maxMs`, jittered so agents don't reconnect in step. */
export interface BackoffOptions {
  /** Delay ceiling of the first retry. @default 500 */
  baseMs: number;
  /** Largest delay ever returned. @default 15000 */
  maxMs: number;
}

export const DEFAULT_BACKOFF: BackoffOptions = { baseMs: 500, maxMs: 15_000 };

/** Fills in defaults and checks the numbers eagerly, so a bad option fails at start-up, not at the first reconnect. */
export function backoffOptions(partial: Partial<BackoffOptions> = {}): BackoffOptions {
  const opts = { ...DEFAULT_BACKOFF, ...partial };
  if (!Number.isFinite(opts.baseMs) || opts.baseMs <= 0) {
    throw new TypeError(`Expected backoff.baseMs to be a positive number, got ${opts.baseMs}`);
  }
  if (!Number.isFinite(opts.maxMs) || opts.maxMs < opts.baseMs) {
    throw new TypeError(`Expected backoff.maxMs to be a number >= baseMs (${opts.baseMs}), got ${opts.maxMs}`);
  }
  return opts;
}

/**
 * Delay before retry number `attempt` (0 for the first retry after a drop): "equal jitter", i.e.
 * a random point in the upper half of min(maxMs, baseMs·2^attempt). Keeping the lower half out
 * means a coordinator restart never sees a thundering herd at 0 ms, and the delay still grows.
 *
 * @param random a source in [0, 1), injected so tests are deterministic.
 */
export function backoffDelay(attempt: number, opts: BackoffOptions, random: () => number): number {
  const n = Number.isFinite(attempt) && attempt > 0 ? Math.floor(attempt) : 0;
  // 2^n overflows to Infinity for large n; min() with maxMs keeps the ceiling finite.
  const ceiling = Math.min(opts.maxMs, opts.baseMs * 2 ** n);
  const r = Math.min(Math.max(random(), 0), 1);
  return Math.round(ceiling / 2 + (ceiling / 2) * r);
}
