import { EventEmitter } from 'node:events';
import { vi } from 'vitest';
import type { ShellElectron } from '../../electron/main/shell.ts';

/**
 * A FAKE `electron` module for the shell's tests (`vi.mock('electron', …)` returns `fakeElectron`,
 * and setupX() tests take its parts directly). It records what the code under test asks of
 * Electron and lets a test play Electron's side: a renderer sending IPC from some origin, a
 * navigation, a utility process posting and exiting, a second instance starting. Nothing here
 * pretends to render, spawn or show anything.
 */

export interface FakeNavigationEvent {
  url: string;
  defaultPrevented: boolean;
  preventDefault(): void;
}

export function navigationEvent(url: string): FakeNavigationEvent {
  return {
    url,
    defaultPrevented: false,
    preventDefault() {
      this.defaultPrevented = true;
    },
  };
}

export class FakeWebContents extends EventEmitter {
  windowOpenHandler: ((details: { url: string; frameName: string }) => { action: 'allow' | 'deny' }) | undefined;
  setWindowOpenHandler(handler: FakeWebContents['windowOpenHandler']): void {
    this.windowOpenHandler = handler;
  }
  /** Plays the renderer navigating (a link, a form, `location =`); true if main let it happen. */
  navigate(url: string, event: 'will-navigate' | 'will-redirect' = 'will-navigate'): boolean {
    const e = navigationEvent(url);
    this.emit(event, e, url);
    return !e.defaultPrevented;
  }
}

export class FakeBrowserWindow extends EventEmitter {
  static instances: FakeBrowserWindow[] = [];
  readonly webContents = new FakeWebContents();
  readonly loaded: string[] = [];
  readonly progress: { value: number; mode: string | undefined }[] = [];
  title = '';
  visible = false;
  focused = false;
  minimized = false;
  destroyed = false;
  constructor(readonly options: Record<string, unknown> & { webPreferences?: Record<string, unknown> }) {
    super();
    FakeBrowserWindow.instances.push(this);
  }
  loadURL(url: string): Promise<void> {
    this.loaded.push(url);
    return Promise.resolve();
  }
  show(): void {
    this.visible = true;
  }
  hide(): void {
    this.visible = false;
  }
  focus(): void {
    this.focused = true;
  }
  restore(): void {
    this.minimized = false;
  }
  isMinimized(): boolean {
    return this.minimized;
  }
  isDestroyed(): boolean {
    return this.destroyed;
  }
  setTitle(t: string): void {
    this.title = t;
  }
  setProgressBar(value: number, options?: { mode?: string }): void {
    this.progress.push({ value, mode: options?.mode });
  }
  /** Plays the user closing the window; true if it really closed. */
  close(): boolean {
    let prevented = false;
    this.emit('close', { preventDefault: () => (prevented = true) });
    if (!prevented) this.destroyed = true;
    return !prevented;
  }
}

type Handler = (event: unknown, ...args: unknown[]) => unknown;

/** The sender of an IPC message as main sees it: a frame at some URL, or none (gone). */
export const senderAt = (url: string | null) => ({ senderFrame: url === null ? null : { url } });

export class FakeIpcMain {
  readonly handlers = new Map<string, Handler>();
  /** One-way (`ipcRenderer.send`) listeners; the bridge has none, and tests check it stays so. */
  readonly listeners = new Map<string, Handler>();
  handle(channel: string, fn: Handler): void {
    this.handlers.set(channel, fn);
  }
  on(channel: string, fn: Handler): this {
    this.listeners.set(channel, fn);
    return this;
  }
  /** Plays `ipcRenderer.invoke(channel, ...args)` from a frame at `url`. */
  async invoke(channel: string, url: string | null, ...args: unknown[]): Promise<unknown> {
    const fn = this.handlers.get(channel);
    if (!fn) throw new Error(`no handler for ${channel}`);
    return fn(senderAt(url), ...args);
  }
}

export class FakeSession {
  headersListener: ((details: { url: string; responseHeaders?: Record<string, string[]> }, cb: (r: { responseHeaders?: Record<string, string[]> }) => void) => void) | undefined;
  permissionRequest: ((wc: unknown, permission: string, cb: (granted: boolean) => void, details: { requestingUrl: string }) => void) | undefined;
  permissionCheck: ((wc: unknown, permission: string, origin: string) => boolean) | undefined;
  readonly webRequest = {
    onHeadersReceived: (listener: FakeSession['headersListener']) => {
      this.headersListener = listener;
    },
  };
  setPermissionRequestHandler(fn: FakeSession['permissionRequest']): void {
    this.permissionRequest = fn;
  }
  setPermissionCheckHandler(fn: FakeSession['permissionCheck']): void {
    this.permissionCheck = fn;
  }
  /** Plays a response arriving; returns the headers Chromium would use. */
  respond(url: string, responseHeaders?: Record<string, string[]>): Record<string, string[]> | undefined {
    let out: Record<string, string[]> | undefined;
    this.headersListener?.({ url, responseHeaders }, (r) => (out = r.responseHeaders ?? responseHeaders));
    return out;
  }
}

/** A utility process: the test posts its messages and decides when (and how) it exits. */
export class FakeUtilityProcess extends EventEmitter {
  readonly posted: unknown[] = [];
  killed = false;
  constructor(
    readonly modulePath: string,
    readonly args: string[],
    readonly options: Record<string, unknown>,
  ) {
    super();
  }
  postMessage(message: unknown): void {
    this.posted.push(message);
  }
  kill(): boolean {
    this.killed = true;
    return true;
  }
  /** The child posting to main (`process.parentPort.postMessage`). */
  post(message: unknown): void {
    this.emit('message', message);
  }
  exit(code: number): void {
    this.emit('exit', code);
  }
}

export class FakeTray extends EventEmitter {
  static instances: FakeTray[] = [];
  tooltip = '';
  menus: { template: FakeMenuItem[] }[] = [];
  destroyed = false;
  constructor(readonly image: unknown) {
    super();
    FakeTray.instances.push(this);
  }
  setToolTip(t: string): void {
    this.tooltip = t;
  }
  setContextMenu(menu: { template: FakeMenuItem[] }): void {
    this.menus.push(menu);
  }
  destroy(): void {
    this.destroyed = true;
  }
  /** The item of the current menu with this label. */
  item(label: string): FakeMenuItem {
    const item = this.menus.at(-1)?.template.find((i) => i.label === label);
    if (!item) throw new Error(`no tray menu item "${label}"`);
    return item;
  }
}

export interface FakeMenuItem {
  label?: string;
  enabled?: boolean;
  visible?: boolean;
  type?: string;
  click?: () => void;
}

export class FakeNotification extends EventEmitter {
  static instances: FakeNotification[] = [];
  static supported = true;
  static isSupported(): boolean {
    return FakeNotification.supported;
  }
  shown = false;
  constructor(readonly options: { title: string; body: string }) {
    super();
    FakeNotification.instances.push(this);
  }
  show(): void {
    this.shown = true;
  }
}

export class FakeApp extends EventEmitter {
  hasLock = true;
  userData = '/nonexistent';
  readonly quit = vi.fn();
  readonly exit = vi.fn();
  appUserModelId: string | undefined;
  requestSingleInstanceLock(): boolean {
    return this.hasLock;
  }
  whenReady(): Promise<void> {
    return Promise.resolve();
  }
  getPath(name: string): string {
    if (name !== 'userData') throw new Error(`fake app: no path ${name}`);
    return this.userData;
  }
  setAppUserModelId(id: string): void {
    this.appUserModelId = id;
  }
  /** Plays the user quitting; returns whether a listener held the quit back. */
  beforeQuit(): boolean {
    let prevented = false;
    this.emit('before-quit', { preventDefault: () => (prevented = true) });
    return prevented;
  }
}

function makeFake() {
  const forks: FakeUtilityProcess[] = [];
  const exposed: { key: string; api: Record<string, unknown> }[] = [];
  return {
    app: new FakeApp(),
    BrowserWindow: FakeBrowserWindow,
    Tray: FakeTray,
    Notification: FakeNotification,
    Menu: { buildFromTemplate: (template: FakeMenuItem[]) => ({ template }) },
    ipcMain: new FakeIpcMain(),
    session: { defaultSession: new FakeSession() },
    dialog: {
      showOpenDialog: vi.fn(async (..._args: unknown[]) => ({ canceled: false, filePaths: ['/videos/a.mkv'] })),
      showErrorBox: vi.fn(),
    },
    shell: { openExternal: vi.fn(async (_url: string) => {}), openPath: vi.fn(async (_path: string) => '') },
    nativeImage: { createFromBitmap: (_buf: Buffer, size: { width: number; height: number }) => ({ fakeImage: size }) },
    utilityProcess: {
      forks,
      fork: (modulePath: string, args: string[] = [], options: Record<string, unknown> = {}) => {
        const child = new FakeUtilityProcess(modulePath, args, options);
        forks.push(child);
        return child;
      },
    },
    // Renderer-side modules, for the preload.
    contextBridge: {
      exposed,
      exposeInMainWorld: (key: string, api: Record<string, unknown>) => void exposed.push({ key, api }),
    },
    ipcRenderer: { invoke: vi.fn(async (..._args: unknown[]) => undefined as unknown), send: vi.fn() },
    webUtils: { getPathForFile: vi.fn((file: { name: string }) => `/real/${file.name}`) },
  };
}

export type FakeElectron = ReturnType<typeof makeFake>;

/** The fake module; `resetFakeElectron()` between tests gives a fresh one in the same object. */
export const fakeElectron: FakeElectron = makeFake();

export function resetFakeElectron(): void {
  Object.assign(fakeElectron, makeFake());
  FakeBrowserWindow.instances = [];
  FakeTray.instances = [];
  FakeNotification.instances = [];
  FakeNotification.supported = true;
}

/** The fake, typed as the Electron modules the shell takes (the fakes cover what it uses). */
export const asShellElectron = (fake: FakeElectron): ShellElectron => fake as unknown as ShellElectron;

/** A fake part, typed as the Electron type a setupX() takes. */
export const asElectron = <T>(fake: unknown): T => fake as T;
