import type { ProgressBarOptions } from 'electron';
import type { FarmProgress } from './farm-monitor.ts';

/** The part of BrowserWindow that shows taskbar (Windows, Linux Unity) and dock (macOS) progress. */
export interface ProgressTarget {
  setProgressBar(progress: number, options?: ProgressBarOptions): void;
  isDestroyed(): boolean;
}

/**
 * Taskbar/dock progress: the farm's overall progress (main is its only source; the UI has no say).
 * Calls the window only when what it shows changes.
 */
export function setupTaskbarProgress(getWindow: () => ProgressTarget | undefined) {
  let farm: { fraction: number | null; paused: boolean } = { fraction: null, paused: false };
  let shown: string | undefined;

  function apply(): void {
    const win = getWindow();
    if (!win || win.isDestroyed()) return;
    const { fraction } = farm;
    const mode: ProgressBarOptions['mode'] = fraction === null ? 'none' : farm.paused ? 'paused' : 'normal';
    const key = `${fraction}:${mode}`;
    if (key === shown) return;
    shown = key;
    // A negative value removes the bar.
    win.setProgressBar(fraction ?? -1, { mode });
  }

  return {
    setFarm(p: FarmProgress | null): void {
      farm = { fraction: p?.fraction ?? null, paused: p?.paused ?? false };
      apply();
    },
    /** Shows the current value on a (new) window. */
    refresh(): void {
      shown = undefined;
      apply();
    },
  };
}
