import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createAgent, type Agent } from '../../../core/agent/agent.ts';
import type { AgentDevice } from '../../../core/agent/ports.ts';
import { findBuiltinPreset } from '../../../core/shared/builtin-presets.ts';
import { silentLogger } from '../../../core/shared/logger.ts';
import { FakeClock } from '../../helpers/fake-clock.ts';
import { FakeEncoder, FakeProber, Outbox } from '../../helpers/agent-fakes.ts';
import { FakeTelemetrySource, settle } from '../../helpers/fake-telemetry-source.ts';

const gpu0: AgentDevice = {
  id: 'gpu0',
  kind: 'nvenc',
  label: 'GPU 0 NVIDIA GeForce RTX 4090',
  gpuIndex: 0,
  slots: 3,
  codecs: ['h264'],
  state: 'working',
  encoderFor: () => ({ family: 'nvenc', name: 'h264_nvenc', gpuIndex: 0 }),
};

let clock: FakeClock;
let source: FakeTelemetrySource;
let outbox: Outbox;
let agent: Agent;

function start(overrides: Partial<Parameters<typeof createAgent>[0]> = {}): Agent {
  agent = createAgent({
    agentId: 'agt-0123456789ab',
    hostname: 'render-1.local',
    pid: 4321,
    devices: [gpu0],
    limitGroups: [],
    logger: silentLogger,
    encoder: new FakeEncoder(),
    prober: new FakeProber(),
    presets: { get: findBuiltinPreset },
    clock,
    stallTimeoutMs: 60_000,
    telemetry: source,
    ...overrides,
  });
  agent.connect(outbox.transport);
  return agent;
}

function welcome(telemetry?: boolean): void {
  agent.receive({ v: 1, type: 'welcome', heartbeatMs: 10_000, leaseTtlMs: 60_000, presets: [], ...(telemetry !== undefined && { telemetry }) });
}

async function run(ms: number, step = 1000): Promise<void> {
  for (let t = 0; t < ms; t += step) {
    clock.advance(step);
    await settle();
  }
}

const samples = () => outbox.ofType('telemetry').map((m) => m.sample);

beforeEach(() => {
  clock = new FakeClock();
  source = new FakeTelemetrySource(clock);
  outbox = new Outbox();
});

afterEach(async () => {
  await agent.close('test over');
});

describe('createAgent with telemetry', () => {
  it('sends nothing until a welcome says the coordinator takes telemetry, then polls every interval', async () => {
    start({ telemetryIntervalMs: 2000 });
    await run(10_000);
    expect(source.calls).toBe(0);

    welcome(true);
    await settle();
    expect(samples()).toHaveLength(1);
    source.temperature = 70;
    await run(2000);
    source.temperature = 71;
    await run(2000);
    // Every message passed the protocol schema on its way out (the Outbox transport parses them).
    expect(samples().map((s) => s.gpus[0]?.temperatureC)).toEqual([60, 70, 71]);
    expect(source.calls).toBe(3);
  });

  it('sends no telemetry to a coordinator from before it existed (no `telemetry` in its welcome)', async () => {
    start();
    welcome();
    await run(20_000);
    expect(source.calls).toBe(0);
    expect(samples()).toEqual([]);
  });

  it('coalesces: an unchanged sample goes out again only every 10 s, and a slow source is never polled twice at once', async () => {
    start();
    welcome(true);
    await settle();
    await run(8000);
    expect(samples()).toHaveLength(1);
    await run(2000);
    expect(samples()).toHaveLength(2);

    source.auto = false;
    await run(20_000);
    const calls = source.calls;
    await run(20_000);
    expect(source.calls).toBe(calls);
    source.temperature = 90;
    source.answer();
    await settle();
    expect(samples().at(-1)?.gpus[0]?.temperatureC).toBe(90);
  });

  it('stops on a reconnect until the new connection’s welcome, then sends the sample whole again', async () => {
    start();
    welcome(true);
    await settle();
    const before = source.calls;

    agent.reconnected();
    await run(20_000);
    expect(source.calls).toBe(before);

    welcome(true);
    await settle();
    // Unchanged figures, but this coordinator knows nothing of them yet.
    expect(samples()).toHaveLength(2);
  });

  it('stops polling on close and leaves the source to its owner', async () => {
    start();
    welcome(true);
    await settle();
    await agent.close('done');
    expect(source.closed).toBe(0);
    const calls = source.calls;
    await run(10_000);
    expect(source.calls).toBe(calls);
  });

  it('refuses a poll interval under 1 s', () => {
    expect(() => start({ telemetryIntervalMs: 500 })).toThrow(/telemetryIntervalMs to be at least 1000/);
    start();
  });
});
