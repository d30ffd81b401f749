import type { App } from 'electron';

/**
 * One app per user: a second launch hands over to the first, which brings its window up (the
 * farm, its database and its tray icon exist once). Returns false in the second instance, which
 * should quit at once.
 */
export function setupSingleInstance(app: Pick<App, 'requestSingleInstanceLock' | 'on'>, focusWindow: () => void): boolean {
  if (!app.requestSingleInstanceLock()) return false;
  app.on('second-instance', () => focusWindow());
  return true;
}
