import { beforeEach, describe, expect, it } from 'vitest';
import { DEFAULT_QUARANTINE_AFTER, DevicePool, raiseAfterMs } from '../../../core/coordinator/device-pool.ts';
import { MAX_BUDGET_BACKOFF, type LearnedBudget } from '../../../core/coordinator/session-budget.ts';
import type { DeviceAnnouncement } from '../../../core/shared/device.ts';
import { FakeClock } from '../../helpers/fake-clock.ts';
import { gpuFigures, gpuSample } from '../../helpers/gpu-sample.ts';

function device(id: string, overrides: Partial<DeviceAnnouncement> = {}): DeviceAnnouncement {
  return { id, kind: 'nvenc', label: `GPU ${id}`, slots: 2, codecs: ['h264', 'hevc'], state: 'working', ...overrides };
}

const keys = (pool: DevicePool) => pool.withFreeSlot().map((d) => d.key);

describe('DevicePool', () => {
  it('registers announced devices under agent-scoped keys with their announced slots', () => {
    const pool = new DevicePool();
    pool.register('agent-1', [device('gpu0', { slots: 3, gpuIndex: 0 })], []);
    expect(pool.get('agent-1/gpu0')).toMatchObject({
      key: 'agent-1/gpu0',
      agentId: 'agent-1',
      id: 'gpu0',
      kind: 'nvenc',
      announcedSlots: 3,
      slots: 3,
      state: 'working',
      faults: 0,
      limitGroup: undefined,
    });
    expect(pool.get('agent-1/gpu0')?.busy.size).toBe(0);
  });

  it('replaces an agent’s devices when it says hello again and leaves other agents alone', () => {
    const pool = new DevicePool();
    pool.register('agent-1', [device('gpu0'), device('gpu1')], []);
    pool.register('agent-2', [device('gpu0')], []);
    pool.occupy('agent-1/gpu0', 1);

    pool.register('agent-1', [device('gpu0', { slots: 4 })], []);

    expect(pool.list().map((d) => d.key)).toEqual(['agent-2/gpu0', 'agent-1/gpu0']);
    expect(pool.get('agent-1/gpu0')).toMatchObject({ slots: 4 });
    expect(pool.get('agent-1/gpu0')?.busy.size).toBe(0);
  });

  it('forgets an unregistered agent’s devices and limit groups', () => {
    const pool = new DevicePool();
    pool.register('agent-1', [device('gpu0', { limitGroup: 'host' })], [{ name: 'host', max: 1 }]);
    pool.register('agent-2', [device('gpu0')], []);
    pool.unregister('agent-1');
    expect(pool.list().map((d) => d.key)).toEqual(['agent-2/gpu0']);

    // Registered again without the group, the device is no longer capped by the old one.
    pool.register('agent-1', [device('gpu0', { limitGroup: 'host', slots: 2 })], []);
    pool.occupy('agent-1/gpu0', 1);
    expect(keys(pool)).toContain('agent-1/gpu0');
  });

  it('offers only working devices with a free slot and at least one codec', () => {
    const pool = new DevicePool();
    pool.register(
      'a',
      [
        device('ok'),
        device('quarantined', { state: 'quarantined' }),
        device('unavailable', { state: 'unavailable' }),
        device('no-codecs', { codecs: [] }),
        device('zero-slots', { slots: 0 }),
        device('full', { slots: 1 }),
      ],
      [],
    );
    pool.occupy('a/full', 9);
    expect(keys(pool)).toEqual(['a/ok']);
  });

  it('orders NVIDIA GPUs before simulated GPUs before the CPU', () => {
    const pool = new DevicePool();
    pool.register('a', [device('cpu', { kind: 'cpu' }), device('sim', { kind: 'simulated-gpu' }), device('gpu', { kind: 'nvenc' })], []);
    expect(keys(pool)).toEqual(['a/gpu', 'a/sim', 'a/cpu']);
  });

  it('orders devices of one kind by load, least loaded first', () => {
    const pool = new DevicePool();
    pool.register('a', [device('gpu0', { slots: 2 }), device('gpu1', { slots: 4 })], []);
    pool.occupy('a/gpu0', 1);
    expect(keys(pool)).toEqual(['a/gpu1', 'a/gpu0']);
    pool.occupy('a/gpu1', 2);
    pool.occupy('a/gpu1', 3);
    pool.occupy('a/gpu1', 4);
    expect(keys(pool)).toEqual(['a/gpu0', 'a/gpu1']);
  });

  it('tracks which device holds a job until it is released', () => {
    const pool = new DevicePool();
    pool.register('a', [device('gpu0', { slots: 1 }), device('gpu1', { slots: 1 })], []);
    pool.occupy('a/gpu1', 42);
    expect(pool.holderOf(42)?.key).toBe('a/gpu1');
    expect(keys(pool)).toEqual(['a/gpu0']);

    pool.release('a/gpu1', 42);

    expect(pool.holderOf(42)).toBeUndefined();
    expect(keys(pool)).toEqual(['a/gpu0', 'a/gpu1']);
  });

  it('caps the jobs of all devices in a limit group at the group maximum', () => {
    const pool = new DevicePool();
    pool.register(
      'a',
      [device('gpu0', { slots: 3, limitGroup: 'geforce' }), device('gpu1', { slots: 3, limitGroup: 'geforce' }), device('cpu', { kind: 'cpu' })],
      [{ name: 'geforce', max: 3 }],
    );
    pool.occupy('a/gpu0', 1);
    pool.occupy('a/gpu0', 2);
    expect(keys(pool)).toEqual(['a/gpu1', 'a/gpu0', 'a/cpu']);

    pool.occupy('a/gpu1', 3);

    expect(keys(pool)).toEqual(['a/cpu']);
  });

  it('keeps limit groups of the same name on different agents apart', () => {
    const pool = new DevicePool();
    pool.register('a', [device('gpu0', { limitGroup: 'host' })], [{ name: 'host', max: 1 }]);
    pool.register('b', [device('gpu0', { limitGroup: 'host' })], [{ name: 'host', max: 1 }]);
    pool.occupy('a/gpu0', 1);
    expect(keys(pool)).toEqual(['b/gpu0']);
  });

  it('lowers slots to one less than the sessions open when the driver refused one', () => {
    const pool = new DevicePool();
    pool.register('a', [device('gpu0', { slots: 8 })], []);
    pool.lowerSlots('a/gpu0', 4, 'session limit');
    expect(pool.get('a/gpu0')).toMatchObject({ announcedSlots: 8, slots: 3, reason: 'session limit', faults: 0, state: 'working' });
  });

  it('never raises slots when a later refusal saw more sessions open', () => {
    const pool = new DevicePool();
    pool.register('a', [device('gpu0', { slots: 8 })], []);
    pool.lowerSlots('a/gpu0', 3, 'session limit');
    pool.lowerSlots('a/gpu0', 6, 'session limit');
    expect(pool.get('a/gpu0')?.slots).toBe(2);
  });

  it('counts a refusal with only the refused session open as a device fault', () => {
    const pool = new DevicePool();
    pool.register('a', [device('gpu0', { slots: 2 })], []);
    pool.lowerSlots('a/gpu0', 1, 'no session at all');
    expect(pool.get('a/gpu0')).toMatchObject({ slots: 2, faults: 1, reason: 'no session at all' });
  });

  it(`quarantines a device after ${DEFAULT_QUARANTINE_AFTER} device faults in a row`, () => {
    const pool = new DevicePool();
    pool.register('a', [device('gpu0')], []);
    pool.recordFault('a/gpu0', 'CUDA error');
    pool.recordFault('a/gpu0', 'CUDA error');
    expect(pool.get('a/gpu0')?.state).toBe('working');

    pool.recordFault('a/gpu0', 'CUDA error 3');

    expect(pool.get('a/gpu0')).toMatchObject({ state: 'quarantined', faults: 3, reason: 'CUDA error 3' });
    expect(keys(pool)).toEqual([]);
  });

  it('starts the fault count over after a success', () => {
    const pool = new DevicePool();
    pool.register('a', [device('gpu0')], []);
    pool.recordFault('a/gpu0', 'x');
    pool.recordFault('a/gpu0', 'x');
    pool.recordSuccess('a/gpu0');
    pool.recordFault('a/gpu0', 'x');
    pool.recordFault('a/gpu0', 'x');
    expect(pool.get('a/gpu0')).toMatchObject({ state: 'working', faults: 2 });
  });

  it('takes the quarantine threshold from its constructor', () => {
    const pool = new DevicePool(1);
    pool.register('a', [device('gpu0')], []);
    pool.recordFault('a/gpu0', 'x');
    expect(pool.get('a/gpu0')?.state).toBe('quarantined');
  });

  it('ignores updates for devices it does not know', () => {
    const pool = new DevicePool();
    expect(() => {
      pool.occupy('nope/gpu0', 1);
      pool.release('nope/gpu0', 1);
      pool.lowerSlots('nope/gpu0', 3, 'x');
      pool.recordFault('nope/gpu0', 'x');
      pool.recordSuccess('nope/gpu0');
    }).not.toThrow();
    expect(pool.list()).toEqual([]);
  });

  describe('session budget learning', () => {
    const QUIET = 10 * 60_000;
    const TICK = 1000;
    let clock: FakeClock;

    function lowered(announced = 4, busyAtFailure = 3): DevicePool {
      const pool = new DevicePool(DEFAULT_QUARANTINE_AFTER, { now: () => clock.now(), budgetQuietMs: QUIET });
      pool.register('a', [device('gpu0', { slots: announced, gpuIndex: 0 })], []);
      for (let job = 1; job <= busyAtFailure; job++) pool.occupy('a/gpu0', job);
      pool.lowerSlots('a/gpu0', busyAtFailure, 'OpenEncodeSessionEx failed: out of memory');
      // The refused session never opened.
      pool.release('a/gpu0', busyAtFailure);
      return pool;
    }

    /** Ticks the pool as the coordinator's poll does, every TICK, for `ms`; returns the slots after each raise. */
    function run(pool: DevicePool, ms: number): number[] {
      const raises: number[] = [];
      for (let t = 0; t < ms; t += TICK) {
        clock.advance(TICK);
        for (const d of pool.tickBudgets()) raises.push(d.slots);
      }
      return raises;
    }

    beforeEach(() => {
      clock = new FakeClock();
    });

    it('raises a lowered budget by one after a quiet period at it with every slot busy, and not before', () => {
      const pool = lowered();
      const gpu = pool.get('a/gpu0')!;
      expect(gpu).toMatchObject({ slots: 2, announcedSlots: 4 });
      expect(gpu.budget).toMatchObject({ refusedAt: clock.now(), atBudgetMs: 0 });
      expect(raiseAfterMs(gpu)).toBe(QUIET);

      // The first tick only sees the device at budget: time counts between two such ticks.
      expect(run(pool, QUIET)).toEqual([]);
      expect(gpu.budget.atBudgetMs).toBe(QUIET - TICK);
      expect(run(pool, TICK)).toEqual([3]);
      expect(gpu.budget).toMatchObject({ atBudgetMs: 0, raisedTo: 3 });
    });

    it('never raises above the announced slots', () => {
      const pool = lowered(4, 4);
      const gpu = pool.get('a/gpu0')!;
      expect(gpu.slots).toBe(3);
      pool.occupy('a/gpu0', 4);
      expect(run(pool, QUIET + TICK)).toEqual([4]);
      pool.occupy('a/gpu0', 5);
      expect(run(pool, 3 * QUIET)).toEqual([]);
      expect(gpu.slots).toBe(4);
      expect(raiseAfterMs(gpu)).toBeNull();
    });

    it('counts no time while a slot is free: an idle device proves nothing', () => {
      const pool = lowered();
      const gpu = pool.get('a/gpu0')!;
      pool.release('a/gpu0', 2);
      expect(run(pool, 3 * QUIET)).toEqual([]);
      expect(gpu.budget.atBudgetMs).toBe(0);

      // Busy again: the quiet period runs from here.
      pool.occupy('a/gpu0', 7);
      expect(run(pool, QUIET)).toEqual([]);
      expect(run(pool, TICK)).toEqual([3]);
    });

    it('does not credit time between ticks when the device was not at budget on both of them', () => {
      const pool = lowered();
      const gpu = pool.get('a/gpu0')!;
      run(pool, 5 * TICK);
      expect(gpu.budget.atBudgetMs).toBe(4 * TICK);
      // A slot frees at one tick and fills again before the next.
      pool.release('a/gpu0', 2);
      run(pool, TICK);
      pool.occupy('a/gpu0', 8);
      run(pool, TICK);
      expect(gpu.budget.atBudgetMs).toBe(4 * TICK);
      run(pool, TICK);
      expect(gpu.budget.atBudgetMs).toBe(5 * TICK);
    });

    it('starts the quiet period over when the driver refuses again', () => {
      const pool = lowered();
      const gpu = pool.get('a/gpu0')!;
      run(pool, QUIET / 2);
      // Another process took a session: refused with only two of ours open.
      pool.occupy('a/gpu0', 9);
      pool.lowerSlots('a/gpu0', 3, 'refused again');
      pool.release('a/gpu0', 9);
      expect(gpu).toMatchObject({ slots: 2, reason: 'refused again' });
      expect(gpu.budget).toMatchObject({ refusedAt: clock.now(), atBudgetMs: 0, backoff: 0 });
      expect(run(pool, QUIET)).toEqual([]);
      expect(run(pool, TICK)).toEqual([3]);
    });

    it('doubles the quiet period each time a raise is refused, up to a cap', () => {
      const pool = lowered();
      const gpu = pool.get('a/gpu0')!;
      for (let refused = 1; refused <= MAX_BUDGET_BACKOFF + 1; refused++) {
        const quiet = raiseAfterMs(gpu)!;
        expect(run(pool, quiet + TICK)).toEqual([3]);
        // The raise was wrong: refused with three open.
        pool.occupy('a/gpu0', 100 + refused);
        pool.lowerSlots('a/gpu0', 3, 'refused at the raised level');
        pool.release('a/gpu0', 100 + refused);
        expect(gpu.slots).toBe(2);
        expect(gpu.budget.backoff).toBe(Math.min(refused, MAX_BUDGET_BACKOFF));
        expect(raiseAfterMs(gpu)).toBe(QUIET * 2 ** Math.min(refused, MAX_BUDGET_BACKOFF));
      }
    });

    it('leaves a quarantined device’s budget alone', () => {
      const pool = lowered();
      const gpu = pool.get('a/gpu0')!;
      for (let i = 0; i < DEFAULT_QUARANTINE_AFTER; i++) pool.recordFault('a/gpu0', 'CUDA_ERROR_LAUNCH_FAILED');
      expect(gpu).toMatchObject({ state: 'quarantined', reason: 'CUDA_ERROR_LAUNCH_FAILED' });
      expect(run(pool, 3 * QUIET)).toEqual([]);
      expect(gpu.slots).toBe(2);
    });

    it('says what to keep about a budget once the driver refused a session, and nothing before', () => {
      const pool = lowered();
      pool.register('b', [device('gpu0', { slots: 4 })], []);
      expect(pool.learnedBudget('b/gpu0')).toBeUndefined();
      expect(pool.learnedBudget('a/gpu0')).toEqual({
        deviceId: 'gpu0',
        label: 'GPU gpu0',
        announcedSlots: 4,
        budget: 2,
        backoff: 0,
        raisedTo: null,
        refusedAt: clock.now(),
        reason: 'OpenEncodeSessionEx failed: out of memory',
      });
    });

    it('applies a budget learned in an earlier run to the device of the same id and label, never above what is announced', () => {
      const learned = (over: Partial<LearnedBudget>): LearnedBudget => ({
        deviceId: 'gpu0',
        label: 'GPU gpu0',
        announcedSlots: 4,
        budget: 2,
        backoff: 1,
        raisedTo: null,
        refusedAt: 123,
        reason: 'session limit',
        ...over,
      });
      const pool = new DevicePool(DEFAULT_QUARANTINE_AFTER, { now: () => clock.now(), budgetQuietMs: QUIET });
      pool.register('a', [device('gpu0', { slots: 4 }), device('gpu1', { slots: 4, label: 'GPU 1 new card' }), device('gpu2', { slots: 1 })], [], [
        learned({}),
        learned({ deviceId: 'gpu1', label: 'GPU 1 old card' }),
        learned({ deviceId: 'gpu2', label: 'GPU gpu2', budget: 3 }),
      ]);
      expect(pool.get('a/gpu0')).toMatchObject({ slots: 2, announcedSlots: 4, reason: 'session limit', budget: { backoff: 1, refusedAt: 123 } });
      expect(raiseAfterMs(pool.get('a/gpu0')!)).toBe(2 * QUIET);
      // Another card at the same index starts from its configuration.
      expect(pool.get('a/gpu1')).toMatchObject({ slots: 4, budget: { backoff: 0, refusedAt: null } });
      expect(pool.get('a/gpu2')).toMatchObject({ slots: 1, announcedSlots: 1 });
    });

    it('refuses a quiet period that is not positive', () => {
      expect(() => new DevicePool(3, { budgetQuietMs: 0 })).toThrow(RangeError);
    });
  });

  describe('telemetry', () => {
    it('matches an agent’s GPUs to its devices by GPU index and gives the CPU only the source', () => {
      const pool = new DevicePool();
      pool.register('a', [device('gpu0', { gpuIndex: 0 }), device('gpu1', { gpuIndex: 1 }), device('cpu', { kind: 'cpu' })], []);
      pool.register('b', [device('gpu0', { gpuIndex: 0 })], []);

      const changed = pool.setTelemetry('a', gpuSample(1000, [gpuFigures(1, { temperatureC: 80 }), gpuFigures(0, { temperatureC: 50 })]));

      expect(changed.map((d) => d.key).sort()).toEqual(['a/cpu', 'a/gpu0', 'a/gpu1']);
      expect(pool.get('a/gpu0')?.telemetry).toMatchObject({ index: 0, temperatureC: 50 });
      expect(pool.get('a/gpu1')?.telemetry).toMatchObject({ index: 1, temperatureC: 80 });
      expect(pool.get('a/cpu')).toMatchObject({ telemetry: null, telemetrySource: { source: 'nvml', at: 1000, reason: null } });
      expect(pool.get('b/gpu0')).toMatchObject({ telemetry: null, telemetrySource: null });

      // The next sample moves the GPUs; the CPU's source did not change.
      const next = pool.setTelemetry('a', gpuSample(3000, [gpuFigures(0, { temperatureC: 51 }), gpuFigures(1)]));
      expect(next.map((d) => d.key).sort()).toEqual(['a/gpu0', 'a/gpu1']);
      expect(pool.get('a/gpu0')?.telemetry?.temperatureC).toBe(51);
    });

    it('leaves a GPU the sample does not list without figures, and says why when there is no source', () => {
      const pool = new DevicePool();
      pool.register('a', [device('gpu0', { gpuIndex: 0 }), device('gpu3', { gpuIndex: 3 })], []);
      pool.setTelemetry('a', gpuSample(1000, [gpuFigures(0)]));
      expect(pool.get('a/gpu3')?.telemetry).toBeNull();

      const reason = 'libnvidia-ml.so.1: cannot open shared object file; nvidia-smi: not found';
      pool.setTelemetry('a', gpuSample(2000, [], { source: 'none', reason }));
      expect(pool.get('a/gpu0')).toMatchObject({ telemetry: null, telemetrySource: { source: 'none', reason } });
    });

    it('keeps the latest sample across a hello on the same connection and forgets it with the agent', () => {
      const pool = new DevicePool();
      pool.register('a', [device('gpu0', { gpuIndex: 0 })], []);
      pool.setTelemetry('a', gpuSample(1000, [gpuFigures(0)]));
      pool.register('a', [device('gpu0', { gpuIndex: 0 }), device('gpu1', { gpuIndex: 1 })], []);
      expect(pool.get('a/gpu0')?.telemetry?.index).toBe(0);
      expect(pool.telemetry().map((t) => [t.agentId, t.sample.at])).toEqual([['a', 1000]]);

      pool.unregister('a');
      expect(pool.telemetry()).toEqual([]);
      pool.register('a', [device('gpu0', { gpuIndex: 0 })], []);
      expect(pool.get('a/gpu0')?.telemetry).toBeNull();
    });
  });
});
