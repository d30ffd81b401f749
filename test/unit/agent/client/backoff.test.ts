import { describe, expect, it } from 'vitest';
import { backoffDelay, backoffOptions, DEFAULT_BACKOFF } from '../../../../core/agent/client/backoff.ts';

const opts = { baseMs: 500, maxMs: 15_000 };

describe('backoffDelay', () => {
  it('doubles the ceiling with each attempt', () => {
    const top = (n: number) => backoffDelay(n, opts, () => 1);
    expect([0, 1, 2, 3].map(top)).toEqual([500, 1000, 2000, 4000]);
  });

  it('never exceeds maxMs, even for huge attempt numbers', () => {
    expect(backoffDelay(10, opts, () => 1)).toBe(15_000);
    expect(backoffDelay(5000, opts, () => 0.999)).toBeLessThanOrEqual(15_000);
  });

  it('jitters within the upper half of the ceiling', () => {
    expect(backoffDelay(2, opts, () => 0)).toBe(1000);
    expect(backoffDelay(2, opts, () => 0.5)).toBe(1500);
    expect(backoffDelay(2, opts, () => 0.999999)).toBe(2000);
  });

  it('treats a negative or non-finite attempt as the first one', () => {
    expect(backoffDelay(-3, opts, () => 1)).toBe(500);
    expect(backoffDelay(Number.NaN, opts, () => 1)).toBe(500);
  });

  it('clamps a random source that strays outside [0, 1]', () => {
    expect(backoffDelay(0, opts, () => 7)).toBe(500);
    expect(backoffDelay(0, opts, () => -1)).toBe(250);
  });
});

describe('backoffOptions', () => {
  it('fills in the defaults', () => {
    expect(backoffOptions()).toEqual(DEFAULT_BACKOFF);
    expect(backoffOptions({ baseMs: 100 })).toEqual({ baseMs: 100, maxMs: 15_000 });
  });

  it('rejects a non-positive base and a max below the base', () => {
    expect(() => backoffOptions({ baseMs: 0 })).toThrow(/baseMs/);
    expect(() => backoffOptions({ baseMs: 1000, maxMs: 10 })).toThrow(/maxMs/);
  });
});
