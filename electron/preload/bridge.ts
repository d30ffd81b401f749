/**
 * `window.encodefarm`: the only things the UI gets from Electron, all of them OS things a browser
 * tab cannot do (the renderer declares the same shape in renderer/src/bridge.ts). Notifications
 * and taskbar/dock progress are not here: main does both itself from its own polling of the farm.
 */
export interface EncodeFarmBridge {
  /** The real path of a dropped or picked File, so inputs go to the coordinator without an upload. */
  getPathForFile(file: File): string;
  /** The OS file picker (videos, several at once); [] when canceled. */
  pickFiles(): Promise<string[]>;
  /** The OS folder picker; null when canceled. */
  pickFolder(): Promise<string | null>;
}

export const BRIDGE_KEYS = ['getPathForFile', 'pickFiles', 'pickFolder'] as const satisfies readonly (keyof EncodeFarmBridge)[];
