import { describe, expect, it } from 'vitest';
import { DEFAULT_QUARANTINE_AFTER, DevicePool } from '../../../core/coordinator/device-pool.ts';
import type { DeviceAnnouncement } from '../../../core/shared/device.ts';

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
});
