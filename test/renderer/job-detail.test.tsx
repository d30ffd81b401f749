// @vitest-environment happy-dom
import { act, cleanup, fireEvent, screen, waitFor, within } from '@testing-library/react';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { JobDetailSchema, type JobDetail as JobDetailData } from '../../core/shared/protocol/index.ts';
import { ApiError, type ApiClient } from '../../renderer/src/api/client.ts';
import { JobDetail } from '../../renderer/src/views/job-detail/job-detail.tsx';
import { NOW, fake, job, renderWithApp } from './queue-fake-api.tsx';

afterEach(() => {
  cleanup();
  vi.useRealTimers();
  vi.restoreAllMocks();
});

function detail(over: Partial<JobDetailData> = {}): JobDetailData {
  return JobDetailSchema.parse({
    job: job(7, { state: 'failed', errorKind: 'input-invalid', errorMessage: 'moov atom not found', attempts: 2 }),
    batch: { id: 1, label: 'holiday clips', presetId: 'h264-fast', state: 'active', createdAt: NOW, counts: { failed: 1 } },
    attempts: [
      { epoch: 1, agentId: 'local', deviceId: 'gpu0', startedAt: NOW - 90_000, endedAt: NOW - 60_000, outcome: 'requeued', errorKind: 'device-capacity', errorMessage: 'NVENC session limit' },
      { epoch: 2, agentId: 'studio-pc', deviceId: 'cpu', startedAt: NOW - 30_000, endedAt: NOW - 20_000, outcome: 'failed', errorKind: 'input-invalid', errorMessage: 'moov atom not found' },
    ],
    log: ['ffmpeg version 7.1', 'Input #0, mov,mp4', 'moov atom not found'],
    probe: { formatName: 'mov,mp4,m4a', durationS: 125, sizeBytes: 12_300_000, video: { codec: 'h264', width: 1920, height: 1080, fps: 29.97 }, audio: [{ codec: 'aac', channels: 2, language: 'eng' }] },
    probeError: null,
    ...over,
  });
}

describe('JobDetail', () => {
  it('shows the source probe, the attempts, the log and the error', async () => {
    const jobFn = vi.fn<ApiClient['job']>(async () => detail());
    renderWithApp(<JobDetail jobId={7} onClose={() => undefined} />, fake({ job: jobFn }));
    const probe = await screen.findByTestId('job-probe');
    expect(jobFn).toHaveBeenCalledWith(7);
    expect(screen.getByTestId('job-detail').dataset.jobId).toBe('7');
    expect(probe.textContent).toContain('h264 1920×1080 @ 29.97 fps');
    expect(probe.textContent).toContain('2:05');
    expect(probe.textContent).toContain('aac 2 ch eng');
    const attempts = within(screen.getByTestId('job-attempts')).getAllByTestId('job-attempt');
    expect(attempts).toHaveLength(2);
    expect(attempts[1]!.textContent).toContain('studio-pc');
    expect(attempts[1]!.textContent).toContain('input-invalid: moov atom not found');
    expect(screen.getByTestId('job-log').tagName).toBe('PRE');
    expect(screen.getByTestId('job-log').textContent).toBe('ffmpeg version 7.1\nInput #0, mov,mp4\nmoov atom not found');
    expect(screen.getByTestId('job-error').textContent).toBe('input-invalid: moov atom not found');
    expect(screen.getByTestId('job-output-path').textContent).toBe('/out/clip-7.h264-fast.mp4');
  });

  it('shows the final path once done, and why a source could not be probed', async () => {
    const d = detail({ job: job(7, { state: 'done', percent: 100, finalPath: '/out/clip-7.h264-fast (2).mp4' }), probe: null, probeError: 'the source file is gone' });
    renderWithApp(<JobDetail jobId={7} onClose={() => undefined} />, fake({ job: async () => d }));
    expect((await screen.findByTestId('job-output-path')).textContent).toBe('/out/clip-7.h264-fast (2).mp4');
    expect(screen.getByTestId('job-probe').textContent).toContain('the source file is gone');
  });

  it('polls every second while open and follows the log unless the user scrolled up', async () => {
    vi.useFakeTimers({ shouldAdvanceTime: true });
    let lines = ['one'];
    const jobFn = vi.fn<ApiClient['job']>(async () => detail({ log: lines }));
    renderWithApp(<JobDetail jobId={7} onClose={() => undefined} />, fake({ job: jobFn }));
    const log = await screen.findByTestId('job-log');
    let scrollHeight = 1000;
    Object.defineProperty(log, 'scrollHeight', { configurable: true, get: () => scrollHeight });
    Object.defineProperty(log, 'clientHeight', { configurable: true, get: () => 200 });
    lines = ['one', 'two'];
    await act(async () => vi.advanceTimersByTimeAsync(1000));
    expect(jobFn).toHaveBeenCalledTimes(2);
    expect(log.scrollTop).toBe(1000);

    // The user scrolls up to read: new lines no longer pull the view down.
    log.scrollTop = 100;
    fireEvent.scroll(log);
    scrollHeight = 1200;
    lines = ['one', 'two', 'three'];
    await act(async () => vi.advanceTimersByTimeAsync(1000));
    expect(log.textContent).toContain('three');
    expect(log.scrollTop).toBe(100);
  });

  it('closes with the close button and with Escape', async () => {
    const onClose = vi.fn();
    renderWithApp(<JobDetail jobId={7} onClose={onClose} />, fake({ job: async () => detail() }));
    fireEvent.click(await screen.findByTestId('job-detail-close'));
    fireEvent.keyDown(window, { key: 'Escape' });
    expect(onClose).toHaveBeenCalledTimes(2);
  });

  it('says when the job does not exist', async () => {
    renderWithApp(<JobDetail jobId={404} onClose={() => undefined} />, fake({ job: async () => Promise.reject(new ApiError(404, 'no-such-job', 'no job 404')) }));
    await waitFor(() => expect(screen.getByTestId('job-detail').textContent).toContain('does not exist'));
  });
});
