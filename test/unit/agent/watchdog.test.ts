import { describe, expect, it } from 'vitest';
import { startWatchdog } from '../../../core/agent/watchdog.ts';
import { FakeClock } from '../../helpers/fake-clock.ts';

function watch(stallMs: number) {
  const clock = new FakeClock();
  const stalls: number[] = [];
  const dog = startWatchdog(clock, stallMs, (idle) => stalls.push(idle));
  return { clock, stalls, dog };
}

describe('startWatchdog', () => {
  it('calls onStall once the output time has not advanced for stallMs', () => {
    const { clock, stalls } = watch(8000);
    clock.advance(7999);
    expect(stalls).toEqual([]);
    clock.advance(1);
    expect(stalls).toEqual([8000]);
  });

  it('fires once and then stops checking', () => {
    const { clock, stalls } = watch(8000);
    clock.advance(60_000);
    expect(stalls).toHaveLength(1);
    expect(clock.pending()).toBe(0);
  });

  it('counts the stall from the last time the output time advanced', () => {
    const { clock, stalls, dog } = watch(8000);
    clock.advance(6000);
    dog.observe(1.5);
    clock.advance(6000);
    dog.observe(3);
    clock.advance(7999);
    expect(stalls).toEqual([]);
    clock.advance(1);
    expect(stalls).toEqual([8000]);
  });

  it('does not count a repeated or earlier output time as progress', () => {
    const { clock, stalls, dog } = watch(8000);
    dog.observe(5);
    clock.advance(4000);
    dog.observe(5);
    dog.observe(4);
    clock.advance(4000);
    expect(stalls).toEqual([8000]);
  });

  it('counts the first report of output time zero as progress', () => {
    const { clock, stalls, dog } = watch(8000);
    clock.advance(4000);
    dog.observe(0);
    clock.advance(4000);
    expect(stalls).toEqual([]);
  });

  it('never fires after stop and leaves no timer behind', () => {
    const { clock, stalls, dog } = watch(8000);
    clock.advance(4000);
    dog.stop();
    expect(clock.pending()).toBe(0);
    clock.advance(60_000);
    expect(stalls).toEqual([]);
  });

  it('checks often enough for a short stall limit to fire on time', () => {
    const { clock, stalls } = watch(100);
    clock.advance(100);
    expect(stalls).toEqual([100]);
  });

  it('reports the idle time it saw, at most one check interval late', () => {
    // 30 s limit: checks every 5 s (the cap), so a stall is seen at the first check past 30 s.
    const { clock, stalls, dog } = watch(30_000);
    clock.advance(2000);
    dog.observe(1);
    clock.advance(35_000);
    expect(stalls).toHaveLength(1);
    expect(stalls[0]).toBeGreaterThanOrEqual(30_000);
    expect(stalls[0]).toBeLessThanOrEqual(35_000);
  });
});
