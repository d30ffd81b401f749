import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createCoordinator, type Coordinator } from '../../../core/coordinator/coordinator.ts';
import type { JobStore } from '../../../core/coordinator/ports.ts';
import { createPresetCatalog } from '../../../core/coordinator/preset-catalog.ts';
import { openSqliteStore } from '../../../core/coordinator/store/sqlite-store.ts';
import { silentLogger } from '../../../core/shared/logger.ts';
import { FakeAgent, fakeDevice } from '../../helpers/fake-agent.ts';
import { FakeClock } from '../../helpers/fake-clock.ts';

let dir: string;
let store: JobStore;
let coordinator: Coordinator;
let keyCount = 0;

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'encodefarm-limit-'));
  store = openSqliteStore({ file: path.join(dir, 'encodefarm.db') });
  const clock = new FakeClock();
  coordinator = createCoordinator({ store, clock, logger: silentLogger, presets: createPresetCatalog(store, () => clock.now()) });
});

afterEach(async () => {
  coordinator.close();
  await coordinator.idle();
  store.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

function submit(count: number): number[] {
  keyCount += 1;
  return coordinator.submit({
    key: `k-${keyCount}`,
    label: 'test',
    presetId: 'h264-fast',
    outDir: dir,
    onExists: 'suffix',
    priority: 0,
    jobs: Array.from({ length: count }, (_, i) => ({ inputPath: `/media/${keyCount}-${i}.mov`, outputPath: path.join(dir, `${keyCount}-${i}.mp4`) })),
  }).jobIds;
}

const assigned = (agent: FakeAgent) => agent.assigns.map((a) => a.jobId);

/** Plays ffmpeg finishing on the agent: the device slot frees. */
function encoded(agent: FakeAgent, jobId: number): void {
  const a = agent.assignOf(jobId);
  agent.started(jobId, a.epoch);
  agent.send({ v: 1, type: 'encoded', jobId, epoch: a.epoch });
}

describe('coordinator.limitAgent', () => {
  it('caps a connected agent live: lower takes effect as jobs end, higher fills slots at once', () => {
    const agent = FakeAgent.connect(coordinator, { agentId: 'local:host:1:abcdef01', devices: [fakeDevice('gpu0', { slots: 4 })] });
    coordinator.limitAgent(agent.agentId, 1);
    const ids = submit(4);
    expect(assigned(agent)).toEqual(ids.slice(0, 1));

    coordinator.limitAgent(agent.agentId, 3);
    expect(assigned(agent)).toEqual(ids.slice(0, 3));

    coordinator.limitAgent(agent.agentId, 1);
    encoded(agent, ids[0]!);
    expect(assigned(agent)).toEqual(ids.slice(0, 3));

    coordinator.limitAgent(agent.agentId, undefined);
    expect(assigned(agent)).toEqual(ids);
  });

  it('applies a cap set before the agent connects, and keeps it when the agent comes back', async () => {
    coordinator.limitAgent('agent-9', 1);
    const first = FakeAgent.connect(coordinator, { agentId: 'agent-9', devices: [fakeDevice('gpu0', { slots: 3 })] });
    const ids = submit(3);
    expect(assigned(first)).toEqual(ids.slice(0, 1));

    await first.close();
    await coordinator.idle();
    const again = FakeAgent.connect(coordinator, { agentId: 'agent-9', devices: [fakeDevice('gpu0', { slots: 3 })] });
    expect(assigned(again)).toHaveLength(1);
    expect(coordinator.busyOf('agent-9')).toBe(1);
  });
});

describe("pausing this machine's own agent", () => {
  it('holds the in-process agent in memory (it is not enrolled) and refuses to drain it', () => {
    const agent = FakeAgent.connect(coordinator, { agentId: 'local:host:1:abcdef02', devices: [fakeDevice('gpu0', { slots: 2 })] });
    expect(coordinator.setAgentState(agent.agentId, 'paused')).toBe(true);
    expect(coordinator.isAgentHeld(agent.agentId)).toBe(true);
    const ids = submit(2);
    expect(assigned(agent)).toEqual([]);

    expect(coordinator.setAgentState(agent.agentId, 'draining')).toBe(false);
    expect(coordinator.setAgentState(agent.agentId, 'active')).toBe(true);
    expect(assigned(agent)).toEqual(ids);
    expect(coordinator.setAgentState('local:host:1:notconnected', 'paused')).toBe(false);
  });
});
