import { describe, expect, it } from 'vitest';
import { DEFAULT_BACKOFF, backoffDelayMs, type BackoffPolicy } from '../../../core/coordinator/backoff.ts';

const policy: BackoffPolicy = { maxAttempts: 5, baseMs: 1000, capMs: 10_000 };
const low = () => 0;
const high = () => 1;

describe('backoffDelayMs', () => {
  it('waits between half the base and the base after the first burned attempt', () => {
    expect(backoffDelayMs(policy, 1, low)).toBe(500);
    expect(backoffDelayMs(policy, 1, high)).toBe(1000);
    expect(backoffDelayMs(policy, 1, () => 0.5)).toBe(750);
  });

  it('doubles with every further burned attempt', () => {
    expect([1, 2, 3, 4].map((n) => backoffDelayMs(policy, n, high))).toEqual([1000, 2000, 4000, 8000]);
    expect([1, 2, 3, 4].map((n) => backoffDelayMs(policy, n, low))).toEqual([500, 1000, 2000, 4000]);
  });

  it('never waits longer than the cap, however many attempts burned', () => {
    expect(backoffDelayMs(policy, 5, high)).toBe(10_000);
    expect(backoffDelayMs(policy, 60, high)).toBe(10_000);
    expect(backoffDelayMs(policy, 60, low)).toBe(5000);
  });

  it('treats zero burned attempts like the first', () => {
    expect(backoffDelayMs(policy, 0, high)).toBe(backoffDelayMs(policy, 1, high));
  });

  it('spreads a burst of failures instead of retrying in lockstep', () => {
    const randoms = [0, 0.2, 0.4, 0.6, 0.8, 1];
    const delays = randoms.map((r) => backoffDelayMs(policy, 2, () => r));
    expect(new Set(delays).size).toBe(randoms.length);
    for (const d of delays) {
      expect(d).toBeGreaterThanOrEqual(1000);
      expect(d).toBeLessThanOrEqual(2000);
    }
  });

  it('returns whole milliseconds', () => {
    expect(Number.isInteger(backoffDelayMs(policy, 1, () => 1 / 3))).toBe(true);
  });

  it('defaults to five attempts from 2 s up to 5 min', () => {
    expect(DEFAULT_BACKOFF).toEqual({ maxAttempts: 5, baseMs: 2000, capMs: 300_000 });
  });
});
