-- 001: initial schema. Times are epoch milliseconds (INTEGER); booleans are 0/1.
-- Each migration runs inside one transaction opened by migrate.ts: no BEGIN/COMMIT here.

CREATE TABLE batches (
  id          INTEGER PRIMARY KEY AUTOINCREMENT,
  -- Idempotency key: the same submission twice maps to the same batch.
  key         TEXT    NOT NULL UNIQUE,
  label       TEXT    NOT NULL,
  preset_id   TEXT    NOT NULL,
  out_dir     TEXT,
  on_exists   TEXT    NOT NULL CHECK (on_exists IN ('skip', 'suffix')),
  priority    INTEGER NOT NULL DEFAULT 0,
  state       TEXT    NOT NULL DEFAULT 'active' CHECK (state IN ('active', 'paused', 'canceled')),
  created_at  INTEGER NOT NULL
);

CREATE TABLE jobs (
  -- AUTOINCREMENT: ids never get reused, so "id ASC" is submission order for FIFO claims.
  id                INTEGER PRIMARY KEY AUTOINCREMENT,
  batch_id          INTEGER NOT NULL REFERENCES batches (id) ON DELETE CASCADE,
  input_path        TEXT    NOT NULL,
  preset_id         TEXT    NOT NULL,
  codec             TEXT    NOT NULL CHECK (codec IN ('h264', 'hevc', 'av1')),
  output_path       TEXT    NOT NULL,
  on_exists         TEXT    NOT NULL CHECK (on_exists IN ('skip', 'suffix')),
  priority          INTEGER NOT NULL DEFAULT 0,
  state             TEXT    NOT NULL DEFAULT 'queued' CHECK (state IN (
                      'queued', 'leased', 'running', 'verifying', 'done',
                      'paused', 'canceled', 'failed', 'blocked')),
  block_reason      TEXT,
  attempts          INTEGER NOT NULL DEFAULT 0,
  requeues          INTEGER NOT NULL DEFAULT 0,
  epoch             INTEGER NOT NULL DEFAULT 0,
  device_id         TEXT,
  agent_id          TEXT,
  lease_expires_at  INTEGER,
  not_before        INTEGER NOT NULL,
  percent           REAL    NOT NULL DEFAULT 0,
  fps               REAL    NOT NULL DEFAULT 0,
  speed             REAL    NOT NULL DEFAULT 0,
  eta_s             REAL,
  out_time_s        REAL    NOT NULL DEFAULT 0,
  duration_s        REAL,
  input_size        INTEGER,
  output_size       INTEGER,
  final_path        TEXT,
  error_kind        TEXT,
  error_message     TEXT,
  cancel_requested  INTEGER NOT NULL DEFAULT 0 CHECK (cancel_requested IN (0, 1)),
  created_at        INTEGER NOT NULL,
  started_at        INTEGER,
  finished_at       INTEGER,
  encode_ms         INTEGER,
  -- A file dropped twice into the same submission is one job.
  UNIQUE (batch_id, input_path)
);

-- claimNext walks this index in queue order (state = 'queued', priority DESC, id ASC) and stops
-- at the first row that passes the other checks: no sort, no scan of finished jobs.
CREATE INDEX jobs_claim_order ON jobs (state, priority DESC, id);

CREATE TABLE attempts (
  id             INTEGER PRIMARY KEY AUTOINCREMENT,
  job_id         INTEGER NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
  -- The lease's fencing token; one attempt per epoch.
  epoch          INTEGER NOT NULL,
  agent_id       TEXT    NOT NULL,
  device_id      TEXT    NOT NULL,
  started_at     INTEGER NOT NULL,
  ended_at       INTEGER,
  -- NULL while in flight.
  outcome        TEXT,
  error_kind     TEXT,
  error_message  TEXT,
  temp_path      TEXT,
  UNIQUE (job_id, epoch)
);

CREATE TABLE job_log (
  id      INTEGER PRIMARY KEY AUTOINCREMENT,
  job_id  INTEGER NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
  at      INTEGER NOT NULL,
  line    TEXT    NOT NULL
);

CREATE INDEX job_log_tail ON job_log (job_id, id);

-- User presets as JSON validated by PresetSchema on the way in and on the way out.
CREATE TABLE presets (
  id          TEXT    PRIMARY KEY,
  json        TEXT    NOT NULL,
  updated_at  INTEGER NOT NULL
);

CREATE TABLE devices (
  agent_id     TEXT    NOT NULL,
  device_id    TEXT    NOT NULL,
  kind         TEXT    NOT NULL,
  label        TEXT    NOT NULL,
  gpu_index    INTEGER,
  slots        INTEGER NOT NULL,
  -- JSON array of codecs that passed the device's capability probe.
  codecs       TEXT    NOT NULL,
  limit_group  TEXT,
  state        TEXT    NOT NULL,
  updated_at   INTEGER NOT NULL,
  PRIMARY KEY (agent_id, device_id)
);
