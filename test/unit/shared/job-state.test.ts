import { describe, expect, it } from 'vitest';
import {
  ACTIVE_STATES,
  IllegalTransitionError,
  JOB_STATES,
  TERMINAL_STATES,
  assertTransition,
  canTransition,
  isTerminal,
  type JobState,
} from '../../../core/shared/job-state.ts';

const allowedFrom = (from: JobState) => JOB_STATES.filter((to) => canTransition(from, to));

describe('job states', () => {
  it('runs the happy path queued → leased → running → verifying → done', () => {
    const path: JobState[] = ['queued', 'leased', 'running', 'verifying', 'done'];
    for (let i = 1; i < path.length; i++) expect(canTransition(path[i - 1]!, path[i]!)).toBe(true);
  });

  it('lets every in-flight state end as queued, failed, canceled, blocked or paused', () => {
    for (const from of ACTIVE_STATES) {
      for (const to of ['queued', 'failed', 'canceled', 'blocked', 'paused'] as const) expect(canTransition(from, to)).toBe(true);
    }
  });

  it('never leaves done', () => {
    expect(allowedFrom('done')).toEqual([]);
  });

  it('leaves failed and canceled only through a retry back to queued', () => {
    expect(allowedFrom('failed')).toEqual(['queued']);
    expect(allowedFrom('canceled')).toEqual(['queued']);
  });

  it('lets a paused job resume or be canceled, and nothing else', () => {
    expect(allowedFrom('paused')).toEqual(['queued', 'canceled']);
  });

  it('lets a blocked job be resumed, canceled or failed', () => {
    expect(allowedFrom('blocked')).toEqual(['queued', 'canceled', 'failed']);
  });

  it('does not skip the lease: a queued job cannot start running or verifying', () => {
    expect(canTransition('queued', 'running')).toBe(false);
    expect(canTransition('queued', 'verifying')).toBe(false);
    expect(canTransition('leased', 'verifying')).toBe(false);
    expect(canTransition('leased', 'done')).toBe(false);
    expect(canTransition('running', 'done')).toBe(false);
  });

  it('throws a named error for an illegal transition and passes a legal one', () => {
    expect(() => assertTransition(3, 'queued', 'leased')).not.toThrow();
    const err = (() => {
      try {
        assertTransition(3, 'done', 'queued');
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    expect(err).toBeInstanceOf(IllegalTransitionError);
    expect(err).toMatchObject({ jobId: 3, from: 'done', to: 'queued', name: 'IllegalTransitionError', message: 'job 3: illegal transition done → queued' });
  });

  it('calls done, canceled and failed terminal, and only those', () => {
    expect([...TERMINAL_STATES].sort()).toEqual(['canceled', 'done', 'failed']);
    expect(JOB_STATES.filter(isTerminal).sort()).toEqual(['canceled', 'done', 'failed']);
  });

  it('holds a device slot in leased, running and verifying', () => {
    expect([...ACTIVE_STATES].sort()).toEqual(['leased', 'running', 'verifying']);
  });
});
