import { beforeEach, describe, expect, it, vi } from 'vitest';
import type { Menu, NativeImage, Tray } from 'electron';
import { JOB_STATES, type JobState } from '../../core/shared/job-state.ts';
import type { FarmProgress } from '../../electron/main/farm-monitor.ts';
import { setupTray, type TrayActions } from '../../electron/main/tray.ts';
import { FakeTray, asElectron, fakeElectron, resetFakeElectron } from './fake-electron.ts';

const counts = (c: Partial<Record<JobState, number>>) => Object.fromEntries(JOB_STATES.map((s) => [s, c[s] ?? 0])) as Record<JobState, number>;
const busy: FarmProgress = { counts: counts({ running: 2, queued: 6 }), active: 2, pending: 8, fraction: 0.42, paused: false, fps: 300 };
const ready = { state: 'ready', url: 'http://127.0.0.1:41234', token: 't' } as const;

describe('setupTray', () => {
  let actions: { [K in keyof TrayActions]: ReturnType<typeof vi.fn<() => void>> };
  let tray: ReturnType<typeof setupTray>;
  const icon = () => FakeTray.instances[0]!;

  beforeEach(() => {
    resetFakeElectron();
    const fn = () => vi.fn<() => void>();
    actions = { show: fn(), pauseAll: fn(), resumeAll: fn(), restartCoordinator: fn(), openSettings: fn(), quit: fn() };
    tray = setupTray({
      Tray: asElectron<new (i: NativeImage) => Tray>(fakeElectron.Tray),
      Menu: asElectron<Pick<typeof Menu, 'buildFromTemplate'>>(fakeElectron.Menu),
      image: asElectron<NativeImage>({}),
      actions,
    });
  });

  it("shows the coordinator's state and the farm's progress in the tooltip", () => {
    tray.update({ link: ready, progress: busy });
    expect(icon().tooltip).toBe('EncodeFarm\nCoordinator running on this machine\n42% · 2 running · 6 queued');
    tray.update({ link: { state: 'restarting', attempt: 2, retryInMs: 2000, reason: 'exited with code 134' }, progress: null });
    expect(icon().tooltip).toBe('EncodeFarm\nCoordinator stopped (exited with code 134); restarting in 2 s');
    tray.update({ link: { state: 'failed', cause: 'no-ffmpeg', reason: 'No working ffmpeg found' }, progress: null });
    expect(icon().tooltip).toContain('Coordinator cannot start: No working ffmpeg found');
  });

  it('pauses and resumes all from the menu, each when it makes sense', () => {
    tray.update({ link: ready, progress: busy });
    expect(icon().item('Pause all batches').enabled).toBe(true);
    expect(icon().item('Resume all').enabled).toBe(false);
    icon().item('Pause all batches').click!();
    expect(actions.pauseAll).toHaveBeenCalledTimes(1);
    tray.update({ link: ready, progress: { ...busy, active: 0, paused: true, fraction: 0.5 } });
    expect(icon().item('Pause all batches').enabled).toBe(false);
    icon().item('Resume all').click!();
    expect(actions.resumeAll).toHaveBeenCalledTimes(1);
    tray.update({ link: { state: 'starting', attempt: 1 }, progress: null });
    expect(icon().item('Resume all').enabled).toBe(false);
  });

  it('shows the window on click and quits from the menu', () => {
    tray.update({ link: ready, progress: null });
    icon().emit('click');
    expect(actions.show).toHaveBeenCalledTimes(1);
    icon().item('Quit EncodeFarm').click!();
    expect(actions.quit).toHaveBeenCalledTimes(1);
  });

  it('rebuilds the menu only when it changes', () => {
    tray.update({ link: ready, progress: busy });
    tray.update({ link: ready, progress: { ...busy } });
    expect(icon().menus).toHaveLength(1);
    tray.update({ link: ready, progress: { ...busy, fraction: 0.5 } });
    expect(icon().menus).toHaveLength(2);
  });

  it('offers no restart for a remote coordinator', () => {
    tray.update({ link: { state: 'remote', url: 'http://farm:8765', token: 't' }, progress: null });
    expect(icon().item('Restart coordinator').visible).toBe(false);
    expect(icon().tooltip).toContain('Connected to http://farm:8765');
  });
});
