import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { BatchRow, Claim, ClaimRequest, JobStore, NewBatch } from '../../../../core/coordinator/ports.ts';
import { openDb } from '../../../../core/coordinator/store/db.ts';
import { CLAIMABLE_SQL } from '../../../../core/coordinator/store/leases.ts';
import { openSqliteStore } from '../../../../core/coordinator/store/sqlite-store.ts';
import type { DeviceAnnouncement } from '../../../../core/shared/device.ts';
import { IllegalTransitionError } from '../../../../core/shared/job-state.ts';
import { PresetSchema, type Codec } from '../../../../core/shared/preset.ts';

const T0 = 1_700_000_000_000;
const TTL = 30_000;

let dir: string;
let file: string;
let store: JobStore;
let batchCount = 0;

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'encodefarm-store-'));
  file = path.join(dir, 'encodefarm.db');
  store = openSqliteStore({ file });
});

afterEach(() => {
  store.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

function batch(overrides: Partial<NewBatch> = {}): BatchRow {
  batchCount += 1;
  return store.createBatch(
    { key: `batch-${batchCount}`, label: 'test', presetId: 'h264-fast', outDir: null, onExists: 'suffix', priority: 0, ...overrides },
    T0,
  );
}

function job(b: BatchRow, name: string, codec: Codec = 'h264', now = T0): number {
  const [id] = store.addJobs(b.id, [{ inputPath: `/in/${name}.mov`, presetId: b.presetId, codec, outputPath: `/out/${name}.mp4` }], now);
  return id!;
}

function claim(overrides: Partial<ClaimRequest> = {}): Claim | undefined {
  return store.claimNext({ agentId: 'agent-1', deviceId: 'gpu0', codecs: ['h264', 'hevc', 'av1'], now: T0, leaseTtlMs: TTL, ...overrides });
}

function claimed(overrides: Partial<ClaimRequest> = {}): Claim {
  const c = claim(overrides);
  if (!c) throw new Error('expected a claim');
  return c;
}

function running(c: Claim, tempPath = `/out/.tmp-${c.job.id}-${c.epoch}.mp4`): void {
  expect(store.markRunning(c.job.id, c.epoch, { tempPath, durationS: 10, inputSize: 1000 }, T0 + 1)).toBe('ok');
}

const requeue = (burnAttempt: boolean) =>
  ({ to: 'queued', burnAttempt, notBefore: T0 + 5000, error: { kind: 'encode-failed', message: 'boom' }, outcome: 'requeued' }) as const;

describe('openSqliteStore', () => {
  describe('batches and jobs', () => {
    it('returns the existing batch when the same key is submitted again', () => {
      const first = batch({ key: 'same' });
      const again = store.createBatch({ key: 'same', label: 'other', presetId: 'hevc-fast', outDir: '/x', onExists: 'skip', priority: 9 }, T0 + 1);
      expect(again).toEqual(first);
      expect(store.findBatchByKey('same')).toEqual(first);
      expect(store.findBatchByKey('missing')).toBeUndefined();
    });

    it('adds a path only once per batch and returns the ids of all given jobs', () => {
      const b = batch({ priority: 3, onExists: 'skip' });
      const a = job(b, 'a');
      const ids = store.addJobs(
        b.id,
        [
          { inputPath: '/in/a.mov', presetId: 'h264-fast', codec: 'h264', outputPath: '/out/a.mp4' },
          { inputPath: '/in/b.mov', presetId: 'h264-fast', codec: 'h264', outputPath: '/out/b.mp4' },
        ],
        T0,
      );
      expect(ids[0]).toBe(a);
      expect(store.listJobs({ batchId: b.id })).toHaveLength(2);
      const row = store.getJob(ids[1]!)!;
      expect(row).toMatchObject({ state: 'queued', priority: 3, onExists: 'skip', epoch: 0, notBefore: T0, cancelRequested: false });
    });

    it('maps every column of a new job to its camelCase field', () => {
      const b = batch({ priority: 2 });
      const id = job(b, 'a', 'hevc');
      expect(store.getJob(id)).toEqual({
        id,
        batchId: b.id,
        inputPath: '/in/a.mov',
        presetId: 'h264-fast',
        codec: 'hevc',
        outputPath: '/out/a.mp4',
        onExists: 'suffix',
        priority: 2,
        state: 'queued',
        blockReason: null,
        attempts: 0,
        requeues: 0,
        epoch: 0,
        deviceId: null,
        agentId: null,
        leaseExpiresAt: null,
        notBefore: T0,
        percent: 0,
        fps: 0,
        speed: 0,
        etaS: null,
        outTimeS: 0,
        durationS: null,
        inputSize: null,
        outputSize: null,
        finalPath: null,
        errorKind: null,
        errorMessage: null,
        cancelRequested: false,
        createdAt: T0,
        startedAt: null,
        finishedAt: null,
        encodeMs: null,
        commitFileId: null,
      });
      expect(store.getJob(id + 100)).toBeUndefined();
    });

    it('refuses jobs for a batch that does not exist', () => {
      expect(() => store.addJobs(999, [{ inputPath: '/in/a.mov', presetId: 'p', codec: 'h264', outputPath: '/o' }], T0)).toThrow(/batch/);
    });

    it('filters job lists by batch, state and limit', () => {
      const b1 = batch();
      const b2 = batch();
      const [x, y] = [job(b1, 'x'), job(b1, 'y')];
      job(b2, 'z');
      store.pauseJobs([y]);
      expect(store.listJobs({ batchId: b1.id }).map((j) => j.id)).toEqual([x, y]);
      expect(store.listJobs({ states: ['paused'] }).map((j) => j.id)).toEqual([y]);
      expect(store.listJobs({ limit: 1 }).map((j) => j.id)).toEqual([x]);
      expect(store.listBatches(1)).toEqual([store.getBatch(b2.id)]);
    });
  });

  describe('claimNext', () => {
    it('finds the next job by walking the claim index, without a sort', () => {
      const db = openDb(file);
      try {
        const plan = db
          .prepare<[{ codecs: string; now: number; batches: null; tags: string; agentId: string }], { detail: string }>(
            `EXPLAIN QUERY PLAN ${CLAIMABLE_SQL}`,
          )
          .all({ codecs: '["h264"]', now: T0, batches: null, tags: '[]', agentId: 'agt-1' })
          .map((row) => row.detail);
        expect(plan).toContainEqual(expect.stringContaining('USING INDEX jobs_claim_order (state=?)'));
        expect(plan.join('\n')).not.toMatch(/TEMP B-TREE|SCAN j\b/);
      } finally {
        db.close();
      }
    });

    it('claims by priority, then in submission order', () => {
      const low = batch({ priority: 0 });
      const high = batch({ priority: 5 });
      const first = job(low, 'first');
      const second = job(low, 'second');
      const urgent = job(high, 'urgent');
      expect([claimed().job.id, claimed().job.id, claimed().job.id]).toEqual([urgent, first, second]);
      expect(claim()).toBeUndefined();
    });

    it('recognises the files the farm wrote (targets and committed outputs)', () => {
      const b = batch();
      const id = job(b, 'a');
      const c = claimed();
      running(c);
      expect(store.markVerifying(id, c.epoch)).toBe('ok');
      store.endAttempt(id, c.epoch, { to: 'done', finalPath: '/out/a (1).mp4', outputSize: 1, encodeMs: 1 }, T0 + 2);
      expect(store.farmOutputsAmong(['/out/a.mp4', '/out/a (1).mp4', '/in/a.mov', '/else.mp4'])).toEqual(new Set(['/out/a.mp4', '/out/a (1).mp4']));
      expect(store.farmOutputsAmong([])).toEqual(new Set());
    });

    it('claims only jobs of the given batches when scoped, and their wake time alone', () => {
      const other = batch();
      const mine = batch();
      job(other, 'theirs', 'h264', T0 - 10);
      const own = job(mine, 'mine');
      expect(claimed({ batchIds: [mine.id] }).job.id).toBe(own);
      expect(claim({ batchIds: [mine.id] })).toBeUndefined();
      expect(claim()?.job.batchId).toBe(other.id);
    });

    it('claims only jobs whose codec the device can encode', () => {
      const b = batch();
      job(b, 'av1-first', 'av1');
      const hevc = job(b, 'hevc', 'hevc');
      expect(claimed({ codecs: ['h264', 'hevc'] }).job.id).toBe(hevc);
      expect(claim({ codecs: ['h264'] })).toBeUndefined();
      expect(claim({ codecs: [] })).toBeUndefined();
    });

    it('does not claim jobs of a paused batch', () => {
      const b = batch();
      const id = job(b, 'a');
      store.setBatchState(b.id, 'paused');
      expect(claim()).toBeUndefined();
      store.setBatchState(b.id, 'active');
      expect(claimed().job.id).toBe(id);
    });

    it('waits until notBefore has passed', () => {
      const b = batch();
      const id = job(b, 'a', 'h264', T0 + 1000);
      expect(claim({ now: T0 + 999 })).toBeUndefined();
      expect(claimed({ now: T0 + 1000 }).job.id).toBe(id);
    });

    it('leases the job to the device and opens an attempt', () => {
      const id = job(batch(), 'a');
      const c = claimed({ agentId: 'agent-7', deviceId: 'gpu1' });
      expect(c.epoch).toBe(1);
      expect(c.job).toMatchObject({ id, state: 'leased', epoch: 1, agentId: 'agent-7', deviceId: 'gpu1', leaseExpiresAt: T0 + TTL, percent: 0 });
      expect(store.listAttempts(id)).toEqual([
        {
          id: c.attemptId,
          jobId: id,
          epoch: 1,
          agentId: 'agent-7',
          deviceId: 'gpu1',
          startedAt: T0,
          endedAt: null,
          outcome: null,
          errorKind: null,
          errorMessage: null,
          tempPath: null,
        },
      ]);
    });

    it('bumps the epoch on every lease', () => {
      const id = job(batch(), 'a');
      const first = claimed();
      store.endAttempt(id, first.epoch, { ...requeue(false), notBefore: T0 }, T0);
      const second = claimed();
      expect([first.epoch, second.epoch]).toEqual([1, 2]);
      expect(store.listAttempts(id).map((a) => a.epoch)).toEqual([1, 2]);
    });
  });

  describe('fenced updates', () => {
    it('records the temp path, source facts and progress of the current attempt', () => {
      const id = job(batch(), 'a');
      const c = claimed();
      running(c, '/out/.a.tmp.mp4');
      expect(store.updateProgress(id, c.epoch, { percent: 40, fps: 120, speed: 4, outTimeS: 4, etaS: 6 })).toBe('ok');
      expect(store.renewLease(id, c.epoch, T0 + 60_000)).toBe('ok');
      expect(store.getJob(id)).toMatchObject({
        state: 'running',
        startedAt: T0 + 1,
        durationS: 10,
        inputSize: 1000,
        percent: 40,
        fps: 120,
        speed: 4,
        outTimeS: 4,
        etaS: 6,
        leaseExpiresAt: T0 + 60_000,
      });
      expect(store.listAttempts(id)[0]!.tempPath).toBe('/out/.a.tmp.mp4');
    });

    it('refuses a stale epoch for markRunning, updateProgress, renewLease and endAttempt', () => {
      const id = job(batch(), 'a');
      const old = claimed();
      store.endAttempt(id, old.epoch, { ...requeue(false), notBefore: T0 }, T0);
      const current = claimed();
      running(current);
      const before = store.getJob(id);
      expect(store.markRunning(id, old.epoch, { tempPath: '/x', durationS: 1, inputSize: 1 }, T0)).toBe('stale');
      expect(store.updateProgress(id, old.epoch, { percent: 99, fps: 1, speed: 1, outTimeS: 1, etaS: null })).toBe('stale');
      expect(store.renewLease(id, old.epoch, T0 + 1e9)).toBe('stale');
      expect(store.markVerifying(id, old.epoch)).toBe('stale');
      expect(store.endAttempt(id, old.epoch, { to: 'done', finalPath: '/x', outputSize: 1, encodeMs: 1 }, T0)).toBe('stale');
      expect(store.getJob(id)).toEqual(before);
    });

    it('treats a repeated markRunning as stale', () => {
      const id = job(batch(), 'a');
      const lease = claimed();
      running(lease);
      expect(store.markRunning(id, lease.epoch, { tempPath: '/other', durationS: 1, inputSize: 1 }, T0)).toBe('stale');
      expect(store.listAttempts(id)[0]!.tempPath).not.toBe('/other');
    });
  });

  describe('endAttempt', () => {
    it('forgets the commit identity of a lost attempt, so the next attempt can record its own', () => {
      // A coordinator that died after recording the identity but before linking the output left
      // nothing in place; the job is requeued and its next result must still be committable.
      const id = job(batch(), 'a');
      const first = claimed();
      running(first);
      const commit = { fileId: '1:2', outputSize: 10, encodeMs: 5 };
      expect(store.markVerifying(id, first.epoch, commit)).toBe('ok');
      expect(store.recoverLost(() => false, T0 + 1)).toHaveLength(1);
      expect(store.getJob(id)).toMatchObject({ state: 'queued', commitFileId: null });

      const second = claimed({ now: T0 + 2 });
      running(second);
      expect(store.markVerifying(id, second.epoch)).toBe('ok');
      expect(store.markVerifying(id, second.epoch, { ...commit, fileId: '1:3' })).toBe('ok');
      expect(store.getJob(id)!.commitFileId).toBe('1:3');
    });

    it('completes a job once; the same result again is stale', () => {
      const id = job(batch(), 'a');
      const c = claimed();
      running(c);
      expect(store.markVerifying(id, c.epoch)).toBe('ok');
      const done = { to: 'done', finalPath: '/out/a.mp4', outputSize: 500, encodeMs: 1234 } as const;
      expect(store.endAttempt(id, c.epoch, done, T0 + 10)).toBe('ok');
      expect(store.endAttempt(id, c.epoch, done, T0 + 20)).toBe('stale');
      expect(store.getJob(id)).toMatchObject({
        state: 'done',
        finalPath: '/out/a.mp4',
        outputSize: 500,
        encodeMs: 1234,
        finishedAt: T0 + 10,
        percent: 100,
        leaseExpiresAt: null,
      });
      expect(store.listAttempts(id)[0]).toMatchObject({ outcome: 'done', endedAt: T0 + 10 });
    });

    it('burns an attempt for a retryable failure and keeps the error on the job', () => {
      const id = job(batch(), 'a');
      const c = claimed();
      running(c);
      expect(store.endAttempt(id, c.epoch, requeue(true), T0 + 2)).toBe('ok');
      expect(store.getJob(id)).toMatchObject({
        state: 'queued',
        attempts: 1,
        requeues: 0,
        notBefore: T0 + 5000,
        errorKind: 'encode-failed',
        errorMessage: 'boom',
        agentId: null,
        deviceId: null,
        leaseExpiresAt: null,
      });
      expect(store.listAttempts(id)[0]).toMatchObject({ outcome: 'requeued', errorKind: 'encode-failed', endedAt: T0 + 2 });
    });

    it('requeues without burning an attempt for a device fault', () => {
      const id = job(batch(), 'a');
      const c = claimed();
      store.endAttempt(id, c.epoch, requeue(false), T0);
      expect(store.getJob(id)).toMatchObject({ state: 'queued', attempts: 0, requeues: 1 });
    });

    it('fails, blocks, cancels and pauses jobs with the matching fields', () => {
      const b = batch();
      const [f, s, bl, ca, pa] = ['f', 's', 'bl', 'ca', 'pa'].map((n) => job(b, n));
      const lease = () => claimed();
      store.endAttempt(f!, lease().epoch, { to: 'failed', error: { kind: 'input-invalid', message: 'not a video' }, outcome: 'failed' }, T0 + 1);
      store.endAttempt(s!, lease().epoch, { to: 'failed', error: { kind: 'output-exists', message: 'exists' }, outcome: 'skipped' }, T0 + 1);
      store.endAttempt(bl!, lease().epoch, { to: 'blocked', error: { kind: 'disk-full', message: 'disk full on /out' } }, T0 + 1);
      store.endAttempt(ca!, lease().epoch, { to: 'canceled', error: { kind: 'canceled', message: 'canceled' } }, T0 + 1);
      store.endAttempt(pa!, lease().epoch, { to: 'paused' }, T0 + 1);
      expect(store.getJob(f!)).toMatchObject({ state: 'failed', errorKind: 'input-invalid', errorMessage: 'not a video', finishedAt: T0 + 1 });
      expect(store.listAttempts(s!)[0]!.outcome).toBe('skipped');
      expect(store.getJob(bl!)).toMatchObject({ state: 'blocked', blockReason: 'disk full on /out', deviceId: null });
      expect(store.getJob(ca!)).toMatchObject({ state: 'canceled', finishedAt: T0 + 1 });
      expect(store.getJob(pa!)).toMatchObject({ state: 'paused', agentId: null });
    });

    it('throws IllegalTransitionError for a transition the state machine forbids and changes nothing', () => {
      const id = job(batch(), 'a');
      const c = claimed();
      const before = store.getJob(id);
      expect(() => store.endAttempt(id, c.epoch, { to: 'done', finalPath: '/x', outputSize: 1, encodeMs: 1 }, T0)).toThrow(
        IllegalTransitionError,
      );
      expect(() => store.markVerifying(id, c.epoch)).toThrow(IllegalTransitionError);
      expect(store.getJob(id)).toEqual(before);
      expect(store.listAttempts(id)[0]!.outcome).toBeNull();
    });
  });

  describe('recoverLost', () => {
    it('requeues the jobs of a dead agent and returns their temp paths', () => {
      const b = batch();
      const [a, l] = [job(b, 'a'), job(b, 'l')];
      const dead = claimed({ agentId: 'dead' });
      running(dead, '/out/.tmp-a.mp4');
      claimed({ agentId: 'alive' });
      expect(store.recoverLost((agent) => agent === 'alive', T0 + 1)).toEqual([{ jobId: a, tempPath: '/out/.tmp-a.mp4' }]);
      expect(store.getJob(a)).toMatchObject({ state: 'queued', requeues: 1, attempts: 0, agentId: null, errorKind: 'lease-lost' });
      expect(store.getJob(l)!.state).toBe('leased');
      expect(store.listAttempts(a)[0]).toMatchObject({ outcome: 'lost', endedAt: T0 + 1 });
      expect(store.endAttempt(a, dead.epoch, { to: 'done', finalPath: '/x', outputSize: 1, encodeMs: 1 }, T0 + 2)).toBe('stale');
    });

    it('requeues a job whose lease expired even when its agent is alive', () => {
      const id = job(batch(), 'a');
      claimed();
      expect(store.recoverLost(() => true, T0 + TTL)).toEqual([]);
      expect(store.recoverLost(() => true, T0 + TTL + 1)).toEqual([{ jobId: id, tempPath: null }]);
      expect(store.getJob(id)).toMatchObject({ state: 'queued', notBefore: T0 + TTL + 1 });
    });
  });

  describe('queue actions', () => {
    it('cancels a queued job at once and flags an in-flight one', () => {
      const b = batch();
      const [inFlight, done, queued] = [job(b, 'f'), job(b, 'd'), job(b, 'q')];
      expect(claimed().job.id).toBe(inFlight);
      const d = claimed();
      running(d);
      store.markVerifying(done, d.epoch);
      store.endAttempt(done, d.epoch, { to: 'done', finalPath: '/out/d.mp4', outputSize: 1, encodeMs: 1 }, T0);

      expect(store.cancelJobs([queued, inFlight, done], T0 + 5)).toEqual([inFlight, queued]);
      expect(store.getJob(queued)).toMatchObject({ state: 'canceled', finishedAt: T0 + 5 });
      expect(store.getJob(inFlight)).toMatchObject({ state: 'leased', cancelRequested: true });
      expect(store.getJob(done)!.state).toBe('done');
      expect(store.listCancelRequested().map((j) => j.id)).toEqual([inFlight]);
      expect(store.cancelJobs([inFlight], T0 + 6)).toEqual([]);
    });

    it('clears the cancel request when the attempt ends as canceled', () => {
      const id = job(batch(), 'a');
      const c = claimed();
      store.cancelJobs([id], T0);
      store.endAttempt(id, c.epoch, { to: 'canceled', error: { kind: 'canceled', message: 'aborted' } }, T0 + 1);
      expect(store.getJob(id)).toMatchObject({ state: 'canceled', cancelRequested: false });
      expect(store.listCancelRequested()).toEqual([]);
    });

    it('cancels instead of requeueing a job whose cancel was requested during the attempt', () => {
      const id = job(batch(), 'a');
      const c = claimed();
      store.cancelJobs([id], T0);
      store.endAttempt(id, c.epoch, requeue(false), T0 + 1);
      expect(store.getJob(id)).toMatchObject({ state: 'canceled', cancelRequested: false });
      expect(store.listAttempts(id)[0]!.outcome).toBe('requeued');
      expect(claim({ now: T0 + 1e9 })).toBeUndefined();
    });

    it('pauses queued jobs and resumes paused and blocked ones', () => {
      const b = batch();
      const [p, bl] = [job(b, 'p'), job(b, 'b')];
      expect(store.pauseJobs([p, bl])).toEqual([p, bl]);
      expect(store.pauseJobs([p])).toEqual([]);
      expect(claim()).toBeUndefined();
      expect(store.resumeJobs([bl], T0)).toEqual([bl]);
      const c = claimed();
      store.endAttempt(bl, c.epoch, { to: 'blocked', error: { kind: 'disk-full', message: 'full' } }, T0);
      expect(store.resumeJobs([p, bl], T0 + 7)).toEqual([p, bl]);
      expect(store.getJob(bl)).toMatchObject({ state: 'queued', blockReason: null, notBefore: T0 + 7 });
    });

    it('retries failed jobs with attempts, requeues and error reset', () => {
      const b = batch();
      const [id, other] = [job(b, 'a'), job(b, 'b')];
      for (const burn of [true, false]) {
        const c = claimed({ now: T0 + 1e7 });
        store.endAttempt(id, c.epoch, { ...requeue(burn), notBefore: T0 }, T0);
      }
      const c = claimed({ now: T0 + 1e7 });
      expect(c.job.id).toBe(id);
      store.endAttempt(id, c.epoch, { to: 'failed', error: { kind: 'encode-failed', message: 'gave up' }, outcome: 'failed' }, T0 + 9);
      // The failed attempt itself counts: one burned by the requeue, one by the failure.
      expect(store.getJob(id)).toMatchObject({ attempts: 2, requeues: 1 });
      expect(store.retryJobs([id, other], T0 + 10)).toEqual([id]);
      expect(store.getJob(id)).toMatchObject({
        state: 'queued',
        attempts: 0,
        requeues: 0,
        errorKind: null,
        errorMessage: null,
        finishedAt: null,
        notBefore: T0 + 10,
      });
    });

    it('leaves a failed job alone on cancel, since failed → canceled is not a transition', () => {
      const id = job(batch(), 'a');
      const c = claimed();
      store.endAttempt(id, c.epoch, { to: 'failed', error: { kind: 'input-invalid', message: 'bad' }, outcome: 'failed' }, T0);
      expect(store.cancelJobs([id], T0)).toEqual([]);
      expect(store.getJob(id)!.state).toBe('failed');
    });
  });

  describe('nextWakeAt', () => {
    it('returns the earliest future notBefore of a claimable-later job', () => {
      const b = batch();
      job(b, 'now', 'h264', T0);
      job(b, 'later', 'h264', T0 + 500);
      job(b, 'latest', 'h264', T0 + 900);
      expect(store.nextWakeAt(T0)).toBe(T0 + 500);
      expect(store.nextWakeAt(T0 + 900)).toBeUndefined();
      store.setBatchState(b.id, 'paused');
      expect(store.nextWakeAt(T0)).toBeUndefined();
    });
  });

  describe('job log', () => {
    it('keeps only the last lines per job', () => {
      const b = batch();
      const [a, other] = [job(b, 'a'), job(b, 'b')];
      store.appendLog(a, ['1', '2', '3'], T0, 4);
      store.appendLog(a, ['4', '5', '6'], T0, 4);
      store.appendLog(other, ['x'], T0, 4);
      expect(store.logTail(a, 100)).toEqual(['3', '4', '5', '6']);
      expect(store.logTail(a, 2)).toEqual(['5', '6']);
      store.appendLog(a, ['7', '8', '9', '10', '11', '12'], T0, 4);
      expect(store.logTail(a, 100)).toEqual(['9', '10', '11', '12']);
      expect(store.logTail(other, 100)).toEqual(['x']);
    });

    it('keeps 200 lines by default', () => {
      const id = job(batch(), 'a');
      store.appendLog(id, Array.from({ length: 250 }, (_, i) => `line ${i}`), T0);
      const tail = store.logTail(id, 1000);
      expect(tail).toHaveLength(200);
      expect(tail[0]).toBe('line 50');
    });
  });

  describe('user presets', () => {
    const preset = PresetSchema.parse({ id: 'my-hevc', name: 'Mine', codec: 'hevc', quality: 24, speed: 'slow', container: 'mkv', maxHeight: 720 });

    it('round-trips a preset through the schema', () => {
      store.saveUserPreset(preset, T0);
      store.saveUserPreset({ ...preset, quality: 20 }, T0 + 1);
      expect(store.listUserPresets()).toEqual([{ ...preset, quality: 20 }]);
      expect(store.deleteUserPreset('my-hevc')).toBe(true);
      expect(store.deleteUserPreset('my-hevc')).toBe(false);
      expect(store.listUserPresets()).toEqual([]);
    });

    it('refuses a preset that does not pass the schema', () => {
      expect(() => store.saveUserPreset({ ...preset, quality: 99 }, T0)).toThrow();
      expect(store.listUserPresets()).toEqual([]);
    });
  });

  describe('devices', () => {
    const gpu = (id: string, slots: number): DeviceAnnouncement => ({
      id,
      kind: 'simulated-gpu',
      label: `simulated GPU ${id}`,
      gpuIndex: Number(id.slice(-1)),
      slots,
      codecs: ['h264', 'hevc'],
      state: 'working',
    });

    it('inserts and updates devices per agent, leaving unlisted ones in place', () => {
      store.upsertDevices('agent-1', [gpu('gpu0', 3), gpu('gpu1', 3)], T0);
      store.upsertDevices('agent-2', [{ id: 'cpu', kind: 'cpu', label: 'CPU', slots: 2, codecs: ['av1'], limitGroup: 'host', state: 'working' }], T0);
      store.upsertDevices('agent-1', [{ ...gpu('gpu0', 2), state: 'quarantined' }], T0 + 1);
      expect(store.listDevices()).toEqual([
        { ...gpu('gpu0', 2), state: 'quarantined', agentId: 'agent-1', updatedAt: T0 + 1 },
        { ...gpu('gpu1', 3), agentId: 'agent-1', updatedAt: T0 },
        { id: 'cpu', kind: 'cpu', label: 'CPU', slots: 2, codecs: ['av1'], limitGroup: 'host', state: 'working', agentId: 'agent-2', updatedAt: T0 },
      ]);
    });
  });

  describe('dataVersion', () => {
    it('moves when another connection commits a write', () => {
      const other = openSqliteStore({ file });
      try {
        const before = store.dataVersion();
        const ownBefore = other.dataVersion();
        other.createBatch({ key: 'from-other', label: 'x', presetId: 'p', outDir: null, onExists: 'skip', priority: 0 }, T0);
        expect(store.dataVersion()).not.toBe(before);
        expect(other.dataVersion()).toBe(ownBefore);
        expect(store.findBatchByKey('from-other')).toBeDefined();
      } finally {
        other.close();
      }
    });
  });
});
