// @vitest-environment happy-dom
import { act, cleanup, fireEvent, render, screen, waitFor } from '@testing-library/react';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { PresetsResponseSchema } from '../../core/shared/protocol/index.ts';
import { ApiError, type ApiClient } from '../../renderer/src/api/client.ts';
import { App, AppShell } from '../../renderer/src/app.tsx';
import type { EncodeFarmBridge } from '../../renderer/src/bridge.ts';
import { fake, fakeBridge, fakeViewport, job, jobsEndpoint, servicesFor } from './queue-fake-api.tsx';

const PRESETS = PresetsResponseSchema.parse({
  presets: [{ preset: { id: 'h264-fast', name: 'H.264 fast', codec: 'h264', quality: 23, speed: 'fast', container: 'mp4' }, builtin: true }],
});

let restoreViewport: () => void;
beforeEach(() => {
  restoreViewport = fakeViewport();
  sessionStorage.clear();
  window.location.hash = '#/queue';
});
afterEach(() => {
  cleanup();
  restoreViewport();
  vi.unstubAllGlobals();
  vi.useRealTimers();
  vi.restoreAllMocks();
});

function renderShell(api: ApiClient, bridge?: EncodeFarmBridge) {
  const services = servicesFor(api, bridge);
  render(<AppShell services={services} />);
  return services;
}

/** A WebSocket that opens on demand, for the real App's events connection. */
class FakeSocket {
  static last: FakeSocket | undefined;
  onopen: (() => void) | null = null;
  onmessage: ((e: { data: string }) => void) | null = null;
  onclose: (() => void) | null = null;
  constructor(
    readonly url: string,
    readonly protocols: string[],
  ) {
    FakeSocket.last = this;
  }
  close() {
    this.onclose?.();
  }
}

describe('App', () => {
  it('asks for the link printed by serve when there is no token', () => {
    window.location.hash = '';
    render(<App />);
    expect(screen.getByTestId('missing-token').textContent).toContain('Open the link printed by encodefarm serve (it carries the token)');
  });

  it('takes the token from the URL, uses it for the API and the events socket, and shows the link state', async () => {
    window.location.hash = '#token=s3cret';
    const fetch = vi.fn(async () => new Response(JSON.stringify({ total: 0, offset: 0, jobs: [], counts: {} }), { status: 200 }));
    vi.stubGlobal('fetch', fetch);
    vi.stubGlobal('WebSocket', FakeSocket);
    render(<App />);
    expect(window.location.hash).toBe('#/queue');
    await screen.findByTestId('empty-state');
    const [url, init] = fetch.mock.calls[0] as unknown as [string, RequestInit];
    expect(url).toContain('/api/v1/jobs?');
    expect((init.headers as Record<string, string>).authorization).toBe('Bearer s3cret');
    expect(FakeSocket.last!.protocols).toEqual(['encodefarm.v1', 'bearer.s3cret']);
    expect(screen.getByTestId('connection-status').dataset.state).toBe('connecting');
    act(() => FakeSocket.last!.onopen!());
    expect(screen.getByTestId('connection-status').dataset.state).toBe('open');
  });
});

describe('AppShell', () => {
  it('says the token was rejected when the API answers 401', async () => {
    renderShell(fake({ jobs: async () => Promise.reject(new ApiError(401, 'unauthorized', 'bad token')) }));
    const screenEl = await screen.findByTestId('token-rejected');
    expect(screenEl.textContent).toContain('Token rejected');
    expect(screenEl.textContent).toContain('Open the link printed by encodefarm serve again');
  });

  it('navigates with the hash and opens the job detail beside the queue', async () => {
    renderShell(fake({ jobs: jobsEndpoint(3), job: async () => Promise.reject(new ApiError(404, 'no-such-job', 'gone')) }));
    await screen.findAllByTestId('queue-row');
    expect(screen.getByTestId('nav-queue').getAttribute('aria-current')).toBe('page');
    for (const v of ['devices', 'presets', 'history', 'settings']) expect(screen.getByTestId(`nav-${v}`).getAttribute('href')).toBe(`#/${v}`);
    act(() => {
      window.location.hash = '#/queue/job/2';
      window.dispatchEvent(new HashChangeEvent('hashchange'));
    });
    expect((await screen.findByTestId('job-detail')).dataset.jobId).toBe('2');
    expect(screen.getByTestId('queue-list')).toBeTruthy();
    fireEvent.click(screen.getByTestId('job-detail-close'));
    await waitFor(() => expect(screen.queryByTestId('job-detail')).toBeNull());
    act(() => {
      window.location.hash = '#/settings';
      window.dispatchEvent(new HashChangeEvent('hashchange'));
    });
    await waitFor(() => expect(screen.queryByTestId('queue-list')).toBeNull());
    expect(screen.getByTestId('nav-settings').getAttribute('aria-current')).toBe('page');
  });

  it('opens the submit dialog from the file input and closes it after submitting', async () => {
    const submit = vi.fn<ApiClient['submit']>(async () => ({ batchId: 3, jobIds: [1], resumed: false, errors: [] }));
    const upload = vi.fn<ApiClient['upload']>(async (id, f) => ({ path: `/inbox/${id}/${f.name}`, sizeBytes: f.size }));
    const jobs = jobsEndpoint(0);
    renderShell(fake({ jobs, presets: async () => PRESETS, settings: async () => Promise.reject(new Error('x')), upload, submit }));
    const input = screen.getByTestId('file-input') as HTMLInputElement;
    expect(input.type).toBe('file');
    expect(input.multiple).toBe(true);
    fireEvent.change(input, { target: { files: [new File(['x'], 'holiday.mp4')] } });
    expect((await screen.findAllByTestId('submit-file'))[0]!.textContent).toContain('holiday.mp4');
    await screen.findByText('H.264 fast (h264-fast)');
    fireEvent.click(screen.getByTestId('submit-confirm'));
    await waitFor(() => expect(screen.queryByTestId('submit-dialog')).toBeNull());
    expect(submit).toHaveBeenCalledWith(expect.objectContaining({ inputs: [expect.stringMatching(/\/holiday\.mp4$/)] }));
    expect(screen.getByText('Batch #3: 1 job added.')).toBeTruthy();
    // The queue is told to refetch at once, without waiting for the events socket.
    await waitFor(() => expect(jobs.mock.calls.length).toBeGreaterThanOrEqual(2));
  });

  it('shows the drop overlay while files are dragged over the window and opens the dialog on drop', async () => {
    renderShell(fake({ jobs: jobsEndpoint(0), presets: async () => PRESETS, settings: async () => Promise.reject(new Error('x')) }));
    const file = new File(['x'], 'dropped.mkv');
    const dataTransfer = { types: ['Files'], files: [file], items: [], dropEffect: 'none' };
    fireEvent.dragEnter(window, { dataTransfer });
    expect(screen.getByTestId('drop-overlay')).toBeTruthy();
    fireEvent.dragLeave(window, { dataTransfer, relatedTarget: null });
    expect(screen.queryByTestId('drop-overlay')).toBeNull();
    fireEvent.dragEnter(window, { dataTransfer });
    fireEvent.drop(window, { dataTransfer });
    expect(screen.queryByTestId('drop-overlay')).toBeNull();
    expect((await screen.findAllByTestId('submit-file'))[0]!.textContent).toContain('dropped.mkv');
    // Row drags inside the queue carry no files and raise no overlay.
    fireEvent.dragEnter(window, { dataTransfer: { types: ['application/x-encodefarm-jobs'] } });
    expect(screen.queryByTestId('drop-overlay')).toBeNull();
  });

  it('uses the native picker in Electron', async () => {
    const bridge = fakeBridge({ pickFiles: vi.fn(async () => ['/media/a.mov', '/media/b.mp4']) });
    renderShell(fake({ jobs: jobsEndpoint(0), presets: async () => PRESETS, settings: async () => Promise.reject(new Error('x')) }), bridge);
    fireEvent.click(screen.getByTestId('add-files'));
    await waitFor(() => expect(screen.getAllByTestId('submit-file').map((f) => f.textContent)).toEqual([expect.stringContaining('a.mov'), expect.stringContaining('b.mp4')]));
    expect(bridge.pickFiles).toHaveBeenCalled();
  });

  it('leaves notifications and taskbar progress to Electron main: live frames touch no bridge member', async () => {
    vi.useFakeTimers({ shouldAdvanceTime: true });
    const bridge = fakeBridge();
    const jobs = jobsEndpoint(0);
    const services = renderShell(fake({ jobs }), bridge);
    act(() => services.events.emitFrame({ type: 'jobs', jobs: [job(1, { state: 'running', percent: 40 }), job(2, { state: 'running', percent: 60 })] }));
    act(() => services.events.emitFrame({ type: 'jobs', jobs: [job(1, { state: 'done', percent: 100 }), job(2, { state: 'failed', errorMessage: 'moov atom not found' })] }));
    await act(async () => vi.advanceTimersByTimeAsync(3000));
    expect(Object.keys(bridge).sort()).toEqual(['getPathForFile', 'pickFiles', 'pickFolder']);
    for (const member of Object.values(bridge)) expect(member).not.toHaveBeenCalled();
    // No "is the batch finished?" lookups from the page either: main's farm monitor does that.
    expect(jobs).not.toHaveBeenCalledWith(expect.objectContaining({ batchId: 1 }));
  });
});
