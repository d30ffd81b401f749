import type { JobStore } from '../ports.ts';
import type { LearnedBudget } from '../session-budget.ts';
import { writeTx, type Db } from './db.ts';

type DeviceBudgets = Pick<JobStore, 'saveDeviceBudget' | 'listDeviceBudgets'>;

interface BudgetRecord {
  device_id: string;
  label: string;
  announced_slots: number;
  budget: number;
  backoff: number;
  raised_to: number | null;
  refused_at: number | null;
  reason: string | null;
}

/** Learned session budgets per (agent, device), applied when the agent says hello again. */
export function deviceBudgets(db: Db): DeviceBudgets {
  const upsert = db.prepare(`
    INSERT INTO device_budgets (agent_id, device_id, label, announced_slots, budget, backoff, raised_to, refused_at, reason, updated_at)
    VALUES (@agentId, @deviceId, @label, @announcedSlots, @budget, @backoff, @raisedTo, @refusedAt, @reason, @now)
    ON CONFLICT (agent_id, device_id) DO UPDATE SET
      label = excluded.label, announced_slots = excluded.announced_slots, budget = excluded.budget,
      backoff = excluded.backoff, raised_to = excluded.raised_to, refused_at = excluded.refused_at,
      reason = excluded.reason, updated_at = excluded.updated_at`);
  const ofAgent = db.prepare<[string], BudgetRecord>(`
    SELECT device_id, label, announced_slots, budget, backoff, raised_to, refused_at, reason
    FROM device_budgets WHERE agent_id = ? ORDER BY device_id`);

  return {
    saveDeviceBudget: writeTx(db, (agentId: string, b: LearnedBudget, now: number): void => {
      if (!Number.isInteger(b.budget) || b.budget < 1) throw new RangeError(`Expected budget to be a positive integer, got ${b.budget}`);
      upsert.run({ ...b, agentId, now });
    }),
    listDeviceBudgets: (agentId) =>
      ofAgent.all(agentId).map((r) => ({
        deviceId: r.device_id,
        label: r.label,
        announcedSlots: r.announced_slots,
        budget: r.budget,
        backoff: r.backoff,
        raisedTo: r.raised_to,
        refusedAt: r.refused_at,
        reason: r.reason,
      })),
  };
}
