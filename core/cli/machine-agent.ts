import os from 'node:os';
import { createAgent, type Agent, type AgentDeps } from '../agent/agent.ts';
import { createFfmpegEncoder } from '../agent/encoder/ffmpeg-encoder.ts';
import { createProber } from '../agent/encoder/probe.ts';
import type { DeviceSet } from '../agent/devices/device-set.ts';
import type { FfmpegInstall } from '../agent/devices/locate-ffmpeg.ts';
import type { TelemetrySource } from '../agent/telemetry/telemetry-source.ts';

/** The default stall timeout: an encode whose output time has not moved for 2 minutes is killed. */
export const DEFAULT_STALL_TIMEOUT_MS = 120_000;

/**
 * An agent for this machine's devices with the real ffmpeg encoder and prober; the caller adds its
 * identity, clock, logger, presets and (for a remote agent) files, tags and limits. `telemetry`
 * (from ./telemetry.ts's openTelemetry) stays the caller's to close after the agent.
 */
export function createMachineAgent(
  install: { ffmpeg: FfmpegInstall; deviceSet: DeviceSet; stallTimeoutMs?: number; telemetry?: TelemetrySource },
  rest: Omit<AgentDeps, 'hostname' | 'pid' | 'devices' | 'limitGroups' | 'encoder' | 'prober' | 'stallTimeoutMs' | 'telemetry'>,
): Agent {
  return createAgent({
    ...rest,
    hostname: os.hostname(),
    pid: process.pid,
    devices: install.deviceSet.devices,
    limitGroups: install.deviceSet.limitGroups,
    encoder: createFfmpegEncoder({ ffmpegPath: install.ffmpeg.ffmpegPath }),
    prober: createProber({ ffprobePath: install.ffmpeg.ffprobePath }),
    stallTimeoutMs: install.stallTimeoutMs ?? DEFAULT_STALL_TIMEOUT_MS,
    ...(install.telemetry ? { telemetry: install.telemetry } : {}),
  });
}
