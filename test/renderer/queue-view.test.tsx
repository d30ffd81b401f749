// @vitest-environment happy-dom
import { act, cleanup, fireEvent, screen, waitFor, within } from '@testing-library/react';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { StatusResponseSchema } from '../../core/shared/protocol/index.ts';
import type { ApiClient } from '../../renderer/src/api/client.ts';
import { QueueView } from '../../renderer/src/views/queue/queue-view.tsx';
import { fake, fakeViewport, job, jobsEndpoint, renderWithApp } from './queue-fake-api.tsx';

let restoreViewport: () => void;
beforeEach(() => {
  restoreViewport = fakeViewport();
  window.location.hash = '#/queue';
});
afterEach(() => {
  cleanup();
  restoreViewport();
  vi.useRealTimers();
  vi.restoreAllMocks();
});

const rows = () => screen.queryAllByTestId('queue-row');
const row = (id: number) => rows().find((r) => r.dataset.jobId === String(id))!;

async function renderQueue(api: ApiClient) {
  const r = renderWithApp(<QueueView />, api);
  await waitFor(() => expect(rows().length).toBeGreaterThan(0));
  return r;
}

describe('QueueView', () => {
  it('renders only the rows around the viewport for 100k jobs and fetches one page of 200', async () => {
    const jobs = jobsEndpoint(100_000);
    await renderQueue(fake({ jobs }));
    expect(screen.getByTestId('queue-count').textContent).toBe('100000 jobs');
    // 600 px / 36 px ≈ 17 rows + 12 overscan below.
    expect(rows().length).toBeLessThanOrEqual(60);
    expect(jobs).toHaveBeenCalledTimes(1);
    expect(jobs.mock.calls[0]![0]).toMatchObject({ offset: 0, limit: 200, sort: 'queue', dir: 'asc', states: [], q: '' });
    expect(document.querySelectorAll('.queue-item').length).toBeLessThanOrEqual(60);
  });

  it('fetches the pages around the viewport after a scroll deep into the list', async () => {
    const jobs = jobsEndpoint(100_000);
    await renderQueue(fake({ jobs }));
    const list = screen.getByTestId('queue-list');
    Object.defineProperty(list, 'scrollTop', { configurable: true, get: () => 50_000 * 36 });
    fireEvent.scroll(list);
    await waitFor(() => expect(rows().some((r) => r.dataset.jobId === '50001')).toBe(true));
    const offsets = jobs.mock.calls.map((c) => c[0]!.offset);
    expect(offsets).toEqual(expect.arrayContaining([49_800, 50_000]));
    expect(offsets).not.toContain(200);
    expect(rows().length).toBeLessThanOrEqual(60);
  });

  it('fetches only where a fling through the list comes to rest, not every page it passes', async () => {
    const jobs = jobsEndpoint(100_000);
    await renderQueue(fake({ jobs }));
    const list = screen.getByTestId('queue-list');
    let top = 0;
    Object.defineProperty(list, 'scrollTop', { configurable: true, get: () => top });
    // Ten scroll events in one burst, 5,000 rows apart (well inside the settle time).
    for (let i = 1; i <= 10; i++) {
      top = i * 5_000 * 36;
      fireEvent.scroll(list);
    }
    await waitFor(() => expect(rows().some((r) => r.dataset.jobId === '50001')).toBe(true));
    const offsets = jobs.mock.calls.map((c) => c[0]!.offset).filter((o) => o !== 0);
    expect(offsets.every((o) => o !== undefined && o >= 49_800 && o <= 50_200)).toBe(true);
  });

  it('fills a row with the job columns the e2e tests read', async () => {
    const make = (id: number) =>
      job(id, id === 1 ? { state: 'running', percent: 42, fps: 120.5, etaS: 75, deviceId: 'gpu0', agentId: 'local', outputSize: 4_500_000, speed: 4 } : {});
    await renderQueue(fake({ jobs: jobsEndpoint(3, make) }));
    const r = row(1);
    expect(r.dataset.state).toBe('running');
    const cell = (id: string) => within(r).getByTestId(id);
    expect(cell('job-name').textContent).toBe('clip-1.mp4');
    expect(cell('job-state').textContent).toBe('running');
    expect(cell('job-progress').getAttribute('aria-valuenow')).toBe('42');
    expect(cell('job-progress').getAttribute('role')).toBe('progressbar');
    expect(cell('job-fps').textContent).toBe('121 fps');
    expect(cell('job-eta').textContent).toBe('1:15');
    expect(cell('job-size').textContent).toBe('12.3 MB → 4.5 MB');
    expect(cell('job-device').textContent).toBe('gpu0 · local');
  });

  it('patches a loaded row from a jobs frame without refetching when only progress moved', async () => {
    const jobs = jobsEndpoint(3, (id) => job(id, { state: 'running', percent: 10 }));
    const { events } = await renderQueue(fake({ jobs }));
    act(() => events.emitFrame({ type: 'jobs', jobs: [job(2, { state: 'running', percent: 55, fps: 30 })] }));
    expect(within(row(2)).getByTestId('job-progress').getAttribute('aria-valuenow')).toBe('55');
    expect(within(row(2)).getByTestId('job-fps').textContent).toBe('30.0 fps');
    await new Promise((r) => setTimeout(r, 20));
    expect(jobs).toHaveBeenCalledTimes(1);
  });

  it('refetches the visible page (throttled) when a state changes or an unknown job appears', async () => {
    const jobs = jobsEndpoint(3);
    const { events } = await renderQueue(fake({ jobs }));
    act(() => {
      events.emitFrame({ type: 'jobs', jobs: [job(1, { state: 'running' })] });
      events.emitFrame({ type: 'jobs', jobs: [job(99, { state: 'queued' })] });
      events.emitFrame({ type: 'jobs', jobs: [job(2, { state: 'failed' })] });
    });
    await waitFor(() => expect(jobs).toHaveBeenCalledTimes(2));
    // The burst folded into one immediate refetch plus at most one trailing one 500 ms later.
    await new Promise((r) => setTimeout(r, 650));
    expect(jobs.mock.calls.length).toBeLessThanOrEqual(3);
  });

  it('refetches after the events socket reconnects', async () => {
    const jobs = jobsEndpoint(3);
    const { events } = await renderQueue(fake({ jobs }));
    act(() => events.emitState('closed'));
    act(() => events.emitState('open'));
    await waitFor(() => expect(jobs).toHaveBeenCalledTimes(2));
  });

  it('selects with checkboxes and cancels the selection', async () => {
    const jobAction = vi.fn<ApiClient['jobAction']>(async (req) => ({ changed: req.ids }));
    await renderQueue(fake({ jobs: jobsEndpoint(5), jobAction }));
    expect((screen.getByTestId('action-cancel') as HTMLButtonElement).disabled).toBe(true);
    fireEvent.click(within(row(2)).getByTestId('row-select'));
    fireEvent.click(within(row(4)).getByTestId('row-select'));
    expect(row(2).getAttribute('aria-selected')).toBe('true');
    fireEvent.click(screen.getByTestId('action-cancel'));
    await waitFor(() => expect(jobAction).toHaveBeenCalledWith({ action: 'cancel', ids: [2, 4] }));
    expect(await screen.findByText('Canceled: 2 of 2 jobs')).toBeTruthy();
  });

  it('selects a range with shift-click and toggles with ctrl-click, then bumps in list order', async () => {
    const jobAction = vi.fn<ApiClient['jobAction']>(async (req) => ({ changed: req.ids }));
    await renderQueue(fake({ jobs: jobsEndpoint(6), jobAction }));
    fireEvent.click(within(row(2)).getByTestId('job-name'));
    fireEvent.click(within(row(5)).getByTestId('job-name'), { shiftKey: true });
    fireEvent.click(within(row(3)).getByTestId('job-name'), { ctrlKey: true });
    const selected = rows().filter((r) => r.getAttribute('aria-selected') === 'true').map((r) => Number(r.dataset.jobId));
    expect(selected).toEqual([2, 4, 5]);
    fireEvent.click(screen.getByTestId('action-bump'));
    await waitFor(() => expect(jobAction).toHaveBeenCalledWith({ action: 'bump', ids: [2, 4, 5] }));
  });

  it('opens the detail on click and Enter, moves with the arrows, selects with Space, cancels with Delete', async () => {
    const jobAction = vi.fn<ApiClient['jobAction']>(async (req) => ({ changed: req.ids }));
    await renderQueue(fake({ jobs: jobsEndpoint(4), jobAction }));
    fireEvent.click(within(row(3)).getByTestId('job-name'));
    expect(window.location.hash).toBe('#/queue/job/3');
    const grid = screen.getByRole('grid');
    fireEvent.keyDown(grid, { key: 'ArrowDown' });
    fireEvent.keyDown(grid, { key: 'Enter' });
    expect(window.location.hash).toBe('#/queue/job/4');
    fireEvent.keyDown(grid, { key: 'ArrowUp' });
    fireEvent.keyDown(grid, { key: 'ArrowUp' });
    fireEvent.keyDown(grid, { key: ' ' });
    expect(grid.getAttribute('aria-activedescendant')).toBe(row(2).id);
    fireEvent.keyDown(grid, { key: 'Delete' });
    await waitFor(() => expect(jobAction).toHaveBeenCalledWith({ action: 'cancel', ids: [2, 3] }));
  });

  it('asks the API again when the state filter, the text filter or the sort changes', async () => {
    const jobs = jobsEndpoint(10, (id) => job(id, { state: id % 2 ? 'failed' : 'done' }));
    await renderQueue(fake({ jobs }));
    const stateSelect = screen.getByTestId('queue-filter-state') as HTMLSelectElement;
    expect(within(stateSelect).getByText('failed (5)')).toBeTruthy();
    fireEvent.change(stateSelect, { target: { value: 'failed' } });
    await waitFor(() => expect(jobs).toHaveBeenLastCalledWith(expect.objectContaining({ states: ['failed'], offset: 0 })));
    await waitFor(() => expect(rows().every((r) => r.dataset.state === 'failed')).toBe(true));

    fireEvent.change(screen.getByTestId('queue-filter-text'), { target: { value: 'clip-3' } });
    await waitFor(() => expect(jobs).toHaveBeenLastCalledWith(expect.objectContaining({ q: 'clip-3', states: ['failed'] })));
    await waitFor(() => expect(screen.getByTestId('queue-count').textContent).toBe('1 job'));

    fireEvent.change(screen.getByTestId('queue-sort'), { target: { value: 'size' } });
    await waitFor(() => expect(jobs).toHaveBeenLastCalledWith(expect.objectContaining({ sort: 'size', dir: 'asc' })));
    fireEvent.click(screen.getByTestId('queue-sort-dir'));
    await waitFor(() => expect(jobs).toHaveBeenLastCalledWith(expect.objectContaining({ sort: 'size', dir: 'desc' })));
  });

  it('moves the dragged selection before the row it is dropped on (queue order only)', async () => {
    const moveJobs = vi.fn<ApiClient['moveJobs']>(async (ids) => ({ changed: ids }));
    await renderQueue(fake({ jobs: jobsEndpoint(6), moveJobs }));
    fireEvent.click(within(row(4)).getByTestId('row-select'));
    fireEvent.click(within(row(5)).getByTestId('row-select'));
    const data = new Map<string, string>();
    const dataTransfer = { setData: (k: string, v: string) => data.set(k, v), getData: (k: string) => data.get(k) ?? '', types: ['application/x-encodefarm-jobs'], effectAllowed: 'all', dropEffect: 'none' };
    expect(row(5).getAttribute('draggable')).toBe('true');
    fireEvent.dragStart(row(5), { dataTransfer });
    fireEvent.dragOver(row(2), { dataTransfer });
    expect(row(2).className).toContain('is-drop-target');
    fireEvent.drop(row(2), { dataTransfer });
    await waitFor(() => expect(moveJobs).toHaveBeenCalledWith([4, 5], 2));

    fireEvent.change(screen.getByTestId('queue-sort'), { target: { value: 'id' } });
    await waitFor(() => expect(row(1).getAttribute('draggable')).toBe('false'));
  });

  it('shows the empty state for a new user, and a different one when filters hide everything', async () => {
    const jobs = jobsEndpoint(0);
    renderWithApp(<QueueView />, fake({ jobs }));
    const empty = await screen.findByTestId('empty-state');
    expect(empty.textContent).toContain('Drop video files or folders here, or use Add files…');
    expect(screen.getByTestId('queue-list').contains(empty)).toBe(true);
    expect(screen.getByTestId('queue-count').textContent).toBe('0 jobs');
    fireEvent.change(screen.getByTestId('queue-filter-state'), { target: { value: 'failed' } });
    await waitFor(() => expect(screen.getByTestId('empty-state').textContent).toContain('No jobs match'));
  });

  it('groups rows under batch headers with the label and counts', async () => {
    const make = (id: number) => job(id, { batchId: id <= 3 ? 7 : 8 });
    const status = vi.fn<ApiClient['status']>(async () =>
      StatusResponseSchema.parse({
        batchId: 8,
        jobs: [],
        batches: [
          { id: 8, label: 'holiday clips', presetId: 'h264-fast', state: 'active', createdAt: 0, counts: { queued: 2 } },
          { id: 7, label: 'raw footage', presetId: 'h264-fast', state: 'active', createdAt: 0, counts: { done: 1, queued: 2 } },
        ],
      }),
    );
    const jobAction = vi.fn<ApiClient['jobAction']>(async () => ({ changed: [1, 2, 3] }));
    await renderQueue(fake({ jobs: jobsEndpoint(5, make), status, jobAction }));
    expect(screen.queryAllByTestId('batch-header')).toHaveLength(0);
    fireEvent.click(screen.getByTestId('queue-group-batches'));
    await waitFor(() => expect(screen.getAllByTestId('batch-header').map((h) => h.dataset.batchId)).toEqual(['7', '8']));
    await waitFor(() => expect(screen.getAllByTestId('batch-header')[0]!.textContent).toContain('raw footage'));
    expect(screen.getAllByTestId('batch-header')[0]!.textContent).toContain('2 queued · 1 done');
    fireEvent.click(within(screen.getAllByTestId('batch-header')[0]!).getByTestId('batch-pause'));
    await waitFor(() => expect(jobAction).toHaveBeenCalledWith({ action: 'pause', ids: [7], batch: true }));
  });

  it('shows an API error instead of an empty list', async () => {
    const jobs = vi.fn<ApiClient['jobs']>(async () => {
      throw new Error('the coordinator cannot be reached');
    });
    renderWithApp(<QueueView />, fake({ jobs }));
    expect((await screen.findByRole('alert')).textContent).toContain('the coordinator cannot be reached');
  });
});
