import PQueue from 'p-queue';
import type { TimerHandle } from '../shared/clock.ts';
import type { Logger } from '../shared/logger.ts';
import type { LimitGroup } from '../shared/device.ts';
import { CanceledError, LeaseLostError } from '../shared/errors.ts';
import {
  CoordinatorMessageSchema,
  PROTOCOL_VERSION,
  type AgentMessage,
  type Assign,
} from '../shared/protocol/index.ts';
import type { Preset } from '../shared/preset.ts';
import type { AgentDevice } from './ports.ts';
import type { TelemetrySource } from './telemetry/telemetry-source.ts';
import { createTelemetrySender } from './telemetry/telemetry-sender.ts';
import { runJob, type JobRunnerDeps } from './job-runner.ts';

export interface AgentDeps extends JobRunnerDeps {
  agentId: string;
  hostname: string;
  pid: number;
  devices: readonly AgentDevice[];
  limitGroups: readonly LimitGroup[];
  logger: Logger;
  /** @default 10000 — how often leases are renewed (the coordinator's welcome may lower it). */
  heartbeatMs?: number;
  tags?: string[];
  /** How files reach this agent (announced in hello; `deps.files` implements it). */
  filesMode?: 'shared' | 'transfer';
  /** Cap on concurrent jobs over all devices. */
  maxJobs?: number;
  /** The operator drained this agent and its last job is done: the host process should stop. */
  onDrained?: () => void;
  /** The coordinator's timings arrived (its welcome), e.g. to tune the transport's dead-link check. */
  onWelcome?: (timings: { heartbeatMs: number; leaseTtlMs: number }) => void;
  /**
   * Live GPU figures (NVML, nvidia-smi, or none), polled in-process and sent to a coordinator whose
   * welcome says it takes them. `close()` stops the polling; the source stays the caller's to close.
   */
  telemetry?: TelemetrySource;
  /** @default 2000 (min 1000) — how often `telemetry` is polled. */
  telemetryIntervalMs?: number;
}

interface InFlight {
  assign: Assign;
  controller: AbortController;
  /** Set when the coordinator said our epoch is stale: drop the work, send nothing. */
  dropped: boolean;
  /** This agent's own view of when the lease runs out (its clock, counted from receipt). */
  deadline: number;
  /** The `started` sent for it: sent again after a reconnect, in case the coordinator lost it. */
  started?: AgentMessage;
}

export type Agent = ReturnType<typeof createAgent>;

/**
 * Owns this machine's devices and runs what the coordinator assigns, one p-queue per device.
 * It speaks only protocol messages, even in-process, so a remote agent is the same code plus a
 * transport.
 */
export function createAgent(deps: AgentDeps) {
  const { clock, logger } = deps;
  let heartbeatMs = deps.heartbeatMs ?? 10_000;
  /** The coordinator's preset table (from its welcome), ahead of this agent's built-in one. */
  const coordinatorPresets = new Map<string, Preset>();
  const presets = { get: (id: string) => coordinatorPresets.get(id) ?? deps.presets.get(id) };
  const runnerDeps = { ...deps, presets };
  let draining = false;
  const queues = new Map(deps.devices.map((d) => [d.id, new PQueue({ concurrency: Math.max(1, d.slots) })]));
  const byId = new Map(deps.devices.map((d) => [d.id, d]));
  /** Keyed by job and epoch: a re-assigned job may briefly have its old attempt still stopping. */
  const inFlight = new Map<string, InFlight>();
  const keyOf = (jobId: number, epoch: number) => `${jobId}/${epoch}`;
  /** Every attempt until its result is sent (verification outlives the device slot). */
  const jobs = new Set<Promise<void>>();
  /** Results sent but not yet acknowledged; sent again after a reconnect (completion is idempotent). */
  const unacked = new Map<string, AgentMessage>();
  let send: (msg: AgentMessage) => void = () => {};
  let heartbeat: TimerHandle | undefined;
  const telemetry = deps.telemetry
    ? createTelemetrySender({
        source: deps.telemetry,
        clock,
        logger,
        intervalMs: deps.telemetryIntervalMs,
        send: (sample) => send({ v: PROTOCOL_VERSION, type: 'telemetry', sample }),
      })
    : undefined;

  /**
   * The agent fences itself: work whose lease it has not seen renewed in time is dropped, since
   * the coordinator has given (or will give) the job to someone else under a newer epoch.
   */
  function fenceExpired(): void {
    const now = clock.now();
    for (const f of inFlight.values()) {
      if (f.dropped || now < f.deadline) continue;
      f.dropped = true;
      logger.warn('lease ran out without renewal; work dropped', { jobId: f.assign.jobId, epoch: f.assign.epoch });
      f.controller.abort(new LeaseLostError(`job ${f.assign.jobId}: lease epoch ${f.assign.epoch} ran out without renewal; work dropped`));
    }
  }

  function beat(): void {
    heartbeat = undefined;
    fenceExpired();
    const leases = [...inFlight.values()].filter((f) => !f.dropped).map((f) => ({ jobId: f.assign.jobId, epoch: f.assign.epoch }));
    if (leases.length) send({ v: PROTOCOL_VERSION, type: 'heartbeat', leases });
    heartbeat = clock.setTimeout(beat, heartbeatMs);
  }

  function onAssign(a: Assign): void {
    const device = byId.get(a.deviceId);
    const queue = queues.get(a.deviceId);
    const flight: InFlight = { assign: a, controller: new AbortController(), dropped: false, deadline: clock.now() + a.leaseTtlMs };
    inFlight.set(keyOf(a.jobId, a.epoch), flight);
    if (!device || !queue) {
      finish(flight, { ok: false, error: { kind: 'device-fault', message: `device ${a.deviceId} is not on this agent` } });
      return;
    }
    // The device slot is held only while ffmpeg runs: verification overlaps the next encode.
    void queue.add(
      () =>
        new Promise<void>((releaseSlot) => {
          const ref = { v: PROTOCOL_VERSION, jobId: a.jobId, epoch: a.epoch } as const;
          const work = runJob(runnerDeps, a, device, {
            signal: flight.controller.signal,
            onStarted: (tempPath, source) => {
              if (!live(flight)) return;
              flight.started = { ...ref, type: 'started', tempPath, source: { durationS: source.durationS, sizeBytes: source.sizeBytes } };
              send(flight.started);
            },
            onProgress: (p) => !flight.dropped && send({ ...ref, type: 'progress', ...p }),
            onLog: (lines) => !flight.dropped && send({ ...ref, type: 'log', lines: lines.slice(-200).map((l) => l.slice(0, 4000)) }),
            onEncoded: () => {
              releaseSlot();
              if (live(flight)) send({ ...ref, type: 'encoded' });
            },
            stillHeld: () => live(flight),
          }).then((outcome) => {
            releaseSlot();
            finish(flight, outcome);
          });
          jobs.add(work);
          void work.finally(() => jobs.delete(work));
        }),
    );
  }

  /**
   * Whether work may still speak for its lease. Checked before every message that moves a job, so
   * an agent that was frozen (SIGSTOP) past its lease never reports work the farm gave away.
   */
  function live(flight: InFlight): boolean {
    fenceExpired();
    return !flight.dropped;
  }

  function finish(flight: InFlight, outcome: Parameters<typeof resultOf>[1]): void {
    const key = keyOf(flight.assign.jobId, flight.assign.epoch);
    inFlight.delete(key);
    if (live(flight)) {
      const result = resultOf(flight.assign, outcome);
      unacked.set(key, result);
      send(result);
    }
    if (draining && inFlight.size === 0) deps.onDrained?.();
  }

  function onWelcome(ms: number, table: readonly Preset[]): void {
    coordinatorPresets.clear();
    for (const p of table) coordinatorPresets.set(p.id, p);
    if (ms !== heartbeatMs) {
      heartbeatMs = ms;
      restartHeartbeat();
    }
  }

  function restartHeartbeat(): void {
    if (heartbeat) clock.clearTimeout(heartbeat);
    heartbeat = clock.setTimeout(beat, heartbeatMs);
  }

  function hello(): AgentMessage {
    return {
      v: PROTOCOL_VERSION,
      type: 'hello',
      agentId: deps.agentId,
      hostname: deps.hostname,
      pid: deps.pid,
      devices: deps.devices.map(({ encoderFor: _e, ...announcement }) => announcement),
      limitGroups: [...deps.limitGroups],
      tags: deps.tags ?? [],
      files: deps.filesMode ?? 'shared',
      ...(deps.maxJobs !== undefined && { maxJobs: deps.maxJobs }),
      active: [...inFlight.values()]
        .filter((f) => !f.dropped)
        .map((f) => ({ jobId: f.assign.jobId, epoch: f.assign.epoch, deviceId: f.assign.deviceId })),
    };
  }

  function receive(raw: unknown): void {
    const parsed = CoordinatorMessageSchema.safeParse(raw);
    if (!parsed.success) return logger.warn('invalid coordinator message dropped', { issues: parsed.error.issues.slice(0, 3) });
    const msg = parsed.data;
    if (msg.type === 'assign') return onAssign(msg);
    // Any answer to a result settles it (applied, or refused as stale).
    if (msg.type === 'ack') unacked.delete(keyOf(msg.jobId, msg.epoch));
    if (msg.type === 'welcome') {
      deps.onWelcome?.({ heartbeatMs: msg.heartbeatMs, leaseTtlMs: msg.leaseTtlMs });
      // A coordinator that takes telemetry knows nothing of this host yet: the next sample goes out whole.
      if (msg.telemetry) {
        telemetry?.forget();
        telemetry?.start();
      } else telemetry?.stop();
      return onWelcome(msg.heartbeatMs, msg.presets);
    }
    if (msg.type === 'drain') {
      draining = true;
      logger.info('drained by the operator: finishing current work, taking no more');
      if (inFlight.size === 0) deps.onDrained?.();
      return;
    }
    const flight = inFlight.get(keyOf(msg.jobId, msg.epoch));
    if (!flight) return;
    if (msg.type === 'lease' && !flight.dropped) flight.deadline = clock.now() + msg.leaseTtlMs;
    if (msg.type === 'cancel') flight.controller.abort(new CanceledError(msg.reason));
    if (msg.type === 'ack' && msg.status === 'conflict') {
      flight.dropped = true;
      flight.controller.abort(new LeaseLostError(`job ${msg.jobId}: lease epoch ${msg.epoch} is stale; work dropped`));
    }
  }

  return {
    receive,
    /** Starts talking: announces the devices and begins heartbeats. */
    connect(transport: (msg: AgentMessage) => void): void {
      send = transport;
      send(hello());
      restartHeartbeat();
    },
    /**
     * A new connection to the coordinator: announce again, with the work still held, so the
     * coordinator re-occupies those slots (or answers a conflict for work it gave away).
     */
    reconnected(): void {
      // Telemetry waits for this connection's welcome: the coordinator there may not take it.
      telemetry?.stop();
      send(hello());
      // A coordinator that restarted may have lost these; a repeat of either is harmless.
      for (const f of inFlight.values()) if (f.started && !f.dropped) send(f.started);
      for (const result of unacked.values()) send(result);
    },
    draining: () => draining,
    /** Number of assignments held (queued on a device or encoding). */
    inFlight: () => inFlight.size,
    /**
     * Aborts everything and waits for the encodes to stop and their temp files to go. With
     * `handBack`, the results say the work was handed back (requeued at once, no attempt spent)
     * instead of canceled.
     */
    async close(reason = 'agent shutting down', opts: { handBack?: boolean } = {}): Promise<void> {
      if (heartbeat) clock.clearTimeout(heartbeat);
      // The source stays open: whoever opened it closes it, after the agent.
      telemetry?.stop();
      for (const f of inFlight.values()) f.controller.abort(opts.handBack ? new LeaseLostError(reason) : new CanceledError(reason));
      await Promise.all([...queues.values()].map((q) => q.onIdle()));
      while (jobs.size) await Promise.all([...jobs]);
    },
  };
}

function resultOf(a: Assign, outcome: Awaited<ReturnType<typeof runJob>>): AgentMessage {
  return { v: PROTOCOL_VERSION, type: 'result', jobId: a.jobId, epoch: a.epoch, outcome };
}
