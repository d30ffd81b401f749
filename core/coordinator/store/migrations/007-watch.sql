-- 007: watch folders and the file versions they have queued.

-- One watched folder. `stability_ms` NULL means "the default for where the folder lives" (10 s,
-- 30 s on a network mount), decided at each start so a folder that moves to a NAS gets the longer
-- wait without being edited. `state` is what the watcher last saw: an offline folder is reported,
-- never a reason to fail anything.
CREATE TABLE watch_folders (
  id             INTEGER PRIMARY KEY,
  path           TEXT    NOT NULL UNIQUE,
  preset_id      TEXT    NOT NULL,
  out_dir        TEXT    NOT NULL,
  recursive      INTEGER NOT NULL DEFAULT 0,
  include_json   TEXT    NOT NULL DEFAULT '[]',
  exclude_json   TEXT    NOT NULL DEFAULT '[]',
  after_action   TEXT    NOT NULL DEFAULT 'keep' CHECK (after_action IN ('keep', 'archive')),
  archive_dir    TEXT,
  stability_ms   INTEGER,
  created_at     INTEGER NOT NULL,
  state          TEXT    NOT NULL DEFAULT 'unknown' CHECK (state IN ('unknown', 'online', 'offline')),
  offline_reason TEXT,
  CHECK ((after_action = 'archive') = (archive_dir IS NOT NULL))
);

-- One row per file version that got a job: the fingerprint (normalised path, size, mtime, inode)
-- is unique, so a restart, a duplicate event or a rescan finds the row and queues nothing. A row
-- is written only after its job exists (the submission is idempotent by batch key and path, so a
-- crash in between resubmits onto the same job). Forgotten with its folder.
CREATE TABLE watch_files (
  id            INTEGER PRIMARY KEY,
  folder_id     INTEGER NOT NULL REFERENCES watch_folders (id) ON DELETE CASCADE,
  path          TEXT    NOT NULL,
  size          INTEGER NOT NULL,
  mtime_ms      REAL    NOT NULL,
  inode         INTEGER NOT NULL,
  job_id        INTEGER REFERENCES jobs (id) ON DELETE SET NULL,
  batch_id      INTEGER,
  seen_at       INTEGER NOT NULL,
  -- Where the after-action moved the source; NULL while it is where it was found.
  archived_path TEXT,
  UNIQUE (folder_id, path, size, mtime_ms, inode)
);
-- The after-action finds a done job's source by job id.
CREATE INDEX watch_files_job ON watch_files (job_id);
