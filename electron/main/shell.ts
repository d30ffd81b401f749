import type * as ElectronApi from 'electron';
import type { BrowserWindow } from 'electron';
import { promises as fsp } from 'node:fs';
import type { Clock } from '../../core/shared/clock.ts';
import type { Logger } from '../../core/shared/logger.ts';
import { setupCoordinatorLink } from './coordinator-link.ts';
import { setupCsp } from './csp.ts';
import { createDialogs } from './dialogs.ts';
import { createFarmActions } from './farm-actions.ts';
import { createFarmClient, type FetchLike } from './farm-client.ts';
import { createFarmMonitor, type FarmProgress } from './farm-monitor.ts';
import { iconBitmap } from './icon.ts';
import { setupIpc } from './ipc.ts';
import { connectionOf, type LinkStatus } from './link-status.ts';
import { noticeText, setupNotifications } from './notifications.ts';
import { shellPaths } from './paths.ts';
import { setupPermissions } from './permissions.ts';
import { setupGracefulQuit } from './quit.ts';
import { setupTaskbarProgress } from './progress.ts';
import { loadSettings, saveSettings, settingsFileIn } from './settings.ts';
import { setupSingleInstance } from './single-instance.ts';
import type { ChildHandle } from './supervisor.ts';
import { setupTray } from './tray.ts';
import { createMainWindow } from './window.ts';
import { createWindowContent } from './window-content.ts';

/** The Electron modules the shell uses (the real ones from main.ts, a fake in tests). */
export type ShellElectron = Pick<
  typeof ElectronApi,
  'app' | 'BrowserWindow' | 'Menu' | 'Notification' | 'Tray' | 'dialog' | 'ipcMain' | 'nativeImage' | 'session' | 'shell' | 'utilityProcess'
>;

export interface ShellDeps {
  clock: Clock;
  fetch: FetchLike;
  logger: Logger;
  /** import.meta.url of the main bundle; the preload and the coordinator host lie beside it. */
  mainUrl: string;
  env: NodeJS.ProcessEnv;
}

/** Windows groups notifications and taskbar entries by this id (electron-builder's appId). */
export const APP_ID = 'org.encodefarm.app';

/**
 * The desktop app: one flat list of setupX() calls wired together. Returns once the window is
 * up; the coordinator comes up behind it and the window follows its status.
 */
export async function startShell(electron: ShellElectron, deps: ShellDeps): Promise<void> {
  const { app } = electron;
  const { clock, logger } = deps;
  let win: BrowserWindow | undefined;
  let link: LinkStatus = { state: 'stopped' };
  let progress: FarmProgress | null = null;

  const showWindow = () => {
    if (!win || win.isDestroyed()) return;
    if (win.isMinimized()) win.restore();
    win.show();
    win.focus();
  };
  if (!setupSingleInstance(app, showWindow)) return app.quit();
  app.setAppUserModelId(APP_ID);
  await app.whenReady();

  const paths = shellPaths(deps.mainUrl);
  const settingsFile = settingsFileIn(app.getPath('userData'));
  const { settings, problem } = await loadSettings(settingsFile);
  const uiOrigin = () => connectionOf(link)?.url ?? null;
  const getWindow = () => (win && !win.isDestroyed() ? win : undefined);

  setupCsp(electron.session.defaultSession);
  setupPermissions(electron.session.defaultSession, uiOrigin);
  const image = electron.nativeImage.createFromBitmap(iconBitmap(64), { width: 64, height: 64, scaleFactor: 2 });
  const taskbar = setupTaskbarProgress(getWindow);
  const notifications = setupNotifications({ Notification: electron.Notification, onClick: showWindow, logger });
  setupIpc({
    ipcMain: electron.ipcMain,
    uiOrigin,
    ...createDialogs({ dialog: electron.dialog, getWindow }),
    logger,
  });

  const content = createWindowContent({ getWindow, clock, logger });
  const tray = setupTray({
    Tray: electron.Tray,
    Menu: electron.Menu,
    image,
    actions: {
      show: showWindow,
      pauseAll: () =>
        farmAction('pause the farm', async () => {
          await actions.pauseAll();
          monitor.setHeldByUser(true);
        }),
      resumeAll: () =>
        farmAction('resume the farm', async () => {
          monitor.setHeldByUser(false);
          await actions.resumeAll();
        }),
      restartCoordinator: () => coordinator.restart(),
      openSettings: () => farmAction('open the settings', () => openSettingsFile(electron, settingsFile, settings, notifications.show)),
      quit: () => app.quit(),
    },
  });
  const client = createFarmClient({ fetch: deps.fetch, connection: () => connectionOf(link) });
  const actions = createFarmActions(client);
  const monitor = createFarmMonitor({
    client,
    clock,
    logger,
    onProgress: (p) => {
      progress = p;
      taskbar.setFarm(p);
      tray.update({ link, progress });
    },
    onNotice: (n) => {
      const { title, body } = noticeText(n);
      notifications.show(title, body);
    },
  });
  const farmAction = (what: string, run: () => Promise<unknown>) =>
    void run().catch((err: Error) => notifications.show(`Could not ${what}`, err.message));
  const coordinator = setupCoordinatorLink({
    settings,
    fork: () => forkHost(electron, paths.coordinatorHost, deps.env),
    clock,
    logger,
    onStatus: (s) => {
      const before = connectionOf(link)?.url;
      link = s;
      const now = connectionOf(s)?.url;
      if (now !== before) {
        monitor.reset();
        if (now) monitor.start();
        else monitor.stop();
        progress = null;
        taskbar.setFarm(null);
      }
      content.show(s);
      tray.update({ link, progress });
    },
  });

  const quit = setupGracefulQuit(app, async () => {
    win?.hide();
    monitor.stop();
    await coordinator.stop();
    tray.destroy();
  });
  win = createMainWindow({
    BrowserWindow: electron.BrowserWindow,
    preloadPath: paths.preload,
    icon: image,
    uiOrigin,
    openExternal: (url) => void electron.shell.openExternal(url),
    isQuitting: () => quit.quitting(),
    logger,
  });
  tray.update({ link, progress });
  coordinator.start();
  if (problem) {
    logger.warn('settings ignored', { problem });
    notifications.show('Settings ignored', `${problem}. Using the coordinator on this machine.`);
  }

  // macOS: clicking the dock icon of a running app with its window hidden.
  app.on('activate', showWindow);
}

function forkHost(electron: ShellElectron, entry: string, env: NodeJS.ProcessEnv): ChildHandle {
  return electron.utilityProcess.fork(entry, [], { serviceName: 'EncodeFarm coordinator', stdio: 'inherit', env });
}

async function openSettingsFile(
  electron: ShellElectron,
  file: string,
  current: Parameters<typeof saveSettings>[1],
  notify: (title: string, body: string) => void,
): Promise<void> {
  const exists = await fsp.access(file).then(
    () => true,
    () => false,
  );
  if (!exists) await saveSettings(file, current);
  const error = await electron.shell.openPath(file);
  if (error) throw new Error(error);
  notify('Connection settings', 'Set "remote" to { "url": "http://host:8765", "token": "…" } (or null for this machine), then restart EncodeFarm.');
}
