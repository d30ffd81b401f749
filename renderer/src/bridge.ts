/**
 * What the Electron preload adds to the page as `window.encodefarm` (absent in a plain browser):
 * only OS things — real paths of dropped files, native pickers, notifications, taskbar progress.
 */
export interface EncodeFarmBridge {
  getPathForFile(file: File): string;
  pickFiles(): Promise<string[]>;
  pickFolder(): Promise<string | null>;
  notify(title: string, body: string): void;
  /** 0–1 shows a bar, null hides it. */
  setProgress(fraction: number | null): void;
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
