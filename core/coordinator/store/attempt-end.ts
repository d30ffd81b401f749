import type { ErrorInfo } from '../../shared/errors.ts';
import type { JobState } from '../../shared/job-state.ts';
import type { AttemptEnd } from '../ports.ts';
import type { JobPatch } from './job-writer.ts';
import type { JobRecord } from './row-mapping.ts';

/** What ending one attempt writes: the job's new state and columns, and the attempt's verdict. */
export interface EndPlan {
  to: JobState;
  job: JobPatch;
  attempt: { outcome: string; error_kind: string | null; error_message: string | null };
}

const CANCELED_BY_USER: ErrorInfo = { kind: 'canceled', message: 'canceled by user' };

/** Every end releases the lease and settles any pending cancel request. */
const leaveFlight: JobPatch = { lease_expires_at: null, cancel_requested: 0 };

/**
 * A job that waits again (queued, paused, blocked) holds no device and shows no live progress,
 * and no commit identity: the next attempt records its own output's.
 */
const waiting: JobPatch = {
  ...leaveFlight,
  commit_file_id: null,
  agent_id: null,
  device_id: null,
  percent: 0,
  fps: 0,
  speed: 0,
  eta_s: null,
  out_time_s: 0,
};

const errorCols = (e: ErrorInfo) => ({ error_kind: e.kind, error_message: e.message });

/**
 * Decides how an in-flight job leaves its attempt (pure, so the rules read in one place).
 * A cancel requested while the attempt ran wins over any end that would let the job run again
 * (queued, paused, blocked): the job is canceled, the attempt keeps the outcome it really had.
 */
export function planEnd(job: JobRecord, end: AttemptEnd, now: number): EndPlan {
  const plan = planPlainEnd(job, end, now);
  if (job.cancel_requested === 1 && (plan.to === 'queued' || plan.to === 'paused' || plan.to === 'blocked')) {
    return {
      to: 'canceled',
      job: { ...waiting, state: 'canceled', finished_at: now, block_reason: null, ...errorCols(CANCELED_BY_USER) },
      attempt: plan.attempt,
    };
  }
  return plan;
}

function planPlainEnd(job: JobRecord, end: AttemptEnd, now: number): EndPlan {
  switch (end.to) {
    case 'done':
      return {
        to: 'done',
        job: {
          ...leaveFlight,
          state: 'done',
          final_path: end.finalPath,
          output_size: end.outputSize,
          encode_ms: end.encodeMs,
          finished_at: now,
          percent: 100,
          eta_s: null,
          block_reason: null,
          error_kind: null,
          error_message: null,
        },
        attempt: { outcome: 'done', error_kind: null, error_message: null },
      };
    case 'queued':
      return {
        to: 'queued',
        job: {
          ...waiting,
          state: 'queued',
          // Device faults and lost leases are not the job's fault: they do not burn an attempt.
          ...(end.burnAttempt ? { attempts: job.attempts + 1 } : { requeues: job.requeues + 1 }),
          not_before: end.notBefore,
          ...errorCols(end.error),
        },
        attempt: { outcome: end.outcome, ...errorCols(end.error) },
      };
    case 'failed':
      return {
        to: 'failed',
        // A failed attempt is an attempt spent (a skip never ran one).
        job: {
          ...leaveFlight,
          state: 'failed',
          finished_at: now,
          eta_s: null,
          attempts: job.attempts + (end.outcome === 'failed' ? 1 : 0),
          ...errorCols(end.error),
        },
        attempt: { outcome: end.outcome, ...errorCols(end.error) },
      };
    case 'blocked':
      return {
        to: 'blocked',
        job: { ...waiting, state: 'blocked', block_reason: end.error.message, ...errorCols(end.error) },
        attempt: { outcome: 'blocked', ...errorCols(end.error) },
      };
    case 'canceled':
      return {
        to: 'canceled',
        job: { ...leaveFlight, state: 'canceled', finished_at: now, eta_s: null, ...errorCols(end.error) },
        attempt: { outcome: 'canceled', ...errorCols(end.error) },
      };
    case 'paused':
      // The attempt was interrupted and the job went back to waiting, held: 'requeued'.
      return {
        to: 'paused',
        job: { ...waiting, state: 'paused' },
        attempt: { outcome: 'requeued', error_kind: null, error_message: null },
      };
  }
}
