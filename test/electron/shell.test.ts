import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { JOB_STATES } from '../../core/shared/job-state.ts';
import { UI_CSP } from '../../electron/main/csp.ts';
import type { FetchLike } from '../../electron/main/farm-client.ts';
import { APP_ID, startShell } from '../../electron/main/shell.ts';
import { CHANNELS } from '../../electron/preload/channels.ts';
import { FakeClock } from '../helpers/fake-clock.ts';
import { FakeBrowserWindow, FakeTray, asShellElectron, fakeElectron, resetFakeElectron } from './fake-electron.ts';
import { recordingLogger } from '../helpers/recording-logger.ts';

vi.mock('electron', async () => (await import('./fake-electron.ts')).fakeElectron);

const MAIN_URL = 'file:///opt/encodefarm/dist/electron/main.mjs';
const flush = async () => {
  for (let i = 0; i < 20; i++) await Promise.resolve();
};

describe('startShell', () => {
  let userData: string;
  let clock: FakeClock;
  let requests: { url: string; headers: Record<string, string> }[];
  const fetch: FetchLike = async (url, init) => {
    requests.push({ url, headers: init.headers });
    const counts = Object.fromEntries(JOB_STATES.map((s) => [s, 0]));
    return { ok: true, status: 200, json: async () => ({ total: 0, offset: 0, jobs: [], counts }) };
  };
  const start = () => startShell(asShellElectron(fakeElectron), { clock, fetch, logger: recordingLogger(), mainUrl: MAIN_URL, env: { PATH: '/usr/bin' } });
  const win = () => FakeBrowserWindow.instances[0]!;
  const child = () => fakeElectron.utilityProcess.forks.at(-1)!;

  beforeEach(async () => {
    resetFakeElectron();
    userData = await mkdtemp(path.join(os.tmpdir(), 'encodefarm-shell-'));
    fakeElectron.app.userData = userData;
    clock = new FakeClock();
    requests = [];
  });
  afterEach(async () => {
    await rm(userData, { recursive: true, force: true });
  });

  it('quits at once as a second instance', async () => {
    fakeElectron.app.hasLock = false;
    await start();
    expect(fakeElectron.app.quit).toHaveBeenCalled();
    expect(FakeBrowserWindow.instances).toHaveLength(0);
    expect(fakeElectron.utilityProcess.forks).toHaveLength(0);
  });

  it('opens a locked-down window on a status page and starts the coordinator host beside the bundle', async () => {
    await start();
    expect(fakeElectron.app.appUserModelId).toBe(APP_ID);
    expect(win().options.webPreferences).toMatchObject({ contextIsolation: true, sandbox: true, nodeIntegration: false, webSecurity: true, preload: '/opt/encodefarm/dist/electron/preload.cjs' });
    expect(child().modulePath).toBe('/opt/encodefarm/dist/electron/coordinator-host.mjs');
    expect(child().options).toMatchObject({ serviceName: 'EncodeFarm coordinator', env: { PATH: '/usr/bin' } });
    expect(win().loaded.at(-1)).toMatch(/^data:text\/html/);
    expect(decodeURIComponent(win().loaded.at(-1)!)).toContain('Starting the coordinator');
    expect(fakeElectron.session.defaultSession.respond('http://127.0.0.1:1/')?.['Content-Security-Policy']).toEqual([UI_CSP]);
    expect(FakeTray.instances[0]!.tooltip).toContain('Starting the coordinator');
  });

  it('loads the UI with its token once the coordinator is ready, and trusts IPC from it only', async () => {
    await start();
    child().post({ type: 'ready', url: 'http://127.0.0.1:41234', token: 'efa_secret' });
    expect(win().loaded.at(-1)).toBe('http://127.0.0.1:41234/#token=efa_secret');
    expect(win().title).toBe('EncodeFarm');
    await expect(fakeElectron.ipcMain.invoke(CHANNELS.pickFiles, 'http://127.0.0.1:41234/#/queue')).resolves.toEqual(['/videos/a.mkv']);
    await expect(fakeElectron.ipcMain.invoke(CHANNELS.pickFiles, 'http://127.0.0.1:9/')).rejects.toThrow(/not the EncodeFarm UI/);
    // The bridge's channels only: no one-way notify / progress messages from the page.
    expect([...fakeElectron.ipcMain.handlers.keys()].sort()).toEqual([CHANNELS.pickFiles, CHANNELS.pickFolder].sort());
    expect(fakeElectron.ipcMain.listeners.size).toBe(0);
    expect(win().webContents.navigate('http://127.0.0.1:41234/#/devices')).toBe(true);
    expect(win().webContents.navigate('https://example.com/')).toBe(false);
    // Main polls the farm with the same token for the tray, the taskbar and notifications.
    clock.advance(2000);
    await flush();
    expect(requests[0]?.url).toMatch(/^http:\/\/127\.0\.0\.1:41234\/api\/v1\/jobs\?/);
    expect(requests[0]?.headers.authorization).toBe('Bearer efa_secret');
    expect(FakeTray.instances[0]!.tooltip).toBe('EncodeFarm\nCoordinator running on this machine\nIdle');
  });

  it('shows a crash on the window and the tray, restarts the host, and follows it to its new port', async () => {
    await start();
    child().post({ type: 'ready', url: 'http://127.0.0.1:41234', token: 'efa_secret' });
    child().exit(134);
    expect(decodeURIComponent(win().loaded.at(-1)!)).toContain('restarting in 1 s');
    expect(win().title).toContain('restarting');
    expect(FakeTray.instances[0]!.tooltip).toContain('restarting in 1 s');
    await expect(fakeElectron.ipcMain.invoke(CHANNELS.pickFolder, 'http://127.0.0.1:41234/')).rejects.toThrow();
    clock.advance(1000);
    expect(fakeElectron.utilityProcess.forks).toHaveLength(2);
    child().post({ type: 'ready', url: 'http://127.0.0.1:50123', token: 'efa_secret' });
    expect(win().loaded.at(-1)).toBe('http://127.0.0.1:50123/#token=efa_secret');
    await expect(fakeElectron.ipcMain.invoke(CHANNELS.pickFolder, 'http://127.0.0.1:50123/')).resolves.toBe('/videos/a.mkv');
  });

  it('brings the window up when the app is started again', async () => {
    await start();
    win().hide();
    win().minimized = true;
    fakeElectron.app.emit('second-instance', {}, [], '/');
    expect(win()).toMatchObject({ visible: true, focused: true, minimized: false });
  });

  it('stops the coordinator host before quitting', async () => {
    await start();
    child().post({ type: 'ready', url: 'http://127.0.0.1:41234', token: 'efa_secret' });
    expect(fakeElectron.app.beforeQuit()).toBe(true);
    expect(child().posted).toEqual([{ type: 'stop' }]);
    expect(fakeElectron.app.quit).not.toHaveBeenCalled();
    child().exit(0);
    await flush();
    expect(fakeElectron.app.quit).toHaveBeenCalledTimes(1);
    expect(fakeElectron.app.beforeQuit()).toBe(false);
    expect(win().close()).toBe(true);
  });

  it('connects to a remote coordinator from the settings instead of starting one', async () => {
    await writeFile(path.join(userData, 'settings.json'), JSON.stringify({ remote: { url: 'http://farm.lan:8765', token: 'efa_remote' } }));
    await start();
    expect(fakeElectron.utilityProcess.forks).toHaveLength(0);
    expect(win().loaded.at(-1)).toBe('http://farm.lan:8765/#token=efa_remote');
    expect(FakeTray.instances[0]!.tooltip).toContain('Connected to http://farm.lan:8765');
  });

  it('falls back to the local coordinator, and says so, when the settings are broken', async () => {
    await writeFile(path.join(userData, 'settings.json'), '{ "remote": ');
    await start();
    expect(fakeElectron.utilityProcess.forks).toHaveLength(1);
    const { Notification } = fakeElectron;
    expect(Notification.instances.map((n) => n.options.title)).toContain('Settings ignored');
  });
});

describe('main.ts', () => {
  beforeEach(resetFakeElectron);

  it("starts the shell with Electron's own modules", async () => {
    const userData = await mkdtemp(path.join(os.tmpdir(), 'encodefarm-main-'));
    fakeElectron.app.userData = userData;
    try {
      await import('../../electron/main/main.ts');
      await vi.waitFor(() => expect(fakeElectron.utilityProcess.forks).toHaveLength(1));
      expect(fakeElectron.utilityProcess.forks[0]!.modulePath).toMatch(/electron[\\/]main[\\/]coordinator-host\.mjs$/);
      expect(FakeBrowserWindow.instances).toHaveLength(1);
      // Quit cleanly so no real timer outlives the test.
      fakeElectron.app.beforeQuit();
      fakeElectron.utilityProcess.forks[0]!.exit(0);
      await vi.waitFor(() => expect(fakeElectron.app.quit).toHaveBeenCalled());
    } finally {
      await rm(userData, { recursive: true, force: true });
    }
  });
});
