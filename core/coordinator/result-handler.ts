import { rm } from 'node:fs/promises';
import type { Clock } from '../shared/clock.ts';
import type { Logger } from '../shared/logger.ts';
import { ACTIVE_STATES } from '../shared/job-state.ts';
import { VerifyFailedError, errorFromInfo, toFarmError, type FarmError } from '../shared/errors.ts';
import type { Result } from '../shared/protocol/index.ts';
import { tempPathFor } from '../shared/temp-names.ts';
import type { AttemptEnd, JobRow, JobStore, SourceCheck } from './ports.ts';
import type { DevicePool, PoolDevice } from './device-pool.ts';
import { decideAttemptEnd, type FailurePolicy } from './failure-policy.ts';
import { commitOutput } from './output-commit.ts';
import { removeJobTemps } from './temp-cleanup.ts';
import { fileIdOf } from './commit-identity.ts';

export interface ResultContext {
  store: JobStore;
  pool: DevicePool;
  clock: Clock;
  logger: Logger;
  policy: FailurePolicy;
  random: () => number;
  conflict(agentId: string, jobId: number, epoch: number): void;
  jobChanged(jobId: number): void;
  /** An attempt ended (cheap: no row is read), e.g. for a counter of finished jobs. */
  ended(jobId: number, to: AttemptEnd['to']): void;
  deviceChanged(device: PoolDevice): void;
  dispatch(): void;
  /** Watched sources must still be the version their job was queued for; absent: no check. */
  sourceCheck?: SourceCheck;
}

/**
 * Ends attempts from agents' results: fenced by (job, epoch) before anything awaits, so a repeated
 * or late result is answered with a conflict and never applied twice. A good result is committed
 * (no-clobber link into place); a failure moves the job as its error's disposition says. Either
 * way, a watched source that is no longer the job's file version decides the end instead.
 */
export function createResultHandler(ctx: ResultContext) {
  const { store, pool, clock, logger } = ctx;
  /** Jobs whose output is being linked into place right now; recovery must not requeue them. */
  const committing = new Set<number>();

  /** Resolves true when the result was applied (the agent gets an `ack ok`), false when refused. */
  async function onResult(agentId: string, msg: Result): Promise<boolean> {
    const job = store.getJob(msg.jobId);
    if (!job || job.epoch !== msg.epoch || !ACTIVE_STATES.has(job.state) || job.agentId !== agentId) {
      if (job && msg.outcome.ok && job.epoch !== msg.epoch) await dropStaleOutput(job, msg.epoch, msg.outcome.tempPath);
      ctx.conflict(agentId, msg.jobId, msg.epoch);
      return false;
    }
    if (msg.outcome.ok) return onSuccess(agentId, job, msg.outcome);
    return onFailure(job, msg.outcome.error);
  }

  async function onSuccess(agentId: string, job: JobRow, ok: { tempPath: string; outputSize: number; encodeMs: number }): Promise<boolean> {
    // An output can only come from a started encode, written at the temp name of its own lease.
    const encoded = job.state === 'running' || job.state === 'verifying';
    if (!encoded || ok.tempPath !== tempPathFor(job.outputPath, job.id, job.epoch) || committing.has(job.id)) {
      ctx.conflict(agentId, job.id, job.epoch);
      return false;
    }
    // Claimed before the first await, so recovery and a repeated result both leave it alone.
    committing.add(job.id);
    try {
      const end = await commit(agentId, job, ok);
      return end !== undefined && finish(job, end, undefined);
    } finally {
      committing.delete(job.id);
    }
  }

  /** Records the output's identity (so a crash after the link is recognised), then links it into place. */
  async function commit(agentId: string, job: JobRow, ok: { tempPath: string; outputSize: number; encodeMs: number }): Promise<AttemptEnd | undefined> {
    const fileId = await fileIdOf(ok.tempPath).catch(() => undefined);
    if (!fileId) {
      const err = new VerifyFailedError(`${job.outputPath}: the verified output vanished before it could be committed`);
      return decideAttemptEnd(job, err, ctx.policy, clock.now(), ctx.random);
    }
    if (store.markVerifying(job.id, job.epoch, { fileId, outputSize: ok.outputSize, encodeMs: ok.encodeMs }) === 'stale') {
      ctx.conflict(agentId, job.id, job.epoch);
      return undefined;
    }
    ctx.jobChanged(job.id);
    // As late as possible before the link, so a source replaced during the encode is seen.
    const discarded = await sourceGate(job);
    if (discarded) {
      await removeJobTemps(job.outputPath, job.id, job.epoch);
      return discarded;
    }
    try {
      const finalPath = await commitOutput(ok.tempPath, job.outputPath, job.onExists);
      return { to: 'done', finalPath, outputSize: ok.outputSize, encodeMs: ok.encodeMs };
    } catch (err) {
      await removeJobTemps(job.outputPath, job.id, job.epoch);
      return decideAttemptEnd(job, toFarmError(err), ctx.policy, clock.now(), ctx.random);
    }
  }

  /**
   * How the attempt ends when its source is no longer the version the job was queued for, or
   * undefined to go on (commit, or handle the failure as usual); see watch/source-check.ts for
   * the rule. Only jobs from watch folders have a verdict other than `same`.
   */
  async function sourceGate(job: JobRow): Promise<AttemptEnd | undefined> {
    const verdict = ctx.sourceCheck ? await ctx.sourceCheck.check(job) : undefined;
    switch (verdict?.state) {
      case undefined:
      case 'same':
        return undefined;
      case 'changed':
        return { to: 'canceled', error: { kind: 'canceled', message: verdict.reason } };
      case 'vanished':
        return { to: 'failed', error: { kind: 'input-invalid', message: verdict.reason }, outcome: 'failed' };
      case 'unreachable':
        return { to: 'blocked', error: { kind: 'input-invalid', message: verdict.reason } };
    }
  }

  async function onFailure(job: JobRow, info: { kind: FarmError['kind']; message: string }): Promise<boolean> {
    const err = job.cancelRequested ? errorFromInfo({ kind: 'canceled', message: 'canceled by user' }) : errorFromInfo(info);
    // A source changed or deleted mid-encode often makes the encode itself fail (ffmpeg opened the
    // new file, or none): the same rule applies as at commit, and a retry could only encode a
    // version that is not this job's. The store's fence still refuses a second end of the attempt.
    const gated = err.disposition === 'cancel' ? undefined : await sourceGate(job);
    const end = gated ?? decideAttemptEnd(job, err, ctx.policy, clock.now(), ctx.random);
    if (!finish(job, end, err)) return false;
    await removeJobTemps(job.outputPath, job.id, job.epoch);
    return true;
  }

  /** Records the end of the attempt; only the first end of a (job, epoch) touches the device. */
  function finish(job: JobRow, end: AttemptEnd, err: FarmError | undefined): boolean {
    const device = pool.holderOf(job.id);
    const busyAtFailure = device?.busy.size ?? 1;
    if (store.endAttempt(job.id, job.epoch, end, clock.now()) === 'stale') {
      logger.warn('attempt already ended; result ignored', { jobId: job.id, epoch: job.epoch });
      return false;
    }
    if (device) {
      if (err) applyDeviceEffects(device, err, busyAtFailure);
      else if (end.to === 'done') pool.recordSuccess(device.key);
      pool.release(device.key, job.id);
    }
    if (end.to !== 'done' && end.to !== 'paused') logger.warn('attempt ended', { jobId: job.id, to: end.to, error: end.error });
    ctx.jobChanged(job.id);
    ctx.ended(job.id, end.to);
    ctx.dispatch();
    return true;
  }

  /**
   * A finished encode from a superseded lease: its temp file is deleted, but only when the path is
   * exactly the temp name of that (job, epoch) — a path in a message is never trusted further.
   */
  async function dropStaleOutput(job: JobRow, epoch: number, tempPath: string): Promise<void> {
    if (tempPath === tempPathFor(job.outputPath, job.id, epoch)) await rm(tempPath, { force: true }).catch(() => {});
  }

  function applyDeviceEffects(device: PoolDevice, err: FarmError, busyAtFailure: number): void {
    if (err.kind === 'device-capacity') pool.lowerSlots(device.key, busyAtFailure, err.message);
    else if (err.kind === 'device-fault') pool.recordFault(device.key, err.message);
    else return;
    if (device.state === 'quarantined') logger.warn('device quarantined', { device: device.key, reason: err.message });
    ctx.deviceChanged(device);
  }

  return { onResult, committing: committing as ReadonlySet<number> };
}
