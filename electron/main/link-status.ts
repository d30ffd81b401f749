import type { FarmProgress } from './farm-monitor.ts';
import type { SupervisorStatus } from './supervisor.ts';

/** Where the shell's coordinator stands: the local one's supervisor status, or a remote one. */
export type LinkStatus = SupervisorStatus | { state: 'remote'; url: string; token: string };

/** The coordinator a ready status points at, or null while there is none to talk to. */
export function connectionOf(status: LinkStatus): { url: string; token: string; local: boolean } | null {
  if (status.state === 'ready') return { url: status.url, token: status.token, local: true };
  if (status.state === 'remote') return { url: status.url, token: status.token, local: false };
  return null;
}

/** One line for the tray menu, the tooltip and the status page. */
export function describeLink(status: LinkStatus): string {
  switch (status.state) {
    case 'starting':
      return status.attempt > 1 ? `Starting the coordinator (attempt ${status.attempt})…` : 'Starting the coordinator…';
    case 'ready':
      return 'Coordinator running on this machine';
    case 'remote':
      return `Connected to ${status.url}`;
    case 'restarting':
      return `Coordinator stopped (${short(status.reason)}); restarting in ${Math.ceil(status.retryInMs / 1000)} s`;
    case 'failed':
      return `Coordinator cannot start: ${short(status.reason)}`;
    case 'stopped':
      return 'Coordinator stopped';
  }
}

/** The farm's work in a few words, e.g. `42% · 3 running · 12 queued`. */
export function describeProgress(p: FarmProgress | null): string {
  if (!p) return 'No farm status';
  if (p.pending === 0) return 'Idle';
  const parts = [
    ...(p.fraction !== null ? [`${Math.floor(p.fraction * 100)}%`] : []),
    ...(p.paused ? ['paused'] : []),
    ...(p.active ? [`${p.active} running`] : []),
    ...(p.counts.queued ? [`${p.counts.queued} queued`] : []),
    ...(p.counts.paused ? [`${p.counts.paused} paused`] : []),
    ...(p.counts.blocked ? [`${p.counts.blocked} blocked`] : []),
  ];
  return parts.join(' · ');
}

// Tray tooltips are cut at ~127 characters on Windows; the full reason is in the log.
function short(s: string): string {
  const line = s.split('\n')[0] ?? '';
  return line.length > 80 ? `${line.slice(0, 79)}…` : line;
}
