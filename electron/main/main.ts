// The Electron main process entry (bundled to dist/electron/main.mjs): the real Electron modules,
// clock, fetch and logger handed to the shell, which does the rest.
import { BrowserWindow, Menu, Notification, Tray, app, dialog, ipcMain, nativeImage, session, shell, utilityProcess } from 'electron';
import { systemClock } from '../../core/shared/clock.ts';
import { jsonLogger } from '../../core/shared/logger.ts';
import { startShell } from './shell.ts';

const logger = jsonLogger((line) => void process.stderr.write(line), process.env.ENCODEFARM_LOG_LEVEL === 'debug' ? 'debug' : 'info');

startShell(
  { app, BrowserWindow, Menu, Notification, Tray, dialog, ipcMain, nativeImage, session, shell, utilityProcess },
  { clock: systemClock, fetch: (url, init) => fetch(url, init), logger, mainUrl: import.meta.url, env: process.env },
).catch((err: unknown) => {
  logger.error('the app failed to start', { error: err instanceof Error ? (err.stack ?? err.message) : String(err) });
  dialog.showErrorBox('EncodeFarm could not start', err instanceof Error ? err.message : String(err));
  app.exit(1);
});
