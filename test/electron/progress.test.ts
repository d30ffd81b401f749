import { describe, expect, it } from 'vitest';
import { JOB_STATES } from '../../core/shared/job-state.ts';
import type { FarmProgress } from '../../electron/main/farm-monitor.ts';
import { noticeText } from '../../electron/main/notifications.ts';
import { setupTaskbarProgress } from '../../electron/main/progress.ts';
import { FakeBrowserWindow } from './fake-electron.ts';
import { jobView } from './farm-fakes.ts';

const p = (fraction: number | null, paused = false): FarmProgress => ({
  counts: Object.fromEntries(JOB_STATES.map((s) => [s, 0])) as FarmProgress['counts'],
  active: 1,
  pending: 1,
  fraction,
  paused,
  fps: 0,
});

describe('setupTaskbarProgress', () => {
  it("shows the farm's progress, paused when held, and removes the bar when idle", () => {
    const win = new FakeBrowserWindow({});
    const progress = setupTaskbarProgress(() => win);
    progress.setFarm(p(0.25));
    progress.setFarm(p(0.25));
    progress.setFarm(p(0.5, true));
    progress.setFarm(null);
    expect(win.progress).toEqual([
      { value: 0.25, mode: 'normal' },
      { value: 0.5, mode: 'paused' },
      { value: -1, mode: 'none' },
    ]);
  });

  it('offers the UI no way to set its own progress: the farm is the only source', () => {
    const progress = setupTaskbarProgress(() => undefined);
    expect(Object.keys(progress).sort()).toEqual(['refresh', 'setFarm']);
  });

  it('shows the current value again on a new window', () => {
    let win = new FakeBrowserWindow({});
    const progress = setupTaskbarProgress(() => win);
    progress.setFarm(p(0.4));
    win = new FakeBrowserWindow({});
    progress.refresh();
    expect(win.progress).toEqual([{ value: 0.4, mode: 'normal' }]);
  });

  it('does nothing without a window', () => {
    const progress = setupTaskbarProgress(() => undefined);
    expect(() => progress.setFarm(p(0.5))).not.toThrow();
  });
});

describe('noticeText', () => {
  it('names a failed file and says why', () => {
    const job = jobView({ id: 1, state: 'failed', inputPath: '/v/holiday.mov', errorMessage: 'Invalid data found when processing input' });
    expect(noticeText({ kind: 'jobs-failed', count: 1, jobs: [job] })).toEqual({ title: 'Encode failed: holiday.mov', body: 'Invalid data found when processing input' });
    expect(noticeText({ kind: 'jobs-failed', count: 5, jobs: [job, { ...job, inputPath: 'C:\\v\\b.mkv' }] })).toEqual({ title: '5 encodes failed', body: 'holiday.mov, b.mkv, …' });
  });

  it('sums up a finished batch', () => {
    expect(noticeText({ kind: 'batch-finished', batchId: 4, done: 12, failed: 0, canceled: 0 })).toEqual({ title: 'Batch 4 finished', body: '12 encoded' });
    expect(noticeText({ kind: 'batch-finished', batchId: 4, done: 10, failed: 2, canceled: 1 })).toEqual({
      title: 'Batch 4 finished with failures',
      body: '10 encoded, 2 failed, 1 canceled',
    });
  });
});
