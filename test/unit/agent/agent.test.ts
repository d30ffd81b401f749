import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createAgent, type Agent } from '../../../core/agent/agent.ts';
import type { AgentDevice } from '../../../core/agent/ports.ts';
import { findBuiltinPreset } from '../../../core/shared/builtin-presets.ts';
import { silentLogger } from '../../../core/shared/logger.ts';
import type { Codec } from '../../../core/shared/preset.ts';
import type { Assign } from '../../../core/shared/protocol/index.ts';
import { tempPathFor } from '../../../core/shared/temp-names.ts';
import { FakeClock } from '../../helpers/fake-clock.ts';
import { FakeEncoder, FakeProber, Outbox, assignMessage } from '../../helpers/agent-fakes.ts';

const STALL_MS = 8000;
const HEARTBEAT_MS = 5000;

let dir: string;
let outDir: string;
let clock: FakeClock;
let encoder: FakeEncoder;
let prober: FakeProber;
let outbox: Outbox;
let agent: Agent;

function device(id: string, slots: number, codecs: Codec[] = ['h264', 'hevc']): AgentDevice {
  return {
    id,
    kind: 'simulated-gpu',
    label: `simulated GPU ${id}`,
    slots,
    codecs,
    state: 'working',
    encoderFor: (codec) => (codecs.includes(codec) ? { family: 'software', name: codec === 'h264' ? 'libx264' : 'libx265', threads: 1 } : undefined),
  };
}

function start(devices: AgentDevice[] = [device('gpu0', 2)]): void {
  agent = createAgent({
    agentId: 'render-1',
    hostname: 'render-1.local',
    pid: 4321,
    devices,
    limitGroups: [{ name: 'geforce', max: 8 }],
    logger: silentLogger,
    heartbeatMs: HEARTBEAT_MS,
    tags: ['fast'],
    encoder,
    prober,
    presets: { get: findBuiltinPreset },
    clock,
    stallTimeoutMs: STALL_MS,
  });
  agent.connect(outbox.transport);
}

function assign(jobId: number, overrides: Partial<Assign> = {}): Assign {
  const a = assignMessage(jobId, outDir, clock.now(), overrides);
  agent.receive(a);
  return a;
}

const tempOf = (a: Assign) => tempPathFor(a.output.path, a.jobId, a.epoch);

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'encodefarm-agent-'));
  outDir = path.join(dir, 'out');
  clock = new FakeClock();
  encoder = new FakeEncoder();
  prober = new FakeProber();
  outbox = new Outbox();
});

afterEach(async () => {
  await agent.close('test over');
  fs.rmSync(dir, { recursive: true, force: true });
});

// Every wait here is on an event; a missing one should fail fast, not after the global 120 s.
describe('createAgent', { timeout: 10_000 }, () => {
  it('says hello with its devices, without the encoder lookup', () => {
    start([device('gpu0', 3), device('cpu', 1, ['h264'])]);
    expect(outbox.sent).toEqual([
      {
        v: 1,
        type: 'hello',
        agentId: 'render-1',
        hostname: 'render-1.local',
        pid: 4321,
        devices: [
          { id: 'gpu0', kind: 'simulated-gpu', label: 'simulated GPU gpu0', slots: 3, codecs: ['h264', 'hevc'], state: 'working' },
          { id: 'cpu', kind: 'simulated-gpu', label: 'simulated GPU cpu', slots: 1, codecs: ['h264'], state: 'working' },
        ],
        limitGroups: [{ name: 'geforce', max: 8 }],
        tags: ['fast'],
        files: 'shared',
        active: [],
      },
    ]);
    const hello = outbox.ofType('hello')[0]!;
    for (const d of hello.devices) expect(d).not.toHaveProperty('encoderFor');
  });

  it('runs an assign: started, progress, then a verified result with the temp path', async () => {
    start();
    const a = assign(1);
    const call = await encoder.call(1);
    call.progress(5);
    call.finish({ encodeMs: 900, avgFps: 75 });

    const result = await outbox.result(1);

    const temp = tempOf(a);
    const size = fs.statSync(temp).size;
    expect(result).toEqual({ v: 1, type: 'result', jobId: 1, epoch: 1, outcome: { ok: true, tempPath: temp, outputSize: size, encodeMs: 900, avgFps: 75 } });
    expect(outbox.ofJob(1).map((m) => m.type)).toEqual(['started', 'progress', 'encoded', 'result']);
    expect(outbox.ofJob(1)[0]).toEqual({ v: 1, type: 'started', jobId: 1, epoch: 1, tempPath: temp, source: { durationS: 10, sizeBytes: 5000 } });
    expect(outbox.ofJob(1)[1]).toMatchObject({ type: 'progress', outTimeS: 5, percent: 50 });
    expect(call.req).toEqual({
      inputPath: '/media/in/clip-1.mov',
      tempPath: temp,
      preset: findBuiltinPreset('h264-fast'),
      encoder: { family: 'software', name: 'libx264', threads: 1 },
      durationS: 10,
    });
    expect(prober.probed).toEqual(['/media/in/clip-1.mov', temp]);
    // The verified temp file stays for the coordinator to commit.
    expect(fs.readFileSync(temp, 'utf8')).toBe('encoded clip-1.mov');
    expect(fs.existsSync(a.output.path)).toBe(false);
    expect(agent.inFlight()).toBe(0);
  });

  it('frees the device slot when ffmpeg ends, so the next encode runs while the last is verified', async () => {
    start([device('gpu0', 1)]);
    let release!: () => void;
    prober.holdOutputs = new Promise((r) => (release = r));
    assign(1);
    assign(2);
    (await encoder.call(1)).finish();
    // Job 1 is still being verified (no result yet), and job 2 already has the device.
    const second = await encoder.call(2);
    expect(second.req.inputPath).toBe('/media/in/clip-2.mov');
    expect(outbox.ofJob(1).map((m) => m.type)).toEqual(['started', 'encoded']);
    release();
    expect((await outbox.result(1)).outcome.ok).toBe(true);
    second.finish();
    expect((await outbox.result(2)).outcome.ok).toBe(true);
  });

  it('runs at most as many encodes on a device as it has slots; the third waits for one to end', async () => {
    start([device('gpu0', 2)]);
    const [a1, , a3] = [assign(1), assign(2), assign(3)];
    await encoder.call(2);
    // The two start concurrently (each after its own probe): their order is not the test's business.
    expect(encoder.calls.map((c) => c.req.inputPath).sort()).toEqual(['/media/in/clip-1.mov', '/media/in/clip-2.mov']);
    expect(prober.probed).not.toContain(a3.input.path);
    expect(agent.inFlight()).toBe(3);

    encoder.calls.find((c) => c.req.inputPath === a1.input.path)!.finish();
    await outbox.result(a1.jobId);
    const third = await encoder.call(3);

    expect(third.req.inputPath).toBe(a3.input.path);
  });

  it('gives each device its own queue', async () => {
    start([device('gpu0', 1), device('gpu1', 1)]);
    assign(1, { deviceId: 'gpu0' });
    assign(2, { deviceId: 'gpu0' });
    assign(3, { deviceId: 'gpu1' });
    await encoder.call(2);
    expect(encoder.calls.map((c) => c.req.inputPath).sort()).toEqual(['/media/in/clip-1.mov', '/media/in/clip-3.mov']);
  });

  it('aborts the encode on a cancel and reports the job canceled', async () => {
    start();
    const a = assign(1);
    const call = await encoder.call(1);
    expect(fs.existsSync(tempOf(a))).toBe(true);

    agent.receive({ v: 1, type: 'cancel', jobId: 1, epoch: 1, reason: 'canceled by user' });

    expect(call.hooks.signal.aborted).toBe(true);
    const result = await outbox.result(1);
    expect(result.outcome).toEqual({ ok: false, error: { kind: 'canceled', message: 'canceled by user' } });
    expect(fs.existsSync(tempOf(a))).toBe(false);
  });

  it('ignores a cancel or conflict for another epoch of the job', async () => {
    start();
    assign(1, { epoch: 2 });
    const call = await encoder.call(1);
    agent.receive({ v: 1, type: 'cancel', jobId: 1, epoch: 1, reason: 'old lease' });
    agent.receive({ v: 1, type: 'ack', jobId: 1, epoch: 1, status: 'conflict' });
    expect(call.hooks.signal.aborted).toBe(false);
    call.finish();
    expect((await outbox.result(1)).outcome.ok).toBe(true);
  });

  it('keeps two epochs of one job apart: a cancel of the old attempt stops it, the new one runs on', async () => {
    start();
    assign(1, { epoch: 1 });
    const old = await encoder.call(1);
    // The lease expired and the job came back to this agent with a new epoch.
    assign(1, { epoch: 2 });
    const fresh = await encoder.call(2);
    agent.receive({ v: 1, type: 'cancel', jobId: 1, epoch: 1, reason: 'lease expired' });
    expect(old.hooks.signal.aborted).toBe(true);
    expect(fresh.hooks.signal.aborted).toBe(false);
    fresh.finish();
    await agent.close();
    const results = outbox.ofType('result').filter((r) => r.jobId === 1);
    expect(results.map((r) => [r.epoch, r.outcome.ok])).toEqual(expect.arrayContaining([[1, false], [2, true]]));
  });

  it('drops the work on a conflict: no result, no more progress or heartbeats, temp file removed', async () => {
    start();
    const a = assign(1);
    const call = await encoder.call(1);
    call.progress(1);

    agent.receive({ v: 1, type: 'ack', jobId: 1, epoch: 1, status: 'conflict' });

    expect(call.hooks.signal.aborted).toBe(true);
    call.progress(2);
    clock.advance(HEARTBEAT_MS);
    await agent.close();
    expect(outbox.ofJob(1).map((m) => m.type)).toEqual(['started', 'progress']);
    expect(outbox.ofType('heartbeat')).toEqual([]);
    expect(fs.existsSync(tempOf(a))).toBe(false);
    expect(agent.inFlight()).toBe(0);
  });

  it('kills an encode whose progress stops after the stall timeout of fake time', async () => {
    start();
    const a = assign(1);
    const call = await encoder.call(1);
    call.progress(1);

    clock.advance(STALL_MS - 1);
    expect(call.hooks.signal.aborted).toBe(false);
    clock.advance(1);
    expect(call.hooks.signal.aborted).toBe(true);

    const result = await outbox.result(1);
    expect(result.outcome).toEqual({
      ok: false,
      error: { kind: 'encode-stalled', message: 'clip-1.mov: ffmpeg made no progress for 8 s; killed it' },
    });
    expect(fs.existsSync(tempOf(a))).toBe(false);
  });

  it('lets an encode run as long as its output time keeps advancing', async () => {
    start();
    assign(1);
    const call = await encoder.call(1);
    for (let t = 1; t <= 10; t++) {
      clock.advance(STALL_MS / 2);
      call.progress(t);
    }
    expect(call.hooks.signal.aborted).toBe(false);
    call.finish();
    expect((await outbox.result(1)).outcome.ok).toBe(true);
  });

  it('reports an invalid input without calling the encoder', async () => {
    start();
    prober.invalidInputs.add('/media/in/clip-1.mov');
    const a = assign(1);
    const result = await outbox.result(1);
    expect(result.outcome).toEqual({ ok: false, error: { kind: 'input-invalid', message: 'clip-1.mov: moov atom not found' } });
    expect(encoder.calls).toEqual([]);
    expect(outbox.ofJob(1).map((m) => m.type)).toEqual(['result']);
    expect(fs.existsSync(tempOf(a))).toBe(false);
  });

  it('reports an output that fails verification as verify-failed and removes it', async () => {
    start();
    prober.outputCodec = 'hevc';
    const a = assign(1);
    (await encoder.call(1)).finish();
    const result = await outbox.result(1);
    expect(result.outcome).toMatchObject({ ok: false, error: { kind: 'verify-failed' } });
    expect(result.outcome.ok || result.outcome.error.message).toContain('video codec is hevc, expected h264');
    expect(fs.existsSync(tempOf(a))).toBe(false);
  });

  it('reports a device fault for a device it does not have or a codec the device cannot encode', async () => {
    start([device('gpu0', 1, ['h264'])]);
    assign(1, { deviceId: 'gpu9' });
    assign(2, { presetId: 'av1-fast' });
    expect((await outbox.result(1)).outcome).toEqual({ ok: false, error: { kind: 'device-fault', message: 'device gpu9 is not on this agent' } });
    expect((await outbox.result(2)).outcome).toEqual({ ok: false, error: { kind: 'device-fault', message: 'simulated GPU gpu0 cannot encode av1' } });
    expect(encoder.calls).toEqual([]);
  });

  it('sends a heartbeat every heartbeatMs listing the leases it holds', async () => {
    start([device('gpu0', 1)]);
    clock.advance(HEARTBEAT_MS);
    expect(outbox.ofType('heartbeat')).toEqual([]);

    const a1 = assign(1);
    assign(2, { epoch: 4 });
    const first = await encoder.call(1);
    clock.advance(HEARTBEAT_MS);
    expect(outbox.ofType('heartbeat')).toEqual([
      { v: 1, type: 'heartbeat', leases: [{ jobId: 1, epoch: 1 }, { jobId: 2, epoch: 4 }] },
    ]);

    first.finish();
    await outbox.result(a1.jobId);
    clock.advance(HEARTBEAT_MS - 1);
    expect(outbox.ofType('heartbeat')).toHaveLength(1);
    clock.advance(1);
    expect(outbox.ofType('heartbeat').at(-1)).toEqual({ v: 1, type: 'heartbeat', leases: [{ jobId: 2, epoch: 4 }] });
  });

  it('fences itself: work whose lease is not renewed in time is stopped and dropped without a result', async () => {
    start([device('gpu0', 1)]);
    const a = assign(1, { leaseTtlMs: 3 * HEARTBEAT_MS });
    const call = await encoder.call(1);
    // Progress keeps the stall watchdog quiet: only the lease can stop this encode.
    const advance = (ms: number) => {
      for (let t = 0; t < ms; t += 1000) {
        clock.advance(Math.min(1000, ms - t));
        call.progress(clock.now() / 1e6);
      }
    };
    advance(3 * HEARTBEAT_MS - 1);
    expect(call.hooks.signal.aborted).toBe(false);
    advance(HEARTBEAT_MS);
    expect(call.hooks.signal.aborted).toBe(true);
    await agent.close();
    expect(outbox.ofType('result')).toEqual([]);
    expect(fs.existsSync(tempOf(a))).toBe(false);
  });

  it('keeps working while the coordinator renews the lease', async () => {
    start([device('gpu0', 1)]);
    assign(1, { leaseTtlMs: 2 * HEARTBEAT_MS });
    const call = await encoder.call(1);
    for (let i = 1; i <= 6; i++) {
      clock.advance(HEARTBEAT_MS);
      call.progress(i);
      agent.receive({ v: 1, type: 'lease', jobId: 1, epoch: 1, leaseTtlMs: 2 * HEARTBEAT_MS });
    }
    expect(call.hooks.signal.aborted).toBe(false);
    call.finish();
    expect((await outbox.result(1)).outcome.ok).toBe(true);
  });

  it('cancels everything it holds when it closes, and stops its heartbeats', async () => {
    start([device('gpu0', 1)]);
    assign(1);
    assign(2);
    await encoder.call(1);

    await agent.close('agent shutting down');

    expect((await outbox.result(1)).outcome).toEqual({ ok: false, error: { kind: 'canceled', message: 'agent shutting down' } });
    expect((await outbox.result(2)).outcome).toEqual({ ok: false, error: { kind: 'canceled', message: 'agent shutting down' } });
    expect(encoder.calls).toHaveLength(1);
    expect(clock.pending()).toBe(0);
    expect(fs.readdirSync(outDir)).toEqual([]);
  });

  it('ignores a coordinator message that fails the protocol schema', async () => {
    start();
    agent.receive({ v: 1, type: 'assign', jobId: 1, epoch: 1, deviceId: 'gpu0', input: { path: '/x.mov' }, presetId: 'h264-fast' });
    agent.receive({ v: 1, type: 'exec', command: 'rm -rf /' });
    expect(agent.inFlight()).toBe(0);
    expect(outbox.sent.map((m) => m.type)).toEqual(['hello']);
  });
});
