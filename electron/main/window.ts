import type { BrowserWindow, BrowserWindowConstructorOptions, NativeImage, WebContents, WebPreferences } from 'electron';
import type { Logger } from '../../core/shared/logger.ts';
import { httpOrigin, isUiUrl } from './origin.ts';

/**
 * The renderer runs the coordinator's web UI like a browser tab: isolated from the preload,
 * sandboxed, no Node, same-origin policy on. The preload's bridge is all it gets.
 */
export const SECURE_WEB_PREFERENCES = {
  contextIsolation: true,
  sandbox: true,
  nodeIntegration: false,
  nodeIntegrationInWorker: false,
  nodeIntegrationInSubFrames: false,
  webSecurity: true,
  allowRunningInsecureContent: false,
  webviewTag: false,
  navigateOnDragDrop: false,
} as const satisfies WebPreferences;

export interface NavigationGuardDeps {
  /** The UI's origin now (it changes when the local coordinator restarts on another port). */
  uiOrigin: () => string | null;
  /** shell.openExternal, for https links the UI opens in a new window. */
  openExternal: (url: string) => void;
  logger: Logger;
}

export interface WindowDeps extends NavigationGuardDeps {
  BrowserWindow: new (options: BrowserWindowConstructorOptions) => BrowserWindow;
  preloadPath: string;
  icon?: NativeImage;
  /** While false, closing the window hides it to the tray: the farm keeps encoding. */
  isQuitting: () => boolean;
}

/** The main window, hidden until its first paint, with navigation locked to the UI's origin. */
export function createMainWindow(deps: WindowDeps): BrowserWindow {
  const win = new deps.BrowserWindow({
    width: 1280,
    height: 820,
    minWidth: 720,
    minHeight: 480,
    show: false,
    title: 'EncodeFarm',
    autoHideMenuBar: true,
    ...(deps.icon && { icon: deps.icon }),
    webPreferences: { ...SECURE_WEB_PREFERENCES, preload: deps.preloadPath },
  });
  setupNavigationGuards(win.webContents, deps);
  win.once('ready-to-show', () => win.show());
  win.on('close', (event) => {
    if (deps.isQuitting()) return;
    event.preventDefault();
    win.hide();
  });
  return win;
}

/**
 * Keeps the window on the UI: navigations and redirects to any other origin (a link, a dropped
 * file's file:// URL, a compromised page) are stopped; window.open never opens an Electron
 * window, and an https link goes to the OS browser instead.
 */
export function setupNavigationGuards(contents: WebContents, deps: NavigationGuardDeps): void {
  const guard = (event: { url: string; preventDefault(): void }) => {
    if (isUiUrl(event.url, deps.uiOrigin())) return;
    event.preventDefault();
    deps.logger.warn('navigation away from the UI blocked', { url: redact(event.url) });
  };
  contents.on('will-navigate', guard);
  contents.on('will-redirect', guard);
  contents.on('will-attach-webview', (event) => event.preventDefault());
  contents.setWindowOpenHandler(({ url }) => {
    if (isExternalLink(url, deps.uiOrigin())) deps.openExternal(url);
    else deps.logger.warn('window.open blocked', { url: redact(url) });
    return { action: 'deny' };
  });
}

/** An https link off the UI's origin, without credentials in it: safe to hand to the OS browser. */
export function isExternalLink(url: string, uiOrigin: string | null): boolean {
  try {
    const u = new URL(url);
    return u.protocol === 'https:' && !u.username && !u.password && httpOrigin(url) !== uiOrigin;
  } catch {
    return false;
  }
}

// Logged URLs lose their fragment and query: the UI's own carries the API token.
const redact = (url: string) => url.replace(/[?#].*$/s, '');
