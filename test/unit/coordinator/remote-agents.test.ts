import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  createCoordinator,
  type AgentConnection,
  type Coordinator,
  type CoordinatorConfig,
  type Submission,
  type SubmitResult,
} from '../../../core/coordinator/coordinator.ts';
import type { JobRow, JobStore } from '../../../core/coordinator/ports.ts';
import { createPresetCatalog, type PresetCatalog } from '../../../core/coordinator/preset-catalog.ts';
import { openSqliteStore } from '../../../core/coordinator/store/sqlite-store.ts';
import { silentLogger } from '../../../core/shared/logger.ts';
import { CoordinatorMessageSchema, type Assign, type CoordinatorMessage, type Hello } from '../../../core/shared/protocol/index.ts';
import { tempPathFor } from '../../../core/shared/temp-names.ts';
import { fakeDevice } from '../../helpers/fake-agent.ts';
import { FakeClock } from '../../helpers/fake-clock.ts';
import { builtinPreset } from '../../helpers/presets.ts';

let dir: string;
let inDir: string;
let outDir: string;
let store: JobStore;
let clock: FakeClock;
let presets: PresetCatalog;
let coordinator: Coordinator;
let agents: FakeRemoteAgent[];
let keyCount = 0;

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'encodefarm-remote-agents-'));
  inDir = path.join(dir, 'in');
  outDir = path.join(dir, 'out');
  fs.mkdirSync(inDir);
  fs.mkdirSync(outDir);
  store = openSqliteStore({ file: path.join(dir, 'encodefarm.db') });
  clock = new FakeClock();
  presets = createPresetCatalog(store, () => clock.now());
  agents = [];
  coordinator = farm();
});

afterEach(async () => {
  coordinator.close();
  await coordinator.idle();
  // Every message the coordinator sent passed the protocol schema.
  for (const a of agents) expect(a.invalid).toEqual([]);
  store.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

/**
 * A coordinator set up as `serve` sets it up: an enrolled, unrevoked agent that is not connected
 * is still alive (it may be reconnecting), so its leases stand until they run out.
 */
function farm(config: Partial<CoordinatorConfig> = {}): Coordinator {
  return createCoordinator({
    store,
    clock,
    logger: silentLogger,
    presets,
    config,
    random: () => 0.25,
    isForeignAgentAlive: (id) => store.getAgent(id)?.revokedAt === null,
  });
}

function reconfigure(config: Partial<CoordinatorConfig>): void {
  coordinator.close();
  coordinator = farm(config);
}

/** Enrolls an agent identity in the store, as `agents join-token` + `agent --join` would. */
function enroll(agentId: string, tags: string[] = []): void {
  store.addJoinToken(`token-${agentId}`, clock.now(), clock.now() + 60_000);
  expect(store.redeemJoinToken(`token-${agentId}`, { id: agentId, name: agentId, secretHash: 'unused', tags }, clock.now())).toBe('ok');
}

type MessageOf<T extends CoordinatorMessage['type']> = Extract<CoordinatorMessage, { type: T }>;

/**
 * A FAKE remote agent: speaks protocol v1 straight into `coordinator.connectAgent`, with no encoder
 * behind it. Its one hello carries what a remote agent announces (tags, files mode, maxJobs, work
 * still held); everything else it sends only when the test says so. Every message it receives is
 * checked against the protocol schema.
 */
class FakeRemoteAgent {
  readonly received: CoordinatorMessage[] = [];
  readonly invalid: unknown[] = [];
  private readonly connection: AgentConnection;

  constructor(readonly agentId: string) {
    this.connection = coordinator.connectAgent((msg) => {
      const parsed = CoordinatorMessageSchema.safeParse(msg);
      if (parsed.success) this.received.push(parsed.data);
      else this.invalid.push(msg);
    });
  }

  get assigns(): Assign[] {
    return this.ofType('assign');
  }

  get acks(): MessageOf<'ack'>[] {
    return this.ofType('ack');
  }

  ofType<T extends CoordinatorMessage['type']>(type: T): MessageOf<T>[] {
    return this.received.filter((m): m is MessageOf<T> => m.type === type);
  }

  assignOf(jobId: number): Assign {
    const found = this.assigns.filter((a) => a.jobId === jobId).at(-1);
    if (!found) throw new Error(`${this.agentId}: job ${jobId} was never assigned here`);
    return found;
  }

  tempPathOf(a: Assign): string {
    return tempPathFor(a.output.path, a.jobId, a.epoch);
  }

  send(raw: unknown): void {
    this.connection.receive(raw);
  }

  started(jobId: number, epoch: number, tempPath = this.tempPathOf(this.assignOf(jobId))): void {
    this.send({ v: 1, type: 'started', jobId, epoch, tempPath, source: { durationS: 10, sizeBytes: 1000 } });
  }

  progress(jobId: number, epoch: number, percent: number): void {
    this.send({ v: 1, type: 'progress', jobId, epoch, frame: 1, fps: 50, speed: 2, outTimeS: percent / 10, percent, etaS: null });
  }

  heartbeat(...leases: { jobId: number; epoch: number }[]): void {
    this.send({ v: 1, type: 'heartbeat', leases });
  }

  /** The transport went away. */
  close(): Promise<void> {
    return this.connection.close();
  }
}

/** Connects a FakeRemoteAgent and says hello (one GPU slot and no tags unless told otherwise). */
function remote(agentId: string, hello: Partial<Omit<Hello, 'v' | 'type' | 'agentId'>> = {}): FakeRemoteAgent {
  const agent = new FakeRemoteAgent(agentId);
  agents.push(agent);
  agent.send({
    v: 1,
    type: 'hello',
    agentId,
    hostname: `${agentId}.local`,
    pid: 1234,
    devices: [fakeDevice('gpu0')],
    limitGroups: [],
    tags: [],
    files: 'shared',
    active: [],
    ...hello,
  });
  return agent;
}

function submit(names: string[], overrides: Partial<Submission> = {}): SubmitResult {
  keyCount += 1;
  return coordinator.submit({
    key: `submission-${keyCount}`,
    label: 'test',
    presetId: 'h264-fast',
    outDir,
    onExists: 'suffix',
    priority: 0,
    jobs: names.map((n) => ({ inputPath: path.join(inDir, `${n}.mov`), outputPath: path.join(outDir, `${n}.mp4`) })),
    ...overrides,
  });
}

function job(id: number): JobRow {
  const j = store.getJob(id);
  if (!j) throw new Error(`no job ${id}`);
  return j;
}

const idOf = (r: SubmitResult, i = 0): number => {
  const id = r.jobIds[i];
  if (id === undefined) throw new Error(`submission has no job #${i}`);
  return id;
};

const assignedIds = (agent: FakeRemoteAgent): number[] => agent.assigns.map((a) => a.jobId);

/** ffmpeg finished on the agent: its device slot frees while the output is verified. */
function encoded(agent: FakeRemoteAgent, jobId: number): void {
  const a = agent.assignOf(jobId);
  agent.started(jobId, a.epoch);
  agent.send({ v: 1, type: 'encoded', jobId, epoch: a.epoch });
}

// Every wait here is on an event; a missing one should fail fast, not after the global 120 s.
describe('coordinator with remote agents', { timeout: 10_000 }, () => {
  describe('welcome', () => {
    it('answers hello with the preset table and a heartbeat of min(heartbeatMs, TTL / 3), before any assign', () => {
      const mine = presets.save({ ...builtinPreset('h264-fast'), id: 'my-h264', name: 'mine' }, 'test');
      const sub = submit(['a']);
      const agent = remote('agt-w');

      expect(agent.received.map((m) => m.type)).toEqual(['welcome', 'assign']);
      expect(agent.received[0]).toEqual({
        v: 1,
        type: 'welcome',
        heartbeatMs: 10_000,
        leaseTtlMs: 60_000,
        presets: presets.list().map((p) => p.preset),
        telemetry: true,
      });
      const welcome = agent.received[0]!;
      expect(welcome.type === 'welcome' && welcome.presets.map((p) => p.id)).toContain(mine.id);
      expect(agent.assignOf(idOf(sub)).leaseTtlMs).toBe(60_000);
    });

    it('lowers the heartbeat to a third of a short lease', () => {
      reconfigure({ leaseTtlMs: 9000, heartbeatMs: 10_000 });
      const agent = remote('agt-short');
      expect(agent.ofType('welcome').at(-1)).toMatchObject({ heartbeatMs: 3000, leaseTtlMs: 9000 });
    });

    it('keeps a configured heartbeat shorter than a third of the lease', () => {
      reconfigure({ leaseTtlMs: 60_000, heartbeatMs: 2000 });
      const agent = remote('agt-quick');
      expect(agent.ofType('welcome').at(-1)).toMatchObject({ heartbeatMs: 2000 });
    });

    it('sends the table again to every connected agent when presets change', () => {
      const agent = remote('agt-w');
      const before = agent.received.length;
      presets.save({ ...builtinPreset('hevc-fast'), id: 'late-hevc', name: 'late' }, 'test');
      coordinator.presetsChanged();
      const again = agent.received.slice(before);
      expect(again.map((m) => m.type)).toEqual(['welcome']);
      expect(again[0]!.type === 'welcome' && again[0]!.presets.map((p) => p.id)).toContain('late-hevc');
    });
  });

  describe('reconnect', () => {
    it('re-occupies the slots of work an agent still holds after a reconnect, so nothing is assigned beyond its slots', async () => {
      enroll('agt-r');
      const first = remote('agt-r', { devices: [fakeDevice('gpu0', { slots: 1 })] });
      const sub = submit(['a', 'b']);
      const [a, b] = [idOf(sub, 0), idOf(sub, 1)];
      expect(assignedIds(first)).toEqual([a]);
      first.started(a, 1);

      await first.close();
      // A remote agent away from its socket keeps its lease: it may be reconnecting.
      expect(job(a)).toMatchObject({ state: 'running', agentId: 'agt-r', epoch: 1 });

      const second = remote('agt-r', { devices: [fakeDevice('gpu0', { slots: 1 })], active: [{ jobId: a, epoch: 1, deviceId: 'gpu0' }] });

      expect(second.assigns).toEqual([]);
      expect(second.acks).toEqual([]);
      expect(job(b).state).toBe('queued');
      expect(coordinator.busyOf('agt-r')).toBe(1);

      // Its result frees the slot as usual, and the next job follows.
      second.send({ v: 1, type: 'encoded', jobId: a, epoch: 1 });
      expect(assignedIds(second)).toEqual([b]);
    });

    it('answers held work whose lease is no longer the agent’s with a conflict and frees its slot', async () => {
      enroll('agt-r');
      const first = remote('agt-r', { devices: [fakeDevice('gpu0', { slots: 1 })] });
      const sub = submit(['a']);
      const a = idOf(sub);
      first.started(a, 1);
      await first.close();
      // The lease went elsewhere meanwhile (epoch 2 on another agent).
      expect(store.recoverLost(() => false, clock.now())).toHaveLength(1);
      const other = remote('agt-other', { devices: [fakeDevice('gpu0', { slots: 1 })] });
      expect(other.assignOf(a).epoch).toBe(2);

      const again = remote('agt-r', {
        devices: [fakeDevice('gpu0', { slots: 1 })],
        active: [
          { jobId: a, epoch: 1, deviceId: 'gpu0' },
          { jobId: 9999, epoch: 1, deviceId: 'gpu0' },
        ],
      });

      expect(again.acks).toEqual([
        { v: 1, type: 'ack', jobId: a, epoch: 1, status: 'conflict' },
        { v: 1, type: 'ack', jobId: 9999, epoch: 1, status: 'conflict' },
      ]);
      expect(coordinator.busyOf('agt-r')).toBe(0);
      // Its free slot takes new work.
      const next = idOf(submit(['b']));
      expect(assignedIds(again)).toEqual([next]);
      expect(job(a)).toMatchObject({ agentId: 'agt-other', epoch: 2 });
    });
  });

  describe('slots', () => {
    it('caps an agent’s concurrent jobs at maxJobs across all its devices', () => {
      const agent = remote('agt-cap', {
        devices: [fakeDevice('gpu0', { kind: 'nvenc', slots: 2 }), fakeDevice('cpu', { kind: 'cpu', slots: 2 })],
        maxJobs: 3,
      });
      const sub = submit(['a', 'b', 'c', 'd', 'e']);
      expect(assignedIds(agent)).toEqual(sub.jobIds.slice(0, 3));
      expect(coordinator.busyOf('agt-cap')).toBe(3);

      encoded(agent, idOf(sub, 0));

      expect(assignedIds(agent)).toEqual(sub.jobIds.slice(0, 4));
      expect(job(idOf(sub, 4)).state).toBe('queued');
    });
  });

  describe('pause, drain, resume', () => {
    it('gives a paused agent nothing new while its running work carries on, and work again once resumed', () => {
      enroll('agt-p');
      const agent = remote('agt-p', { devices: [fakeDevice('gpu0', { slots: 2 })] });
      const running = idOf(submit(['a']));
      agent.started(running, 1);

      expect(coordinator.setAgentState('agt-p', 'paused')).toBe(true);
      const waiting = idOf(submit(['b']));

      expect(assignedIds(agent)).toEqual([running]);
      expect(store.getAgent('agt-p')?.state).toBe('paused');
      // The running job still speaks for its lease.
      agent.progress(running, 1, 40);
      agent.heartbeat({ jobId: running, epoch: 1 });
      expect(agent.acks).toEqual([]);
      expect(agent.ofType('cancel')).toEqual([]);
      expect(job(running)).toMatchObject({ state: 'running', percent: 40 });
      expect(job(waiting).state).toBe('queued');
      expect(agent.received.some((m) => m.type === 'drain')).toBe(false);

      expect(coordinator.setAgentState('agt-p', 'active')).toBe(true);

      expect(assignedIds(agent)).toEqual([running, waiting]);
    });

    it('sends drain to a draining agent, gives it nothing new, and drains it again when it reconnects holding work', async () => {
      enroll('agt-d');
      const agent = remote('agt-d');
      const running = idOf(submit(['a']));
      agent.started(running, 1);

      expect(coordinator.setAgentState('agt-d', 'draining')).toBe(true);
      const waiting = idOf(submit(['b']));

      expect(agent.received.at(-1)).toEqual({ v: 1, type: 'drain' });
      expect(assignedIds(agent)).toEqual([running]);
      expect(job(waiting).state).toBe('queued');

      // The link drops while it still finishes its last job.
      await agent.close();
      const back = remote('agt-d', { active: [{ jobId: running, epoch: 1, deviceId: 'gpu0' }] });
      expect(back.received.map((m) => m.type)).toEqual(['welcome', 'drain']);
      expect(store.getAgent('agt-d')?.state).toBe('draining');

      back.send({ v: 1, type: 'encoded', jobId: running, epoch: 1 });
      expect(back.assigns).toEqual([]);
      expect(coordinator.setAgentState('agt-d', 'active')).toBe(true);
      expect(assignedIds(back)).toEqual([waiting]);
    });

    it('takes a drained agent that comes back holding nothing as active again (it was restarted on purpose)', async () => {
      enroll('agt-d');
      const agent = remote('agt-d');
      expect(coordinator.setAgentState('agt-d', 'draining')).toBe(true);
      const waiting = idOf(submit(['a']));
      expect(agent.assigns).toEqual([]);
      await agent.close();

      const back = remote('agt-d');

      expect(store.getAgent('agt-d')?.state).toBe('active');
      expect(back.ofType('drain')).toEqual([]);
      expect(assignedIds(back)).toEqual([waiting]);
    });

    it('holds an agent that was paused before it connected', () => {
      enroll('agt-early');
      expect(coordinator.setAgentState('agt-early', 'paused')).toBe(true);
      submit(['a']);
      const agent = remote('agt-early');
      expect(agent.assigns).toEqual([]);
    });

    it('refuses to change the state of an agent that is not enrolled or was revoked', () => {
      expect(coordinator.setAgentState('agt-nobody', 'paused')).toBe(false);
      enroll('agt-gone');
      expect(coordinator.revokeAgent('agt-gone')).toBe(true);
      expect(coordinator.setAgentState('agt-gone', 'active')).toBe(false);
    });
  });

  describe('tags', () => {
    it('gives the jobs of a batch that requires tags only to agents with all of them', () => {
      const plain = remote('agt-plain', { tags: ['room-a'] });
      const gpu = remote('agt-gpu', { tags: ['room-a', 'rtx'] });
      const sub = submit(['a', 'b'], { requireTags: ['rtx', 'room-a'] });

      expect(plain.assigns).toEqual([]);
      expect(assignedIds(gpu)).toEqual([idOf(sub, 0)]);
      expect(job(idOf(sub, 1)).state).toBe('queued');
    });

    it('counts tags given at enrollment as well as those in hello', () => {
      enroll('agt-enrolled', ['room-b']);
      const agent = remote('agt-enrolled', { tags: ['rtx'] });
      const onlyEnrolled = submit(['a'], { requireTags: ['room-b'] });
      const both = submit(['b'], { requireTags: ['room-b', 'rtx'] });
      encoded(agent, idOf(onlyEnrolled));
      expect(assignedIds(agent)).toEqual([idOf(onlyEnrolled), idOf(both)]);
    });
  });

  describe('transfer mode', () => {
    it('tells a transfer-mode agent to transfer and how big the input is; a shared-storage agent gets neither', () => {
      fs.writeFileSync(path.join(inDir, 'a.mov'), Buffer.alloc(1234, 1));
      fs.writeFileSync(path.join(inDir, 'b.mov'), Buffer.alloc(10, 1));
      const transfer = remote('agt-t', { files: 'transfer' });
      const sub = submit(['a', 'b']);
      const shared = remote('agt-s', { files: 'shared' });

      expect(transfer.assignOf(idOf(sub, 0))).toMatchObject({ transfer: true, input: { path: path.join(inDir, 'a.mov'), sizeBytes: 1234 } });
      const b = shared.assignOf(idOf(sub, 1));
      expect(b.transfer).toBe(false);
      expect(b.input).toEqual({ path: path.join(inDir, 'b.mov') });
    });

    it('fails a job whose input the coordinator cannot read as input-invalid, without sending it, and goes on', () => {
      fs.writeFileSync(path.join(inDir, 'present.mov'), 'bytes');
      const sub = submit(['missing', 'present']);
      const agent = remote('agt-t', { files: 'transfer' });

      expect(assignedIds(agent)).toEqual([idOf(sub, 1)]);
      expect(job(idOf(sub, 0))).toMatchObject({ state: 'failed', errorKind: 'input-invalid' });
      expect(job(idOf(sub, 0)).errorMessage).toContain('missing.mov');
      expect(store.blockedAgentsFor(idOf(sub, 0))).toEqual([]);
    });
  });

  describe('fencing by agent', () => {
    // Only the agent holding a lease may speak for it: otherwise a renewing stranger could keep a
    // dead agent's job from ever being requeued.
    it('answers heartbeat, started, progress and log about another agent’s lease with a conflict and changes nothing', () => {
      reconfigure({ leaseTtlMs: 10_000, pollMs: 1000 });
      const owner = remote('agt-owner');
      const id = idOf(submit(['a']));
      const a = owner.assignOf(id);
      const before = job(id);
      const other = remote('agt-other', { devices: [] });

      clock.advance(5000);
      other.heartbeat({ jobId: id, epoch: a.epoch });
      other.started(id, a.epoch, owner.tempPathOf(a));
      other.progress(id, a.epoch, 99);
      other.send({ v: 1, type: 'log', jobId: id, epoch: a.epoch, lines: ['written by someone else'] });

      // Soft, so one run shows every way the foreign messages got through.
      expect.soft(other.received.filter((m) => m.type === 'lease')).toEqual([]);
      expect.soft(other.acks).toEqual([
        { v: 1, type: 'ack', jobId: id, epoch: a.epoch, status: 'conflict' },
        { v: 1, type: 'ack', jobId: id, epoch: a.epoch, status: 'conflict' },
        { v: 1, type: 'ack', jobId: id, epoch: a.epoch, status: 'conflict' },
      ]);
      expect.soft(job(id)).toMatchObject({ state: 'leased', agentId: 'agt-owner', leaseExpiresAt: before.leaseExpiresAt, percent: 0 });
      expect.soft(store.logTail(id, 10)).toEqual([]);
    });
  });

  describe('a remote agent that goes away', () => {
    it('keeps its work until the lease runs out, then requeues it', async () => {
      reconfigure({ leaseTtlMs: 10_000, pollMs: 1000 });
      coordinator.start();
      enroll('agt-away');
      const agent = remote('agt-away');
      const id = idOf(submit(['a']));
      agent.started(id, 1);

      await agent.close();
      clock.advance(9000);
      await coordinator.idle();
      expect(job(id)).toMatchObject({ state: 'running', agentId: 'agt-away', epoch: 1 });
      expect(store.listAttempts(id).map((x) => x.outcome)).toEqual([null]);

      clock.advance(6000);
      await coordinator.idle();
      expect(job(id)).toMatchObject({ state: 'queued', agentId: null, errorKind: 'lease-lost', attempts: 0, requeues: 1 });
      expect(store.listAttempts(id).map((x) => x.outcome)).toEqual(['lost']);
    });

    it('requeues at once the work of an agent that is not enrolled (nothing says it is coming back)', async () => {
      const agent = remote('agt-stranger');
      const id = idOf(submit(['a']));
      agent.started(id, 1);
      await agent.close();
      expect(job(id)).toMatchObject({ state: 'queued', errorKind: 'lease-lost' });
    });

    it('requeues the work of a revoked agent as soon as its connection is gone', async () => {
      enroll('agt-revoked');
      const agent = remote('agt-revoked');
      const id = idOf(submit(['a']));
      agent.started(id, 1);

      expect(coordinator.revokeAgent('agt-revoked')).toBe(true);
      await agent.close();
      await coordinator.idle();

      expect(job(id)).toMatchObject({ state: 'queued', agentId: null, errorKind: 'lease-lost' });
      const next = remote('agt-next');
      expect(next.assignOf(id).epoch).toBe(2);
    });
  });
});
