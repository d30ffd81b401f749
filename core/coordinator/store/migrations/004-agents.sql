-- 004: remote agents. Enrolled agent identities (only a hash of each secret is kept), single-use
-- join tokens (only their hash), per-agent failure counts that blocklist an agent for a job, and
-- the tags a batch requires of the agent that runs it.

CREATE TABLE agents (
  id            TEXT    PRIMARY KEY,
  name          TEXT    NOT NULL,
  -- sha256 (hex) of the agent's secret; the secret itself never touches the disk here.
  secret_hash   TEXT    NOT NULL,
  tags          TEXT    NOT NULL DEFAULT '[]',
  -- paused: takes no new work; draining: takes no new work and stops once idle.
  state         TEXT    NOT NULL DEFAULT 'active' CHECK (state IN ('active', 'paused', 'draining')),
  created_at    INTEGER NOT NULL,
  revoked_at    INTEGER,
  last_seen_at  INTEGER
);

CREATE TABLE join_tokens (
  hash        TEXT    PRIMARY KEY,
  created_at  INTEGER NOT NULL,
  expires_at  INTEGER NOT NULL,
  used_at     INTEGER,
  used_by     TEXT
);

-- Failed attempts of one job on one agent; at 3 the agent no longer gets that job.
CREATE TABLE job_agent_failures (
  job_id    INTEGER NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
  agent_id  TEXT    NOT NULL,
  failures  INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (job_id, agent_id)
) WITHOUT ROWID;

ALTER TABLE batches ADD COLUMN require_tags TEXT NOT NULL DEFAULT '[]';
