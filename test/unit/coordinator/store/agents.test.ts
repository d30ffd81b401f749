import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { AttemptEnd, BatchRow, Claim, ClaimRequest, JobStore, NewBatch } from '../../../../core/coordinator/ports.ts';
import { BLOCKLIST_AFTER } from '../../../../core/coordinator/store/agents.ts';
import { openSqliteStore } from '../../../../core/coordinator/store/sqlite-store.ts';
import type { ErrorKind } from '../../../../core/shared/errors.ts';

const T0 = 1_700_000_000_000;
const TTL = 30_000;

let dir: string;
let file: string;
let store: JobStore;
let batchCount = 0;

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'encodefarm-store-agents-'));
  file = path.join(dir, 'encodefarm.db');
  store = openSqliteStore({ file });
});

afterEach(() => {
  store.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

const agent = (id: string, tags: string[] = []) => ({ id, name: `name of ${id}`, secretHash: `hash-of-${id}`, tags });

/** Adds a join token valid for a minute from `now` and redeems it for `id`. */
function enrolled(id: string, tags: string[] = [], now = T0): void {
  store.addJoinToken(`token-for-${id}`, now, now + 60_000);
  expect(store.redeemJoinToken(`token-for-${id}`, agent(id, tags), now)).toBe('ok');
}

function batch(overrides: Partial<NewBatch> = {}): BatchRow {
  batchCount += 1;
  return store.createBatch(
    { key: `batch-${batchCount}`, label: 'test', presetId: 'h264-fast', outDir: null, onExists: 'suffix', priority: 0, ...overrides },
    T0,
  );
}

function job(b: BatchRow, name: string): number {
  const [id] = store.addJobs(b.id, [{ inputPath: `/in/${name}.mov`, presetId: b.presetId, codec: 'h264', outputPath: `/out/${name}.mp4` }], T0);
  return id!;
}

function claim(agentId: string, overrides: Partial<ClaimRequest> = {}): Claim | undefined {
  return store.claimNext({ agentId, deviceId: 'gpu0', codecs: ['h264'], now: T0, leaseTtlMs: TTL, ...overrides });
}

function claimed(agentId: string, overrides: Partial<ClaimRequest> = {}): Claim {
  const c = claim(agentId, overrides);
  if (!c) throw new Error(`expected ${agentId} to claim a job`);
  return c;
}

const requeued = (kind: ErrorKind, outcome: 'requeued' | 'lost' = 'requeued', burnAttempt = true): AttemptEnd => ({
  to: 'queued',
  burnAttempt,
  notBefore: T0,
  error: { kind, message: `fake ${kind}` },
  outcome,
});

/** `agentId` claims the job and the attempt ends as `how`, `times` times over. */
function endAttempts(agentId: string, jobId: number, how: AttemptEnd, times: number): void {
  for (let i = 0; i < times; i++) {
    const c = claimed(agentId);
    expect(c.job.id).toBe(jobId);
    expect(store.endAttempt(jobId, c.epoch, how, T0)).toBe('ok');
  }
}

describe('agents store', () => {
  describe('join tokens', () => {
    it('redeems a token once: the second redemption is invalid and enrolls nobody', () => {
      store.addJoinToken('tok', T0, T0 + 60_000);
      expect(store.redeemJoinToken('tok', agent('agt-first'), T0 + 1)).toBe('ok');
      expect(store.redeemJoinToken('tok', agent('agt-second'), T0 + 2)).toBe('invalid');
      expect(store.listAgents().map((a) => a.id)).toEqual(['agt-first']);
      expect(store.getAgent('agt-second')).toBeUndefined();
    });

    it('refuses an unknown token', () => {
      expect(store.redeemJoinToken('never-issued', agent('agt-x'), T0)).toBe('invalid');
      expect(store.listAgents()).toEqual([]);
    });

    it('refuses a token at and after its expiry, and accepts it just before', () => {
      store.addJoinToken('late', T0, T0 + 1000);
      expect(store.redeemJoinToken('late', agent('agt-late'), T0 + 1000)).toBe('invalid');
      store.addJoinToken('timely', T0, T0 + 1000);
      expect(store.redeemJoinToken('timely', agent('agt-timely'), T0 + 999)).toBe('ok');
      expect(store.listAgents().map((a) => a.id)).toEqual(['agt-timely']);
    });

    it('spends the token and enrolls the agent in one transaction: a failed enrollment leaves the token usable', () => {
      enrolled('agt-taken');
      store.addJoinToken('tok', T0, T0 + 60_000);
      // The agent insert fails (the id exists): the spend must roll back with it.
      expect(() => store.redeemJoinToken('tok', agent('agt-taken'), T0)).toThrow();
      expect(store.redeemJoinToken('tok', agent('agt-fresh'), T0)).toBe('ok');
    });

    it('lets only one of two connections redeem the same token', () => {
      const other = openSqliteStore({ file });
      try {
        store.addJoinToken('shared', T0, T0 + 60_000);
        const results = [store.redeemJoinToken('shared', agent('agt-one'), T0), other.redeemJoinToken('shared', agent('agt-two'), T0)];
        expect(results.sort()).toEqual(['invalid', 'ok']);
        expect(store.listAgents()).toHaveLength(1);
      } finally {
        other.close();
      }
    });
  });

  describe('agent identities', () => {
    it('lists enrolled agents in enrollment order with their tags, state and hash', () => {
      enrolled('agt-b', ['gpu'], T0);
      enrolled('agt-a', [], T0 + 5);
      expect(store.listAgents()).toEqual([
        { id: 'agt-b', name: 'name of agt-b', secretHash: 'hash-of-agt-b', tags: ['gpu'], state: 'active', createdAt: T0, revokedAt: null, lastSeenAt: null },
        { id: 'agt-a', name: 'name of agt-a', secretHash: 'hash-of-agt-a', tags: [], state: 'active', createdAt: T0 + 5, revokedAt: null, lastSeenAt: null },
      ]);
    });

    it('changes state of an enrolled agent, and of no revoked or unknown one', () => {
      enrolled('agt-a');
      expect(store.setAgentState('agt-a', 'paused')).toBe(true);
      expect(store.getAgent('agt-a')?.state).toBe('paused');
      expect(store.revokeAgent('agt-a', T0 + 10)).toBe(true);
      expect(store.revokeAgent('agt-a', T0 + 20)).toBe(false);
      expect(store.getAgent('agt-a')?.revokedAt).toBe(T0 + 10);
      expect(store.setAgentState('agt-a', 'active')).toBe(false);
      expect(store.getAgent('agt-a')?.state).toBe('paused');
      expect(store.setAgentState('agt-nobody', 'paused')).toBe(false);
    });

    it('records when an agent was last seen', () => {
      enrolled('agt-a');
      store.touchAgent('agt-a', T0 + 42);
      expect(store.getAgent('agt-a')?.lastSeenAt).toBe(T0 + 42);
    });
  });

  describe('blocklist', () => {
    it(`skips a job for an agent that failed it ${BLOCKLIST_AFTER} times, but not for another agent`, () => {
      const id = job(batch(), 'a');
      endAttempts('agt-flaky', id, requeued('encode-failed'), BLOCKLIST_AFTER - 1);
      expect(store.blockedAgentsFor(id)).toEqual([]);
      endAttempts('agt-flaky', id, requeued('encode-failed'), 1);

      expect(store.blockedAgentsFor(id)).toEqual(['agt-flaky']);
      expect(claim('agt-flaky')).toBeUndefined();
      expect(claimed('agt-other').job.id).toBe(id);
    });

    it('counts a failed attempt and a lapsed lease against the agent', () => {
      const id = job(batch(), 'a');
      endAttempts('agt-flaky', id, requeued('encode-failed'), 1);
      const c = claimed('agt-flaky');
      // Nobody renewed the lease: recovery requeues it as lost.
      const later = T0 + TTL + 1;
      expect(store.recoverLost(() => true, later)).toEqual([{ jobId: id, tempPath: null }]);
      expect(store.listAttempts(id).at(-1)).toMatchObject({ epoch: c.epoch, outcome: 'lost', errorKind: 'lease-lost' });
      const last = claimed('agt-flaky', { now: later });
      expect(store.endAttempt(id, last.epoch, { to: 'failed', error: { kind: 'verify-failed', message: 'bad' }, outcome: 'failed' }, later)).toBe('ok');

      expect(store.blockedAgentsFor(id)).toEqual(['agt-flaky']);
    });

    it('does not count device faults, device capacity or work handed back as the agent stopped', () => {
      const id = job(batch(), 'a');
      endAttempts('agt-a', id, requeued('device-fault', 'requeued', false), BLOCKLIST_AFTER);
      endAttempts('agt-a', id, requeued('device-capacity', 'requeued', false), BLOCKLIST_AFTER);
      endAttempts('agt-a', id, requeued('lease-lost', 'requeued', false), BLOCKLIST_AFTER);
      expect(store.blockedAgentsFor(id)).toEqual([]);
      expect(claimed('agt-a').job.id).toBe(id);
    });

    it('does not count cancels or pauses', () => {
      const id = job(batch(), 'a');
      for (let i = 0; i < BLOCKLIST_AFTER; i++) {
        const c = claimed('agt-a');
        expect(store.endAttempt(id, c.epoch, { to: 'paused' }, T0)).toBe('ok');
        expect(store.resumeJobs([id], T0)).toEqual([id]);
      }
      expect(store.blockedAgentsFor(id)).toEqual([]);
    });

    it('never blocklists the in-process local agent', () => {
      const id = job(batch(), 'a');
      endAttempts('local:this-host', id, requeued('encode-failed'), BLOCKLIST_AFTER + 1);
      expect(store.blockedAgentsFor(id)).toEqual([]);
      expect(claimed('local:this-host').job.id).toBe(id);
    });

    it('forgets the blocklist of a job when it is retried', () => {
      const id = job(batch(), 'a');
      endAttempts('agt-flaky', id, requeued('encode-failed'), BLOCKLIST_AFTER - 1);
      const c = claimed('agt-flaky');
      expect(store.endAttempt(id, c.epoch, { to: 'failed', error: { kind: 'encode-failed', message: 'boom' }, outcome: 'failed' }, T0)).toBe('ok');
      expect(store.blockedAgentsFor(id)).toEqual(['agt-flaky']);

      expect(store.retryJobs([id], T0)).toEqual([id]);

      expect(store.blockedAgentsFor(id)).toEqual([]);
      expect(claimed('agt-flaky').job.id).toBe(id);
    });
  });

  describe('required tags', () => {
    it('lets only an agent with every required tag claim a job of the batch', () => {
      const id = job(batch({ requireTags: ['gpu', 'room-a'] }), 'tagged');
      expect(claim('agt-none')).toBeUndefined();
      expect(claim('agt-some', { agentTags: ['gpu'] })).toBeUndefined();
      expect(claim('agt-other', { agentTags: ['room-b', 'gpu'] })).toBeUndefined();
      expect(claimed('agt-all', { agentTags: ['x', 'room-a', 'gpu'] }).job.id).toBe(id);
    });

    it('lets any agent claim a job of a batch that requires no tags, and skips to it past a tagged one', () => {
      const tagged = job(batch({ requireTags: ['gpu'], priority: 5 }), 'tagged');
      const plain = job(batch(), 'plain');
      expect(claimed('agt-plain').job.id).toBe(plain);
      expect(claimed('agt-gpu', { agentTags: ['gpu'] }).job.id).toBe(tagged);
    });
  });
});
