import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createCoordinator, type Coordinator, type CoordinatorConfig, type SubmitResult } from '../../../core/coordinator/coordinator.ts';
import type { PoolDevice } from '../../../core/coordinator/device-pool.ts';
import type { JobStore } from '../../../core/coordinator/ports.ts';
import { createPresetCatalog } from '../../../core/coordinator/preset-catalog.ts';
import { deviceView } from '../../../core/coordinator/server/events-socket.ts';
import { openSqliteStore } from '../../../core/coordinator/store/sqlite-store.ts';
import type { Logger } from '../../../core/shared/logger.ts';
import type { DeviceAnnouncement } from '../../../core/shared/device.ts';
import { DeviceViewSchema } from '../../../core/shared/protocol/index.ts';
import { FakeAgent, fakeDevice } from '../../helpers/fake-agent.ts';
import { FakeClock } from '../../helpers/fake-clock.ts';
import { gpuFigures, gpuSample } from '../../helpers/gpu-sample.ts';

const QUIET = 10 * 60_000;
const POLL = 1000;

let dir: string;
let store: JobStore;
let clock: FakeClock;
let coordinator: Coordinator;
let agents: FakeAgent[];
let deviceEvents: PoolDevice[];
let warnings: string[];
let keyCount = 0;

const logger: Logger = { debug() {}, info() {}, warn: (msg) => warnings.push(msg), error() {} };

/** Leases that outlive the quiet periods: the fake agents here send no heartbeats. */
const CONFIG: Partial<CoordinatorConfig> = { leaseTtlMs: 24 * 3_600_000, pollMs: POLL, budgetQuietMs: QUIET };

function farm(): Coordinator {
  const c = createCoordinator({ store, clock, logger, presets: createPresetCatalog(store, () => clock.now()), config: CONFIG, random: () => 0.25 });
  c.events.on('device', (d) => deviceEvents.push(d));
  c.start();
  return c;
}

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'encodefarm-budget-'));
  store = openSqliteStore({ file: path.join(dir, 'encodefarm.db') });
  clock = new FakeClock();
  agents = [];
  deviceEvents = [];
  warnings = [];
  coordinator = farm();
});

afterEach(async () => {
  coordinator.close();
  await coordinator.idle();
  for (const a of agents) expect(a.invalid).toEqual([]);
  store.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

const gpu = (over: Partial<DeviceAnnouncement> = {}) => fakeDevice('gpu0', { kind: 'nvenc', label: 'GPU 0 NVIDIA GeForce RTX 4090', gpuIndex: 0, slots: 4, codecs: ['h264'], ...over });

function connect(devices: DeviceAnnouncement[] = [gpu()], agentId = 'agent-1'): FakeAgent {
  const agent = FakeAgent.connect(coordinator, { agentId, devices });
  agents.push(agent);
  return agent;
}

function submit(n: number): SubmitResult {
  keyCount += 1;
  const jobs = Array.from({ length: n }, (_, i) => ({ inputPath: `/media/in/${keyCount}-${i}.mov`, outputPath: path.join(dir, 'out', `${keyCount}-${i}.mp4`) }));
  return coordinator.submit({ key: `k-${keyCount}`, label: 't', presetId: 'h264-fast', outDir: path.join(dir, 'out'), onExists: 'suffix', priority: 0, jobs });
}

const device = (key = 'agent-1/gpu0') => coordinator.devices().find((d) => d.key === key)!;

/** The agent reports that the driver refused the session of `jobId` (NVENC session limit). */
async function refuse(agent: FakeAgent, jobId: number): Promise<void> {
  const a = agent.assignOf(jobId);
  agent.started(jobId, a.epoch);
  agent.resultError(jobId, a.epoch, 'device-capacity', 'OpenEncodeSessionEx failed: incompatible client key (21)');
  await coordinator.idle();
}

describe('session budget learning', () => {
  it('lowers a budget to what the driver took, raises it by one after a quiet period at it, and keeps both in the store', async () => {
    const agent = connect();
    const sub = submit(8);
    expect(agent.assigns).toHaveLength(4);

    await refuse(agent, sub.jobIds[3]!);

    // Four were open when the fourth was refused: the GPU takes three.
    expect(device()).toMatchObject({ slots: 3, announcedSlots: 4 });
    expect(store.listDeviceBudgets('agent-1')).toEqual([
      expect.objectContaining({ deviceId: 'gpu0', announcedSlots: 4, budget: 3, backoff: 0, refusedAt: clock.now() }),
    ]);
    expect(store.listDevices().find((d) => d.id === 'gpu0')?.slots).toBe(3);
    expect(deviceView(device()).budget).toEqual({ source: 'learned', refusedAt: clock.now(), atBudgetMs: 0, raiseAfterMs: QUIET });
    const assigned = agent.assigns.length;

    // The three running keep every slot busy. The first poll only sees it at budget.
    clock.advance(QUIET);
    expect(device().slots).toBe(3);
    deviceEvents.length = 0;
    clock.advance(POLL);

    expect(device().slots).toBe(4);
    // The freed slot is filled at once (push, not the next poll).
    expect(agent.assigns).toHaveLength(assigned + 1);
    expect(store.listDeviceBudgets('agent-1')[0]).toMatchObject({ budget: 4, raisedTo: 4 });
    expect(store.listDevices().find((d) => d.id === 'gpu0')?.slots).toBe(4);
    expect(deviceEvents.map((d) => [d.key, d.slots])).toContainEqual(['agent-1/gpu0', 4]);
    expect(deviceView(device()).budget).toMatchObject({ source: 'configured', raiseAfterMs: null });

    // Never above what the agent announced.
    clock.advance(3 * QUIET);
    expect(device().slots).toBe(4);
  });

  it('waits twice as long after a raise the driver refused', async () => {
    const agent = connect();
    const sub = submit(8);
    await refuse(agent, sub.jobIds[3]!);
    clock.advance(QUIET + POLL);
    expect(device().slots).toBe(4);
    const retried = agent.assigns.at(-1)!;

    // Wrong: the driver refuses the fourth session again.
    await refuse(agent, retried.jobId);

    expect(device().slots).toBe(3);
    expect(store.listDeviceBudgets('agent-1')[0]).toMatchObject({ budget: 3, backoff: 1, raisedTo: null });
    expect(deviceView(device()).budget.raiseAfterMs).toBe(2 * QUIET);
    clock.advance(QUIET + POLL);
    expect(device().slots).toBe(3);
    clock.advance(QUIET);
    expect(device().slots).toBe(4);
  });

  it('does not raise a budget while the device has a free slot', async () => {
    const agent = connect();
    const sub = submit(4);
    await refuse(agent, sub.jobIds[3]!);
    // Two end; the refused job takes one freed slot, the other stays free: nothing is queued.
    for (const id of sub.jobIds.slice(0, 2)) {
      const a = agent.assignOf(id);
      agent.resultError(a.jobId, a.epoch, 'input-invalid', 'not a video');
      await coordinator.idle();
    }
    expect(device().busy.size).toBe(2);

    clock.advance(3 * QUIET);
    expect(device().slots).toBe(3);
    expect(deviceView(device()).budget.atBudgetMs).toBe(0);
  });

  it('applies a learned budget when the agent reconnects and when the coordinator restarts', async () => {
    const agent = connect();
    const sub = submit(4);
    await refuse(agent, sub.jobIds[3]!);
    expect(device().slots).toBe(3);

    // The agent goes away and says hello again on a new connection.
    await agent.close();
    connect();
    expect(device()).toMatchObject({ slots: 3, announcedSlots: 4, reason: 'OpenEncodeSessionEx failed: incompatible client key (21)' });
    expect(store.listDevices().find((d) => d.id === 'gpu0')?.slots).toBe(3);

    // A new coordinator over the same store (a service restart).
    coordinator.close();
    await coordinator.idle();
    coordinator = farm();
    connect();
    expect(device()).toMatchObject({ slots: 3, announcedSlots: 4 });
    expect(deviceView(device()).budget).toMatchObject({ source: 'learned', raiseAfterMs: QUIET });
  });

  it('starts another card at the same index over from its configuration, and never applies more than is announced', async () => {
    const agent = connect();
    const sub = submit(4);
    await refuse(agent, sub.jobIds[3]!);
    await agent.close();

    connect([gpu({ label: 'GPU 0 NVIDIA GeForce RTX 5090' })]);
    expect(device()).toMatchObject({ slots: 4, announcedSlots: 4 });

    await agents.at(-1)!.close();
    connect([gpu({ slots: 2 })]);
    expect(device()).toMatchObject({ slots: 2, announcedSlots: 2 });
  });

  it('keeps budgets apart per agent', async () => {
    const one = connect([gpu()], 'agent-1');
    const sub = submit(4);
    await refuse(one, sub.jobIds[3]!);
    connect([gpu()], 'agent-2');
    expect(device('agent-1/gpu0').slots).toBe(3);
    expect(device('agent-2/gpu0').slots).toBe(4);
    expect(store.listDeviceBudgets('agent-2')).toEqual([]);
  });
});

describe('quarantine', () => {
  it('quarantines a GPU after repeated device faults and shows it with the reason', async () => {
    const agent = connect([gpu({ slots: 1 })]);
    const sub = submit(1);
    for (let i = 0; i < 3; i++) {
      const a = agent.assignOf(sub.jobIds[0]!);
      agent.resultError(a.jobId, a.epoch, 'device-fault', `CUDA_ERROR_ILLEGAL_ADDRESS (${i + 1})`);
      await coordinator.idle();
    }
    const view = DeviceViewSchema.parse(deviceView(device()));
    expect(view).toMatchObject({ state: 'quarantined', faults: 3, reason: 'CUDA_ERROR_ILLEGAL_ADDRESS (3)' });
    expect(deviceEvents.at(-1)).toMatchObject({ key: 'agent-1/gpu0', state: 'quarantined' });
    expect(store.listDevices()[0]?.state).toBe('quarantined');
    // Nothing more goes to it.
    clock.advance(3 * QUIET);
    expect(agent.assigns).toHaveLength(3);
  });
});

describe('telemetry', () => {
  it('says in its welcome that it takes telemetry', () => {
    const agent = connect();
    expect(agent.received[0]).toMatchObject({ type: 'welcome', telemetry: true });
  });

  it('keeps each agent’s latest sample, shows it on the GPU of that index and tells listeners', () => {
    const agent = connect([gpu(), fakeDevice('gpu1', { kind: 'nvenc', gpuIndex: 1 }), fakeDevice('cpu', { kind: 'cpu' })]);
    deviceEvents.length = 0;

    agent.send({ v: 1, type: 'telemetry', sample: gpuSample(clock.now(), [gpuFigures(0, { encoderSessions: 2 }), gpuFigures(1, { temperatureC: 77 })]) });

    expect(deviceEvents.map((d) => d.key).sort()).toEqual(['agent-1/cpu', 'agent-1/gpu0', 'agent-1/gpu1']);
    const views = coordinator.devices().map(deviceView);
    expect(views.find((d) => d.id === 'gpu0')?.telemetry).toMatchObject({ index: 0, encoderSessions: 2 });
    expect(views.find((d) => d.id === 'gpu1')?.telemetry).toMatchObject({ index: 1, temperatureC: 77 });
    expect(views.find((d) => d.id === 'cpu')).toMatchObject({ telemetry: null, telemetrySource: { source: 'nvml', reason: null } });
    expect(coordinator.telemetry().map((t) => [t.agentId, t.sample.gpus.length])).toEqual([['agent-1', 2]]);
  });

  it('forgets an agent’s sample when it disconnects, and drops telemetry that is invalid or comes before hello', async () => {
    const agent = connect();
    agent.send({ v: 1, type: 'telemetry', sample: gpuSample(clock.now(), [gpuFigures(0)]) });
    agent.send({ v: 1, type: 'telemetry', sample: { ...gpuSample(clock.now(), [gpuFigures(0)]), source: 'guess' } });
    expect(device().telemetry?.index).toBe(0);
    expect(warnings).toEqual(['invalid agent message dropped']);

    await agent.close();
    expect(coordinator.telemetry()).toEqual([]);

    const stranger = coordinator.connectAgent(() => {});
    stranger.receive({ v: 1, type: 'telemetry', sample: gpuSample(clock.now(), [gpuFigures(0)]) });
    expect(coordinator.telemetry()).toEqual([]);
    expect(warnings.at(-1)).toBe('agent message before hello dropped');
  });
});
