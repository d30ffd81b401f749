import { beforeEach, describe, expect, it, vi } from 'vitest';
import type { IpcMain } from 'electron';
import { IpcRefusedError, setupIpc } from '../../electron/main/ipc.ts';
import { CHANNELS } from '../../electron/preload/channels.ts';
import { FakeIpcMain, asElectron } from './fake-electron.ts';
import { recordingLogger } from '../helpers/recording-logger.ts';

const UI = 'http://127.0.0.1:41234';

describe('setupIpc', () => {
  let ipc: FakeIpcMain;
  let origin: string | null;
  const deps = {
    pickFiles: vi.fn(async () => ['/videos/a.mkv', '/videos/b.mp4']),
    pickFolder: vi.fn(async () => '/out' as string | null),
  };
  const logger = recordingLogger();

  beforeEach(() => {
    vi.clearAllMocks();
    ipc = new FakeIpcMain();
    origin = UI;
    setupIpc({ ipcMain: asElectron<IpcMain>(ipc), uiOrigin: () => origin, logger, ...deps });
  });

  it('handles exactly the two bridge channels, and listens for no one-way messages', async () => {
    expect(Object.values(CHANNELS).sort()).toEqual(['ef:pick-files', 'ef:pick-folder']);
    expect([...ipc.handlers.keys()].sort()).toEqual([CHANNELS.pickFiles, CHANNELS.pickFolder].sort());
    expect(ipc.listeners.size).toBe(0);
    // The old notification / taskbar channels are gone: main does both from its own polling.
    await expect(ipc.invoke('ef:notify', `${UI}/`, { title: 'x', body: 'y' })).rejects.toThrow(/no handler/);
    await expect(ipc.invoke('ef:set-progress', `${UI}/`, { fraction: 0.5 })).rejects.toThrow(/no handler/);
  });

  it('answers the UI', async () => {
    await expect(ipc.invoke(CHANNELS.pickFiles, `${UI}/#/queue`)).resolves.toEqual(['/videos/a.mkv', '/videos/b.mp4']);
    await expect(ipc.invoke(CHANNELS.pickFolder, `${UI}/`)).resolves.toBe('/out');
  });

  it('refuses senders from another origin, an opaque origin or no frame at all', async () => {
    for (const url of ['https://evil.example/', 'http://127.0.0.1:41235/', 'file:///tmp/x.html', 'data:text/html,x', null]) {
      await expect(ipc.invoke(CHANNELS.pickFiles, url), String(url)).rejects.toBeInstanceOf(IpcRefusedError);
      await expect(ipc.invoke(CHANNELS.pickFolder, url), String(url)).rejects.toBeInstanceOf(IpcRefusedError);
    }
    expect(deps.pickFiles).not.toHaveBeenCalled();
    expect(deps.pickFolder).not.toHaveBeenCalled();
    expect(logger.entries.some((e) => e.msg === 'IPC from outside the UI refused')).toBe(true);
  });

  it('follows the UI origin when the coordinator moves, and refuses everything without one', async () => {
    origin = 'http://127.0.0.1:50000';
    await expect(ipc.invoke(CHANNELS.pickFiles, `${UI}/`)).rejects.toBeInstanceOf(IpcRefusedError);
    await expect(ipc.invoke(CHANNELS.pickFiles, 'http://127.0.0.1:50000/')).resolves.toHaveLength(2);
    origin = null;
    await expect(ipc.invoke(CHANNELS.pickFiles, 'http://127.0.0.1:50000/')).rejects.toBeInstanceOf(IpcRefusedError);
  });

  it('refuses payloads that do not match the channel', async () => {
    await expect(ipc.invoke(CHANNELS.pickFiles, UI, { filters: ['*'] })).rejects.toThrow(/invalid arguments/);
    await expect(ipc.invoke(CHANNELS.pickFolder, UI, '/etc')).rejects.toThrow(/invalid arguments/);
    await expect(ipc.invoke(CHANNELS.pickFiles, UI, undefined)).rejects.toThrow(/invalid arguments/);
    await expect(ipc.invoke(CHANNELS.pickFolder, UI, { title: 'x' }, 'extra')).rejects.toThrow(/invalid arguments/);
    expect(deps.pickFiles).not.toHaveBeenCalled();
    expect(deps.pickFolder).not.toHaveBeenCalled();
    expect(logger.entries.some((e) => e.msg === 'IPC with invalid arguments refused')).toBe(true);
  });
});
