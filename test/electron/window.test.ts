import { beforeEach, describe, expect, it, vi } from 'vitest';
import type { BrowserWindow } from 'electron';
import { createMainWindow, isExternalLink } from '../../electron/main/window.ts';
import { recordingLogger } from '../helpers/recording-logger.ts';
import { FakeBrowserWindow, asElectron, resetFakeElectron } from './fake-electron.ts';

const UI = 'http://127.0.0.1:41234';

function makeWindow(opts: { uiOrigin?: string | null; quitting?: boolean } = {}) {
  const openExternal = vi.fn();
  const win = createMainWindow({
    BrowserWindow: asElectron<new (o: unknown) => BrowserWindow>(FakeBrowserWindow),
    preloadPath: '/app/dist/electron/preload.cjs',
    uiOrigin: () => (opts.uiOrigin === undefined ? UI : opts.uiOrigin),
    openExternal,
    isQuitting: () => opts.quitting ?? false,
    logger: recordingLogger(),
  });
  return { win: win as unknown as FakeBrowserWindow, openExternal };
}

describe('createMainWindow', () => {
  beforeEach(resetFakeElectron);

  it('isolates the renderer: context isolation, sandbox, no Node, web security, the preload', () => {
    const { win } = makeWindow();
    expect(win.options.webPreferences).toMatchObject({
      contextIsolation: true,
      sandbox: true,
      nodeIntegration: false,
      nodeIntegrationInWorker: false,
      nodeIntegrationInSubFrames: false,
      webSecurity: true,
      allowRunningInsecureContent: false,
      webviewTag: false,
      preload: '/app/dist/electron/preload.cjs',
    });
  });

  it("lets the window navigate within the UI's origin", () => {
    const { win } = makeWindow();
    expect(win.webContents.navigate(`${UI}/#/queue`)).toBe(true);
    expect(win.webContents.navigate(`${UI}/index.html`)).toBe(true);
  });

  it('stops navigations and redirects to any other origin', () => {
    const { win } = makeWindow();
    for (const url of ['https://evil.example/', 'http://127.0.0.1:41235/', 'file:///etc/passwd', 'data:text/html,hi', 'javascript:alert(1)', 'about:blank']) {
      expect(win.webContents.navigate(url), url).toBe(false);
    }
    expect(win.webContents.navigate('https://evil.example/', 'will-redirect')).toBe(false);
  });

  it('stops every navigation while there is no UI origin', () => {
    const { win } = makeWindow({ uiOrigin: null });
    expect(win.webContents.navigate(`${UI}/`)).toBe(false);
  });

  it('denies window.open, handing only https links off the UI to the OS browser', () => {
    const { win, openExternal } = makeWindow();
    const open = (url: string) => win.webContents.windowOpenHandler!({ url, frameName: '' });
    expect(open('https://ffmpeg.org/documentation.html')).toEqual({ action: 'deny' });
    expect(openExternal).toHaveBeenCalledWith('https://ffmpeg.org/documentation.html');
    for (const url of [`${UI}/#/queue`, 'http://example.com/', 'file:///tmp/x', 'https://user:pw@example.com/']) {
      expect(open(url)).toEqual({ action: 'deny' });
    }
    expect(openExternal).toHaveBeenCalledTimes(1);
  });

  it('refuses to attach webviews', () => {
    const { win } = makeWindow();
    const event = { defaultPrevented: false, preventDefault() { this.defaultPrevented = true; } };
    win.webContents.emit('will-attach-webview', event);
    expect(event.defaultPrevented).toBe(true);
  });

  it('hides to the tray when closed, and closes when the app quits', () => {
    const { win } = makeWindow();
    win.show();
    expect(win.close()).toBe(false);
    expect(win.visible).toBe(false);
    const quitting = makeWindow({ quitting: true }).win;
    expect(quitting.close()).toBe(true);
  });
});

describe('isExternalLink', () => {
  it('accepts https links off the UI origin only', () => {
    expect(isExternalLink('https://example.com/a', UI)).toBe(true);
    expect(isExternalLink('https://127.0.0.1:41234/', 'https://127.0.0.1:41234')).toBe(false);
    expect(isExternalLink('not a url', UI)).toBe(false);
  });
});
