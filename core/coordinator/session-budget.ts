/**
 * How a device's session budget is learned: lowered to what the driver was observed to take when it
 * refuses a session (DevicePool.lowerSlots), raised again by one after the device has run at its
 * lowered budget, every slot busy, for a quiet period without a refusal. A raise the driver refuses
 * doubles the next quiet period, so a device at its real limit does not flap every ten minutes.
 */

/** @default 10 minutes at budget (every slot busy, nothing refused) before a lowered budget is raised by one. */
export const DEFAULT_BUDGET_QUIET_MS = 10 * 60_000;

/** A refused raise doubles the quiet period at most this many times (10 min → 160 min). */
export const MAX_BUDGET_BACKOFF = 4;

export interface SessionBudget {
  /** The quiet period before any refused raise doubled it. */
  quietMs: number;
  /** When the driver last refused a session on this device; null when it never did. */
  refusedAt: number | null;
  /** Time run at budget since the budget last changed. */
  atBudgetMs: number;
  /** Refused raises so far; the quiet period is `quietMs * 2 ** backoff`. */
  backoff: number;
  /** The budget the last raise reached; a refusal there means the raise was wrong. */
  raisedTo: number | null;
  /** When the budget was last looked at (a tick), and whether every slot was busy then. */
  tickAt: number;
  busyAtTick: boolean;
}

/** What is kept in the store per (agent, device) and applied when the agent says hello again. */
export interface LearnedBudget {
  deviceId: string;
  /** The device's label when it was learned: a different card at the same index starts over. */
  label: string;
  announcedSlots: number;
  budget: number;
  backoff: number;
  raisedTo: number | null;
  refusedAt: number | null;
  reason: string | null;
}

export function freshBudget(now: number, quietMs: number = DEFAULT_BUDGET_QUIET_MS): SessionBudget {
  return { quietMs, refusedAt: null, atBudgetMs: 0, backoff: 0, raisedTo: null, tickAt: now, busyAtTick: false };
}

/** Time at budget the next raise needs. */
export function quietPeriod(b: SessionBudget): number {
  return b.quietMs * 2 ** b.backoff;
}

/**
 * The driver refused a session: the quiet period starts over, and a refusal at the level the last
 * raise reached (it had to be lowered from there) makes the next quiet period twice as long.
 */
export function noteRefusal(b: SessionBudget, slotsBefore: number, slotsAfter: number, now: number): void {
  if (slotsAfter < slotsBefore && b.raisedTo !== null && slotsBefore === b.raisedTo) {
    b.backoff = Math.min(MAX_BUDGET_BACKOFF, b.backoff + 1);
  }
  if (slotsAfter < slotsBefore) b.raisedTo = null;
  b.refusedAt = now;
  b.atBudgetMs = 0;
  b.tickAt = now;
  b.busyAtTick = false;
}

/**
 * Counts time at budget since the last tick and says whether the budget may now go up by one.
 * Time counts only between two ticks that both saw every slot busy: ticks are coarse (the
 * coordinator's poll), and a device that emptied in between must not be credited for it.
 */
export function tickBudget(b: SessionBudget, state: { lowered: boolean; atBudget: boolean }, now: number): boolean {
  const busy = state.lowered && state.atBudget;
  if (busy && b.busyAtTick) b.atBudgetMs += Math.max(0, now - b.tickAt);
  b.tickAt = now;
  b.busyAtTick = busy;
  if (!state.lowered) b.atBudgetMs = 0;
  return state.lowered && b.atBudgetMs >= quietPeriod(b);
}

/** The budget went up by one: the next raise needs a whole quiet period at the new level. */
export function noteRaise(b: SessionBudget, slots: number, now: number): void {
  b.raisedTo = slots;
  b.atBudgetMs = 0;
  b.tickAt = now;
  b.busyAtTick = false;
}
