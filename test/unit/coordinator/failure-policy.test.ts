import { describe, expect, it } from 'vitest';
import { decideAttemptEnd, type FailurePolicy } from '../../../core/coordinator/failure-policy.ts';
import type { JobRow } from '../../../core/coordinator/ports.ts';
import {
  CanceledError,
  DeviceCapacityError,
  DeviceFaultError,
  DiskFullError,
  EncodeFailedError,
  EncodeStalledError,
  FfmpegMissingError,
  InputInvalidError,
  LeaseLostError,
  OutputExistsError,
  OutputUnwritableError,
  VerifyFailedError,
} from '../../../core/shared/errors.ts';

const NOW = 1_700_000_000_000;
const policy: FailurePolicy = { maxAttempts: 5, baseMs: 1000, capMs: 60_000, maxRequeues: 20 };
const half = () => 0.5;

function jobRow(overrides: Partial<JobRow> = {}): JobRow {
  return {
    id: 7,
    batchId: 1,
    inputPath: '/in/a.mov',
    presetId: 'h264-fast',
    codec: 'h264',
    outputPath: '/out/a.mp4',
    onExists: 'suffix',
    priority: 0,
    state: 'running',
    blockReason: null,
    attempts: 0,
    requeues: 0,
    epoch: 1,
    deviceId: 'gpu0',
    agentId: 'agent-1',
    leaseExpiresAt: NOW + 60_000,
    notBefore: NOW - 1000,
    percent: 40,
    fps: 50,
    speed: 2,
    etaS: 3,
    outTimeS: 4,
    durationS: 10,
    inputSize: 1000,
    outputSize: null,
    finalPath: null,
    errorKind: null,
    errorMessage: null,
    cancelRequested: false,
    createdAt: NOW - 5000,
    startedAt: NOW - 4000,
    finishedAt: null,
    encodeMs: null,
    commitFileId: null,
    ...overrides,
  };
}

describe('decideAttemptEnd', () => {
  it('fails an invalid input at once, without burning a retry', () => {
    const end = decideAttemptEnd(jobRow(), new InputInvalidError('a.mov: not a video'), policy, NOW, half);
    expect(end).toEqual({ to: 'failed', error: { kind: 'input-invalid', message: 'a.mov: not a video' }, outcome: 'failed' });
  });

  it('fails an unwritable output folder and a missing ffmpeg at once', () => {
    expect(decideAttemptEnd(jobRow(), new OutputUnwritableError('x'), policy, NOW, half).to).toBe('failed');
    expect(decideAttemptEnd(jobRow(), new FfmpegMissingError('x'), policy, NOW, half).to).toBe('failed');
  });

  it('records a taken target as skipped rather than failed', () => {
    const end = decideAttemptEnd(jobRow(), new OutputExistsError('/out/a.mp4: already exists'), policy, NOW, half);
    expect(end).toEqual({ to: 'failed', error: { kind: 'output-exists', message: '/out/a.mp4: already exists' }, outcome: 'skipped' });
  });

  it('requeues device trouble and a lost lease at once without burning an attempt', () => {
    for (const err of [new DeviceCapacityError('session limit'), new DeviceFaultError('no CUDA'), new LeaseLostError('stale')]) {
      expect(decideAttemptEnd(jobRow({ attempts: 2, requeues: 3 }), err, policy, NOW, half)).toEqual({
        to: 'queued',
        burnAttempt: false,
        notBefore: NOW,
        error: err.toInfo(),
        outcome: 'requeued',
      });
    }
  });

  it('fails a job that a device keeps refusing after maxRequeues requeues', () => {
    expect(decideAttemptEnd(jobRow({ requeues: 18 }), new DeviceFaultError('no CUDA'), policy, NOW, half).to).toBe('queued');
    const end = decideAttemptEnd(jobRow({ requeues: 19 }), new DeviceFaultError('no CUDA'), policy, NOW, half);
    expect(end).toEqual({
      to: 'failed',
      error: { kind: 'device-fault', message: 'gave up after 20 device requeues: no CUDA' },
      outcome: 'failed',
    });
  });

  it('blocks on a full disk', () => {
    const end = decideAttemptEnd(jobRow(), new DiskFullError('/out: no space left'), policy, NOW, half);
    expect(end).toEqual({ to: 'blocked', error: { kind: 'disk-full', message: '/out: no space left' } });
  });

  it('ends a canceled encode as canceled', () => {
    const end = decideAttemptEnd(jobRow(), new CanceledError('canceled by user'), policy, NOW, half);
    expect(end).toEqual({ to: 'canceled', error: { kind: 'canceled', message: 'canceled by user' } });
  });

  it('burns an attempt and waits a jittered backoff for an encode failure, a stall or a failed verification', () => {
    for (const err of [new EncodeFailedError('exit 1'), new EncodeStalledError('stalled'), new VerifyFailedError('short')]) {
      // Second burned attempt: 2000 ms, jittered into [1000, 2000]; random() = 0.5 → 1500.
      expect(decideAttemptEnd(jobRow({ attempts: 1 }), err, policy, NOW, half)).toEqual({
        to: 'queued',
        burnAttempt: true,
        notBefore: NOW + 1500,
        error: err.toInfo(),
        outcome: 'requeued',
      });
    }
  });

  it('draws the jitter from the injected random source', () => {
    const at = (r: number) => decideAttemptEnd(jobRow(), new EncodeFailedError('x'), policy, NOW, () => r);
    expect(at(0)).toMatchObject({ notBefore: NOW + 500 });
    expect(at(1)).toMatchObject({ notBefore: NOW + 1000 });
  });

  it('fails permanently when the retry would be attempt maxAttempts + 1', () => {
    expect(decideAttemptEnd(jobRow({ attempts: 3 }), new EncodeFailedError('exit 1'), policy, NOW, half).to).toBe('queued');
    const end = decideAttemptEnd(jobRow({ attempts: 4 }), new EncodeFailedError('exit 1'), policy, NOW, half);
    expect(end).toEqual({
      to: 'failed',
      error: { kind: 'encode-failed', message: 'failed 5 times, giving up: exit 1' },
      outcome: 'failed',
    });
  });
});
