import type { BrowserWindow } from 'electron';
import type { Clock, TimerHandle } from '../../core/shared/clock.ts';
import type { Logger } from '../../core/shared/logger.ts';
import { uiUrlOf } from './connection.ts';
import { connectionOf, describeLink, type LinkStatus } from './link-status.ts';
import { statusPageUrl } from './status-page.ts';

export type ContentWindow = Pick<BrowserWindow, 'loadURL' | 'setTitle' | 'isDestroyed'>;

const RETRY_MS = 5000;

/**
 * What the window shows for each coordinator status: the UI once there is a coordinator (loaded
 * again only when its URL changes, e.g. a restarted local one on a new port), otherwise a status
 * page saying what is happening. A UI that fails to load (a remote coordinator down) is retried.
 */
export function createWindowContent(deps: { getWindow: () => ContentWindow | undefined; clock: Clock; logger: Logger }) {
  let loaded: string | undefined;
  let last: LinkStatus = { state: 'stopped' };
  let retry: TimerHandle | undefined;

  function load(url: string, onFail?: (err: Error) => void): void {
    const win = deps.getWindow();
    if (!win || win.isDestroyed()) return;
    loaded = url;
    win.loadURL(url).catch((err: Error) => onFail?.(err));
  }

  function show(status: LinkStatus): void {
    last = status;
    if (retry) deps.clock.clearTimeout(retry);
    retry = undefined;
    const win = deps.getWindow();
    if (!win || win.isDestroyed()) return;
    const conn = connectionOf(status);
    if (!conn) {
      win.setTitle(`EncodeFarm — ${describeLink(status)}`);
      return load(statusPageUrl(describeLink(status), detailOf(status)));
    }
    win.setTitle('EncodeFarm');
    const url = uiUrlOf(conn);
    if (url === loaded) return;
    load(url, (err) => {
      if (last !== status) return;
      deps.logger.warn('the UI did not load', { url: conn.url, error: err.message });
      load(statusPageUrl(`Cannot reach the coordinator at ${conn.url}`, `${err.message}. Trying again in a few seconds.`));
      retry = deps.clock.setTimeout(() => last === status && show(status), RETRY_MS);
    });
  }

  return {
    show,
    /** Loads the current status again (a window created after the status came). */
    reload(): void {
      loaded = undefined;
      show(last);
    },
  };
}

function detailOf(status: LinkStatus): string {
  switch (status.state) {
    case 'starting':
      return "Finding ffmpeg and this machine's GPUs; the queue appears in a moment.";
    case 'restarting':
      return `${status.reason}. Jobs that were running go back to the queue and continue once it is up again.`;
    case 'failed':
      return status.cause === 'no-ffmpeg'
        ? `${status.reason}. Install ffmpeg (with ffprobe) and put it on PATH, or set ENCODEFARM_FFMPEG, then choose "Restart coordinator" in the tray menu.`
        : `${status.reason}. Choose "Restart coordinator" in the tray menu to try again.`;
    default:
      return '';
  }
}
