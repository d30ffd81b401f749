import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createAgent, type Agent } from '../../../core/agent/agent.ts';
import type { AgentDevice } from '../../../core/agent/ports.ts';
import { findBuiltinPreset } from '../../../core/shared/builtin-presets.ts';
import type { Clock, TimerHandle } from '../../../core/shared/clock.ts';
import { silentLogger } from '../../../core/shared/logger.ts';
import type { Preset } from '../../../core/shared/preset.ts';
import type { Assign } from '../../../core/shared/protocol/index.ts';
import { tempPathFor } from '../../../core/shared/temp-names.ts';
import { waitFor } from '../../helpers/cli.ts';
import { FakeClock } from '../../helpers/fake-clock.ts';
import { FakeEncoder, FakeProber, Outbox, assignMessage } from '../../helpers/agent-fakes.ts';
import { builtinPreset } from '../../helpers/presets.ts';

const HEARTBEAT_MS = 10_000;
const STALL_MS = 60_000;

/**
 * A FAKE clock for a frozen process: timers run on the FakeClock, but `freeze(ms)` moves `now()`
 * forward without firing any of them, as a machine that was SIGSTOPped (or slept) sees time when
 * it wakes up and an I/O completion is handled before its overdue timers.
 */
class FreezableClock implements Clock {
  private skew = 0;
  constructor(private readonly fake: FakeClock) {}
  now(): number {
    return this.fake.now() + this.skew;
  }
  setTimeout(fn: () => void, ms: number): TimerHandle {
    return this.fake.setTimeout(fn, ms);
  }
  clearTimeout(handle: TimerHandle): void {
    this.fake.clearTimeout(handle);
  }
  freeze(ms: number): void {
    this.skew += ms;
  }
}

let dir: string;
let outDir: string;
let fake: FakeClock;
let clock: FreezableClock;
let encoder: FakeEncoder;
let outbox: Outbox;
let agent: Agent;
let drained: number;

const gpu0: AgentDevice = {
  id: 'gpu0',
  kind: 'simulated-gpu',
  label: 'simulated GPU gpu0',
  slots: 1,
  codecs: ['h264'],
  state: 'working',
  encoderFor: (codec) => (codec === 'h264' ? { family: 'software', name: 'libx264', threads: 1 } : undefined),
};

function start(overrides: Partial<Parameters<typeof createAgent>[0]> = {}): void {
  agent = createAgent({
    agentId: 'agt-0123456789ab',
    hostname: 'render-1.local',
    pid: 4321,
    devices: [gpu0],
    limitGroups: [],
    logger: silentLogger,
    heartbeatMs: HEARTBEAT_MS,
    filesMode: 'shared',
    encoder,
    prober: new FakeProber(),
    presets: { get: findBuiltinPreset },
    clock,
    stallTimeoutMs: STALL_MS,
    onDrained: () => drained++,
    ...overrides,
  });
  agent.connect(outbox.transport);
}

function assign(jobId: number, overrides: Partial<Assign> = {}): Assign {
  const a = assignMessage(jobId, outDir, clock.now(), overrides);
  agent.receive(a);
  return a;
}

function welcome(heartbeatMs: number, presets: Preset[] = []): void {
  agent.receive({ v: 1, type: 'welcome', heartbeatMs, leaseTtlMs: 60_000, presets });
}

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'encodefarm-agent-remote-'));
  outDir = path.join(dir, 'out');
  fake = new FakeClock();
  clock = new FreezableClock(fake);
  encoder = new FakeEncoder();
  outbox = new Outbox();
  drained = 0;
});

afterEach(async () => {
  await agent.close('test over');
  fs.rmSync(dir, { recursive: true, force: true });
});

// Every wait here is on an event; a missing one should fail fast, not after the global 120 s.
describe('createAgent as a remote agent', { timeout: 10_000 }, () => {
  describe('welcome', () => {
    it('tells its host the coordinator’s timings (the link tunes its dead-link check to them)', () => {
      const seen: { heartbeatMs: number; leaseTtlMs: number }[] = [];
      start({ onWelcome: (t) => seen.push(t) });
      welcome(3000);
      expect(seen).toEqual([{ heartbeatMs: 3000, leaseTtlMs: 60_000 }]);
    });

    it('switches to the heartbeat interval the coordinator asks for', async () => {
      start();
      assign(1);
      await encoder.call(1);
      welcome(3000);

      fake.advance(2999);
      expect(outbox.ofType('heartbeat')).toEqual([]);
      fake.advance(1);
      expect(outbox.ofType('heartbeat')).toEqual([{ v: 1, type: 'heartbeat', leases: [{ jobId: 1, epoch: 1 }] }]);
      fake.advance(3000);
      expect(outbox.ofType('heartbeat')).toHaveLength(2);
    });

    it('runs a preset only the coordinator knows, from the table in its welcome', async () => {
      const studio = builtinPreset('h264-fast', { id: 'studio-h264', name: 'Studio H.264', quality: 18 });
      start();
      assign(1, { presetId: 'studio-h264' });
      expect((await outbox.result(1)).outcome).toEqual({ ok: false, error: { kind: 'input-invalid', message: 'preset "studio-h264" is not known to this agent' } });

      welcome(HEARTBEAT_MS, [studio]);
      assign(2, { presetId: 'studio-h264' });
      const call = await encoder.call(1);
      expect(call.req.preset).toEqual(studio);
      call.finish();
      expect((await outbox.result(2)).outcome.ok).toBe(true);
    });

    it('replaces the table with each welcome, keeping its own built-ins', async () => {
      const studio = builtinPreset('h264-fast', { id: 'studio-h264', name: 'Studio H.264' });
      start();
      welcome(HEARTBEAT_MS, [studio]);
      welcome(HEARTBEAT_MS, []);
      assign(1, { presetId: 'studio-h264' });
      expect((await outbox.result(1)).outcome).toMatchObject({ ok: false, error: { kind: 'input-invalid' } });
      assign(2, { presetId: 'h264-fast' });
      (await encoder.call(1)).finish();
      expect((await outbox.result(2)).outcome.ok).toBe(true);
    });
  });

  describe('drain', () => {
    it('reports drained once the last job has finished and its result is sent', async () => {
      start();
      assign(1);
      assign(2);
      const first = await encoder.call(1);

      agent.receive({ v: 1, type: 'drain' });
      expect(agent.draining()).toBe(true);
      expect(drained).toBe(0);

      first.finish();
      await outbox.result(1);
      expect(drained).toBe(0);
      (await encoder.call(2)).finish();
      await outbox.result(2);
      expect(drained).toBe(1);
      expect(outbox.ofType('result').map((r) => r.outcome.ok)).toEqual([true, true]);
    });

    it('reports drained at once when it holds nothing', () => {
      start();
      agent.receive({ v: 1, type: 'drain' });
      expect(drained).toBe(1);
    });
  });

  describe('reconnect', () => {
    it('says hello again with the work it still holds, running or waiting for its device', async () => {
      start();
      assign(1, { epoch: 3 });
      assign(2, { epoch: 7 });
      assign(3);
      await encoder.call(1);
      // Job 3's lease is stale: it is dropped and must not be claimed again.
      agent.receive({ v: 1, type: 'ack', jobId: 3, epoch: 1, status: 'conflict' });

      agent.reconnected();

      const hello = outbox.ofType('hello').at(-1)!;
      expect(outbox.ofType('hello')).toHaveLength(2);
      expect(hello).toMatchObject({ agentId: 'agt-0123456789ab', files: 'shared' });
      expect(hello.active).toEqual([
        { jobId: 1, epoch: 3, deviceId: 'gpu0' },
        { jobId: 2, epoch: 7, deviceId: 'gpu0' },
      ]);
    });

    it('sends the started of work it still holds again after a reconnect', async () => {
      start();
      assign(1);
      await encoder.call(1);
      expect(outbox.ofType('started').map((m) => m.jobId)).toEqual([1]);

      agent.reconnected();

      expect(outbox.ofType('started').map((m) => m.jobId)).toEqual([1, 1]);
      expect(outbox.ofType('started')[1]).toEqual(outbox.ofType('started')[0]);
    });

    it('sends a result again after a reconnect until the coordinator acknowledges it', async () => {
      start();
      assign(1);
      assign(2);
      (await encoder.call(1)).finish();
      await outbox.result(1);
      (await encoder.call(2)).finish();
      await outbox.result(2);
      // Job 1's result was applied; job 2's was lost with the coordinator that crashed.
      agent.receive({ v: 1, type: 'ack', jobId: 1, epoch: 1, status: 'ok' });

      agent.reconnected();

      const results = outbox.ofType('result').map((r) => r.jobId);
      expect(results).toEqual([1, 2, 2]);
      agent.receive({ v: 1, type: 'ack', jobId: 2, epoch: 1, status: 'conflict' });
      agent.reconnected();
      expect(outbox.ofType('result').map((r) => r.jobId)).toEqual([1, 2, 2]);
    });

    it('announces its tags, files mode and job cap in hello', () => {
      start({ tags: ['rtx', 'room-a'], filesMode: 'transfer', maxJobs: 2 });
      expect(outbox.ofType('hello')[0]).toMatchObject({ tags: ['rtx', 'room-a'], files: 'transfer', maxJobs: 2, active: [] });
    });
  });

  describe('close', () => {
    it('hands work back as lease-lost, not canceled, when it stops with handBack', async () => {
      start();
      const a1 = assign(1);
      assign(2);
      await encoder.call(1);

      await agent.close('agent stopping (SIGTERM)', { handBack: true });

      const lost = { ok: false, error: { kind: 'lease-lost', message: 'agent stopping (SIGTERM)' } };
      expect((await outbox.result(1)).outcome).toEqual(lost);
      expect((await outbox.result(2)).outcome).toEqual(lost);
      expect(fs.existsSync(tempPathFor(a1.output.path, 1, 1))).toBe(false);
    });
  });

  describe('self-fencing', () => {
    it('sends no result for an encode that ends after its own view of the lease ran out (a frozen agent)', async () => {
      start();
      const a = assign(1, { leaseTtlMs: 30_000 });
      const call = await encoder.call(1);
      call.progress(1);
      const before = outbox.ofJob(1).map((m) => m.type);
      expect(before).toEqual(['started', 'progress']);

      // Frozen past the lease: no heartbeat ran, no renewal arrived, and the encode ends first.
      clock.freeze(30_001);
      call.finish();
      await waitFor('the dropped attempt to end', () => agent.inFlight() === 0, 5000);

      expect(outbox.ofJob(1).map((m) => m.type)).toEqual(before);
      expect(outbox.ofType('result')).toEqual([]);
      // The overdue heartbeat runs now and no longer claims the job.
      fake.advance(HEARTBEAT_MS);
      for (const hb of outbox.ofType('heartbeat')) expect(hb.leases).not.toContainEqual({ jobId: a.jobId, epoch: a.epoch });
    });

    it('still reports an encode whose lease was renewed before it ended', async () => {
      start();
      assign(1, { leaseTtlMs: 30_000 });
      const call = await encoder.call(1);
      clock.freeze(20_000);
      agent.receive({ v: 1, type: 'lease', jobId: 1, epoch: 1, leaseTtlMs: 30_000 });
      clock.freeze(20_000);
      call.finish();
      expect((await outbox.result(1)).outcome.ok).toBe(true);
      expect(outbox.ofJob(1).map((m) => m.type)).toEqual(['started', 'encoded', 'result']);
    });
  });
});
