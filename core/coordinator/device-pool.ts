import type { DeviceAnnouncement, DeviceKind, DeviceState, LimitGroup } from '../shared/device.ts';
import type { Codec } from '../shared/preset.ts';
import type { GpuTelemetry, TelemetrySample } from '../shared/telemetry.ts';
import {
  DEFAULT_BUDGET_QUIET_MS,
  freshBudget,
  noteRaise,
  noteRefusal,
  quietPeriod,
  tickBudget,
  type LearnedBudget,
  type SessionBudget,
} from './session-budget.ts';

/** Where a device's agent gets its GPU figures, as of its latest sample. */
export interface TelemetryOrigin {
  source: TelemetrySample['source'];
  at: number;
  reason: string | null;
}

/** A device as the scheduler sees it: announced facts plus what it has learned and holds. */
export interface PoolDevice {
  key: string;
  agentId: string;
  id: string;
  kind: DeviceKind;
  label: string;
  codecs: Codec[];
  announcedSlots: number;
  /** Effective slots: lowered when the driver refuses a session, raised again after a quiet period. */
  slots: number;
  /** NVIDIA index (telemetry is matched by it); undefined for the CPU and simulated GPUs. */
  gpuIndex: number | undefined;
  limitGroup: string | undefined;
  state: DeviceState;
  busy: Set<number>;
  /** Consecutive device faults; reset by a success. */
  faults: number;
  reason: string | undefined;
  /** What the agent announced, for writing back the device with what was learned. */
  announcement: DeviceAnnouncement;
  /** How `slots` is being learned. */
  budget: SessionBudget;
  /** This GPU's figures from its agent's latest telemetry sample; null when there are none. */
  telemetry: GpuTelemetry | null;
  /** The agent's telemetry source; null until it sent a sample. */
  telemetrySource: TelemetryOrigin | null;
}

export interface DevicePoolOptions {
  /** @default Date.now — the coordinator passes its (injected) clock. */
  now?: () => number;
  /** @default DEFAULT_BUDGET_QUIET_MS — time at a lowered budget without a refusal before it goes up by one. */
  budgetQuietMs?: number;
}

/** The device as announced, with the slots and state learned since. */
export function learnedAnnouncement(d: PoolDevice): DeviceAnnouncement {
  return { ...d.announcement, slots: d.slots, state: d.state };
}

const KIND_ORDER: Record<DeviceKind, number> = { nvenc: 0, 'simulated-gpu': 1, cpu: 2 };

/** @default 3 consecutive device faults quarantine a device. */
export const DEFAULT_QUARANTINE_AFTER = 3;

/**
 * Slots of every connected device, and the shared limits (e.g. GeForce per-host NVENC sessions)
 * they count against. Pure in-memory bookkeeping; the store holds the durable picture.
 */
export class DevicePool {
  private readonly devices = new Map<string, PoolDevice>();
  private readonly groups = new Map<string, number>();
  /** Per-agent cap on concurrent jobs over all its devices (`agent --slots`). */
  private readonly agentCaps = new Map<string, number>();
  /** Agents that take no new work (paused or draining by the operator). */
  private readonly held = new Set<string>();
  /** The latest telemetry sample of each connected agent (memory only: figures go stale fast). */
  private readonly samples = new Map<string, TelemetrySample>();
  private readonly now: () => number;
  private readonly quietMs: number;

  constructor(
    private readonly quarantineAfter = DEFAULT_QUARANTINE_AFTER,
    opts: DevicePoolOptions = {},
  ) {
    this.now = opts.now ?? Date.now;
    this.quietMs = opts.budgetQuietMs ?? DEFAULT_BUDGET_QUIET_MS;
    if (!(this.quietMs > 0)) throw new RangeError(`Expected budgetQuietMs to be positive, got ${this.quietMs}`);
  }

  /**
   * Takes an agent's announced devices (replacing what it announced before). `learned`: budgets
   * learned in earlier runs (from the store); each applies to the device of the same id and label,
   * never above what is announced now.
   */
  register(agentId: string, devices: readonly DeviceAnnouncement[], groups: readonly LimitGroup[], learned: readonly LearnedBudget[] = []): void {
    // A hello again on a live connection keeps the figures already sent.
    const sample = this.samples.get(agentId);
    this.unregister(agentId);
    if (sample) this.samples.set(agentId, sample);
    for (const g of groups) this.groups.set(`${agentId}/${g.name}`, g.max);
    const now = this.now();
    for (const d of devices) {
      const key = `${agentId}/${d.id}`;
      const device: PoolDevice = {
        key,
        agentId,
        id: d.id,
        kind: d.kind,
        label: d.label,
        codecs: [...d.codecs],
        announcedSlots: d.slots,
        slots: d.slots,
        gpuIndex: d.gpuIndex,
        limitGroup: d.limitGroup ? `${agentId}/${d.limitGroup}` : undefined,
        state: d.state,
        busy: new Set(),
        faults: 0,
        reason: undefined,
        announcement: d,
        budget: freshBudget(now, this.quietMs),
        telemetry: null,
        telemetrySource: null,
      };
      const known = learned.find((l) => l.deviceId === d.id && l.label === d.label);
      if (known) applyLearned(device, known);
      if (sample) applyTelemetry(device, sample);
      this.devices.set(key, device);
    }
  }

  /** Caps the agent's concurrent jobs over all its devices; undefined removes the cap. */
  capAgent(agentId: string, maxJobs: number | undefined): void {
    if (maxJobs === undefined) this.agentCaps.delete(agentId);
    else this.agentCaps.set(agentId, maxJobs);
  }

  /** A held agent keeps what it runs but gets nothing new (pause, drain). */
  holdAgent(agentId: string, held: boolean): void {
    if (held) this.held.add(agentId);
    else this.held.delete(agentId);
  }

  isHeld(agentId: string): boolean {
    return this.held.has(agentId);
  }

  unregister(agentId: string): void {
    this.agentCaps.delete(agentId);
    this.samples.delete(agentId);
    for (const [key, d] of this.devices) if (d.agentId === agentId) this.devices.delete(key);
    for (const key of this.groups.keys()) if (key.startsWith(`${agentId}/`)) this.groups.delete(key);
  }

  get(key: string): PoolDevice | undefined {
    return this.devices.get(key);
  }

  list(): PoolDevice[] {
    return [...this.devices.values()];
  }

  /** Devices that can take one more job now: GPUs first, then the least loaded. */
  withFreeSlot(): PoolDevice[] {
    return this.list()
      .filter(
        (d) =>
          d.state === 'working' &&
          d.busy.size < d.slots &&
          d.codecs.length > 0 &&
          !this.held.has(d.agentId) &&
          this.groupHasRoom(d) &&
          this.agentHasRoom(d.agentId),
      )
      .sort((a, b) => KIND_ORDER[a.kind] - KIND_ORDER[b.kind] || a.busy.size / a.slots - b.busy.size / b.slots);
  }

  occupy(key: string, jobId: number): void {
    this.devices.get(key)?.busy.add(jobId);
  }

  release(key: string, jobId: number): void {
    this.devices.get(key)?.busy.delete(jobId);
  }

  /** The device holding a job, if any. */
  holderOf(jobId: number): PoolDevice | undefined {
    return this.list().find((d) => d.busy.has(jobId));
  }

  /**
   * The driver refused a session while `busyAtFailure` were open (including the refused one), so
   * the device's real capacity is at most one less. At one slot a refusal counts as a fault.
   */
  lowerSlots(key: string, busyAtFailure: number, reason: string): void {
    const d = this.devices.get(key);
    if (!d) return;
    const observed = busyAtFailure - 1;
    if (observed < 1) return this.recordFault(key, reason);
    const before = d.slots;
    d.slots = Math.min(d.slots, observed);
    d.reason = reason;
    noteRefusal(d.budget, before, d.slots, this.now());
  }

  /**
   * Counts time lowered devices spent at their budget (called on the coordinator's poll) and raises
   * by one each that ran a whole quiet period at it without a refusal, never above the announced
   * slots. Returns the devices raised.
   */
  tickBudgets(): PoolDevice[] {
    const now = this.now();
    const raised: PoolDevice[] = [];
    for (const d of this.devices.values()) {
      const lowered = d.slots < d.announcedSlots && d.state === 'working';
      if (!tickBudget(d.budget, { lowered, atBudget: d.busy.size >= d.slots }, now)) continue;
      d.slots += 1;
      noteRaise(d.budget, d.slots, now);
      raised.push(d);
    }
    return raised;
  }

  /** What to keep in the store about a device's budget; undefined when nothing was learned. */
  learnedBudget(key: string): LearnedBudget | undefined {
    const d = this.devices.get(key);
    if (!d || d.budget.refusedAt === null) return undefined;
    return {
      deviceId: d.id,
      label: d.label,
      announcedSlots: d.announcedSlots,
      budget: d.slots,
      backoff: d.budget.backoff,
      raisedTo: d.budget.raisedTo,
      refusedAt: d.budget.refusedAt,
      reason: d.reason ?? null,
    };
  }

  /**
   * Keeps an agent's latest telemetry sample and matches its GPUs to the agent's devices by GPU
   * index. Returns the devices whose figures or source changed.
   */
  setTelemetry(agentId: string, sample: TelemetrySample): PoolDevice[] {
    this.samples.set(agentId, sample);
    const changed: PoolDevice[] = [];
    for (const d of this.devices.values()) {
      if (d.agentId !== agentId) continue;
      const before = d.telemetrySource;
      applyTelemetry(d, sample);
      // A CPU device only changes when the source does; a GPU's figures move with every sample.
      if (d.gpuIndex !== undefined || before?.source !== sample.source || before.reason !== sample.reason) changed.push(d);
    }
    return changed;
  }

  /** Each connected agent's latest telemetry sample. */
  telemetry(): { agentId: string; sample: TelemetrySample }[] {
    return [...this.samples].map(([agentId, sample]) => ({ agentId, sample }));
  }

  /** Counts a device fault; the device is quarantined after `quarantineAfter` in a row. */
  recordFault(key: string, reason: string): void {
    const d = this.devices.get(key);
    if (!d) return;
    d.faults += 1;
    d.reason = reason;
    if (d.faults >= this.quarantineAfter) d.state = 'quarantined';
  }

  recordSuccess(key: string): void {
    const d = this.devices.get(key);
    if (d) d.faults = 0;
  }

  /** Jobs the agent's devices hold right now. */
  busyOf(agentId: string): number {
    let used = 0;
    for (const d of this.devices.values()) if (d.agentId === agentId) used += d.busy.size;
    return used;
  }

  private agentHasRoom(agentId: string): boolean {
    const cap = this.agentCaps.get(agentId);
    return cap === undefined || this.busyOf(agentId) < cap;
  }

  private groupHasRoom(d: PoolDevice): boolean {
    if (!d.limitGroup) return true;
    const max = this.groups.get(d.limitGroup);
    if (max === undefined) return true;
    let used = 0;
    for (const other of this.devices.values()) if (other.limitGroup === d.limitGroup) used += other.busy.size;
    return used < max;
  }
}

/** A budget learned in an earlier run: at most what the agent announces now. */
function applyLearned(d: PoolDevice, l: LearnedBudget): void {
  d.slots = Math.min(d.announcedSlots, Math.max(1, l.budget));
  d.budget.backoff = l.backoff;
  d.budget.raisedTo = l.raisedTo;
  d.budget.refusedAt = l.refusedAt;
  d.reason = l.reason ?? undefined;
}

function applyTelemetry(d: PoolDevice, sample: TelemetrySample): void {
  d.telemetrySource = { source: sample.source, at: sample.at, reason: sample.reason };
  d.telemetry = d.gpuIndex === undefined ? null : (sample.gpus.find((g) => g.index === d.gpuIndex) ?? null);
}

/** Time at budget the device's next raise needs; null when its budget is the announced one. */
export function raiseAfterMs(d: PoolDevice): number | null {
  return d.slots < d.announcedSlots ? quietPeriod(d.budget) : null;
}
