import { ACTIVE_STATES, assertTransition } from '../../shared/job-state.ts';
import type { AttemptEnd, Claim, ClaimRequest, FencedResult, JobStore, ProgressUpdate } from '../ports.ts';
import { planEnd } from './attempt-end.ts';
import { jsonList, writeTx, type Db } from './db.ts';
import { BLOCKLIST_AFTER } from './agents.ts';
import { jobWriter } from './job-writer.ts';
import { toJobRow, type JobRecord } from './row-mapping.ts';

type Leases = Pick<
  JobStore,
  | 'claimNext'
  | 'markRunning'
  | 'markVerifying'
  | 'updateProgress'
  | 'renewLease'
  | 'endAttempt'
  | 'recoverLost'
  | 'nextWakeAt'
  | 'listCancelRequested'
>;

/**
 * The best claimable job for one device slot. The index jobs_claim_order (state, priority DESC,
 * rank, id) yields queued jobs in queue order; the first row passing the other checks is the answer.
 */
export const CLAIMABLE_SQL = `
  SELECT j.*
  FROM jobs AS j
  WHERE j.state = 'queued'               -- only waiting jobs; in-flight and finished ones are taken
    AND EXISTS (                         -- a paused or canceled batch holds all of its jobs back
      SELECT 1 FROM batches AS b WHERE b.id = j.batch_id AND b.state = 'active'
        AND NOT EXISTS (                 -- the agent has every tag the batch requires
          SELECT 1 FROM json_each(b.require_tags) AS t
          WHERE t.value NOT IN (SELECT value FROM json_each(@tags))))
    AND NOT EXISTS (                     -- this agent failed this job too often: someone else's
      SELECT 1 FROM job_agent_failures AS f
      WHERE f.job_id = j.id AND f.agent_id = @agentId AND f.failures >= ${BLOCKLIST_AFTER})
    AND j.codec IN (                     -- the device passed its capability probe for this codec
      SELECT value FROM json_each(@codecs))
    AND j.not_before <= @now             -- the backoff after a retryable failure has elapsed
    AND j.cancel_requested = 0           -- a pending cancel must never turn into a new lease
    AND (@batches IS NULL                -- a one-shot \`encode\` works only on its own batches
         OR j.batch_id IN (SELECT value FROM json_each(@batches)))
  ORDER BY j.priority DESC,             -- priority first,
           j.rank ASC,                   -- then the user's order (submission order unless moved),
           j.id ASC                      -- then submission order among equal ranks (ids only grow)
  LIMIT 1`;

/**
 * Whether an ended attempt counts against its agent: failures, blocks, device requeues and leases
 * that lapsed do; success, cancel, pause, a skip, and an agent handing work back as it stops do not.
 */
function countsAgainstAgent(how: AttemptEnd, attempt: { outcome: string; error_kind: string | null }): boolean {
  if (how.to === 'paused' || how.to === 'done' || how.to === 'canceled') return false;
  if (attempt.outcome === 'skipped' || attempt.outcome === 'canceled') return false;
  // Device faults are the device's (quarantine handles them), not the agent's.
  if (attempt.error_kind === 'device-fault' || attempt.error_kind === 'device-capacity') return false;
  return !(attempt.outcome === 'requeued' && attempt.error_kind === 'lease-lost');
}

/** Leases and attempts: claim, fenced progress, the end of an attempt, and recovery. */
export function leases(db: Db): Leases {
  const writeJob = jobWriter(db);
  const claimable = db.prepare<{ codecs: string; now: number; batches: string | null; tags: string; agentId: string }, JobRecord>(
    CLAIMABLE_SQL,
  );
  // An attempt that ended badly counts against its agent for this job (see the blocklist above).
  const countFailure = db.prepare(`
    INSERT INTO job_agent_failures (job_id, agent_id, failures) VALUES (?, ?, 1)
    ON CONFLICT (job_id, agent_id) DO UPDATE SET failures = failures + 1`);
  const jobById = db.prepare<[number], JobRecord>('SELECT * FROM jobs WHERE id = ?');
  const insertAttempt = db.prepare(`
    INSERT INTO attempts (job_id, epoch, agent_id, device_id, started_at)
    VALUES (@jobId, @epoch, @agentId, @deviceId, @now)`);
  const setTempPath = db.prepare<[string, number, number]>(
    'UPDATE attempts SET temp_path = ? WHERE job_id = ? AND epoch = ?',
  );
  const closeAttempt = db.prepare(`
    UPDATE attempts SET ended_at = @now, outcome = @outcome, error_kind = @error_kind,
                        error_message = @error_message
    WHERE job_id = @jobId AND epoch = @epoch`);
  const tempPathOf = db
    .prepare<[number, number], string | null>('SELECT temp_path FROM attempts WHERE job_id = ? AND epoch = ?')
    .pluck();
  const inFlight = db.prepare<[], JobRecord>(
    `SELECT * FROM jobs WHERE state IN ('leased', 'running', 'verifying') ORDER BY id`,
  );
  const cancelRequested = db.prepare<[], JobRecord>(
    `SELECT * FROM jobs WHERE state IN ('leased', 'running', 'verifying') AND cancel_requested = 1 ORDER BY id`,
  );
  const earliestWake = db
    .prepare<{ now: number; batches: string | null }, number | null>(`
      SELECT MIN(j.not_before) FROM jobs AS j JOIN batches AS b ON b.id = j.batch_id
      WHERE j.state = 'queued' AND b.state = 'active' AND j.cancel_requested = 0 AND j.not_before > @now
        AND (@batches IS NULL OR j.batch_id IN (SELECT value FROM json_each(@batches)))`)
    .pluck();

  /** The job while (jobId, epoch) is its open attempt; undefined means the caller is stale. */
  const fenced = (jobId: number, epoch: number, agentId?: string): JobRecord | undefined => {
    const job = jobById.get(jobId);
    const holder = agentId === undefined || job?.agent_id === agentId;
    return job && holder && job.epoch === epoch && ACTIVE_STATES.has(job.state) ? job : undefined;
  };

  const end = (job: JobRecord, how: AttemptEnd, now: number): void => {
    const plan = planEnd(job, how, now);
    assertTransition(job.id, job.state, plan.to);
    writeJob(job.id, plan.job);
    closeAttempt.run({ ...plan.attempt, now, jobId: job.id, epoch: job.epoch });
    // The in-process agent of this machine is never blocklisted: it may be the only one there is.
    if (job.agent_id && !job.agent_id.startsWith('local:') && countsAgainstAgent(how, plan.attempt)) {
      countFailure.run(job.id, job.agent_id);
    }
  };

  return {
    claimNext: writeTx(db, (req: ClaimRequest): Claim | undefined => {
      if (req.codecs.length === 0) return undefined;
      const batches = req.batchIds ? jsonList(req.batchIds) : null;
      const tags = jsonList(req.agentTags ?? []);
      const job = claimable.get({ codecs: jsonList(req.codecs), now: req.now, batches, tags, agentId: req.agentId });
      if (!job) return undefined;
      assertTransition(job.id, job.state, 'leased');
      const epoch = job.epoch + 1;
      writeJob(job.id, {
        state: 'leased',
        epoch,
        agent_id: req.agentId,
        device_id: req.deviceId,
        lease_expires_at: req.now + req.leaseTtlMs,
        percent: 0,
        fps: 0,
        speed: 0,
        eta_s: null,
        out_time_s: 0,
      });
      const attempt = insertAttempt.run({ jobId: job.id, epoch, agentId: req.agentId, deviceId: req.deviceId, now: req.now });
      return { job: toJobRow(jobById.get(job.id)!), epoch, attemptId: Number(attempt.lastInsertRowid) };
    }),

    markRunning: writeTx(db, (jobId: number, epoch: number, info: { tempPath: string; durationS: number; inputSize: number }, now: number): FencedResult => {
      const job = fenced(jobId, epoch);
      // Already running or verifying: a repeated or late message, nothing left to do.
      if (!job || job.state !== 'leased') return 'stale';
      assertTransition(jobId, job.state, 'running');
      writeJob(jobId, { state: 'running', started_at: now, duration_s: info.durationS, input_size: info.inputSize });
      setTempPath.run(info.tempPath, jobId, epoch);
      return 'ok';
    }),

    markVerifying: writeTx(
      db,
      (jobId: number, epoch: number, commit?: { fileId: string; outputSize: number; encodeMs: number }): FencedResult => {
        const job = fenced(jobId, epoch);
        // Verifying already: only the first result may still record what it is committing.
        if (!job || (job.state === 'verifying' && (!commit || job.commit_file_id !== null))) return 'stale';
        if (job.state !== 'verifying') assertTransition(jobId, job.state, 'verifying');
        const facts = commit ? { commit_file_id: commit.fileId, output_size: commit.outputSize, encode_ms: commit.encodeMs } : {};
        writeJob(jobId, { state: 'verifying', ...facts });
        return 'ok';
      },
    ),

    updateProgress: writeTx(db, (jobId: number, epoch: number, p: ProgressUpdate, agentId?: string): FencedResult => {
      if (!fenced(jobId, epoch, agentId)) return 'stale';
      writeJob(jobId, { percent: p.percent, fps: p.fps, speed: p.speed, out_time_s: p.outTimeS, eta_s: p.etaS });
      return 'ok';
    }),

    renewLease: writeTx(db, (jobId: number, epoch: number, leaseExpiresAt: number, agentId?: string): FencedResult => {
      if (!fenced(jobId, epoch, agentId)) return 'stale';
      writeJob(jobId, { lease_expires_at: leaseExpiresAt });
      return 'ok';
    }),

    endAttempt: writeTx(db, (jobId: number, epoch: number, how: AttemptEnd, now: number): FencedResult => {
      const job = fenced(jobId, epoch);
      // After the first end the job is no longer in flight, so the same result again is stale.
      if (!job) return 'stale';
      end(job, how, now);
      return 'ok';
    }),

    recoverLost: writeTx(db, (isAlive: (agentId: string) => boolean, now: number, keep?: ReadonlySet<number>) => {
      const lost: { jobId: number; tempPath: string | null }[] = [];
      for (const job of inFlight.all()) {
        if (keep?.has(job.id)) continue;
        const agentGone = job.agent_id === null || !isAlive(job.agent_id);
        const expired = job.lease_expires_at !== null && job.lease_expires_at < now;
        if (!agentGone && !expired) continue;
        const message = agentGone ? `agent ${job.agent_id ?? '?'} is gone` : 'lease expired';
        end(job, { to: 'queued', burnAttempt: false, notBefore: now, error: { kind: 'lease-lost', message }, outcome: 'lost' }, now);
        lost.push({ jobId: job.id, tempPath: tempPathOf.get(job.id, job.epoch) ?? null });
      }
      return lost;
    }),

    nextWakeAt: (now, batchIds) => earliestWake.get({ now, batches: batchIds ? jsonList(batchIds) : null }) ?? undefined,
    listCancelRequested: () => cancelRequested.all().map(toJobRow),
  };
}
