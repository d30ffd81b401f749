/** Retry policy for retryable failures: jittered exponential backoff with a cap. */
export interface BackoffPolicy {
  /** @default 5 — attempts before a retryable failure becomes permanent. */
  maxAttempts: number;
  /** @default 2000 */
  baseMs: number;
  /** @default 300000 */
  capMs: number;
}

export const DEFAULT_BACKOFF: BackoffPolicy = { maxAttempts: 5, baseMs: 2000, capMs: 300_000 };

/**
 * Delay before attempt `attempt + 1` ("full jitter": uniform in [d/2, d] so a burst of failures
 * does not retry in lockstep). `random` is injected so tests are deterministic.
 */
export function backoffDelayMs(policy: BackoffPolicy, attemptsBurned: number, random: () => number): number {
  const exp = Math.min(policy.capMs, policy.baseMs * 2 ** Math.max(0, attemptsBurned - 1));
  return Math.round(exp / 2 + (random() * exp) / 2);
}
