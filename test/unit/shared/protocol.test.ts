import { describe, expect, it } from 'vitest';
import {
  AckSchema,
  AgentMessageSchema,
  AssignSchema,
  CancelSchema,
  CoordinatorMessageSchema,
  HeartbeatSchema,
  HelloSchema,
  PROTOCOL_VERSION,
  ProgressSchema,
  ResultSchema,
  StartedSchema,
} from '../../../core/shared/protocol/index.ts';

const ref = { v: 1, jobId: 3, epoch: 2 } as const;

const hello = {
  v: 1,
  type: 'hello',
  agentId: 'render-1',
  hostname: 'render-1.local',
  pid: 1234,
  devices: [{ id: 'gpu0', kind: 'nvenc', label: 'GPU 0 RTX 4090', gpuIndex: 0, slots: 3, codecs: ['h264', 'hevc', 'av1'], limitGroup: 'geforce' }],
  limitGroups: [{ name: 'geforce', max: 8 }],
};
const heartbeat = { v: 1, type: 'heartbeat', leases: [{ jobId: 3, epoch: 2 }] };
const deviceUpdate = { v: 1, type: 'device-update', deviceId: 'gpu0', slots: 2, state: 'working', reason: 'session limit' };
const started = { ...ref, type: 'started', tempPath: '/out/.a.mp4.ef-3-2.part', source: { durationS: 12.5, sizeBytes: 4096 } };
const progress = { ...ref, type: 'progress', frame: 250, fps: 120, speed: 4.8, outTimeS: 10, percent: 80, etaS: 0.5 };
const log = { ...ref, type: 'log', lines: ['frame=  250 fps=120'] };
const resultOk = { ...ref, type: 'result', outcome: { ok: true, tempPath: '/out/.a.mp4.ef-3-2.part', outputSize: 2048, encodeMs: 2600, avgFps: 96 } };
const resultError = { ...ref, type: 'result', outcome: { ok: false, error: { kind: 'device-capacity', message: 'OpenEncodeSessionEx failed' } } };
const assign = {
  ...ref,
  type: 'assign',
  deviceId: 'gpu0',
  input: { path: '/media/in/a.mov' },
  transfer: false,
  presetId: 'h264-fast',
  output: { path: '/media/out/a.mp4' },
  leaseExpiresAt: 1_700_000_060_000,
  leaseTtlMs: 60_000,
};
const cancel = { ...ref, type: 'cancel', reason: 'canceled by user' };
const ack = { ...ref, type: 'ack', status: 'conflict' };

const agentMessages = { hello, heartbeat, deviceUpdate, started, progress, log, resultOk, resultError };
const coordinatorMessages = { assign, cancel, ack };

describe('protocol v1', () => {
  it('is version 1', () => {
    expect(PROTOCOL_VERSION).toBe(1);
  });

  it('accepts every well-formed agent message', () => {
    for (const [name, msg] of Object.entries(agentMessages)) {
      expect(AgentMessageSchema.safeParse(msg).success, name).toBe(true);
    }
  });

  it('accepts every well-formed coordinator message', () => {
    for (const [name, msg] of Object.entries(coordinatorMessages)) {
      expect(CoordinatorMessageSchema.safeParse(msg).success, name).toBe(true);
    }
  });

  it('fills in hello defaults: no limit groups, no tags, devices working', () => {
    const { limitGroups: _l, ...bare } = hello;
    const parsed = HelloSchema.parse(bare);
    expect(parsed.limitGroups).toEqual([]);
    expect(parsed.tags).toEqual([]);
    expect(parsed.devices[0]?.state).toBe('working');
  });

  it('rejects another protocol version', () => {
    for (const msg of [...Object.values(agentMessages)]) expect(AgentMessageSchema.safeParse({ ...msg, v: 2 }).success).toBe(false);
    for (const msg of [...Object.values(coordinatorMessages)]) {
      expect(CoordinatorMessageSchema.safeParse({ ...msg, v: 0 }).success).toBe(false);
      const { v: _v, ...unversioned } = msg;
      expect(CoordinatorMessageSchema.safeParse(unversioned).success).toBe(false);
    }
  });

  it('rejects an unknown message type', () => {
    expect(AgentMessageSchema.safeParse({ ...ref, type: 'exec', command: 'rm -rf /' }).success).toBe(false);
    expect(AgentMessageSchema.safeParse({ ...assign }).success).toBe(false);
    expect(CoordinatorMessageSchema.safeParse({ ...progress }).success).toBe(false);
    expect(CoordinatorMessageSchema.safeParse({ ...ref, type: 'run' }).success).toBe(false);
  });

  it('rejects an in-flight message without a positive whole epoch', () => {
    for (const msg of [started, progress, log, resultOk, assign, cancel, ack]) {
      const { epoch: _e, ...noEpoch } = msg;
      const schema = msg === assign || msg === cancel || msg === ack ? CoordinatorMessageSchema : AgentMessageSchema;
      expect(schema.safeParse(noEpoch).success, msg.type).toBe(false);
      expect(schema.safeParse({ ...msg, epoch: 0 }).success, msg.type).toBe(false);
      expect(schema.safeParse({ ...msg, epoch: 1.5 }).success, msg.type).toBe(false);
      expect(schema.safeParse({ ...msg, epoch: '2' }).success, msg.type).toBe(false);
    }
    expect(HeartbeatSchema.safeParse({ ...heartbeat, leases: [{ jobId: 3 }] }).success).toBe(false);
  });

  it('rejects a result whose error kind is not a known one', () => {
    const bad = { ...resultError, outcome: { ok: false, error: { kind: 'meltdown', message: 'x' } } };
    expect(ResultSchema.safeParse(bad).success).toBe(false);
  });

  it('rejects progress above 100 percent and negative timings', () => {
    expect(ProgressSchema.safeParse({ ...progress, percent: 101 }).success).toBe(false);
    expect(ProgressSchema.safeParse({ ...progress, outTimeS: -1 }).success).toBe(false);
    expect(StartedSchema.safeParse({ ...started, tempPath: '' }).success).toBe(false);
  });

  it('offers an assign no field that could carry ffmpeg arguments or a command', () => {
    expect(Object.keys(AssignSchema.shape).sort()).toEqual(
      ['v', 'type', 'jobId', 'epoch', 'deviceId', 'input', 'transfer', 'presetId', 'output', 'leaseExpiresAt', 'leaseTtlMs'].sort(),
    );
    expect(Object.keys(AssignSchema.shape.input.shape)).toEqual(['path', 'sizeBytes']);
    expect(Object.keys(AssignSchema.shape.output.shape)).toEqual(['path']);
  });

  it('strips smuggled arguments from an assign instead of passing them on', () => {
    const smuggled = {
      ...assign,
      args: ['-f', 'lavfi', '-i', 'movie=/etc/passwd'],
      argv: ['ffmpeg'],
      command: 'rm -rf /',
      input: { path: '/media/in/a.mov', args: ['-y'] },
      output: { path: '/media/out/a.mp4', options: ['-y'] },
    };
    for (const parsed of [AssignSchema.parse(smuggled), CoordinatorMessageSchema.parse(smuggled)]) {
      expect(parsed).toEqual(assign);
      expect(JSON.stringify(parsed)).not.toMatch(/args|argv|command|options|passwd/);
    }
  });

  it('keeps a cancel and an ack to their own fields', () => {
    expect(CancelSchema.parse({ ...cancel, args: ['-y'] })).toEqual(cancel);
    expect(AckSchema.safeParse({ ...ack, status: 'maybe' }).success).toBe(false);
  });
});
