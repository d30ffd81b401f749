import { EventEmitter } from 'node:events';
import { statSync } from 'node:fs';
import { tempPathFor } from '../shared/temp-names.ts';
import type { Clock, TimerHandle } from '../shared/clock.ts';
import type { Logger } from '../shared/logger.ts';
import type { Preset } from '../shared/preset.ts';
import { ACTIVE_STATES } from '../shared/job-state.ts';
import { InputInvalidError, OutputExistsError } from '../shared/errors.ts';
import {
  AgentMessageSchema,
  PROTOCOL_VERSION,
  type AgentMessage,
  type CoordinatorMessage,
  type Hello,
  type Started,
  type Encoded,
} from '../shared/protocol/index.ts';
import type { TelemetrySample } from '../shared/telemetry.ts';
import type { AgentState, AttemptEnd, BatchRow, JobRow, JobStore, NewBatch, QueuePlace, SourceCheck } from './ports.ts';
import { DevicePool, DEFAULT_QUARANTINE_AFTER, learnedAnnouncement, type PoolDevice } from './device-pool.ts';
import { DEFAULT_BUDGET_QUIET_MS } from './session-budget.ts';
import type { FailurePolicy } from './failure-policy.ts';
import { DEFAULT_BACKOFF } from './backoff.ts';
import { removeJobTemps } from './temp-cleanup.ts';
import { createResultHandler } from './result-handler.ts';
import { findCommitted } from './commit-identity.ts';
import { targetTaken } from './output-commit.ts';

/** The narrow view of the preset catalog the coordinator needs. */
export interface PresetSource {
  get(id: string): Preset | undefined;
  /** Every preset, sent to agents so they build argv from their own copy of the table. */
  list(): { preset: Preset }[];
}

export interface CoordinatorConfig {
  /** @default 60000 — a lease not renewed by a heartbeat within this is lost. */
  leaseTtlMs: number;
  /** @default 1000 — how often to look for changes other processes made (cancel, retry). */
  pollMs: number;
  failure: FailurePolicy;
  /** @default 3 */
  quarantineAfter: number;
  /** @default 10000 — how often agents renew leases (capped at a third of the lease TTL). */
  heartbeatMs: number;
  /**
   * @default 600000 — a session budget lowered by a driver refusal goes up by one after the device
   * ran this long at it (every slot busy) without another refusal; a refused raise doubles it.
   */
  budgetQuietMs: number;
}

export const DEFAULT_COORDINATOR_CONFIG: CoordinatorConfig = {
  leaseTtlMs: 60_000,
  pollMs: 1000,
  failure: { ...DEFAULT_BACKOFF, maxRequeues: 20 },
  quarantineAfter: DEFAULT_QUARANTINE_AFTER,
  heartbeatMs: 10_000,
  budgetQuietMs: DEFAULT_BUDGET_QUIET_MS,
};

export interface CoordinatorDeps {
  store: JobStore;
  clock: Clock;
  logger: Logger;
  presets: PresetSource;
  config?: Partial<CoordinatorConfig>;
  random?: () => number;
  /**
   * Schedule only batches submitted (or retried) through this coordinator, leaving other queued
   * work in a shared database alone. The one-shot CLI commands set it; a long-running service does not.
   */
  scopeToSubmitted?: boolean;
  /** Whether an agent not connected here is still alive (e.g. a local agent of another process). */
  isForeignAgentAlive?: (agentId: string) => boolean;
  /** Looked at before each output is committed: a watched source that changed discards it. */
  sourceCheck?: SourceCheck;
}

/** A batch as submitted: its settings (the key makes a repeat continue it) and its files. */
export interface Submission extends NewBatch {
  jobs: { inputPath: string; outputPath: string }[];
}

export interface SubmitResult {
  batch: BatchRow;
  jobIds: number[];
  /** True when the key matched an earlier submission, which is continued instead of repeated. */
  resumed: boolean;
}

export interface CoordinatorEvents {
  job: [JobRow];
  /** A job was just leased (its row as claimed), e.g. for queue-wait metrics. */
  claimed: [JobRow];
  /** An agent's result ended an attempt; `state` is where the job went. */
  ended: [{ jobId: number; state: AttemptEnd['to'] }];
  device: [PoolDevice];
  agent: [{ agentId: string; connected: boolean }];
}

type ClaimOutcome = 'claimed' | 'full' | 'starved';

/** What the coordinator keeps about a connected agent. */
interface ConnectedAgent {
  send: (msg: CoordinatorMessage) => void;
  tags: string[];
  files: Hello['files'];
  /** The cap the agent announced (`agent --slots`). */
  maxJobs?: number;
}

/** One connected agent, from the coordinator's side of whatever transport carries it. */
export interface AgentConnection {
  receive(raw: unknown): void;
  /** The transport is gone: its in-flight work is requeued at once. */
  close(): Promise<void>;
}

export type Coordinator = ReturnType<typeof createCoordinator>;

/**
 * The queue's owner: takes submissions, pushes assignments to agents the moment a slot frees,
 * fences every agent message by lease epoch, classifies failures, commits verified outputs.
 */
export function createCoordinator(deps: CoordinatorDeps) {
  const { store, clock, logger, presets } = deps;
  const config: CoordinatorConfig = { ...DEFAULT_COORDINATOR_CONFIG, ...deps.config };
  const random = deps.random ?? Math.random;
  const events = new EventEmitter<CoordinatorEvents>();
  const pool = new DevicePool(config.quarantineAfter, { now: () => clock.now(), budgetQuietMs: config.budgetQuietMs });
  const agents = new Map<string, ConnectedAgent>();
  /** Agents revoked while connected: nothing they still send is applied. */
  const revoked = new Set<string>();
  /** Caps the operator set (e.g. the concurrency setting for this machine); they outlive a reconnect. */
  const operatorCaps = new Map<string, number>();
  const pending = new Set<Promise<void>>();
  let wakeTimer: TimerHandle | undefined;
  let pollTimer: TimerHandle | undefined;
  let lastDataVersion = store.dataVersion();
  let lastLeaseCheck = clock.now();
  /** When set, only these batches are scheduled (the one-shot `encode` and `retry` commands). */
  let scope: number[] | undefined = deps.scopeToSubmitted ? [] : undefined;
  let dispatching = false;
  let again = false;
  let closed = false;

  const results = createResultHandler({
    store,
    pool,
    clock,
    logger,
    policy: config.failure,
    random,
    conflict: (agentId, jobId, epoch) => conflict(agentId, jobId, epoch),
    jobChanged: (jobId) => emitJob(jobId),
    ended: (jobId, to) => events.emit('ended', { jobId, state: to }),
    deviceChanged: (device) => deviceLearned(device),
    dispatch: () => dispatch(),
    sourceCheck: deps.sourceCheck,
  });

  /** Writes back what was learned about a device (slots, quarantine, its budget) and tells listeners. */
  function deviceLearned(device: PoolDevice): void {
    const now = clock.now();
    store.upsertDevices(device.agentId, [learnedAnnouncement(device)], now);
    const budget = pool.learnedBudget(device.key);
    if (budget) store.saveDeviceBudget(device.agentId, budget, now);
    events.emit('device', device);
  }

  /** Lowered budgets that ran a quiet period at their level without a refusal go up by one. */
  function raiseBudgets(): void {
    const raised = pool.tickBudgets();
    for (const device of raised) {
      logger.info('device session budget raised', { device: device.key, slots: device.slots, announced: device.announcedSlots });
      deviceLearned(device);
    }
    if (raised.length) dispatch();
  }

  /** An agent's latest GPU figures: kept in memory, shown on its devices. */
  function onTelemetry(agentId: string, sample: TelemetrySample): void {
    for (const device of pool.setTelemetry(agentId, sample)) events.emit('device', device);
  }

  const isAlive = (agentId: string) => agents.has(agentId) || (deps.isForeignAgentAlive?.(agentId) ?? false);

  function send(agentId: string, msg: CoordinatorMessage): void {
    agents.get(agentId)?.send(msg);
  }

  function emitJob(jobId: number): void {
    // Reading the row back costs a query per change: only when someone listens.
    if (events.listenerCount('job') === 0) return;
    const job = store.getJob(jobId);
    if (job) events.emit('job', job);
  }

  function conflict(agentId: string, jobId: number, epoch: number): void {
    send(agentId, { v: PROTOCOL_VERSION, type: 'ack', jobId, epoch, status: 'conflict' });
  }

  /** Fills every free slot, highest priority first; runs again if called while running. */
  function dispatch(): void {
    if (closed) return;
    if (dispatching) {
      again = true;
      return;
    }
    dispatching = true;
    let starved = false;
    try {
      do {
        again = false;
        let outcome: ClaimOutcome;
        while ((outcome = claimOne()) === 'claimed') again = false;
        starved = outcome === 'starved';
      } while (again);
    } finally {
      dispatching = false;
    }
    // A wake-up timer only matters when a slot is free and no job may run yet (backoff): with every
    // slot busy, the next slot to free dispatches anyway. (Its query walks the queued jobs.)
    if (starved) scheduleWake();
  }

  /** `claimed` one job; `full`: no free slot; `starved`: free slots, but nothing they may take now. */
  function claimOne(): ClaimOutcome {
    const now = clock.now();
    const free = pool.withFreeSlot();
    for (const device of free) {
      const agent = agents.get(device.agentId);
      if (!agent) continue;
      const claim = store.claimNext({
        agentId: device.agentId,
        deviceId: device.id,
        codecs: device.codecs,
        now,
        leaseTtlMs: config.leaseTtlMs,
        batchIds: scope,
        agentTags: agent.tags,
      });
      if (!claim) continue;
      const { job, epoch } = claim;
      if (job.onExists === 'skip' && targetTaken(job.outputPath)) {
        // Nothing to gain from an encode whose result could not be placed.
        const err = new OutputExistsError(`${job.outputPath}: already exists, left untouched (use --on-exists suffix to keep both)`);
        store.endAttempt(job.id, epoch, { to: 'failed', error: err.toInfo(), outcome: 'skipped' }, now);
        emitJob(job.id);
        return 'claimed';
      }
      const transfer = agent.files === 'transfer';
      const sizeBytes = transfer ? sizeOf(job.inputPath) : undefined;
      if (transfer && sizeBytes === undefined) {
        // The coordinator is the only side that can see the file in transfer mode.
        const err = new InputInvalidError(`${job.inputPath}: not found or not a regular file on the coordinator`);
        store.endAttempt(job.id, epoch, { to: 'failed', error: err.toInfo(), outcome: 'failed' }, now);
        emitJob(job.id);
        return 'claimed';
      }
      pool.occupy(device.key, job.id);
      send(device.agentId, {
        v: PROTOCOL_VERSION,
        type: 'assign',
        jobId: job.id,
        epoch,
        deviceId: device.id,
        input: { path: job.inputPath, ...(sizeBytes !== undefined && { sizeBytes }) },
        transfer,
        presetId: job.presetId,
        output: { path: job.outputPath },
        leaseExpiresAt: now + config.leaseTtlMs,
        leaseTtlMs: config.leaseTtlMs,
      });
      // The claim returned the leased row: no need to read it back.
      events.emit('claimed', job);
      events.emit('job', job);
      return 'claimed';
    }
    return free.length ? 'starved' : 'full';
  }

  function scheduleWake(): void {
    if (wakeTimer) clock.clearTimeout(wakeTimer);
    wakeTimer = undefined;
    const now = clock.now();
    const at = store.nextWakeAt(now, scope);
    if (at !== undefined && !closed) wakeTimer = clock.setTimeout(dispatch, Math.max(0, at - now));
  }

  function onHello(agentId: string, hello: Hello): void {
    let enrolled = store.getAgent(agentId);
    if (enrolled?.state === 'draining' && hello.active.length === 0) {
      // A drained agent stops once idle; one that comes back with nothing held was restarted on purpose.
      store.setAgentState(agentId, 'active');
      enrolled = store.getAgent(agentId);
      logger.info('drained agent is back: active again', { agentId });
    }
    const info = agents.get(agentId);
    if (info) {
      // Tags the operator gave at enrollment count as much as those the agent announces.
      info.tags = [...new Set([...hello.tags, ...(enrolled?.tags ?? [])])];
      info.files = hello.files;
      info.maxJobs = hello.maxJobs;
    }
    // Budgets learned in earlier runs apply again: a device that refused sessions before starts low.
    pool.register(agentId, hello.devices, hello.limitGroups, store.listDeviceBudgets(agentId));
    applyCap(agentId);
    pool.holdAgent(agentId, enrolled !== undefined && enrolled.state !== 'active');
    reoccupy(agentId, hello.active);
    const announced = new Set(hello.devices.map((d) => d.id));
    const registered = pool.list().filter((d) => d.agentId === agentId && announced.has(d.id));
    store.upsertDevices(agentId, registered.map(learnedAnnouncement), clock.now());
    if (enrolled) store.touchAgent(agentId, clock.now());
    sendWelcome(agentId);
    if (enrolled?.state === 'draining') send(agentId, { v: PROTOCOL_VERSION, type: 'drain' });
    events.emit('agent', { agentId, connected: true });
    for (const d of pool.list()) if (d.agentId === agentId) events.emit('device', d);
    logger.info('agent connected', { agentId, devices: hello.devices.map((d) => d.id) });
    dispatch();
  }

  /**
   * An agent back after a reconnect still holds work: each job whose lease is still its own keeps
   * its device slot; anything else is answered with a conflict so the agent drops it.
   */
  function reoccupy(agentId: string, active: Hello['active']): void {
    for (const a of active) {
      const job = store.getJob(a.jobId);
      if (!job || job.epoch !== a.epoch || job.agentId !== agentId || !ACTIVE_STATES.has(job.state)) {
        conflict(agentId, a.jobId, a.epoch);
        continue;
      }
      // A verifying job has already handed its device slot back.
      if (job.state !== 'verifying') pool.occupy(`${agentId}/${a.deviceId}`, a.jobId);
    }
  }

  /** The tighter of the agent's own cap and the operator's. */
  function applyCap(agentId: string): void {
    const caps = [agents.get(agentId)?.maxJobs, operatorCaps.get(agentId)].filter((c): c is number => c !== undefined);
    pool.capAgent(agentId, caps.length ? Math.min(...caps) : undefined);
  }

  function sendWelcome(agentId: string): void {
    send(agentId, {
      v: PROTOCOL_VERSION,
      type: 'welcome',
      heartbeatMs: Math.max(100, Math.min(config.heartbeatMs, Math.floor(config.leaseTtlMs / 3))),
      leaseTtlMs: config.leaseTtlMs,
      presets: presets.list().map((p) => p.preset),
      telemetry: true,
    });
  }

  function onStarted(agentId: string, msg: Started): void {
    const job = store.getJob(msg.jobId);
    // Only the lease's holder may start it; the temp path must be the one this lease implies: it is
    // deleted later, so it is never taken on trust.
    if (!job || job.agentId !== agentId || job.epoch !== msg.epoch || msg.tempPath !== tempPathFor(job.outputPath, job.id, msg.epoch)) {
      return conflict(agentId, msg.jobId, msg.epoch);
    }
    const info = { tempPath: msg.tempPath, durationS: msg.source.durationS, inputSize: msg.source.sizeBytes };
    if (store.markRunning(msg.jobId, msg.epoch, info, clock.now()) === 'ok') return emitJob(msg.jobId);
    // A repeated `started` for the live lease is harmless; anything else is stale.
    if (!(job.epoch === msg.epoch && job.agentId === agentId && ACTIVE_STATES.has(job.state))) conflict(agentId, msg.jobId, msg.epoch);
  }

  /** ffmpeg is done: the device takes its next job while the agent verifies this one. */
  function onEncoded(agentId: string, msg: Encoded): void {
    const job = store.getJob(msg.jobId);
    if (!job || job.agentId !== agentId || job.epoch !== msg.epoch || job.state !== 'running') {
      if (!(job?.epoch === msg.epoch && job.state === 'verifying')) conflict(agentId, msg.jobId, msg.epoch);
      return;
    }
    store.markVerifying(job.id, job.epoch);
    const holder = pool.holderOf(job.id);
    if (holder) {
      // The device did its part: its run of faults is over.
      pool.recordSuccess(holder.key);
      pool.release(holder.key, job.id);
    }
    emitJob(job.id);
    dispatch();
  }

  /** Whether `agentId` holds the lease (job, epoch): only its holder may speak for a job. */
  function holds(agentId: string, jobId: number, epoch: number): boolean {
    const job = store.getJob(jobId);
    return job !== undefined && job.agentId === agentId && job.epoch === epoch;
  }

  function onMessage(agentId: string, msg: AgentMessage): void {
    if (revoked.has(agentId)) return;
    switch (msg.type) {
      case 'hello':
        return onHello(agentId, msg);
      case 'heartbeat':
        for (const l of msg.leases) {
          if (store.renewLease(l.jobId, l.epoch, clock.now() + config.leaseTtlMs, agentId) === 'stale') {
            conflict(agentId, l.jobId, l.epoch);
          } else send(agentId, { v: PROTOCOL_VERSION, type: 'lease', jobId: l.jobId, epoch: l.epoch, leaseTtlMs: config.leaseTtlMs });
        }
        return;
      case 'device-update':
        return;
      case 'telemetry':
        return onTelemetry(agentId, msg.sample);
      case 'started':
        return onStarted(agentId, msg);
      case 'encoded':
        return onEncoded(agentId, msg);
      case 'progress': {
        const p = { percent: msg.percent, fps: msg.fps, speed: msg.speed, outTimeS: msg.outTimeS, etaS: msg.etaS };
        if (store.updateProgress(msg.jobId, msg.epoch, p, agentId) === 'stale') {
          return conflict(agentId, msg.jobId, msg.epoch);
        }
        return emitJob(msg.jobId);
      }
      case 'log':
        if (!holds(agentId, msg.jobId, msg.epoch)) return;
        return store.appendLog(msg.jobId, msg.lines, clock.now());
      case 'result':
        // Acknowledged once applied: the agent keeps a result until then and sends it again after
        // a reconnect, so a result lost with a crashed coordinator does not cost a second encode.
        void track(results.onResult(agentId, msg)).then(
          (applied) => applied && send(agentId, { v: PROTOCOL_VERSION, type: 'ack', jobId: msg.jobId, epoch: msg.epoch, status: 'ok' }),
          (err) => logger.error('result handling failed', { jobId: msg.jobId, err: String(err) }),
        );
        return;
    }
  }

  /** Requeues work held by agents that are gone or whose lease ran out; deletes their temp files. */
  function recover(): Promise<number> {
    return track(recoverLost());
  }

  async function recoverLost(): Promise<number> {
    const cutShort = cutShortCommits();
    if (cutShort.length) await adoptCommitted(cutShort);
    const lost = store.recoverLost(isAlive, clock.now(), results.committing);
    const cleanups: Promise<number>[] = [];
    for (const { jobId } of lost) {
      const job = store.getJob(jobId);
      const holder = pool.holderOf(jobId);
      if (holder) {
        pool.release(holder.key, jobId);
        if (job) send(holder.agentId, { v: PROTOCOL_VERSION, type: 'cancel', jobId, epoch: job.epoch, reason: 'lease expired' });
      }
      // The job's epoch is still the dead attempt's: a new lease gets a higher one, which survives.
      if (job) cleanups.push(removeJobTemps(job.outputPath, jobId, job.epoch));
      emitJob(jobId);
    }
    if (lost.length) logger.warn('requeued lost work', { jobs: lost.map((l) => l.jobId) });
    dispatch();
    await Promise.all(cleanups);
    return lost.length;
  }

  /** Verifying jobs whose committer is gone: their output may already be in place. */
  function cutShortCommits(): JobRow[] {
    const now = clock.now();
    return store.listJobs({ states: ['verifying'] }).filter((job) => {
      const lost = !job.agentId || !isAlive(job.agentId) || (job.leaseExpiresAt !== null && job.leaseExpiresAt < now);
      return lost && job.commitFileId !== null && !results.committing.has(job.id);
    });
  }

  /**
   * A commit cut short after its link (a crash before the job was recorded done) left the output
   * in place: such a job is finished as done, never encoded again or skipped as "exists".
   */
  async function adoptCommitted(jobs: readonly JobRow[]): Promise<void> {
    for (const job of jobs) {
      const found = await findCommitted(job.outputPath, job.commitFileId!);
      if (!found) continue;
      const end = { to: 'done', finalPath: found.path, outputSize: job.outputSize ?? found.size, encodeMs: job.encodeMs ?? 0 } as const;
      if (store.endAttempt(job.id, job.epoch, end, clock.now()) !== 'ok') continue;
      await removeJobTemps(job.outputPath, job.id, job.epoch);
      logger.info('recovered a committed output', { jobId: job.id, path: found.path });
      emitJob(job.id);
    }
  }

  /** Keeps async work (result commits, recoveries) visible to `idle()`. */
  function track<T>(work: Promise<T>): Promise<T> {
    const settled = work.then(
      () => {},
      () => {},
    );
    pending.add(settled);
    void settled.finally(() => pending.delete(settled));
    return work;
  }

  /** Picks up cancels, retries and new work written by other processes (e.g. `encodefarm cancel`). */
  function poll(): void {
    pollTimer = undefined;
    if (closed) return;
    const version = store.dataVersion();
    if (version !== lastDataVersion) {
      lastDataVersion = version;
      forwardCancels();
      dispatch();
    }
    raiseBudgets();
    if (clock.now() - lastLeaseCheck >= config.leaseTtlMs / 2) {
      lastLeaseCheck = clock.now();
      void recover();
    }
    pollTimer = clock.setTimeout(poll, config.pollMs);
  }

  function forwardCancels(): void {
    for (const job of store.listCancelRequested()) {
      if (job.agentId && agents.has(job.agentId)) {
        send(job.agentId, { v: PROTOCOL_VERSION, type: 'cancel', jobId: job.id, epoch: job.epoch, reason: 'canceled by user' });
      }
    }
  }

  /**
   * `identity`: the agent id the transport authenticated; a hello claiming another id is dropped.
   */
  function connectAgent(transport: (msg: CoordinatorMessage) => void, identity?: { agentId: string }): AgentConnection {
    let agentId: string | undefined;
    return {
      receive(raw: unknown) {
        const parsed = AgentMessageSchema.safeParse(raw);
        if (!parsed.success) {
          logger.warn('invalid agent message dropped', { agentId, issues: parsed.error.issues.slice(0, 3) });
          return;
        }
        if (parsed.data.type === 'hello') {
          if (revoked.has(parsed.data.agentId)) return;
          if (identity && parsed.data.agentId !== identity.agentId) {
            return logger.warn('hello for another agent id dropped', { agentId: identity.agentId });
          }
          agentId = parsed.data.agentId;
          agents.set(agentId, { send: transport, tags: parsed.data.tags, files: parsed.data.files });
        }
        if (!agentId) return logger.warn('agent message before hello dropped', { type: parsed.data.type });
        onMessage(agentId, parsed.data);
      },
      async close() {
        // A connection replaced by a newer one for the same agent must not tear the newer one down.
        if (!agentId || agents.get(agentId)?.send !== transport) return;
        agents.delete(agentId);
        pool.unregister(agentId);
        if (store.getAgent(agentId)) store.touchAgent(agentId, clock.now());
        events.emit('agent', { agentId, connected: false });
        // Local work is detected lost when its agent goes away, not by waiting for the lease.
        await recover();
      },
    };
  }

  function submit(sub: Submission): SubmitResult {
    const preset = presets.get(sub.presetId);
    if (!preset) throw new Error(`unknown preset "${sub.presetId}"`);
    const now = clock.now();
    const existing = store.findBatchByKey(sub.key);
    const batch = existing ?? store.createBatch({ ...sub }, now);
    addToScope(batch.id);
    const jobIds = store.addJobs(
      batch.id,
      sub.jobs.map((j) => ({ ...j, presetId: sub.presetId, codec: preset.codec })),
      now,
    );
    if (existing) {
      if (existing.state !== 'active') store.setBatchState(batch.id, 'active');
      // Submitting again retries what failed or was blocked; a job the user canceled stays canceled.
      const again = jobIds.filter((id) => {
        const state = store.getJob(id)?.state;
        return state === 'failed' || state === 'blocked';
      });
      store.retryJobs(again, now);
    }
    for (const id of jobIds) emitJob(id);
    dispatch();
    return { batch: store.getBatch(batch.id) ?? batch, jobIds, resumed: existing !== undefined };
  }

  function cancelJobs(ids: readonly number[]): number[] {
    const changed = store.cancelJobs(ids, clock.now());
    forwardCancels();
    for (const id of ids) emitJob(id);
    return changed;
  }

  function addToScope(batchId: number): void {
    if (scope && !scope.includes(batchId)) scope.push(batchId);
  }

  function batchJobIds(batchId: number): number[] {
    return store.listJobs({ batchId }).map((j) => j.id);
  }

  function afterChange(ids: readonly number[]): void {
    for (const id of ids) emitJob(id);
    dispatch();
  }

  return {
    events,
    connectAgent,
    submit,
    recover,
    /** Starts the timers that watch for other processes' changes and expired leases. */
    start(): void {
      pollTimer = clock.setTimeout(poll, config.pollMs);
    },
    cancelJobs,
    pauseJobs: (ids: readonly number[]) => {
      const changed = store.pauseJobs(ids);
      afterChange(changed);
      return changed;
    },
    resumeJobs: (ids: readonly number[]) => {
      const changed = store.resumeJobs(ids, clock.now());
      afterChange(changed);
      return changed;
    },
    retryJobs: (ids: readonly number[]) => {
      for (const id of ids) {
        const job = store.getJob(id);
        if (job) addToScope(job.batchId);
      }
      const changed = store.retryJobs(ids, clock.now());
      afterChange(changed);
      return changed;
    },
    pauseBatch: (batchId: number) => {
      store.setBatchState(batchId, 'paused');
      afterChange([]);
    },
    resumeBatch: (batchId: number) => {
      addToScope(batchId);
      store.setBatchState(batchId, 'active');
      afterChange(batchJobIds(batchId));
    },
    cancelBatch: (batchId: number) => {
      store.setBatchState(batchId, 'canceled');
      return cancelJobs(batchJobIds(batchId));
    },
    retryBatch: (batchId: number) => {
      addToScope(batchId);
      store.setBatchState(batchId, 'active');
      const changed = store.retryJobs(batchJobIds(batchId), clock.now());
      afterChange(changed);
      return changed;
    },
    devices: () => pool.list(),
    /** Each connected agent's latest GPU telemetry sample (memory only). */
    telemetry: () => pool.telemetry(),
    /** Ids of agents connected right now. */
    connectedAgents: () => [...agents.keys()],
    /** Jobs each connected agent's devices hold. */
    busyOf: (agentId: string) => pool.busyOf(agentId),
    /** Whether an agent is held (paused or draining): it keeps its work but gets nothing new. */
    isAgentHeld: (agentId: string) => pool.isHeld(agentId),
    /** Pause (no new work), drain (no new work, then the agent stops) or resume an agent. */
    setAgentState(agentId: string, state: AgentState): boolean {
      // This machine's in-process agent is not enrolled: it can be held in memory, not drained.
      if (agentId.startsWith('local:')) {
        if (!agents.has(agentId) || state === 'draining') return false;
      } else if (!store.setAgentState(agentId, state)) return false;
      pool.holdAgent(agentId, state !== 'active');
      if (state === 'draining') send(agentId, { v: PROTOCOL_VERSION, type: 'drain' });
      events.emit('agent', { agentId, connected: agents.has(agentId) });
      dispatch();
      return true;
    },
    /** Revokes an enrolled agent; its work is requeued once its transport is gone. */
    revokeAgent(agentId: string): boolean {
      if (!store.revokeAgent(agentId, clock.now())) return false;
      // Cut it loose now, whatever its socket still delivers: its work is requeued at once.
      revoked.add(agentId);
      if (agents.delete(agentId)) {
        pool.unregister(agentId);
        events.emit('agent', { agentId, connected: false });
      }
      void recover();
      return true;
    },
    /**
     * Caps how many jobs an agent runs at once over all its devices (undefined lifts the cap);
     * the agent's own `--slots` still applies. Running work is never stopped: a lower cap takes
     * effect as jobs finish, a higher one fills the new slots at once.
     */
    limitAgent(agentId: string, maxJobs: number | undefined): void {
      if (maxJobs === undefined) operatorCaps.delete(agentId);
      else operatorCaps.set(agentId, maxJobs);
      if (!agents.has(agentId)) return;
      applyCap(agentId);
      dispatch();
    },
    /**
     * Puts the queued/paused jobs among `ids` (in that order) right before a job, or at the head
     * or the tail of the claim order; they take the priority of their new place. Returns the ids moved.
     */
    moveJobs(ids: readonly number[], place: QueuePlace): number[] {
      const changed = store.moveJobs(ids, place);
      for (const id of changed) emitJob(id);
      return changed;
    },
    /** Sends the preset table again (after a preset was added or removed). */
    presetsChanged(): void {
      for (const id of agents.keys()) sendWelcome(id);
    },
    /** Resolves once every result being committed and every recovery running now has finished. */
    async idle(): Promise<void> {
      while (pending.size) await Promise.all([...pending]);
    },
    close(): void {
      closed = true;
      if (wakeTimer) clock.clearTimeout(wakeTimer);
      if (pollTimer) clock.clearTimeout(pollTimer);
    },
  };
}

function sizeOf(file: string): number | undefined {
  try {
    const st = statSync(file);
    return st.isFile() ? st.size : undefined;
  } catch {
    return undefined;
  }
}
