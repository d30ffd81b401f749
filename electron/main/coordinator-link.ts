import type { Clock } from '../../core/shared/clock.ts';
import type { Logger } from '../../core/shared/logger.ts';
import type { LinkStatus } from './link-status.ts';
import { remoteConnectionOf, type ShellSettings } from './settings.ts';
import { createSupervisor, type ChildHandle } from './supervisor.ts';

export interface CoordinatorLink {
  start(): void;
  /** Stops the local coordinator (its running work goes back to the queue); a remote one is left alone. */
  stop(): Promise<void>;
  restart(): void;
  status(): LinkStatus;
}

/**
 * The coordinator the shell uses: a remote one when the settings name it, otherwise the local one
 * in a supervised utility process.
 */
export function setupCoordinatorLink(deps: {
  settings: ShellSettings;
  fork: () => ChildHandle;
  clock: Clock;
  logger: Logger;
  onStatus: (status: LinkStatus) => void;
}): CoordinatorLink {
  const remote = remoteConnectionOf(deps.settings);
  if (remote) {
    const status: LinkStatus = { state: 'remote', url: remote.url, token: remote.token };
    return {
      start: () => deps.onStatus(status),
      stop: async () => {},
      restart: () => deps.onStatus(status),
      status: () => status,
    };
  }
  const supervisor = createSupervisor({ fork: deps.fork, clock: deps.clock, logger: deps.logger, onStatus: deps.onStatus });
  return { start: supervisor.start, stop: supervisor.stop, restart: supervisor.restart, status: supervisor.status };
}
