import type { App } from 'electron';

/**
 * Holds the app's quit back until `stop` has finished (the local coordinator handing its running
 * jobs back to the queue and closing the database), then quits for real. `quitting()` tells the
 * window that a close is the app going, not a hide to the tray.
 */
export function setupGracefulQuit(app: Pick<App, 'on' | 'quit'>, stop: () => Promise<void>) {
  let quitting = false;
  let stopping: Promise<void> | undefined;
  let stopped = false;
  app.on('before-quit', (event) => {
    quitting = true;
    if (stopped) return;
    event.preventDefault();
    stopping ??= stop()
      .catch(() => {})
      .finally(() => {
        stopped = true;
        app.quit();
      });
  });
  return { quitting: () => quitting };
}
