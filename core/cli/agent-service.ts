import path from 'node:path';
import { systemClock, type Clock } from '../shared/clock.ts';
import type { Logger } from '../shared/logger.ts';
import { findBuiltinPreset } from '../shared/builtin-presets.ts';
import type { Agent } from '../agent/agent.ts';
import { createMachineAgent } from './machine-agent.ts';
import type { TelemetrySource } from '../agent/telemetry/telemetry-source.ts';
import type { DeviceSet } from '../agent/devices/device-set.ts';
import type { FfmpegInstall } from '../agent/devices/locate-ffmpeg.ts';
import type { FileAccess } from '../agent/ports.ts';
import { createAgentLink, type AgentLink } from '../agent/client/ws-link.ts';
import type { AgentIdentity } from '../agent/client/agent-config.ts';
import { createSharedFileAccess } from '../agent/files/shared-files.ts';
import { createTransferFileAccess } from '../agent/files/transfer-files.ts';
import { createInputCache } from '../agent/files/input-cache.ts';
import type { PathMapping } from '../agent/files/path-map.ts';

export interface AgentServiceOptions {
  identity: AgentIdentity;
  ffmpeg: FfmpegInstall;
  devices: DeviceSet;
  logger: Logger;
  /** Shared storage: folders this agent may touch. Empty means transfer mode. */
  roots: string[];
  mappings: PathMapping[];
  /** Force transfer mode even with roots. */
  transfer: boolean;
  /** Transfer mode: cache of downloaded inputs and the work folder (under the config dir). */
  cacheDir: string;
  cacheMaxBytes: number;
  tags: string[];
  maxJobs?: number;
  stallTimeoutMs?: number;
  clock?: Clock;
  /** GPU telemetry to report (from ./telemetry.ts's openTelemetry; the caller closes it). */
  telemetry?: TelemetrySource;
}

export interface AgentService {
  agent: Agent;
  link: AgentLink;
  mode: 'shared' | 'transfer';
  /** Settles when the agent stopped on its own: drained (ok) or refused by the coordinator (error). */
  stopped: Promise<{ ok: true } | { ok: false; error: Error }>;
  /** Hands running work back to the queue and disconnects. */
  stop(reason: string): Promise<void>;
}

/**
 * `encodefarm agent` as a value: this machine's devices, a WebSocket link to the coordinator that
 * reconnects and buffers, and file access by shared roots or by HTTP transfer.
 */
export function startAgentService(opts: AgentServiceOptions): AgentService {
  const clock = opts.clock ?? systemClock;
  const { identity, logger } = opts;
  const mode = opts.transfer || opts.roots.length === 0 ? 'transfer' : 'shared';
  const files: FileAccess =
    mode === 'shared'
      ? createSharedFileAccess({ roots: opts.roots, mappings: opts.mappings, logger })
      : createTransferFileAccess({
          baseUrl: identity.coordinator,
          auth: { agentId: identity.agentId, secret: identity.secret },
          fingerprint: identity.fingerprint,
          cache: createInputCache({ dir: path.join(opts.cacheDir, 'inputs'), maxBytes: opts.cacheMaxBytes }),
          workDir: path.join(opts.cacheDir, 'work'),
          logger,
        });
  let resolveStopped!: (v: { ok: true } | { ok: false; error: Error }) => void;
  const stopped = new Promise<{ ok: true } | { ok: false; error: Error }>((r) => (resolveStopped = r));
  const agent = createMachineAgent(
    { ffmpeg: opts.ffmpeg, deviceSet: opts.devices, stallTimeoutMs: opts.stallTimeoutMs, telemetry: opts.telemetry },
    {
      agentId: identity.agentId,
      // Built-ins until the coordinator's welcome brings its whole table.
      presets: { get: findBuiltinPreset },
      clock,
      logger,
      files,
      filesMode: mode,
      tags: opts.tags,
      maxJobs: opts.maxJobs,
      onDrained: () => resolveStopped({ ok: true }),
      // A dead link is noticed within half a lease (at most 30 s), so a restored one comes back
      // while the work it holds may still be its own.
      onWelcome: ({ leaseTtlMs }) => link.setDeadAfter(Math.min(30_000, Math.max(1000, Math.floor(leaseTtlMs / 2)))),
    },
  );
  let started = false;
  const link = createAgentLink({
    url: identity.coordinator,
    agentId: identity.agentId,
    secret: identity.secret,
    fingerprint: identity.fingerprint,
    clock,
    logger,
    onOpen: () => {
      logger.info('connected to the coordinator', { coordinator: identity.coordinator });
      if (started) return agent.reconnected();
      started = true;
      agent.connect((msg) => link.send(msg));
    },
    onMessage: (raw) => agent.receive(raw),
    onFatal: (error) => resolveStopped({ ok: false, error }),
  });
  link.start();
  return {
    agent,
    link,
    mode,
    stopped,
    async stop(reason) {
      // Results saying "handed back" go out before the socket closes, so the work is requeued at once.
      await agent.close(reason, { handBack: true });
      await link.close();
    },
  };
}
