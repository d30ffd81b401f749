-- 005: what the desktop UI needs. A queue position the user can change (bump, debump, drag to
-- reorder) without renumbering the queue, indexes for the queue and history views at 100k jobs,
-- and farm settings.

-- A job's place among jobs of the same priority. REAL, so a move puts jobs between two
-- neighbours by taking ranks between theirs and writes only the moved rows. A new job takes the
-- highest rank + 1 (batches-jobs.ts), which is its id until the user first moves something.
ALTER TABLE jobs ADD COLUMN rank REAL;
UPDATE jobs SET rank = id;
-- MAX(rank) for each new job, and the tail of the queue, in one index step.
CREATE INDEX jobs_rank ON jobs (rank);

-- claimNext walks this index in claim order: priority first, then the user's order.
DROP INDEX jobs_claim_order;
CREATE INDEX jobs_claim_order ON jobs (state, priority DESC, rank, id);

-- The queue view's default order (job-queries.ts QUEUE_ORDER; the expressions must stay
-- identical there, or SQLite sorts instead of walking the index): in-flight jobs first, then
-- queued, paused and blocked in claim order, then finished jobs newest first.
CREATE INDEX jobs_queue_view ON jobs (
  (CASE state WHEN 'running' THEN 0 WHEN 'leased' THEN 0 WHEN 'verifying' THEN 0
              WHEN 'queued' THEN 1 WHEN 'paused' THEN 2 WHEN 'blocked' THEN 3 ELSE 4 END),
  (CASE WHEN state IN ('done', 'failed', 'canceled') THEN 0 ELSE -priority END),
  (CASE WHEN state IN ('done', 'failed', 'canceled') THEN -id ELSE rank END),
  id);

-- History (finished jobs newest first, throughput buckets) and the "finished" sort.
CREATE INDEX jobs_finished ON jobs (finished_at, id);
-- The "input" and "size" sorts.
CREATE INDEX jobs_input_path ON jobs (input_path);
CREATE INDEX jobs_input_size ON jobs (input_size);

-- Farm settings, one JSON value per key, validated by the API on the way in and on the way out.
CREATE TABLE settings (
  key   TEXT PRIMARY KEY,
  json  TEXT NOT NULL
);
