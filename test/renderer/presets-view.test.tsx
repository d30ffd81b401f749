// @vitest-environment happy-dom
import { cleanup, fireEvent, render, screen, within } from '@testing-library/react';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { PresetsResponseSchema } from '../../core/shared/protocol/index.ts';
import { PresetSchema } from '../../core/shared/preset.ts';
import { ApiError, type ApiClient } from '../../renderer/src/api/client.ts';
import { AppContext, createEventsHub } from '../../renderer/src/app-context.tsx';
import { PresetsView } from '../../renderer/src/views/presets/presets-view.tsx';

/** A stand-in coordinator: answers are parsed with the real schemas, so they are what the server may send. */
function fake(methods: Partial<ApiClient>): ApiClient {
  return new Proxy(methods, {
    get: (t, k: string) => t[k as keyof ApiClient] ?? (() => Promise.reject(new Error(`fake api: ${k} not faked`))),
  }) as ApiClient;
}

const PRESETS = PresetsResponseSchema.parse({
  presets: [
    { builtin: true, preset: { id: 'h264-fast', name: 'H.264 fast', description: 'Quick and compatible', codec: 'h264', quality: 23, speed: 'fast', container: 'mp4' } },
    {
      builtin: false,
      preset: { id: 'archive', name: 'Archive HEVC', codec: 'hevc', quality: 26, speed: 'slow', maxHeight: 1080, audio: { mode: 'aac', bitrateKbps: 128 }, container: 'mkv', threads: 8 },
    },
  ],
});

function renderView(api: ApiClient) {
  return render(
    <AppContext.Provider value={{ api, connection: { baseUrl: '', token: 't' }, events: createEventsHub(), bridge: undefined, now: () => 0 }}>
      <PresetsView />
    </AppContext.Provider>,
  );
}

const input = (name: string) => screen.getByTestId('preset-form').querySelector(`[name="${name}"]`) as HTMLInputElement | HTMLSelectElement;
const type = (name: string, value: string) => fireEvent.change(input(name), { target: { value } });
const row = async (id: string) => (await screen.findAllByTestId('preset-row')).find((r) => r.dataset.presetId === id)!;

afterEach(() => cleanup());

describe('PresetsView', () => {
  it('lists presets; a built-in one can be duplicated but not edited or deleted', async () => {
    renderView(fake({ presets: async () => PRESETS }));
    const builtin = within(await row('h264-fast'));
    expect(builtin.getByText('built-in')).toBeTruthy();
    expect(builtin.queryByTestId('preset-edit')).toBeNull();
    expect(builtin.queryByTestId('preset-delete')).toBeNull();
    expect(builtin.getByTestId('preset-duplicate')).toBeTruthy();
    const user = within(await row('archive'));
    expect(user.getByTestId('preset-edit')).toBeTruthy();
    expect(user.getByTestId('preset-delete')).toBeTruthy();
    expect(user.getByText('hevc · q26 · slow · ≤1080p · audio aac 128k · mkv')).toBeTruthy();
  });

  it('duplicate prefills a copy with a new id and name and saves it with createPreset', async () => {
    const createPreset = vi.fn(async (data: unknown) => ({ preset: PresetSchema.parse(data) }));
    renderView(fake({ presets: async () => PRESETS, createPreset }));
    fireEvent.click(within(await row('archive')).getByTestId('preset-duplicate'));
    expect(input('id').value).toBe('archive-copy');
    expect(input('name').value).toBe('Archive HEVC (copy)');
    expect(input('codec').value).toBe('hevc');
    expect(input('maxHeight').value).toBe('1080');
    expect(input('audio.mode').value).toBe('aac');
    expect(input('threads').value).toBe('8');
    fireEvent.click(screen.getByTestId('preset-save'));
    await vi.waitFor(() => expect(createPreset).toHaveBeenCalledTimes(1));
    expect(createPreset.mock.calls[0]![0]).toEqual({
      id: 'archive-copy',
      name: 'Archive HEVC (copy)',
      description: '',
      codec: 'hevc',
      quality: 26,
      speed: 'slow',
      maxHeight: 1080,
      audio: { mode: 'aac', bitrateKbps: 128 },
      container: 'mkv',
      nameTemplate: '{name}.{preset}',
      threads: 8,
    });
    await vi.waitFor(() => expect(screen.queryByTestId('preset-form')).toBeNull());
  });

  it('shows client-side field messages while typing and does not send an invalid preset', async () => {
    const createPreset = vi.fn();
    renderView(fake({ presets: async () => PRESETS, createPreset }));
    await row('archive');
    fireEvent.click(screen.getByTestId('preset-new'));
    // A fresh form is not covered in "is required".
    expect(screen.queryByTestId('field-error-id')).toBeNull();

    type('id', 'Bad ID');
    expect(screen.getByTestId('field-error-id').textContent).toBe('must be 1–64 lowercase letters, digits or dashes');
    expect(input('id').getAttribute('aria-invalid')).toBe('true');
    type('audio.bitrateKbps', '8');
    expect(screen.getByTestId('field-error-audio.bitrateKbps').textContent).toBe('must be at least 32');
    type('nameTemplate', 'out');
    expect(screen.getByTestId('field-error-nameTemplate').textContent).toContain('must contain {name}');
    type('id', 'good-id');
    expect(screen.queryByTestId('field-error-id')).toBeNull();

    fireEvent.click(screen.getByTestId('preset-save'));
    // Untouched required fields are flagged on save.
    expect(screen.getByTestId('field-error-name').textContent).toBe('must not be empty');
    expect(createPreset).not.toHaveBeenCalled();

    // The codec-dependent quality limit shows once the rest is valid, as on the server.
    type('name', 'Mine');
    type('nameTemplate', '{name}');
    type('audio.bitrateKbps', '160');
    type('quality', '55');
    expect(screen.getByTestId('field-error-quality').textContent).toBe('must be at most 51 for h264 (63 is for av1 only)');
    fireEvent.change(input('codec'), { target: { value: 'av1' } });
    expect(screen.queryByTestId('field-error-quality')).toBeNull();
  });

  it('shows the server 422 field messages next to the fields and clears one when that field changes', async () => {
    const updatePreset = vi.fn(async () => {
      throw new ApiError(422, 'invalid-preset', 'the preset is not valid', { name: 'is already used by preset "other"', 'audio.mode': 'not supported by this agent' });
    });
    renderView(fake({ presets: async () => PRESETS, updatePreset }));
    fireEvent.click(within(await row('archive')).getByTestId('preset-edit'));
    expect((input('id') as HTMLInputElement).readOnly).toBe(true);
    type('quality', '30');
    fireEvent.click(screen.getByTestId('preset-save'));
    expect((await screen.findByTestId('field-error-name')).textContent).toBe('is already used by preset "other"');
    expect(screen.getByTestId('field-error-audio.mode').textContent).toBe('not supported by this agent');
    expect(screen.getByTestId('preset-form-error').textContent).toContain('the preset is not valid');
    expect(updatePreset).toHaveBeenCalledWith('archive', expect.objectContaining({ id: 'archive', quality: 30 }));

    type('name', 'Archive 2');
    expect(screen.queryByTestId('field-error-name')).toBeNull();
    expect(screen.getByTestId('field-error-audio.mode')).toBeTruthy();
  });

  it('deletes a user preset only after confirmation', async () => {
    let presets = PRESETS;
    const deletePreset = vi.fn(async (id: string) => {
      presets = { presets: presets.presets.filter((e) => e.preset.id !== id) };
      return { ok: true as const };
    });
    renderView(fake({ presets: async () => presets, deletePreset }));
    const archive = within(await row('archive'));
    fireEvent.click(archive.getByTestId('preset-delete'));
    expect(deletePreset).not.toHaveBeenCalled();
    fireEvent.click(archive.getByTestId('preset-delete-confirm'));
    await vi.waitFor(() => expect(deletePreset).toHaveBeenCalledWith('archive'));
    await vi.waitFor(() => expect(screen.getAllByTestId('preset-row').map((r) => r.dataset.presetId)).toEqual(['h264-fast']));
  });
});
