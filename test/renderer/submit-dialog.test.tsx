// @vitest-environment happy-dom
import { act, cleanup, fireEvent, screen, waitFor } from '@testing-library/react';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { PresetsResponseSchema, SettingsResponseSchema, type SubmitResponse } from '../../core/shared/protocol/index.ts';
import { ApiError, type ApiClient } from '../../renderer/src/api/client.ts';
import { inputFromFile, inputFromPath, type PendingInput } from '../../renderer/src/views/submit/pending-input.ts';
import { SubmitDialog } from '../../renderer/src/views/submit/submit-dialog.tsx';
import { uniqueName } from '../../renderer/src/views/submit/upload-inputs.ts';
import { fake, fakeBridge, renderWithApp } from './queue-fake-api.tsx';

const PRESETS = PresetsResponseSchema.parse({
  presets: [
    { preset: { id: 'h264-fast', name: 'H.264 fast', codec: 'h264', quality: 23, speed: 'fast', container: 'mp4' }, builtin: true },
    { preset: { id: 'av1-small', name: 'AV1 small', codec: 'av1', quality: 35, speed: 'slow', container: 'mkv' }, builtin: false },
  ],
});
const SETTINGS = SettingsResponseSchema.parse({
  settings: { defaultOutDir: '/srv/encoded', onExists: 'skip', concurrency: null },
  ffmpeg: { path: '/usr/bin/ffmpeg', ffprobePath: '/usr/bin/ffprobe', version: '7.1' },
  dataDir: '/srv/ef',
  inboxDir: '/srv/ef/inbox',
});
const OK: SubmitResponse = { batchId: 12, jobIds: [101, 102], resumed: false, errors: [] };

function baseApi(over: Partial<ApiClient> = {}): Partial<ApiClient> {
  return { presets: async () => PRESETS, settings: async () => SETTINGS, ...over };
}

function renderDialog(api: ApiClient, inputs: PendingInput[], bridge = undefined as ReturnType<typeof fakeBridge> | undefined) {
  const onClose = vi.fn();
  const onSubmitted = vi.fn();
  const r = renderWithApp(<SubmitDialog inputs={inputs} onRemove={() => undefined} onClose={onClose} onSubmitted={onSubmitted} />, api, bridge);
  return { ...r, onClose, onSubmitted };
}

const files = () => [inputFromFile(new File(['aaaa'], 'a.mp4')), inputFromFile(new File(['bbbbbb'], 'b.mkv'))];

beforeEach(() => localStorage.clear());
afterEach(() => {
  cleanup();
  vi.restoreAllMocks();
});

describe('SubmitDialog in a browser', () => {
  it('uploads each file with progress, then submits the returned paths', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const upload = vi.fn<ApiClient['upload']>(async (uploadId, file, onProgress) => {
      onProgress?.(50, 100);
      if (file.name === 'a.mp4') await gate;
      return { path: `/srv/ef/inbox/${uploadId}/${file.name}`, sizeBytes: file.size };
    });
    const submit = vi.fn<ApiClient['submit']>(async () => OK);
    const { onClose, onSubmitted } = renderDialog(fake(baseApi({ upload, submit })), files());
    expect(screen.getAllByTestId('submit-file').map((li) => li.textContent)).toEqual([expect.stringContaining('a.mp4'), expect.stringContaining('b.mkv')]);
    await waitFor(() => expect((screen.getByTestId('submit-outdir') as HTMLInputElement).value).toBe('/srv/encoded'));
    expect((screen.getByTestId('submit-preset') as HTMLSelectElement).value).toBe('h264-fast');
    expect(screen.queryByText('Choose…')).toBeNull();

    fireEvent.change(screen.getByTestId('submit-preset'), { target: { value: 'av1-small' } });
    fireEvent.click(screen.getByTestId('submit-confirm'));
    const bar = await screen.findByTestId('upload-progress');
    expect(bar.getAttribute('aria-valuenow')).toBe('50');
    await act(async () => release());
    await waitFor(() => expect(submit).toHaveBeenCalled());

    const uploadId = upload.mock.calls[0]![0];
    expect(uploadId).toMatch(/^[A-Za-z0-9_-]{8,64}$/);
    expect(upload.mock.calls.map((c) => [c[0], c[1].name])).toEqual([
      [uploadId, 'a.mp4'],
      [uploadId, 'b.mkv'],
    ]);
    expect(submit).toHaveBeenCalledWith({ inputs: [`/srv/ef/inbox/${uploadId}/a.mp4`, `/srv/ef/inbox/${uploadId}/b.mkv`], presetId: 'av1-small', outDir: '/srv/encoded' });
    expect(onSubmitted).toHaveBeenCalledWith(OK);
    expect(onClose).toHaveBeenCalled();
  });

  it('sends an empty output folder as null (the coordinator default)', async () => {
    const submit = vi.fn<ApiClient['submit']>(async () => OK);
    const upload = vi.fn<ApiClient['upload']>(async (id, f) => ({ path: `/in/${id}/${f.name}`, sizeBytes: f.size }));
    renderDialog(fake(baseApi({ upload, submit })), files().slice(0, 1));
    await waitFor(() => expect((screen.getByTestId('submit-outdir') as HTMLInputElement).value).toBe('/srv/encoded'));
    fireEvent.change(screen.getByTestId('submit-outdir'), { target: { value: '  ' } });
    fireEvent.click(screen.getByTestId('submit-confirm'));
    await waitFor(() => expect(submit).toHaveBeenCalledWith(expect.objectContaining({ outDir: null })));
  });

  it('shows the inputs the coordinator refused and stays open', async () => {
    const submit = vi.fn<ApiClient['submit']>(async () => ({ ...OK, jobIds: [101], errors: ['b.mkv: not a video'] }));
    const upload = vi.fn<ApiClient['upload']>(async (id, f) => ({ path: `/in/${id}/${f.name}`, sizeBytes: f.size }));
    const { onClose, onSubmitted } = renderDialog(fake(baseApi({ upload, submit })), files());
    await screen.findByText('H.264 fast (h264-fast)');
    fireEvent.click(screen.getByTestId('submit-confirm'));
    const error = await screen.findByTestId('submit-error');
    expect(error.textContent).toContain('b.mkv: not a video');
    expect(error.textContent).toContain('1 job added');
    expect(onSubmitted).toHaveBeenCalled();
    expect(onClose).not.toHaveBeenCalled();
    fireEvent.click(screen.getByTestId('submit-cancel'));
    expect(onClose).toHaveBeenCalled();
  });

  it('shows an upload refusal and lets the user try again', async () => {
    const upload = vi.fn<ApiClient['upload']>(async (_id, f) => {
      throw new ApiError(413, 'too-large', `${f.name}: the file is larger than 64 GiB`);
    });
    const submit = vi.fn<ApiClient['submit']>();
    renderDialog(fake(baseApi({ upload, submit })), files());
    await screen.findByText('H.264 fast (h264-fast)');
    fireEvent.click(screen.getByTestId('submit-confirm'));
    expect((await screen.findByTestId('submit-error')).textContent).toContain('a.mp4: the file is larger than 64 GiB');
    expect(submit).not.toHaveBeenCalled();
    expect((screen.getByTestId('submit-confirm') as HTMLButtonElement).disabled).toBe(false);
  });

  it('gives clashing names distinct inbox names', () => {
    const taken = new Set<string>();
    expect(['a.mp4', 'a.mp4', 'a.mp4', 'b'].map((n) => uniqueName(n, taken))).toEqual(['a.mp4', 'a (2).mp4', 'a (3).mp4', 'b']);
  });
});

describe('SubmitDialog in Electron', () => {
  it('submits the real paths from getPathForFile without uploading', async () => {
    const bridge = fakeBridge({ pickFolder: vi.fn(async () => '/home/me/encoded') });
    const upload = vi.fn<ApiClient['upload']>();
    const submit = vi.fn<ApiClient['submit']>(async () => OK);
    const { onClose } = renderDialog(fake(baseApi({ upload, submit })), [...files(), inputFromPath('/media/raw/c.mov')], bridge);
    await screen.findByText('H.264 fast (h264-fast)');
    fireEvent.click(screen.getByText('Choose…'));
    await waitFor(() => expect((screen.getByTestId('submit-outdir') as HTMLInputElement).value).toBe('/home/me/encoded'));
    fireEvent.click(screen.getByTestId('submit-confirm'));
    await waitFor(() => expect(submit).toHaveBeenCalled());
    expect(bridge.getPathForFile).toHaveBeenCalledTimes(2);
    expect(upload).not.toHaveBeenCalled();
    expect(submit).toHaveBeenCalledWith({ inputs: ['/real/a.mp4', '/real/b.mkv', '/media/raw/c.mov'], presetId: 'h264-fast', outDir: '/home/me/encoded' });
    expect(onClose).toHaveBeenCalled();
  });
});
