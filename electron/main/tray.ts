import type { Menu, MenuItemConstructorOptions, NativeImage, Tray } from 'electron';
import type { FarmProgress } from './farm-monitor.ts';
import { connectionOf, describeLink, describeProgress, type LinkStatus } from './link-status.ts';

export interface TrayState {
  link: LinkStatus;
  progress: FarmProgress | null;
}

export interface TrayActions {
  show(): void;
  pauseAll(): void;
  resumeAll(): void;
  restartCoordinator(): void;
  openSettings(): void;
  quit(): void;
}

export interface TrayDeps {
  Tray: new (image: NativeImage) => Tray;
  Menu: Pick<typeof Menu, 'buildFromTemplate'>;
  image: NativeImage;
  actions: TrayActions;
}

/**
 * The tray icon: the coordinator's state and the farm's progress in the tooltip, and a menu to
 * show the window, pause or resume every batch, and quit (closing the window only hides it).
 */
export function setupTray(deps: TrayDeps) {
  const tray = new deps.Tray(deps.image);
  tray.on('click', () => deps.actions.show());
  let menuKey: string | undefined;
  return {
    update(state: TrayState): void {
      tray.setToolTip(trayTooltip(state));
      const template = trayMenuTemplate(state, deps.actions);
      // Rebuilt only when it changes: some Linux trays redraw (and close) an open menu on every set.
      const key = JSON.stringify(template.map((i) => [i.label, i.enabled, i.visible]));
      if (key === menuKey) return;
      menuKey = key;
      tray.setContextMenu(deps.Menu.buildFromTemplate(template));
    },
    destroy: () => tray.destroy(),
  };
}

export function trayTooltip(state: TrayState): string {
  const connected = connectionOf(state.link) !== null;
  return ['EncodeFarm', describeLink(state.link), ...(connected ? [describeProgress(state.progress)] : [])].join('\n');
}

export function trayMenuTemplate(state: TrayState, actions: TrayActions): MenuItemConstructorOptions[] {
  const connected = connectionOf(state.link) !== null;
  const local = state.link.state !== 'remote';
  const p = state.progress;
  return [
    { label: describeLink(state.link), enabled: false },
    ...(connected ? [{ label: describeProgress(p), enabled: false }] : []),
    { type: 'separator' },
    { label: 'Show EncodeFarm', click: () => actions.show() },
    { label: 'Pause all batches', enabled: connected && p !== null && p.pending > 0 && !p.paused, click: () => actions.pauseAll() },
    { label: 'Resume all', enabled: connected && p !== null && (p.paused || p.counts.paused > 0), click: () => actions.resumeAll() },
    { label: 'Restart coordinator', visible: local, enabled: local && state.link.state !== 'starting', click: () => actions.restartCoordinator() },
    { label: 'Connection settings…', click: () => actions.openSettings() },
    { type: 'separator' },
    { label: 'Quit EncodeFarm', click: () => actions.quit() },
  ];
}
