import type { DeviceAnnouncement, DeviceKind, DeviceState, LimitGroup } from '../shared/device.ts';
import type { Codec } from '../shared/preset.ts';

/** A device as the scheduler sees it: announced facts plus what it has learned and holds. */
export interface PoolDevice {
  key: string;
  agentId: string;
  id: string;
  kind: DeviceKind;
  label: string;
  codecs: Codec[];
  announcedSlots: number;
  /** Effective slots: lowered when the driver refuses a session. */
  slots: number;
  limitGroup: string | undefined;
  state: DeviceState;
  busy: Set<number>;
  /** Consecutive device faults; reset by a success. */
  faults: number;
  reason: string | undefined;
  /** What the agent announced, for writing back the device with what was learned. */
  announcement: DeviceAnnouncement;
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

  constructor(private readonly quarantineAfter = DEFAULT_QUARANTINE_AFTER) {}

  register(agentId: string, devices: readonly DeviceAnnouncement[], groups: readonly LimitGroup[]): void {
    this.unregister(agentId);
    for (const g of groups) this.groups.set(`${agentId}/${g.name}`, g.max);
    for (const d of devices) {
      const key = `${agentId}/${d.id}`;
      this.devices.set(key, {
        key,
        agentId,
        id: d.id,
        kind: d.kind,
        label: d.label,
        codecs: [...d.codecs],
        announcedSlots: d.slots,
        slots: d.slots,
        limitGroup: d.limitGroup ? `${agentId}/${d.limitGroup}` : undefined,
        state: d.state,
        busy: new Set(),
        faults: 0,
        reason: undefined,
        announcement: d,
      });
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
    d.slots = Math.min(d.slots, observed);
    d.reason = reason;
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
