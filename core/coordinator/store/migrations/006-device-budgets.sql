-- 006: session budgets the scheduler learned per device (the driver refused a session, so the
-- device runs below what its agent announces until it proves it can take more). Kept apart from
-- `devices`, which each hello overwrites with what the agent announces, so a budget survives the
-- agent reconnecting and the coordinator restarting.
CREATE TABLE device_budgets (
  agent_id        TEXT    NOT NULL,
  device_id       TEXT    NOT NULL,
  -- The device's label when learned: another card at the same index (a new label) starts over.
  label           TEXT    NOT NULL,
  announced_slots INTEGER NOT NULL,
  budget          INTEGER NOT NULL,
  -- Raises the driver refused; each doubles the quiet period before the next raise.
  backoff         INTEGER NOT NULL DEFAULT 0,
  raised_to       INTEGER,
  refused_at      INTEGER,
  reason          TEXT,
  updated_at      INTEGER NOT NULL,
  PRIMARY KEY (agent_id, device_id)
);
