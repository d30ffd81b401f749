import { beforeEach, describe, expect, it } from 'vitest';
import { createFarmMonitor, type FarmMonitor, type FarmNotice, type FarmProgress } from '../../electron/main/farm-monitor.ts';
import { FakeClock } from '../helpers/fake-clock.ts';
import { FakeFarm, jobView, settle } from './farm-fakes.ts';
import { recordingLogger } from '../helpers/recording-logger.ts';

describe('createFarmMonitor', () => {
  let clock: FakeClock;
  let farm: FakeFarm;
  let progress: (FarmProgress | null)[];
  let notices: FarmNotice[];
  let monitor: FarmMonitor;

  const tick = async () => {
    clock.advance(2000);
    await settle();
  };
  const last = () => progress.at(-1);

  beforeEach(() => {
    clock = new FakeClock();
    farm = new FakeFarm();
    progress = [];
    notices = [];
    monitor = createFarmMonitor({ client: farm.client, clock, logger: recordingLogger(), onProgress: (p) => progress.push(p), onNotice: (n) => notices.push(n) });
  });

  it('polls every two seconds, one request when nothing changes', async () => {
    monitor.start();
    await tick();
    await tick();
    expect(farm.queries).toHaveLength(2);
    expect(farm.queries[0]).toMatchObject({ states: ['leased', 'running', 'verifying'], limit: 1000 });
    monitor.stop();
    await tick();
    expect(farm.queries).toHaveLength(2);
  });

  it('reports idle as no progress', async () => {
    farm.jobs = [jobView({ id: 1, state: 'done' })];
    monitor.start();
    await tick();
    expect(last()).toMatchObject({ pending: 0, active: 0, fraction: null, paused: false });
  });

  it("measures this run's progress: finished since idle plus the running encodes' own", async () => {
    farm.jobs = [
      jobView({ id: 1, state: 'done' }), // history, before this run
      jobView({ id: 2, state: 'running', percent: 50, fps: 120 }),
      jobView({ id: 3, state: 'queued' }),
      jobView({ id: 4, state: 'queued' }),
      jobView({ id: 5, state: 'queued' }),
    ];
    monitor.start();
    await tick();
    expect(last()).toMatchObject({ active: 1, pending: 4, fraction: 0.125, fps: 120, paused: false });
    farm.set(2, { state: 'done', percent: 100 });
    farm.set(3, { state: 'running', percent: 0 });
    await tick();
    expect(last()?.fraction).toBeCloseTo(1 / 4);
    for (const id of [3, 4, 5]) farm.set(id, { state: 'done' });
    await tick();
    expect(last()?.fraction).toBeNull();
  });

  it('reports held work as paused', async () => {
    farm.jobs = [jobView({ id: 1, state: 'paused' }), jobView({ id: 2, state: 'paused' })];
    monitor.start();
    await tick();
    expect(last()).toMatchObject({ paused: true, pending: 2, fraction: 0 });
    farm.jobs = [jobView({ id: 3, state: 'queued' })];
    await tick();
    expect(last()?.paused).toBe(false);
    monitor.setHeldByUser(true);
    await tick();
    expect(last()?.paused).toBe(true);
  });

  it('tells of jobs that failed since the last look, never of old failures', async () => {
    farm.jobs = [jobView({ id: 1, state: 'failed', finishedAt: 1 }), jobView({ id: 2, state: 'running', batchId: 7 }), jobView({ id: 3, state: 'queued', batchId: 7 })];
    monitor.start();
    await tick();
    expect(notices).toEqual([]);
    farm.set(2, { state: 'failed', finishedAt: 5, errorMessage: 'Invalid data found when processing input' });
    farm.set(3, { state: 'running' });
    await tick();
    expect(notices).toEqual([{ kind: 'jobs-failed', count: 1, jobs: [expect.objectContaining({ id: 2, errorMessage: 'Invalid data found when processing input' })] }]);
  });

  it('tells when the last job of a batch it saw running finishes', async () => {
    farm.jobs = [
      jobView({ id: 1, state: 'running', batchId: 3 }),
      jobView({ id: 2, state: 'queued', batchId: 3 }),
      jobView({ id: 3, state: 'running', batchId: 4 }),
    ];
    monitor.start();
    await tick();
    farm.set(1, { state: 'done' });
    farm.set(2, { state: 'verifying' });
    await tick();
    expect(notices).toEqual([]);
    farm.set(2, { state: 'failed', finishedAt: 9 });
    await tick();
    expect(notices).toEqual([
      expect.objectContaining({ kind: 'jobs-failed', count: 1 }),
      { kind: 'batch-finished', batchId: 3, done: 1, failed: 1, canceled: 0 },
    ]);
    await tick();
    expect(notices).toHaveLength(2);
  });

  it('keeps watching a batch whose rest is paused, and tells when it does finish', async () => {
    farm.jobs = [jobView({ id: 1, state: 'running', batchId: 3 }), jobView({ id: 2, state: 'paused', batchId: 3 })];
    monitor.start();
    await tick();
    farm.set(1, { state: 'done' });
    await tick();
    expect(notices).toEqual([]);
    farm.set(2, { state: 'canceled' });
    await tick();
    expect(notices).toEqual([{ kind: 'batch-finished', batchId: 3, done: 1, failed: 0, canceled: 1 }]);
  });

  it('reports no progress while the coordinator does not answer, and keeps polling', async () => {
    farm.jobs = [jobView({ id: 1, state: 'queued' })];
    monitor.start();
    farm.failNext = true;
    await tick();
    expect(last()).toBeNull();
    await tick();
    expect(last()).toMatchObject({ pending: 1 });
  });

  it('forgets what it saw when the coordinator changes', async () => {
    farm.jobs = [jobView({ id: 1, state: 'running', batchId: 3 })];
    monitor.start();
    await tick();
    monitor.reset();
    farm.jobs = [jobView({ id: 1, state: 'failed', batchId: 3 })];
    await tick();
    expect(notices).toEqual([]);
  });
});
