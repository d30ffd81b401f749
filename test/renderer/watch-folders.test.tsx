// @vitest-environment happy-dom
import { act, cleanup, fireEvent, render, screen, within } from '@testing-library/react';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { PresetsResponseSchema, WatchFolderViewSchema, WatchFoldersResponseSchema, type WatchFolderView } from '../../core/shared/protocol/index.ts';
import { ApiError, type ApiClient } from '../../renderer/src/api/client.ts';
import { AppContext, createEventsHub } from '../../renderer/src/app-context.tsx';
import type { EncodeFarmBridge } from '../../renderer/src/bridge.ts';
import { WatchFoldersSection } from '../../renderer/src/views/settings/watch-folders.tsx';

/** A stand-in coordinator: answers are parsed with the real schemas, so they are what the server may send. */
function fake(methods: Partial<ApiClient>): ApiClient {
  return new Proxy(methods, {
    get: (t, k: string) => t[k as keyof ApiClient] ?? (() => Promise.reject(new Error(`fake api: ${k} not faked`))),
  }) as ApiClient;
}

const PRESETS = PresetsResponseSchema.parse({
  presets: [
    { preset: { id: 'av1-small', name: 'AV1 small', codec: 'av1', quality: 35, speed: 'slow', container: 'mkv' }, builtin: false },
    { preset: { id: 'h264-fast', name: 'H.264 fast', codec: 'h264', quality: 23, speed: 'fast', container: 'mp4' }, builtin: true },
  ],
});

const INCOMING = WatchFolderViewSchema.parse({
  id: 1,
  path: '/srv/media/incoming',
  presetId: 'h264-fast',
  outDir: '/srv/media/encoded',
  recursive: true,
  include: ['*.mkv'],
  exclude: ['sample*'],
  afterAction: 'archive',
  archiveDir: '/srv/media/originals',
  stabilityMs: 15_000,
  state: 'online',
  offlineReason: null,
  createdAt: 1_700_000_000_000,
});
const NAS = WatchFolderViewSchema.parse({
  id: 2,
  path: '/mnt/nas/drop',
  presetId: 'av1-small',
  outDir: '/mnt/nas/out',
  recursive: false,
  include: [],
  exclude: [],
  afterAction: 'keep',
  archiveDir: null,
  stabilityMs: null,
  state: 'offline',
  offlineReason: 'the folder is gone (not mounted?)',
  createdAt: 1_700_000_100_000,
});

const list = (...folders: WatchFolderView[]) => WatchFoldersResponseSchema.parse({ folders });

function renderSection(api: ApiClient, bridge?: EncodeFarmBridge) {
  return render(
    <AppContext.Provider value={{ api, connection: { baseUrl: '', token: 't' }, events: createEventsHub(), bridge, now: () => 0 }}>
      <WatchFoldersSection />
    </AppContext.Provider>,
  );
}

const field = (name: string) => screen.getByTestId('watch-form').querySelector(`[name="${name}"]`) as HTMLInputElement;
const type = (name: string, value: string) => fireEvent.change(field(name), { target: { value } });
const row = (id: number) => screen.getAllByTestId('watch-folder-row').find((r) => r.dataset.folderId === String(id))!;

afterEach(() => {
  cleanup();
  vi.useRealTimers();
});

describe('WatchFoldersSection', () => {
  it('lists the folders with their settings, and an offline one with its reason', async () => {
    renderSection(fake({ watchFolders: async () => list(INCOMING, NAS) }));
    expect(await screen.findAllByTestId('watch-folder-row')).toHaveLength(2);

    const online = row(1);
    expect(online.dataset.state).toBe('online');
    expect(online.textContent).toContain('/srv/media/incoming');
    expect(online.textContent).toContain('h264-fast');
    expect(online.textContent).toContain('/srv/media/encoded');
    expect(online.textContent).toContain('watched too');
    expect(online.textContent).toContain('*.mkv');
    expect(online.textContent).toContain('sample*');
    expect(online.textContent).toContain('move the original to /srv/media/originals');
    expect(online.textContent).toContain('15 s');
    expect(within(online).queryByTestId('watch-offline-reason')).toBeNull();

    const offline = row(2);
    expect(offline.dataset.state).toBe('offline');
    expect(within(offline).getByText('Offline')).toBeTruthy();
    expect(within(offline).getByTestId('watch-offline-reason').textContent).toContain('the folder is gone (not mounted?)');
    expect(offline.textContent).toContain('keep the original');
    expect(offline.textContent).toContain('all video files');
    expect(offline.textContent).toContain('default (10 s; 30 s on a network mount)');
  });

  it('polls every 5 s so a folder going offline shows up', async () => {
    vi.useFakeTimers();
    const watchFolders = vi.fn<ApiClient['watchFolders']>().mockResolvedValueOnce(list(NAS, INCOMING)).mockResolvedValue(list(INCOMING, { ...NAS, state: 'online', offlineReason: null }));
    renderSection(fake({ watchFolders }));
    await act(async () => {});
    expect(row(2).dataset.state).toBe('offline');
    await act(async () => void (await vi.advanceTimersByTimeAsync(5000)));
    expect(watchFolders).toHaveBeenCalledTimes(2);
    expect(row(2).dataset.state).toBe('online');
    expect(within(row(2)).queryByTestId('watch-offline-reason')).toBeNull();
  });

  it('explains watch folders and shows the CLI equivalent when there are none', async () => {
    renderSection(fake({ watchFolders: async () => list() }));
    const empty = await screen.findByTestId('empty-state');
    expect(empty.textContent).toContain('watch folder');
    expect(empty.querySelector('code')?.textContent).toBe('encodefarm watch add <dir> --preset h264-fast --out <out-dir>');
    expect(screen.queryByTestId('watch-folder-row')).toBeNull();
    expect(screen.getByTestId('watch-add')).toBeTruthy();
  });

  it('adds a folder with the right body and lists it', async () => {
    const created = WatchFolderViewSchema.parse({ ...INCOMING, id: 7, path: '/data/in', outDir: '/data/out', stabilityMs: 2500 });
    const addWatchFolder = vi.fn<ApiClient['addWatchFolder']>(async () => ({ folder: created }));
    const watchFolders = vi.fn<ApiClient['watchFolders']>().mockResolvedValueOnce(list()).mockResolvedValue(list(created));
    renderSection(fake({ watchFolders, presets: async () => PRESETS, addWatchFolder }));
    await screen.findByTestId('empty-state');
    fireEvent.click(screen.getByTestId('watch-add'));
    await vi.waitFor(() => expect(field('presetId').disabled).toBe(false));
    // The CLI's default preset is preselected even when it is not first.
    expect(field('presetId').value).toBe('h264-fast');
    // No desktop bridge: no native pickers.
    expect(screen.queryByText('Choose…')).toBeNull();
    // The archive folder only matters when archiving.
    expect(field('archiveDir').disabled).toBe(true);

    type('path', ' /data/in ');
    fireEvent.change(field('presetId'), { target: { value: 'av1-small' } });
    type('outDir', '/data/out');
    fireEvent.click(field('recursive'));
    fireEvent.click(screen.getByTestId('watch-form').querySelector('[name="afterAction"][value="archive"]')!);
    type('archiveDir', '/data/originals');
    type('include', '*.mkv, *.mp4\n*.mov');
    type('exclude', 'sample*\n\n');
    type('stabilitySeconds', '2.5');
    fireEvent.click(screen.getByTestId('watch-save'));

    await vi.waitFor(() => expect(screen.queryByTestId('watch-form')).toBeNull());
    expect(addWatchFolder).toHaveBeenCalledExactlyOnceWith({
      path: '/data/in',
      presetId: 'av1-small',
      outDir: '/data/out',
      recursive: true,
      include: ['*.mkv', '*.mp4', '*.mov'],
      exclude: ['sample*'],
      afterAction: 'archive',
      archiveDir: '/data/originals',
      stabilityMs: 2500,
    });
    expect(row(7).textContent).toContain('/data/in');
    expect(screen.getByTestId('watch-notice').textContent).toContain('Watching /data/in.');
  });

  it('checks required fields and the stability window before sending', async () => {
    const addWatchFolder = vi.fn<ApiClient['addWatchFolder']>();
    renderSection(fake({ watchFolders: async () => list(), presets: async () => PRESETS, addWatchFolder }));
    fireEvent.click(await screen.findByTestId('watch-add'));
    await vi.waitFor(() => expect(field('presetId').disabled).toBe(false));
    fireEvent.click(screen.getByTestId('watch-form').querySelector('[name="afterAction"][value="archive"]')!);
    type('stabilitySeconds', '0');
    fireEvent.click(screen.getByTestId('watch-save'));
    for (const f of ['path', 'outDir', 'archiveDir', 'stabilitySeconds']) expect(screen.getByTestId(`field-error-${f}`)).toBeTruthy();
    expect(addWatchFolder).not.toHaveBeenCalled();
    // Focus goes to the first field to fix.
    await vi.waitFor(() => expect(document.activeElement).toBe(field('path')));
    // Typing in a field clears its message.
    type('path', '/x');
    expect(screen.queryByTestId('field-error-path')).toBeNull();
    // A relative path would mean the coordinator's working directory: refused here already.
    type('outDir', 'encoded');
    fireEvent.click(screen.getByTestId('watch-save'));
    expect(screen.getByTestId('field-error-outDir').textContent).toBe('must be an absolute path');
    expect(addWatchFolder).not.toHaveBeenCalled();
  });

  it('shows the server 422 field messages next to the fields, whatever the server calls them', async () => {
    const addWatchFolder = vi.fn<ApiClient['addWatchFolder']>(async () => {
      throw new ApiError(422, 'invalid-watch-folder', '/data/in: no such folder', {
        path: '/data/in: no such folder',
        out: 'the output folder is the watched folder',
        stableS: 'must be at most 86400',
      });
    });
    renderSection(fake({ watchFolders: async () => list(), presets: async () => PRESETS, addWatchFolder }));
    fireEvent.click(await screen.findByTestId('watch-add'));
    await vi.waitFor(() => expect(field('presetId').disabled).toBe(false));
    type('path', '/data/in');
    type('outDir', '/data/in');
    fireEvent.click(screen.getByTestId('watch-save'));
    expect((await screen.findByTestId('field-error-path')).textContent).toBe('/data/in: no such folder');
    expect(screen.getByTestId('field-error-outDir').textContent).toBe('the output folder is the watched folder');
    expect(screen.getByTestId('field-error-stabilitySeconds').textContent).toBe('must be at most 86400');
    expect(field('path').getAttribute('aria-invalid')).toBe('true');
    // The form stays open with what was typed.
    expect(field('outDir').value).toBe('/data/in');
    expect(screen.queryByTestId('watch-form-error')).toBeNull();
  });

  it('says clearly when the folder is watched already (409)', async () => {
    const message = '/srv/media/incoming is watched already (watch folder 1); remove it first to change its settings';
    const addWatchFolder = vi.fn<ApiClient['addWatchFolder']>(async () => {
      throw new ApiError(409, 'watch-exists', message, { path: message });
    });
    renderSection(fake({ watchFolders: async () => list(INCOMING), presets: async () => PRESETS, addWatchFolder }));
    fireEvent.click(await screen.findByTestId('watch-add'));
    await vi.waitFor(() => expect(field('presetId').disabled).toBe(false));
    type('path', '/srv/media/incoming');
    type('outDir', '/srv/out');
    fireEvent.click(screen.getByTestId('watch-save'));
    const banner = await screen.findByTestId('watch-form-error');
    expect(banner.getAttribute('role')).toBe('alert');
    expect(banner.textContent).toContain('This folder is watched already');
    expect(screen.getByTestId('field-error-path').textContent).toBe(message);
  });

  it('removes a folder only after confirming', async () => {
    const removeWatchFolder = vi.fn<ApiClient['removeWatchFolder']>(async () => ({ ok: true as const }));
    const watchFolders = vi.fn<ApiClient['watchFolders']>().mockResolvedValueOnce(list(INCOMING, NAS)).mockResolvedValue(list(INCOMING));
    renderSection(fake({ watchFolders, removeWatchFolder }));
    await screen.findAllByTestId('watch-folder-row');

    fireEvent.click(within(row(2)).getByTestId('watch-remove'));
    expect(removeWatchFolder).not.toHaveBeenCalled();
    fireEvent.click(within(row(2)).getByTestId('watch-remove-cancel'));
    expect(removeWatchFolder).not.toHaveBeenCalled();

    fireEvent.click(within(row(2)).getByTestId('watch-remove'));
    expect(within(row(2)).getByText(/Stop watching drop\?/)).toBeTruthy();
    fireEvent.click(within(row(2)).getByTestId('watch-remove-confirm'));
    await vi.waitFor(() => expect(screen.getAllByTestId('watch-folder-row')).toHaveLength(1));
    expect(removeWatchFolder).toHaveBeenCalledExactlyOnceWith(2);
    expect(screen.getByTestId('watch-notice').textContent).toContain('Stopped watching /mnt/nas/drop.');
  });

  it('keeps the row and says why when removing fails', async () => {
    const removeWatchFolder = vi.fn<ApiClient['removeWatchFolder']>(async () => {
      throw new ApiError(404, 'no-such-watch-folder', 'no watch folder 2');
    });
    vi.useFakeTimers();
    const watchFolders = vi.fn<ApiClient['watchFolders']>(async () => list(NAS));
    renderSection(fake({ watchFolders, removeWatchFolder }));
    await act(async () => {});
    fireEvent.click(screen.getByTestId('watch-remove'));
    await act(async () => void fireEvent.click(screen.getByTestId('watch-remove-confirm')));
    expect(screen.getByRole('alert').textContent).toContain('no watch folder 2');
    expect(screen.getAllByTestId('watch-folder-row')).toHaveLength(1);
    // The next poll succeeding does not take the message away before it is read.
    await act(async () => void (await vi.advanceTimersByTimeAsync(5000)));
    expect(watchFolders).toHaveBeenCalledTimes(2);
    expect(screen.getByRole('alert').textContent).toContain('no watch folder 2');
  });

  it('fills the folders with the desktop folder picker', async () => {
    const picks = ['/Users/me/Downloads', '/Users/me/Movies/encoded'];
    const bridge: EncodeFarmBridge = {
      getPathForFile: () => '',
      pickFiles: async () => [],
      pickFolder: vi.fn(async () => picks.shift() ?? null),
    };
    renderSection(fake({ watchFolders: async () => list(), presets: async () => PRESETS }), bridge);
    fireEvent.click(await screen.findByTestId('watch-add'));
    fireEvent.click(screen.getByTestId('watch-choose-path'));
    await vi.waitFor(() => expect(field('path').value).toBe('/Users/me/Downloads'));
    fireEvent.click(screen.getByTestId('watch-choose-outDir'));
    await vi.waitFor(() => expect(field('outDir').value).toBe('/Users/me/Movies/encoded'));
    // A canceled picker leaves the field alone.
    fireEvent.click(screen.getByTestId('watch-choose-path'));
    await vi.waitFor(() => expect(bridge.pickFolder).toHaveBeenCalledTimes(3));
    expect(field('path').value).toBe('/Users/me/Downloads');
  });
});
