import os from 'node:os';
import { randomUUID } from 'node:crypto';
import { systemClock, type Clock } from '../shared/clock.ts';
import type { Logger } from '../shared/logger.ts';
import { AgentMessageSchema, CoordinatorMessageSchema } from '../shared/protocol/index.ts';
import { createCoordinator, type Coordinator, type CoordinatorConfig } from '../coordinator/coordinator.ts';
import { createPresetCatalog, type PresetCatalog } from '../coordinator/preset-catalog.ts';
import type { JobStore } from '../coordinator/ports.ts';
import type { Agent } from '../agent/agent.ts';
import { createMachineAgent } from './machine-agent.ts';
import type { DeviceSet } from '../agent/devices/device-set.ts';
import type { FfmpegInstall } from '../agent/devices/locate-ffmpeg.ts';
import type { TelemetrySource } from '../agent/telemetry/telemetry-source.ts';

export interface LocalFarmOptions {
  store: JobStore;
  ffmpeg: FfmpegInstall;
  deviceSet: DeviceSet;
  logger: Logger;
  clock?: Clock;
  coordinator?: Partial<CoordinatorConfig>;
  stallTimeoutMs?: number;
}

export interface LocalFarm {
  coordinator: Coordinator;
  agent: Agent;
  presets: PresetCatalog;
  /** Stops taking work, requeues what is running (so a re-run resumes it) and removes temp files. */
  shutdown(): Promise<void>;
}

/** `local:<host>:<pid>:<nonce>` — lets another process tell whether this agent is still alive. */
export function localAgentId(): string {
  return `local:${os.hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
}

/** A local agent of another process on this host is alive while its process is. */
export function isLocalAgentAlive(agentId: string): boolean {
  const m = /^local:(.*):(\d+):[0-9a-f]+$/.exec(agentId);
  if (!m || m[1] !== os.hostname() || Number(m[2]) === process.pid) return false;
  try {
    process.kill(Number(m[2]), 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * The embedded farm of `encodefarm encode`: a coordinator and one local agent joined by an
 * in-process link that still validates every message against the protocol schemas, so the local
 * path is the remote path minus the socket.
 */
export async function startLocalFarm(opts: LocalFarmOptions): Promise<LocalFarm> {
  const clock = opts.clock ?? systemClock;
  const presets = createPresetCatalog(opts.store, () => clock.now());
  const coordinator = createCoordinator({
    store: opts.store,
    clock,
    logger: opts.logger,
    presets,
    config: opts.coordinator,
    isForeignAgentAlive: isLocalAgentAlive,
    scopeToSubmitted: true,
  });
  await coordinator.recover();
  const local = attachLocalAgent(coordinator, presets, { ...opts, clock });
  coordinator.start();
  return {
    coordinator,
    agent: local.agent,
    presets,
    async shutdown() {
      await local.detach('encodefarm stopped');
      coordinator.close();
    },
  };
}

export interface LocalAgent {
  agent: Agent;
  /** Stops the agent; its running work is requeued (a later run resumes it) and temp files go. */
  detach(reason: string): Promise<void>;
}

/**
 * This machine's devices as an agent of `coordinator`, joined by an in-process link that still
 * validates every message against the protocol schemas, so the local path is the remote path
 * minus the socket. `encode` and `serve` both use it.
 */
export function attachLocalAgent(
  coordinator: Coordinator,
  presets: PresetCatalog,
  opts: Pick<LocalFarmOptions, 'ffmpeg' | 'deviceSet' | 'logger' | 'stallTimeoutMs'> & { clock: Clock; telemetry?: TelemetrySource },
): LocalAgent {
  const agent = createMachineAgent(opts, { agentId: localAgentId(), presets, clock: opts.clock, logger: opts.logger });
  let linked = true;
  // Messages hop through a microtask and a JSON copy, as they would through a socket.
  const connection = coordinator.connectAgent((msg) => {
    const copy = CoordinatorMessageSchema.parse(JSON.parse(JSON.stringify(msg)));
    queueMicrotask(() => linked && agent.receive(copy));
  });
  agent.connect((msg) => {
    const copy = AgentMessageSchema.parse(JSON.parse(JSON.stringify(msg)));
    queueMicrotask(() => linked && connection.receive(copy));
  });
  return {
    agent,
    async detach(reason: string) {
      if (!linked) return;
      linked = false;
      await agent.close(reason);
      await coordinator.idle();
      await connection.close();
    },
  };
}
