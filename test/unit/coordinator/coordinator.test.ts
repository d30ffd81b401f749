import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  createCoordinator,
  type Coordinator,
  type CoordinatorDeps,
  type Submission,
  type SubmitResult,
} from '../../../core/coordinator/coordinator.ts';
import type { JobRow, JobStore } from '../../../core/coordinator/ports.ts';
import { createPresetCatalog } from '../../../core/coordinator/preset-catalog.ts';
import { openSqliteStore } from '../../../core/coordinator/store/sqlite-store.ts';
import type { Logger } from '../../../core/shared/logger.ts';
import type { Assign } from '../../../core/shared/protocol/index.ts';
import { FakeAgent, fakeDevice } from '../../helpers/fake-agent.ts';
import { FakeClock } from '../../helpers/fake-clock.ts';

let dir: string;
let outDir: string;
let store: JobStore;
let clock: FakeClock;
let coordinator: Coordinator;
let logged: { level: string; msg: string; fields?: Record<string, unknown> }[];
let agents: FakeAgent[];
let keyCount = 0;

const recordingLogger: Logger = {
  debug: (msg, fields) => logged.push({ level: 'debug', msg, fields }),
  info: (msg, fields) => logged.push({ level: 'info', msg, fields }),
  warn: (msg, fields) => logged.push({ level: 'warn', msg, fields }),
  error: (msg, fields) => logged.push({ level: 'error', msg, fields }),
};

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'encodefarm-coordinator-'));
  outDir = path.join(dir, 'out');
  fs.mkdirSync(outDir);
  store = openSqliteStore({ file: path.join(dir, 'encodefarm.db') });
  clock = new FakeClock();
  logged = [];
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

/** A coordinator over the test's store and clock; replaces the default one when a test needs other deps. */
function farm(overrides: Partial<Omit<CoordinatorDeps, 'store' | 'clock' | 'logger' | 'presets'>> = {}): Coordinator {
  return createCoordinator({
    store,
    clock,
    logger: recordingLogger,
    presets: createPresetCatalog(store, () => clock.now()),
    random: () => 0.25,
    ...overrides,
  });
}

function reconfigure(overrides: Parameters<typeof farm>[0]): void {
  coordinator.close();
  coordinator = farm(overrides);
}

function connect(devices = [fakeDevice('gpu0')], agentId = 'agent-1', limitGroups: { name: string; max: number }[] = []): FakeAgent {
  const agent = FakeAgent.connect(coordinator, { agentId, devices, limitGroups });
  agents.push(agent);
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
    jobs: names.map((n) => ({ inputPath: `/media/in/${n}.mov`, outputPath: path.join(outDir, `${n}.mp4`) })),
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

/** Plays a whole successful attempt: temp file written, started, result ok, commit awaited. */
async function succeed(agent: FakeAgent, a: Assign, bytes = 'encoded bytes'): Promise<void> {
  await agent.writeTemp(a, bytes);
  agent.started(a.jobId, a.epoch);
  agent.progress(a.jobId, a.epoch, { percent: 50 });
  agent.resultOk(a.jobId, a.epoch, { outputSize: Buffer.byteLength(bytes) });
  await coordinator.idle();
}

/** Plays a failed attempt as the agent reports it (the agent already removed its temp file). */
async function fail(agent: FakeAgent, a: Assign, kind: Parameters<FakeAgent['resultError']>[2], message?: string): Promise<void> {
  agent.started(a.jobId, a.epoch);
  agent.resultError(a.jobId, a.epoch, kind, message);
  await coordinator.idle();
}

const assignedIds = (agent: FakeAgent): number[] => agent.assigns.map((a) => a.jobId);

// Every wait here is on an event; a missing one should fail fast, not after the global 120 s.
describe('createCoordinator', { timeout: 10_000 }, () => {
  describe('assignment', () => {
    it('pushes the next assign the moment a slot frees, with no timer or poll involved', async () => {
      const agent = connect([fakeDevice('gpu0', { slots: 1 })]);
      const sub = submit(['a', 'b']);
      expect(assignedIds(agent)).toEqual([idOf(sub, 0)]);
      expect(job(idOf(sub, 0)).state).toBe('leased');
      expect(job(idOf(sub, 1)).state).toBe('queued');

      await succeed(agent, agent.assignOf(idOf(sub, 0)));

      expect(assignedIds(agent)).toEqual([idOf(sub, 0), idOf(sub, 1)]);
      expect(job(idOf(sub, 1)).state).toBe('leased');
      // start() was never called and no backoff is pending: nothing was waiting on time.
      expect(clock.pending()).toBe(0);
    });

    it('assigns work that was queued before any agent connected as soon as one says hello', () => {
      const sub = submit(['a']);
      expect(job(idOf(sub)).state).toBe('queued');
      const agent = connect();
      expect(assignedIds(agent)).toEqual([idOf(sub)]);
      const a = agent.assignOf(idOf(sub));
      expect(a).toMatchObject({
        epoch: 1,
        deviceId: 'gpu0',
        presetId: 'h264-fast',
        input: { path: '/media/in/a.mov' },
        output: { path: path.join(outDir, 'a.mp4') },
        leaseExpiresAt: clock.now() + 60_000,
        leaseTtlMs: 60_000,
      });
    });

    it('takes higher priority first, then submission order', async () => {
      const low = submit(['low-1', 'low-2'], { priority: 0 });
      const high = submit(['high'], { priority: 5 });
      const lowLater = submit(['low-3'], { priority: 0 });
      const agent = connect([fakeDevice('gpu0', { slots: 1 })]);
      for (let i = 0; i < 3; i++) await succeed(agent, agent.assigns.at(-1)!);
      expect(assignedIds(agent)).toEqual([idOf(high), idOf(low, 0), idOf(low, 1), idOf(lowLater)]);
    });

    it('gives a 2-slot device two jobs and the third only after a result', async () => {
      const agent = connect([fakeDevice('gpu0', { slots: 2 })]);
      const sub = submit(['a', 'b', 'c']);
      expect(assignedIds(agent)).toEqual([idOf(sub, 0), idOf(sub, 1)]);
      expect(job(idOf(sub, 2)).state).toBe('queued');

      await succeed(agent, agent.assignOf(idOf(sub, 1)));

      expect(assignedIds(agent)).toEqual([idOf(sub, 0), idOf(sub, 1), idOf(sub, 2)]);
      expect(agent.assignOf(idOf(sub, 2)).deviceId).toBe('gpu0');
    });

    it('prefers a GPU over the CPU, and uses the CPU when the GPU is full', () => {
      const agent = connect([fakeDevice('cpu', { kind: 'cpu', slots: 4 }), fakeDevice('gpu0', { kind: 'nvenc', slots: 1 })]);
      const sub = submit(['a', 'b']);
      expect(agent.assignOf(idOf(sub, 0)).deviceId).toBe('gpu0');
      expect(agent.assignOf(idOf(sub, 1)).deviceId).toBe('cpu');
    });

    it('spreads jobs over GPUs, least loaded first', () => {
      const agent = connect([fakeDevice('gpu0', { kind: 'nvenc', slots: 2 }), fakeDevice('gpu1', { kind: 'nvenc', slots: 2 })]);
      const sub = submit(['a', 'b']);
      const used = sub.jobIds.map((id) => agent.assignOf(id).deviceId).sort();
      expect(used).toEqual(['gpu0', 'gpu1']);
    });

    it('caps concurrent jobs across the devices of a limit group', async () => {
      const agent = connect(
        [
          fakeDevice('gpu0', { kind: 'nvenc', slots: 2, limitGroup: 'geforce' }),
          fakeDevice('gpu1', { kind: 'nvenc', slots: 2, limitGroup: 'geforce' }),
        ],
        'agent-1',
        [{ name: 'geforce', max: 3 }],
      );
      const sub = submit(['a', 'b', 'c', 'd', 'e']);
      expect(agent.assigns).toHaveLength(3);
      expect(sub.jobIds.slice(3).map((id) => job(id).state)).toEqual(['queued', 'queued']);

      await succeed(agent, agent.assigns[0]!);

      expect(agent.assigns).toHaveLength(4);
      expect(job(idOf(sub, 4)).state).toBe('queued');
    });

    it('assigns a job only to a device whose capability probe passed for its codec', () => {
      const agent = connect([
        fakeDevice('gpu0', { kind: 'nvenc', slots: 4, codecs: ['h264'] }),
        fakeDevice('cpu', { kind: 'cpu', slots: 4, codecs: ['h264', 'hevc'] }),
      ]);
      const hevc = submit(['hevc'], { presetId: 'hevc-fast' });
      const av1 = submit(['av1'], { presetId: 'av1-fast' });
      const h264 = submit(['h264'], { presetId: 'h264-fast' });

      expect(agent.assignOf(idOf(hevc)).deviceId).toBe('cpu');
      expect(agent.assignOf(idOf(h264)).deviceId).toBe('gpu0');
      expect(assignedIds(agent)).not.toContain(idOf(av1));
      expect(job(idOf(av1)).state).toBe('queued');
    });

    it('rejects a submission naming an unknown preset', () => {
      expect(() => submit(['a'], { presetId: 'no-such-preset' })).toThrow(/unknown preset "no-such-preset"/);
      expect(store.listBatches(10)).toEqual([]);
    });
  });

  describe('epoch fencing', () => {
    it('answers started, progress and result with a stale epoch with a conflict and changes nothing', async () => {
      const agent = connect();
      const sub = submit(['a']);
      const id = idOf(sub);
      await fail(agent, agent.assignOf(id), 'device-fault');
      const current = agent.assignOf(id);
      expect(current.epoch).toBe(2);
      const before = job(id);
      const attemptsBefore = store.listAttempts(id);

      agent.started(id, 1, { tempPath: path.join(outDir, '.stale.part') });
      agent.progress(id, 1, { percent: 80, outTimeS: 8 });
      agent.resultOk(id, 1, { tempPath: path.join(outDir, '.stale.part') });
      await coordinator.idle();

      expect(agent.acks).toEqual([
        { v: 1, type: 'ack', jobId: id, epoch: 1, status: 'conflict' },
        { v: 1, type: 'ack', jobId: id, epoch: 1, status: 'conflict' },
        { v: 1, type: 'ack', jobId: id, epoch: 1, status: 'conflict' },
      ]);
      expect(job(id)).toEqual(before);
      expect(job(id)).toMatchObject({ state: 'leased', epoch: 2, percent: 0 });
      expect(store.listAttempts(id)).toEqual(attemptsBefore);
    });

    it('accepts the current epoch without an ack', () => {
      const agent = connect();
      const id = idOf(submit(['a']));
      agent.started(id, 1);
      agent.progress(id, 1, { percent: 40, outTimeS: 4 });
      expect(agent.acks).toEqual([]);
      expect(job(id)).toMatchObject({ state: 'running', percent: 40, outTimeS: 4, durationS: 10 });
    });

    it('answers a result from an agent that does not hold the lease with a conflict', async () => {
      const holder = connect([fakeDevice('gpu0')], 'agent-1');
      const other = connect([fakeDevice('gpu0', { codecs: [] })], 'agent-2');
      const id = idOf(submit(['a']));
      holder.started(id, 1);

      other.resultError(id, 1, 'input-invalid');
      await coordinator.idle();

      expect(other.acks).toEqual([{ v: 1, type: 'ack', jobId: id, epoch: 1, status: 'conflict' }]);
      expect(job(id).state).toBe('running');
    });

    it('commits a repeated result once and answers the repeat with a conflict', async () => {
      const agent = connect();
      const id = idOf(submit(['a']));
      const a = agent.assignOf(id);
      await succeed(agent, a, 'first');
      const done = job(id);
      expect(done.state).toBe('done');

      clock.advance(1000);
      agent.resultOk(id, a.epoch);
      await coordinator.idle();

      expect(agent.acks).toEqual([{ v: 1, type: 'ack', jobId: id, epoch: a.epoch, status: 'conflict' }]);
      expect(job(id)).toEqual(done);
      expect(store.listAttempts(id).map((x) => x.outcome)).toEqual(['done']);
      expect(fs.readdirSync(outDir)).toEqual(['a.mp4']);
      expect(fs.readFileSync(path.join(outDir, 'a.mp4'), 'utf8')).toBe('first');
    });

    it('answers a repeat of a result still being committed with a conflict, and commits once', async () => {
      const agent = connect();
      const id = idOf(submit(['a']));
      const a = agent.assignOf(id);
      await agent.writeTemp(a, 'once');
      agent.started(id, a.epoch);

      agent.resultOk(id, a.epoch);
      agent.resultOk(id, a.epoch);
      await coordinator.idle();

      expect(agent.acks).toEqual([{ v: 1, type: 'ack', jobId: id, epoch: a.epoch, status: 'conflict' }]);
      expect(job(id)).toMatchObject({ state: 'done', finalPath: path.join(outDir, 'a.mp4') });
      // The result that was applied is acknowledged once, so the agent can forget it.
      expect(agent.applied).toEqual([{ v: 1, type: 'ack', jobId: id, epoch: a.epoch, status: 'ok' }]);
      expect(store.listAttempts(id).map((x) => x.outcome)).toEqual(['done']);
      expect(fs.readdirSync(outDir)).toEqual(['a.mp4']);
      expect(logged.filter((l) => l.level === 'error')).toEqual([]);
    });

    it('refuses an output from an attempt that never said it started', async () => {
      const agent = connect();
      const id = idOf(submit(['a']));
      const a = agent.assignOf(id);
      await agent.writeTemp(a);

      agent.resultOk(id, a.epoch);
      await coordinator.idle();

      expect(agent.acks).toEqual([{ v: 1, type: 'ack', jobId: id, epoch: a.epoch, status: 'conflict' }]);
      expect(job(id).state).toBe('leased');
      expect(fs.existsSync(path.join(outDir, 'a.mp4'))).toBe(false);
    });

    it('deletes the temp output of a result from a superseded lease, and nothing else it names', async () => {
      const agent = connect();
      const id = idOf(submit(['a']));
      const old = agent.assignOf(id);
      await fail(agent, old, 'device-fault');
      expect(agent.assignOf(id).epoch).toBe(2);
      // The superseded attempt's encode kept going and finished its temp file after all.
      const oldTemp = await agent.writeTemp(old);
      const bystander = path.join(outDir, 'keep-me.mp4');
      fs.writeFileSync(bystander, 'not a temp file');

      agent.resultOk(id, old.epoch, { tempPath: oldTemp });
      agent.resultOk(id, old.epoch, { tempPath: bystander });
      await coordinator.idle();

      expect(agent.acks.map((x) => [x.epoch, x.status])).toEqual([[1, 'conflict'], [1, 'conflict']]);
      expect(fs.existsSync(oldTemp)).toBe(false);
      expect(fs.readFileSync(bystander, 'utf8')).toBe('not a temp file');
      expect(job(id)).toMatchObject({ state: 'leased', epoch: 2 });
    });

    it('drops messages that fail the protocol schema or come before hello', () => {
      const agent = connect();
      const id = idOf(submit(['a']));
      agent.send({ v: 2, type: 'started', jobId: id, epoch: 1, tempPath: '/x', source: { durationS: 1, sizeBytes: 1 } });
      agent.send({ v: 1, type: 'progress', jobId: id, percent: 10 });
      agent.send('not even an object');
      const stranger = coordinator.connectAgent(() => {});
      stranger.receive({ v: 1, type: 'heartbeat', leases: [{ jobId: id, epoch: 1 }] });

      expect(job(id).state).toBe('leased');
      expect(logged.filter((l) => l.level === 'warn').map((l) => l.msg)).toEqual([
        'invalid agent message dropped',
        'invalid agent message dropped',
        'invalid agent message dropped',
        'agent message before hello dropped',
      ]);
    });
  });

  describe('failure classification', () => {
    it('fails an invalid input after one attempt and does not run it again', async () => {
      const agent = connect();
      const id = idOf(submit(['a']));

      await fail(agent, agent.assignOf(id), 'input-invalid', 'a.mov: moov atom not found');

      expect(job(id)).toMatchObject({ state: 'failed', errorKind: 'input-invalid', errorMessage: 'a.mov: moov atom not found' });
      expect(store.listAttempts(id).map((x) => x.outcome)).toEqual(['failed']);
      expect(agent.assigns).toHaveLength(1);
    });

    it('requeues a device-capacity refusal without burning an attempt and lowers the slots to what was observed', async () => {
      const agent = connect([fakeDevice('gpu0', { kind: 'nvenc', slots: 4 })]);
      const sub = submit(['a', 'b', 'c']);
      expect(agent.assigns).toHaveLength(3);
      const refused = agent.assignOf(idOf(sub, 2));

      await fail(agent, refused, 'device-capacity', 'OpenEncodeSessionEx failed: out of memory');

      // Three sessions were open when the driver refused the third: it holds at most two.
      const gpu = coordinator.devices().find((d) => d.id === 'gpu0')!;
      expect(gpu).toMatchObject({ announcedSlots: 4, slots: 2, reason: 'OpenEncodeSessionEx failed: out of memory' });
      expect(store.listDevices().find((d) => d.id === 'gpu0')?.slots).toBe(2);
      expect(job(idOf(sub, 2))).toMatchObject({ state: 'queued', attempts: 0, requeues: 1, errorKind: 'device-capacity' });
      // Two still running fill the lowered slots, so the refused job waits.
      expect(agent.assigns).toHaveLength(3);

      await succeed(agent, agent.assignOf(idOf(sub, 0)));

      expect(agent.assignOf(idOf(sub, 2))).toMatchObject({ epoch: refused.epoch + 1, deviceId: 'gpu0' });
    });

    it('quarantines a device after three device faults in a row and lets another device take over', async () => {
      const agent = connect([fakeDevice('gpu0', { kind: 'nvenc', slots: 1 }), fakeDevice('cpu', { kind: 'cpu', slots: 1 })]);
      const first = idOf(submit(['a']));
      for (let i = 0; i < 3; i++) {
        const a = agent.assignOf(first);
        expect(a.deviceId).toBe('gpu0');
        await fail(agent, a, 'device-fault', 'CUDA_ERROR_NO_DEVICE');
      }

      const gpu = coordinator.devices().find((d) => d.id === 'gpu0')!;
      expect(gpu).toMatchObject({ state: 'quarantined', faults: 3 });
      expect(store.listDevices().find((d) => d.id === 'gpu0')?.state).toBe('quarantined');
      expect(job(first)).toMatchObject({ state: 'leased', attempts: 0, requeues: 3, deviceId: 'cpu', epoch: 4 });

      const second = idOf(submit(['b']));
      expect(job(second).state).toBe('queued');
      await succeed(agent, agent.assignOf(first));

      expect(agent.assignOf(second).deviceId).toBe('cpu');
      expect(agent.assigns.slice(3).map((a) => a.deviceId)).toEqual(['cpu', 'cpu']);
    });

    it('retries an encode failure after a jittered backoff and not before', async () => {
      const agent = connect();
      const id = idOf(submit(['a']));
      const failedAt = clock.now();

      await fail(agent, agent.assignOf(id), 'encode-failed', 'ffmpeg exited with 1');

      // DEFAULT_BACKOFF: 2000 ms for the first retry, jittered into [1000, 2000]; random() = 0.25.
      expect(job(id)).toMatchObject({ state: 'queued', attempts: 1, requeues: 0, notBefore: failedAt + 1250 });
      clock.advance(1249);
      expect(agent.assigns).toHaveLength(1);
      expect(job(id).state).toBe('queued');

      clock.advance(1);

      expect(agent.assigns).toHaveLength(2);
      expect(agent.assignOf(id).epoch).toBe(2);
    });

    it('uses the injected random source for the jitter', async () => {
      reconfigure({ random: () => 1 });
      const agent = connect();
      const id = idOf(submit(['a']));
      const failedAt = clock.now();
      await fail(agent, agent.assignOf(id), 'encode-stalled');
      expect(job(id).notBefore).toBe(failedAt + 2000);
    });

    it('fails an encode permanently after five attempts', async () => {
      // This machine's in-process agent is never blocklisted, so the job spends all five attempts there.
      const agent = connect([fakeDevice('gpu0')], 'local:test-host:1:abcd1234');
      const id = idOf(submit(['a']));
      const delays = [1250, 2500, 5000, 10_000];
      for (const delay of delays) {
        await fail(agent, agent.assignOf(id), 'encode-failed', 'boom');
        expect(job(id).state).toBe('queued');
        clock.advance(delay);
      }
      await fail(agent, agent.assignOf(id), 'encode-failed', 'boom');

      expect(job(id)).toMatchObject({ state: 'failed', errorKind: 'encode-failed', errorMessage: 'failed 5 times, giving up: boom' });
      expect(store.listAttempts(id).map((x) => x.outcome)).toEqual(['requeued', 'requeued', 'requeued', 'requeued', 'failed']);
      expect(agent.assigns).toHaveLength(5);
      expect(clock.pending()).toBe(0);
    });

    it('blocklists a remote agent for a job after three failures there; another agent takes it, a retry forgives', async () => {
      const flaky = connect([fakeDevice('gpu0')], 'agt-flaky');
      const id = idOf(submit(['a']));
      for (const delay of [1250, 2500, 5000]) {
        await fail(flaky, flaky.assignOf(id), 'encode-failed', 'boom');
        clock.advance(delay);
      }
      expect(store.blockedAgentsFor(id)).toEqual(['agt-flaky']);
      expect(flaky.assigns).toHaveLength(3);
      expect(job(id).state).toBe('queued');

      const other = connect([fakeDevice('gpu0')], 'agt-other');
      expect(other.assignOf(id).epoch).toBe(4);
      await fail(other, other.assignOf(id), 'encode-failed', 'boom');
      clock.advance(10_000);
      expect(flaky.assigns).toHaveLength(3);
      expect(other.assigns).toHaveLength(2);
      await fail(other, other.assignOf(id), 'encode-failed', 'boom');
      expect(job(id).state).toBe('failed');

      expect(coordinator.retryJobs([id])).toEqual([id]);
      expect(store.blockedAgentsFor(id)).toEqual([]);
    });

    it('blocks a job on a full disk until it is resumed', async () => {
      const agent = connect();
      const id = idOf(submit(['a']));
      await fail(agent, agent.assignOf(id), 'disk-full', '/out: no space left on the output volume');

      expect(job(id)).toMatchObject({ state: 'blocked', blockReason: '/out: no space left on the output volume', attempts: 0 });
      expect(agent.assigns).toHaveLength(1);

      expect(coordinator.resumeJobs([id])).toEqual([id]);
      expect(agent.assignOf(id).epoch).toBe(2);
    });

    it('removes the temp file a failed attempt left beside the target', async () => {
      const agent = connect();
      const id = idOf(submit(['a']));
      const a = agent.assignOf(id);
      const temp = await agent.writeTemp(a);
      await fail(agent, a, 'encode-failed');
      expect(fs.existsSync(temp)).toBe(false);
    });
  });

  describe('user actions', () => {
    it('cancels a queued job at once, so it is never assigned', async () => {
      const agent = connect([fakeDevice('gpu0', { slots: 1 })]);
      const sub = submit(['a', 'b']);

      expect(coordinator.cancelJobs([idOf(sub, 1)])).toEqual([idOf(sub, 1)]);
      expect(job(idOf(sub, 1))).toMatchObject({ state: 'canceled', errorKind: 'canceled' });
      await succeed(agent, agent.assignOf(idOf(sub, 0)));

      expect(assignedIds(agent)).toEqual([idOf(sub, 0)]);
    });

    it('sends a cancel for a running job and records it canceled after the agent says so', async () => {
      const agent = connect();
      const id = idOf(submit(['a']));
      agent.started(id, 1);

      coordinator.cancelJobs([id]);

      expect(agent.cancels).toEqual([{ v: 1, type: 'cancel', jobId: id, epoch: 1, reason: 'canceled by user' }]);
      expect(job(id)).toMatchObject({ state: 'running', cancelRequested: true });

      agent.resultError(id, 1, 'canceled', 'aborted');
      await coordinator.idle();

      expect(job(id)).toMatchObject({ state: 'canceled', cancelRequested: false, errorKind: 'canceled' });
      expect(agent.assigns).toHaveLength(1);
    });

    it('forwards a cancel that another process wrote to the database on its next poll', () => {
      reconfigure({ config: { pollMs: 1000 } });
      const agent = connect();
      coordinator.start();
      const id = idOf(submit(['a']));
      agent.started(id, 1);

      const cli = openSqliteStore({ file: path.join(dir, 'encodefarm.db') });
      try {
        expect(cli.cancelJobs([id], clock.now())).toEqual([id]);
      } finally {
        cli.close();
      }
      expect(agent.cancels).toEqual([]);

      clock.advance(1000);

      expect(agent.cancels).toEqual([{ v: 1, type: 'cancel', jobId: id, epoch: 1, reason: 'canceled by user' }]);
    });

    it('treats any failure after a cancel request as the cancel', async () => {
      const agent = connect();
      const id = idOf(submit(['a']));
      agent.started(id, 1);
      coordinator.cancelJobs([id]);

      agent.resultError(id, 1, 'encode-failed', 'killed by signal 15');
      await coordinator.idle();

      expect(job(id)).toMatchObject({ state: 'canceled', attempts: 0 });
      expect(agent.assigns).toHaveLength(1);
    });

    it('pauses and resumes a queued job', async () => {
      const agent = connect([fakeDevice('gpu0', { slots: 1 })]);
      const sub = submit(['a', 'b']);
      expect(coordinator.pauseJobs([idOf(sub, 1)])).toEqual([idOf(sub, 1)]);

      await succeed(agent, agent.assignOf(idOf(sub, 0)));
      expect(job(idOf(sub, 1)).state).toBe('paused');
      expect(agent.assigns).toHaveLength(1);

      expect(coordinator.resumeJobs([idOf(sub, 1)])).toEqual([idOf(sub, 1)]);
      expect(agent.assignOf(idOf(sub, 1)).epoch).toBe(1);
    });

    it('pauses a batch, letting its running job finish, and resumes it', async () => {
      const agent = connect([fakeDevice('gpu0', { slots: 1 })]);
      const sub = submit(['a', 'b']);
      coordinator.pauseBatch(sub.batch.id);
      expect(store.getBatch(sub.batch.id)?.state).toBe('paused');

      await succeed(agent, agent.assignOf(idOf(sub, 0)));
      expect(job(idOf(sub, 0)).state).toBe('done');
      expect(job(idOf(sub, 1)).state).toBe('queued');
      expect(agent.assigns).toHaveLength(1);

      coordinator.resumeBatch(sub.batch.id);
      expect(store.getBatch(sub.batch.id)?.state).toBe('active');
      expect(assignedIds(agent)).toEqual([idOf(sub, 0), idOf(sub, 1)]);
    });

    it('retries a failed job from a fresh attempt count', async () => {
      const agent = connect();
      const id = idOf(submit(['a']));
      await fail(agent, agent.assignOf(id), 'input-invalid');
      expect(job(id).state).toBe('failed');

      expect(coordinator.retryJobs([id])).toEqual([id]);

      expect(agent.assignOf(id).epoch).toBe(2);
      expect(job(id)).toMatchObject({ state: 'leased', attempts: 0, errorKind: null });
    });

    it('retries the failed and canceled jobs of a batch and leaves its done jobs alone', async () => {
      const agent = connect([fakeDevice('gpu0', { slots: 3 })]);
      const sub = submit(['a', 'b', 'c']);
      await succeed(agent, agent.assignOf(idOf(sub, 0)));
      await fail(agent, agent.assignOf(idOf(sub, 1)), 'input-invalid');
      coordinator.cancelBatch(sub.batch.id);
      agent.resultError(idOf(sub, 2), 1, 'canceled');
      await coordinator.idle();
      expect(sub.jobIds.map((id) => job(id).state)).toEqual(['done', 'failed', 'canceled']);
      expect(store.getBatch(sub.batch.id)?.state).toBe('canceled');

      expect(coordinator.retryBatch(sub.batch.id)).toEqual([idOf(sub, 1), idOf(sub, 2)]);

      expect(store.getBatch(sub.batch.id)?.state).toBe('active');
      expect(assignedIds(agent)).toEqual([idOf(sub, 0), idOf(sub, 1), idOf(sub, 2), idOf(sub, 1), idOf(sub, 2)]);
      expect(job(idOf(sub, 0)).state).toBe('done');
    });

    it('continues the same batch when a key is submitted again, without redoing done jobs', async () => {
      const agent = connect([fakeDevice('gpu0', { slots: 2 })]);
      const first = submit(['a', 'b'], { key: 'same-key' });
      expect(first.resumed).toBe(false);
      await succeed(agent, agent.assignOf(idOf(first, 0)));
      await fail(agent, agent.assignOf(idOf(first, 1)), 'input-invalid');

      const again = submit(['a', 'b'], { key: 'same-key' });

      expect(again.resumed).toBe(true);
      expect(again.batch.id).toBe(first.batch.id);
      expect(again.jobIds).toEqual(first.jobIds);
      expect(store.listBatches(10)).toHaveLength(1);
      expect(job(idOf(first, 0)).state).toBe('done');
      expect(assignedIds(agent)).toEqual([idOf(first, 0), idOf(first, 1), idOf(first, 1)]);
    });

    it('leaves a job the user canceled canceled when the same key is submitted again', () => {
      const agent = connect([fakeDevice('gpu0', { slots: 1 })]);
      const first = submit(['a', 'b'], { key: 'again-key' });
      coordinator.cancelJobs([idOf(first, 1)]);
      expect(job(idOf(first, 1)).state).toBe('canceled');

      submit(['a', 'b'], { key: 'again-key' });

      expect(job(idOf(first, 1)).state).toBe('canceled');
      expect(assignedIds(agent)).toEqual([idOf(first, 0)]);
    });
  });

  describe('outputs', () => {
    it('commits the temp file to the target and records the job done with its final path', async () => {
      const agent = connect();
      const id = idOf(submit(['a']));
      const a = agent.assignOf(id);
      const temp = await agent.writeTemp(a, 'the encoded video');
      agent.started(id, a.epoch, { tempPath: temp });
      const states: string[] = [];
      coordinator.events.on('job', (j) => j.id === id && states.push(j.state));
      agent.resultOk(id, a.epoch, { tempPath: temp, outputSize: 17, encodeMs: 1234 });

      await coordinator.idle();
      expect(states).toEqual(['verifying', 'done']);

      const target = path.join(outDir, 'a.mp4');
      expect(job(id)).toMatchObject({ state: 'done', finalPath: target, outputSize: 17, encodeMs: 1234, percent: 100 });
      expect(fs.readFileSync(target, 'utf8')).toBe('the encoded video');
      expect(fs.existsSync(temp)).toBe(false);
      expect(fs.readdirSync(outDir)).toEqual(['a.mp4']);
    });

    it('gives the device its next job when ffmpeg ends, and commits the first when its result comes', async () => {
      const agent = connect([fakeDevice('gpu0', { slots: 1 })]);
      const first = idOf(submit(['a']));
      const second = idOf(submit(['b']));
      const a = agent.assignOf(first);
      expect(agent.assigns.map((x) => x.jobId)).toEqual([first]);
      const temp = await agent.writeTemp(a);
      agent.started(first, a.epoch, { tempPath: temp });
      agent.send({ v: 1, type: 'encoded', jobId: first, epoch: a.epoch });

      expect(job(first).state).toBe('verifying');
      expect(agent.assigns.map((x) => x.jobId)).toEqual([first, second]);
      agent.resultOk(first, a.epoch, { tempPath: temp });
      await coordinator.idle();
      expect(job(first)).toMatchObject({ state: 'done', finalPath: path.join(outDir, 'a.mp4') });
      // The slot was given once: the result does not free it a second time.
      expect(coordinator.devices()[0]!.busy).toEqual(new Set([second]));
    });

    it('finishes as done a job whose commit was cut short after the link, instead of redoing it', async () => {
      const agent = connect();
      const id = idOf(submit(['a']));
      const a = agent.assignOf(id);
      const temp = await agent.writeTemp(a, 'the encoded video');
      agent.started(id, a.epoch, { tempPath: temp });
      // What a coordinator killed mid-commit leaves behind: the identity recorded, the link made,
      // the temp not yet removed and the job never recorded done.
      const st = fs.statSync(temp, { bigint: true });
      expect(store.markVerifying(id, a.epoch, { fileId: `${st.dev}:${st.ino}`, outputSize: 17, encodeMs: 99 })).toBe('ok');
      const target = path.join(outDir, 'a.mp4');
      fs.linkSync(temp, target);

      await agent.close();
      await coordinator.idle();

      expect(job(id)).toMatchObject({ state: 'done', finalPath: target, outputSize: 17, encodeMs: 99 });
      expect(fs.readdirSync(outDir)).toEqual(['a.mp4']);
      expect(agent.assigns.filter((x) => x.jobId === id)).toHaveLength(1);
    });

    it('requeues a cut-short commit whose output never reached the target', async () => {
      const agent = connect();
      const id = idOf(submit(['a']));
      const a = agent.assignOf(id);
      const temp = await agent.writeTemp(a);
      agent.started(id, a.epoch, { tempPath: temp });
      const st = fs.statSync(temp, { bigint: true });
      store.markVerifying(id, a.epoch, { fileId: `${st.dev}:${st.ino}`, outputSize: 13, encodeMs: 1 });

      await agent.close();
      await coordinator.idle();

      expect(job(id)).toMatchObject({ state: 'queued', requeues: 1 });
      expect(fs.existsSync(temp)).toBe(false);
    });

    it('skips a job whose target already exists under on-exists skip, without an assign', () => {
      const target = path.join(outDir, 'a.mp4');
      fs.writeFileSync(target, 'precious');
      const agent = connect();
      const id = idOf(submit(['a'], { onExists: 'skip' }));

      expect(agent.assigns).toEqual([]);
      expect(job(id)).toMatchObject({ state: 'failed', errorKind: 'output-exists' });
      expect(store.listAttempts(id).map((x) => x.outcome)).toEqual(['skipped']);
      expect(fs.readFileSync(target, 'utf8')).toBe('precious');
    });

    it('commits beside a target that appeared during the encode under on-exists suffix', async () => {
      const agent = connect();
      const id = idOf(submit(['a'], { onExists: 'suffix' }));
      const target = path.join(outDir, 'a.mp4');
      fs.writeFileSync(target, 'precious');

      await succeed(agent, agent.assignOf(id), 'new');

      expect(job(id)).toMatchObject({ state: 'done', finalPath: path.join(outDir, 'a (1).mp4') });
      expect(fs.readFileSync(target, 'utf8')).toBe('precious');
      expect(fs.readFileSync(path.join(outDir, 'a (1).mp4'), 'utf8')).toBe('new');
    });

    it('fails as skipped, keeping the existing file, when a target appears during the encode under on-exists skip', async () => {
      const agent = connect();
      const id = idOf(submit(['a'], { onExists: 'skip' }));
      const target = path.join(outDir, 'a.mp4');
      fs.writeFileSync(target, 'precious');

      await succeed(agent, agent.assignOf(id), 'new');

      expect(job(id)).toMatchObject({ state: 'failed', errorKind: 'output-exists', finalPath: null });
      expect(store.listAttempts(id).map((x) => x.outcome)).toEqual(['skipped']);
      expect(fs.readdirSync(outDir)).toEqual(['a.mp4']);
      expect(fs.readFileSync(target, 'utf8')).toBe('precious');
    });
  });

  describe('lost work', () => {
    it('requeues the in-flight jobs of an agent that disconnects and deletes their temp files', async () => {
      const gone = connect([fakeDevice('gpu0', { slots: 2 })], 'agent-gone');
      const sub = submit(['a', 'b']);
      const temps = await Promise.all(gone.assigns.map((a) => gone.writeTemp(a)));
      for (const a of gone.assigns) gone.started(a.jobId, a.epoch);

      await gone.close();

      for (const id of sub.jobIds) {
        expect(job(id)).toMatchObject({ state: 'queued', attempts: 0, requeues: 1, errorKind: 'lease-lost', agentId: null });
        expect(store.listAttempts(id).map((x) => x.outcome)).toEqual(['lost']);
      }
      for (const t of temps) expect(fs.existsSync(t)).toBe(false);
      expect(coordinator.devices()).toEqual([]);

      const next = connect([fakeDevice('gpu0', { slots: 2 })], 'agent-next');
      expect(next.assigns.map((a) => [a.jobId, a.epoch])).toEqual(sub.jobIds.map((id) => [id, 2]));
    });

    it('requeues a job whose lease is not renewed and claims it again with a new epoch', async () => {
      reconfigure({ config: { leaseTtlMs: 10_000, pollMs: 1000 } });
      const agent = connect();
      coordinator.start();
      const id = idOf(submit(['a']));
      const first = agent.assignOf(id);
      const temp = await agent.writeTemp(first);
      agent.started(id, first.epoch);
      const reassigned = agent.next('assign');

      clock.advance(10_000);
      expect(job(id).state).toBe('running');
      clock.advance(5000);

      expect(agent.cancels).toEqual([{ v: 1, type: 'cancel', jobId: id, epoch: 1, reason: 'lease expired' }]);
      expect(await reassigned).toMatchObject({ jobId: id, epoch: 2, deviceId: 'gpu0' });
      expect(job(id)).toMatchObject({ state: 'leased', epoch: 2, attempts: 0, requeues: 1 });
      expect(store.listAttempts(id).map((x) => x.outcome)).toEqual(['lost', null]);
      await coordinator.idle();
      expect(fs.existsSync(temp)).toBe(false);

      // The old attempt's late messages are fenced off.
      agent.progress(id, 1, { percent: 90 });
      expect(agent.acks.at(-1)).toEqual({ v: 1, type: 'ack', jobId: id, epoch: 1, status: 'conflict' });
    });

    it('keeps a lease that heartbeats renew', () => {
      reconfigure({ config: { leaseTtlMs: 10_000, pollMs: 1000 } });
      const agent = connect();
      coordinator.start();
      const id = idOf(submit(['a']));
      agent.started(id, 1);

      for (let i = 0; i < 6; i++) {
        clock.advance(5000);
        agent.heartbeat({ jobId: id, epoch: 1 });
      }

      expect(job(id)).toMatchObject({ state: 'running', epoch: 1, leaseExpiresAt: clock.now() + 10_000 });
      expect(agent.cancels).toEqual([]);
      expect(agent.acks).toEqual([]);
      // Each renewal is answered, so the agent's own view of the lease moves on too.
      expect(agent.received.filter((m) => m.type === 'lease')).toHaveLength(6);
      expect(agent.received.at(-1)).toEqual({ v: 1, type: 'lease', jobId: id, epoch: 1, leaseTtlMs: 10_000 });
    });

    it('answers a heartbeat for a superseded epoch with a conflict', async () => {
      const agent = connect();
      const id = idOf(submit(['a']));
      await fail(agent, agent.assignOf(id), 'device-fault');

      agent.heartbeat({ jobId: id, epoch: 1 }, { jobId: id, epoch: 2 });

      expect(agent.acks).toEqual([{ v: 1, type: 'ack', jobId: id, epoch: 1, status: 'conflict' }]);
    });

    it('leaves queued jobs of other batches alone when scoped to its own submissions', async () => {
      const other = store.createBatch({ key: 'someone-else', label: 'other', presetId: 'h264-fast', outDir: null, onExists: 'suffix', priority: 9 }, clock.now());
      const [otherJob] = store.addJobs(other.id, [{ inputPath: '/media/in/x.mov', presetId: 'h264-fast', codec: 'h264', outputPath: path.join(outDir, 'x.mp4') }], clock.now());
      reconfigure({ scopeToSubmitted: true });
      const agent = connect([fakeDevice('gpu0', { slots: 4 })]);
      expect(agent.assigns).toEqual([]);

      const mine = submit(['a']);
      await succeed(agent, agent.assignOf(idOf(mine)));

      expect(assignedIds(agent)).toEqual([idOf(mine)]);
      expect(job(otherJob!).state).toBe('queued');
    });
  });

  describe('bugs', () => {
    it('keeps a reconnected agent when the connection it replaced closes late', async () => {
      const id = idOf(submit(['a']));
      const oldLink = connect([fakeDevice('gpu0', { slots: 2 })], 'agent-1');
      expect(oldLink.assignOf(id).epoch).toBe(1);
      // The agent reconnects (a new socket and hello) before the old socket's close event arrives.
      const newLink = connect([fakeDevice('gpu0', { slots: 2 })], 'agent-1');
      newLink.started(id, 1, { tempPath: oldLink.tempPathOf(oldLink.assignOf(id)) });

      await oldLink.close();

      // The agent is connected through the new link: its job keeps its lease and it gets new work.
      expect(job(id)).toMatchObject({ state: 'running', epoch: 1 });
      expect(coordinator.devices().map((d) => d.key)).toEqual(['agent-1/gpu0']);
      const next = idOf(submit(['b']));
      expect(newLink.assignOf(next).deviceId).toBe('gpu0');
    });

    it('finishes the commit of a result that arrived just before its agent disconnected', async () => {
      const agent = connect();
      const id = idOf(submit(['a']));
      const a = agent.assignOf(id);
      await agent.writeTemp(a, 'the encoded video');
      agent.started(id, a.epoch);

      // A remote agent reports its last result and goes away (e.g. it was told to shut down).
      agent.resultOk(id, a.epoch);
      await agent.close();
      await coordinator.idle();

      const target = path.join(outDir, 'a.mp4');
      expect(fs.readFileSync(target, 'utf8')).toBe('the encoded video');
      expect(job(id)).toMatchObject({ state: 'done', finalPath: target, requeues: 0 });
    });

    it('handles a duplicated failure result once: one fault counted, never more jobs than slots', async () => {
      const agent = connect([fakeDevice('gpu0', { kind: 'nvenc', slots: 1 })]);
      const sub = submit(['a', 'b']);
      const id = idOf(sub, 0);
      agent.started(id, 1);

      // The same (job, epoch, result) twice, e.g. re-sent by a transport after a reconnect.
      agent.resultError(id, 1, 'device-fault', 'CUDA_ERROR_NO_DEVICE');
      agent.resultError(id, 1, 'device-fault', 'CUDA_ERROR_NO_DEVICE');
      await coordinator.idle();

      const gpu = coordinator.devices().find((d) => d.id === 'gpu0')!;
      expect(gpu.faults).toBe(1);
      // Job a went back to gpu0 with epoch 2 and fills its only slot; job b has to wait.
      expect(agent.assigns.map((x) => [x.jobId, x.epoch])).toEqual([[id, 1], [id, 2]]);
      expect(job(idOf(sub, 1)).state).toBe('queued');
      expect([...gpu.busy]).toEqual([id]);
    });
  });
});
