import { assertTransition, type JobState } from '../../shared/job-state.ts';
import type { JobStore } from '../ports.ts';
import { jsonList, writeTx, type Db } from './db.ts';
import { jobWriter, type JobPatch } from './job-writer.ts';
import type { JobRecord } from './row-mapping.ts';

type BulkActions = Pick<JobStore, 'cancelJobs' | 'pauseJobs' | 'resumeJobs' | 'retryJobs'>;

/** A user action on many jobs: which states it applies to, the target state, and what it writes. */
interface Action {
  from: readonly JobState[];
  to: JobState;
  patch: (job: JobRecord, now: number) => JobPatch;
}

// failed → canceled is not a transition job-state.ts allows, so cancel leaves failed jobs alone.
const cancel: Action = {
  from: ['queued', 'paused', 'blocked'],
  to: 'canceled',
  patch: (_job, now) => ({ finished_at: now, block_reason: null, error_kind: 'canceled', error_message: 'canceled by user' }),
};

const pause: Action = { from: ['queued'], to: 'paused', patch: () => ({}) };

const resume: Action = {
  from: ['paused', 'blocked'],
  to: 'queued',
  // The user said "go": claimable now, whatever backoff or block reason was pending.
  patch: (_job, now) => ({ not_before: now, block_reason: null }),
};

const retry: Action = {
  from: ['failed', 'canceled', 'blocked'],
  to: 'queued',
  patch: (_job, now) => ({
    attempts: 0,
    requeues: 0,
    not_before: now,
    finished_at: null,
    block_reason: null,
    error_kind: null,
    error_message: null,
    cancel_requested: 0,
    percent: 0,
    eta_s: null,
    out_time_s: 0,
  }),
};

/**
 * Queue actions from the UI and CLI. Each is one transaction; ids in other states are skipped,
 * not errors (cancelling a finished job is a no-op), and each returns the ids it changed.
 */
export function bulkActions(db: Db): BulkActions {
  const writeJob = jobWriter(db);
  const jobsIn = db.prepare<{ ids: string; states: string }, JobRecord>(`
    SELECT * FROM jobs
    WHERE id IN (SELECT value FROM json_each(@ids)) AND state IN (SELECT value FROM json_each(@states))
    ORDER BY id`);
  // In-flight jobs cannot be stopped from here: flag them; the coordinator that holds the lease
  // aborts the encode and ends the attempt as canceled (which clears the flag).
  const flagCancel = db
    .prepare<{ ids: string }, number>(`
      UPDATE jobs SET cancel_requested = 1
      WHERE id IN (SELECT value FROM json_each(@ids))
        AND state IN ('leased', 'running', 'verifying') AND cancel_requested = 0
      RETURNING id`)
    .pluck();

  const apply = (action: Action, ids: readonly number[], now: number): number[] =>
    jobsIn.all({ ids: jsonList(ids), states: jsonList(action.from) }).map((job) => {
      assertTransition(job.id, job.state, action.to);
      writeJob(job.id, { ...action.patch(job, now), state: action.to });
      return job.id;
    });

  const clearFailures = db.prepare('DELETE FROM job_agent_failures WHERE job_id = ?');
  return {
    cancelJobs: writeTx(db, (ids: readonly number[], now: number) =>
      [...apply(cancel, ids, now), ...flagCancel.all({ ids: jsonList(ids) })].sort((a, b) => a - b),
    ),
    pauseJobs: writeTx(db, (ids: readonly number[]) => apply(pause, ids, 0)),
    resumeJobs: writeTx(db, (ids: readonly number[], now: number) => apply(resume, ids, now)),
    retryJobs: writeTx(db, (ids: readonly number[], now: number) => {
      const changed = apply(retry, ids, now);
      // A retry is a fresh start: agents blocklisted for these jobs get another chance.
      for (const id of changed) clearFailures.run(id);
      return changed;
    }),
  };
}
