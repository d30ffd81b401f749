import type { FarmError } from '../shared/errors.ts';
import type { AttemptEnd, JobRow } from './ports.ts';
import { backoffDelayMs, type BackoffPolicy } from './backoff.ts';

export interface FailurePolicy extends BackoffPolicy {
  /** @default 20 — requeues without burning an attempt before the job fails (a device that always refuses). */
  maxRequeues: number;
}

/**
 * Turns a classified failure into the job's next state (DESIGN.md §3): invalid input fails now,
 * device/capacity trouble requeues without burning an attempt, disk full blocks, anything else
 * burns an attempt and waits a jittered backoff, up to `maxAttempts`.
 */
export function decideAttemptEnd(
  job: JobRow,
  err: FarmError,
  policy: FailurePolicy,
  now: number,
  random: () => number,
): AttemptEnd {
  const error = err.toInfo();
  switch (err.disposition) {
    case 'fail':
      return { to: 'failed', error, outcome: err.kind === 'output-exists' ? 'skipped' : 'failed' };
    case 'cancel':
      return { to: 'canceled', error };
    case 'block':
      return { to: 'blocked', error };
    case 'requeue':
      if (job.requeues + 1 >= policy.maxRequeues) {
        const message = `gave up after ${job.requeues + 1} device requeues: ${error.message}`;
        return { to: 'failed', error: { kind: error.kind, message }, outcome: 'failed' };
      }
      return { to: 'queued', burnAttempt: false, notBefore: now, error, outcome: 'requeued' };
    case 'retry': {
      const burned = job.attempts + 1;
      if (burned >= policy.maxAttempts) {
        const message = `failed ${burned} times, giving up: ${error.message}`;
        return { to: 'failed', error: { kind: error.kind, message }, outcome: 'failed' };
      }
      const notBefore = now + backoffDelayMs(policy, burned, random);
      return { to: 'queued', burnAttempt: true, notBefore, error, outcome: 'requeued' };
    }
  }
}
