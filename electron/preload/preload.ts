// Runs in the sandboxed renderer before the UI: it may require only 'electron' (contextBridge,
// ipcRenderer, webUtils), so it is bundled to one CJS file with nothing else external.
import { contextBridge, ipcRenderer, webUtils } from 'electron';
import type { EncodeFarmBridge } from './bridge.ts';
import { CHANNELS } from './channels.ts';

// Each member wraps one channel with plain values, so the page never holds ipcRenderer itself and
// cannot reach any other channel.
const bridge: EncodeFarmBridge = {
  getPathForFile: (file) => webUtils.getPathForFile(file),
  pickFiles: () => ipcRenderer.invoke(CHANNELS.pickFiles) as Promise<string[]>,
  pickFolder: () => ipcRenderer.invoke(CHANNELS.pickFolder) as Promise<string | null>,
};

contextBridge.exposeInMainWorld('encodefarm', bridge);
