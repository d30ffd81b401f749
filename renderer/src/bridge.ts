/**
 * What the Electron preload adds to the page as `window.encodefarm` (absent in a plain browser):
 * only OS things — real paths of dropped files and native pickers. OS notifications and the
 * taskbar/dock progress are main's alone (it polls the coordinator itself, window shown or not).
 */
export interface EncodeFarmBridge {
  getPathForFile(file: File): string;
  pickFiles(): Promise<string[]>;
  pickFolder(): Promise<string | null>;
}

declare global {
  interface Window {
    encodefarm?: EncodeFarmBridge;
  }
}

/** The preload's bridge when running in the desktop app, otherwise undefined. */
export function desktopBridge(): EncodeFarmBridge | undefined {
  return typeof window === 'undefined' ? undefined : window.encodefarm;
}
