import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import type { JobRow } from '../../../core/coordinator/ports.ts';
import { batchEtaS, createProgressView } from '../../../core/cli/progress-view.ts';
import type { JobState } from '../../../core/shared/job-state.ts';

function row(id: number, state: JobState, extra: Partial<JobRow> = {}): JobRow {
  return {
    id, batchId: 1, inputPath: `/in/clip-${id}.mp4`, presetId: 'h264-fast', codec: 'h264', outputPath: `/out/clip-${id}.mp4`,
    onExists: 'skip', priority: 0, state, blockReason: null, attempts: 0, requeues: 0, epoch: 1, deviceId: 'gpu0', agentId: 'a',
    leaseExpiresAt: null, notBefore: 0, percent: 0, fps: 0, speed: 0, etaS: null, outTimeS: 0, durationS: 10, inputSize: 1, outputSize: null,
    finalPath: null, errorKind: null, errorMessage: null, cancelRequested: false, createdAt: 0, startedAt: null, finishedAt: null,
    encodeMs: null, commitFileId: null, ...extra,
  };
}

describe('batchEtaS', () => {
  it('divides the media seconds left by the combined speed, counting unprobed jobs as the average', () => {
    const jobs = [row(1, 'running', { percent: 50 }), row(2, 'queued', { durationS: null }), row(3, 'done')];
    // 5 s left of job 1, job 2 assumed 10 s: 15 s of media at 3x.
    expect(batchEtaS(jobs, 3)).toBe(5);
    expect(batchEtaS(jobs, 0)).toBeNull();
  });
});

describe('createProgressView', () => {
  it('writes one line per start and end when not on a terminal', () => {
    let out = '';
    const view = createProgressView({ tty: false, total: 2, deviceLabel: () => 'GPU 0', write: (s) => (out += s) });
    view.update(row(1, 'running', { percent: 10 }));
    view.update(row(1, 'running', { percent: 60 }));
    view.update(row(1, 'done'));
    view.update(row(2, 'failed', { errorMessage: 'clip-2.mp4: file is empty (0 bytes)' }));
    view.stop();
    expect(out.split('\n').filter(Boolean)).toEqual([
      'started  clip-1.mp4 on GPU 0',
      'done     clip-1.mp4 [1/2]',
      'failed   clip-2.mp4: clip-2.mp4: file is empty (0 bytes) [2/2]',
    ]);
  });

  it('draws a bar per running job and one for the batch on a terminal', async () => {
    let drawn = '';
    const terminal = Object.assign(
      new Writable({
        write(chunk: Buffer, _enc, done) {
          drawn += chunk.toString();
          done();
        },
      }),
      { isTTY: true, columns: 200 },
    );
    const view = createProgressView({ tty: true, total: 2, deviceLabel: () => 'GPU 1', write: () => {}, stream: terminal });
    view.update(row(1, 'running', { percent: 40, fps: 120, speed: 4, etaS: 6 }));
    view.update(row(2, 'running', { percent: 10, fps: 80, speed: 2.5, etaS: 30 }));
    view.stop();
    expect(drawn).toContain('clip-1.mp4 on GPU 1 | 120 fps 4.00x | ETA 6.0s');
    expect(drawn).toContain('clip-2.mp4 on GPU 1 | 80 fps 2.50x');
    expect(drawn).toMatch(/batch 0\/2 done, 2 running \| 200 fps 6\.50x/);
  });
});
