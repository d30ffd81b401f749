// @vitest-environment happy-dom
import { cleanup, fireEvent, render, screen } from '@testing-library/react';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { SettingsResponseSchema, type FarmSettings } from '../../core/shared/protocol/index.ts';
import { ApiError, type ApiClient } from '../../renderer/src/api/client.ts';
import { AppContext, createEventsHub } from '../../renderer/src/app-context.tsx';
import type { EncodeFarmBridge } from '../../renderer/src/bridge.ts';
import { SettingsView } from '../../renderer/src/views/settings/settings-view.tsx';

/** A stand-in coordinator: answers are parsed with the real schemas, so they are what the server may send. */
function fake(methods: Partial<ApiClient>): ApiClient {
  return new Proxy(methods, {
    get: (t, k: string) => t[k as keyof ApiClient] ?? (() => Promise.reject(new Error(`fake api: ${k} not faked`))),
  }) as ApiClient;
}

const SETTINGS = SettingsResponseSchema.parse({
  settings: { defaultOutDir: '/srv/media/out', onExists: 'skip', concurrency: null },
  ffmpeg: { path: '/usr/bin/ffmpeg', ffprobePath: '/usr/bin/ffprobe', version: '7.1.1' },
  dataDir: '/home/ef/.local/share/encodefarm',
  inboxDir: '/home/ef/.local/share/encodefarm/inbox',
});

/** Answers a PUT the way the server does: the saved settings merged with the patch. */
const echo = (patch: Partial<FarmSettings>) => SettingsResponseSchema.parse({ ...SETTINGS, settings: { ...SETTINGS.settings, ...patch } });

function renderView(api: ApiClient, bridge?: EncodeFarmBridge) {
  return render(
    <AppContext.Provider value={{ api, connection: { baseUrl: '', token: 't' }, events: createEventsHub(), bridge, now: () => 0 }}>
      <SettingsView />
    </AppContext.Provider>,
  );
}

const field = (name: string) => screen.getByTestId('settings-form').querySelector(`[name="${name}"]`) as HTMLInputElement;

afterEach(() => cleanup());

describe('SettingsView', () => {
  it('shows the settings and the read-only ffmpeg and folder facts', async () => {
    renderView(fake({ settings: async () => SETTINGS }));
    await screen.findByTestId('settings-form');
    expect(field('defaultOutDir').value).toBe('/srv/media/out');
    expect((screen.getByTestId('settings-form').querySelector('[name="onExists"]:checked') as HTMLInputElement).value).toBe('skip');
    expect(field('concurrency').value).toBe('');
    expect(field('concurrency').placeholder).toBe('automatic');
    expect(screen.getByTestId('settings-ffmpeg').textContent).toContain('/usr/bin/ffmpeg');
    expect(screen.getByTestId('settings-ffmpeg').textContent).toContain('7.1.1');
    expect(screen.getByTestId('settings-inbox-dir').textContent).toBe('/home/ef/.local/share/encodefarm/inbox');
    expect(screen.getByTestId('settings-save').hasAttribute('disabled')).toBe(true);
    // No desktop bridge, no folder picker.
    expect(screen.queryByText('Choose…')).toBeNull();
  });

  it('saves only the changed fields and says so', async () => {
    const updateSettings = vi.fn(async (patch: Partial<FarmSettings>) => echo(patch));
    renderView(fake({ settings: async () => SETTINGS, updateSettings }));
    await screen.findByTestId('settings-form');
    fireEvent.click(screen.getByLabelText(/Add a suffix/));
    fireEvent.change(field('concurrency'), { target: { value: '4' } });
    fireEvent.click(screen.getByTestId('settings-save'));
    expect(await screen.findByTestId('settings-saved')).toBeTruthy();
    expect(updateSettings).toHaveBeenCalledExactlyOnceWith({ onExists: 'suffix', concurrency: 4 });
    expect(screen.getByTestId('settings-save').hasAttribute('disabled')).toBe(true);

    // Emptying the folder means "next to the sources" (null), not an empty path.
    fireEvent.change(field('defaultOutDir'), { target: { value: '  ' } });
    expect(screen.queryByTestId('settings-saved')).toBeNull();
    fireEvent.click(screen.getByTestId('settings-save'));
    await screen.findByTestId('settings-saved');
    expect(updateSettings).toHaveBeenLastCalledWith({ defaultOutDir: null });
  });

  it('shows the server 422 field messages next to the fields', async () => {
    const updateSettings = vi.fn(async () => {
      throw new ApiError(422, 'invalid-settings', 'the settings are not valid', { defaultOutDir: 'must be an absolute path' });
    });
    renderView(fake({ settings: async () => SETTINGS, updateSettings }));
    await screen.findByTestId('settings-form');
    fireEvent.change(field('defaultOutDir'), { target: { value: 'relative/out' } });
    fireEvent.click(screen.getByTestId('settings-save'));
    expect((await screen.findByTestId('field-error-defaultOutDir')).textContent).toBe('must be an absolute path');
    expect(field('defaultOutDir').getAttribute('aria-invalid')).toBe('true');
    expect(screen.queryByTestId('settings-saved')).toBeNull();
    expect(updateSettings).toHaveBeenCalledWith({ defaultOutDir: 'relative/out' });
  });

  it('refuses a concurrency that is not a whole number from 1 to 64 before sending it', async () => {
    const updateSettings = vi.fn();
    renderView(fake({ settings: async () => SETTINGS, updateSettings }));
    await screen.findByTestId('settings-form');
    fireEvent.change(field('concurrency'), { target: { value: '100' } });
    fireEvent.click(screen.getByTestId('settings-save'));
    expect(screen.getByTestId('field-error-concurrency').textContent).toContain('1 to 64');
    expect(updateSettings).not.toHaveBeenCalled();
  });

  it('picks the output folder with the desktop bridge', async () => {
    const bridge: EncodeFarmBridge = {
      getPathForFile: () => '',
      pickFiles: async () => [],
      pickFolder: async () => '/Users/me/Movies/out',
    };
    renderView(fake({ settings: async () => SETTINGS }), bridge);
    await screen.findByTestId('settings-form');
    fireEvent.click(screen.getByText('Choose…'));
    await vi.waitFor(() => expect(field('defaultOutDir').value).toBe('/Users/me/Movies/out'));
  });
});
