import type { Notification, NotificationConstructorOptions } from 'electron';
import type { Logger } from '../../core/shared/logger.ts';
import type { FarmNotice } from './farm-monitor.ts';

export interface NotificationDeps {
  Notification: { new (options: NotificationConstructorOptions): Notification; isSupported(): boolean };
  /** Clicking a notification brings the window up. */
  onClick: () => void;
  logger: Logger;
}

/** OS notifications, from the farm monitor's notices and from the UI through the bridge. */
export function setupNotifications(deps: NotificationDeps) {
  // Held until closed: a notification that is garbage-collected loses its click handler.
  const live = new Set<Notification>();
  return {
    show(title: string, body: string): void {
      if (!deps.Notification.isSupported()) return void deps.logger.info('notification (unsupported here)', { title });
      const n = new deps.Notification({ title, body, silent: false });
      live.add(n);
      n.on('click', () => deps.onClick());
      n.on('close', () => live.delete(n));
      n.show();
    },
  };
}

/** The words for a farm notice. */
export function noticeText(n: FarmNotice): { title: string; body: string } {
  if (n.kind === 'batch-finished') {
    const parts = [`${n.done} encoded`, ...(n.failed ? [`${n.failed} failed`] : []), ...(n.canceled ? [`${n.canceled} canceled`] : [])];
    return { title: n.failed ? `Batch ${n.batchId} finished with failures` : `Batch ${n.batchId} finished`, body: parts.join(', ') };
  }
  const first = n.jobs[0];
  if (n.count === 1 && first) return { title: `Encode failed: ${baseName(first.inputPath)}`, body: first.errorMessage ?? first.errorKind ?? 'see the job for details' };
  const names = n.jobs.map((j) => baseName(j.inputPath));
  return { title: `${n.count} encodes failed`, body: names.join(', ') + (n.count > names.length ? ', …' : '') };
}

// Inputs are the coordinator's paths, which may be Windows paths on a remote one.
const baseName = (p: string) => p.split(/[\\/]/).pop() || p;
