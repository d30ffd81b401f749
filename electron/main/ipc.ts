import type { IpcMain, IpcMainInvokeEvent } from 'electron';
import { z } from 'zod';
import type { Logger } from '../../core/shared/logger.ts';
import { CHANNELS } from '../preload/channels.ts';
import { isUiUrl } from './origin.ts';

/** Arguments of each channel, as the preload sends them; anything else is refused. */
export const CHANNEL_ARGS = {
  [CHANNELS.pickFiles]: z.tuple([]),
  [CHANNELS.pickFolder]: z.tuple([]),
} as const;

export interface IpcDeps {
  ipcMain: Pick<IpcMain, 'handle'>;
  /** The UI's origin now; a message from any other origin (or from no frame) is refused. */
  uiOrigin: () => string | null;
  pickFiles: () => Promise<string[]>;
  pickFolder: () => Promise<string | null>;
  logger: Logger;
}

/** A message refused for its sender or its payload; the renderer's invoke rejects with it. */
export class IpcRefusedError extends Error {
  override name = 'IpcRefusedError';
}

/**
 * The main side of the bridge. Every message is checked twice before anything runs: it must come
 * from a frame on the UI's origin (not a page the window was tricked into loading, not a frame
 * that is gone), and its arguments must match the channel's schema.
 */
export function setupIpc(deps: IpcDeps): void {
  const { ipcMain, logger } = deps;

  function accept<C extends keyof typeof CHANNEL_ARGS>(channel: C, event: IpcMainInvokeEvent, args: unknown[]): z.infer<(typeof CHANNEL_ARGS)[C]> {
    const url = event.senderFrame?.url;
    if (!isUiUrl(url, deps.uiOrigin())) {
      logger.warn('IPC from outside the UI refused', { channel, origin: url ? safeOrigin(url) : null });
      throw new IpcRefusedError(`${channel}: sender is not the EncodeFarm UI`);
    }
    const parsed = CHANNEL_ARGS[channel].safeParse(args);
    if (!parsed.success) {
      logger.warn('IPC with invalid arguments refused', { channel });
      throw new IpcRefusedError(`${channel}: invalid arguments`);
    }
    return parsed.data as z.infer<(typeof CHANNEL_ARGS)[C]>;
  }

  ipcMain.handle(CHANNELS.pickFiles, (event, ...args: unknown[]) => {
    accept(CHANNELS.pickFiles, event, args);
    return deps.pickFiles();
  });
  ipcMain.handle(CHANNELS.pickFolder, (event, ...args: unknown[]) => {
    accept(CHANNELS.pickFolder, event, args);
    return deps.pickFolder();
  });
}

function safeOrigin(url: string): string {
  try {
    return new URL(url).origin;
  } catch {
    return 'invalid';
  }
}
