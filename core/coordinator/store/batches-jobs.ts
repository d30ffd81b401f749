import type { BatchRow, BatchState, JobFilter, JobRow, JobStore, NewBatch, NewJob } from '../ports.ts';
import { jsonList, writeTx, type Db } from './db.ts';
import {
  toAttemptRow,
  toBatchRow,
  toJobRow,
  type AttemptRecord,
  type BatchRecord,
  type JobRecord,
} from './row-mapping.ts';

type BatchesAndJobs = Pick<
  JobStore,
  | 'findBatchByKey'
  | 'createBatch'
  | 'addJobs'
  | 'getBatch'
  | 'listBatches'
  | 'getJob'
  | 'listJobs'
  | 'listAttempts'
  | 'setBatchState'
  | 'farmOutputsAmong'
>;

/** Submissions: batches keyed for idempotency, their jobs, and read access to jobs and attempts. */
export function batchesAndJobs(db: Db): BatchesAndJobs {
  const batchByKey = db.prepare<[string], BatchRecord>('SELECT * FROM batches WHERE key = ?');
  const batchById = db.prepare<[number], BatchRecord>('SELECT * FROM batches WHERE id = ?');
  const recentBatches = db.prepare<[number], BatchRecord>('SELECT * FROM batches ORDER BY id DESC LIMIT ?');
  // ON CONFLICT DO NOTHING: a duplicate submission (same key) resolves to the existing batch
  // even when two processes race, instead of failing on the unique constraint.
  const insertBatch = db.prepare(`
    INSERT INTO batches (key, label, preset_id, out_dir, on_exists, priority, require_tags, state, created_at)
    VALUES (@key, @label, @presetId, @outDir, @onExists, @priority, @requireTags, 'active', @now)
    ON CONFLICT (key) DO NOTHING`);
  // Jobs inherit priority and on-exists policy from their batch; not_before = now makes them
  // claimable at once; the highest rank + 1 puts them behind everything, moved jobs included
  // (index jobs_rank). A path already in the batch keeps its existing job.
  const insertJob = db.prepare(`
    INSERT INTO jobs (batch_id, input_path, preset_id, codec, output_path, on_exists, priority,
                      not_before, created_at, rank)
    VALUES (@batchId, @inputPath, @presetId, @codec, @outputPath, @onExists, @priority, @now, @now,
            (SELECT IFNULL(MAX(rank), 0) + 1 FROM jobs))
    ON CONFLICT (batch_id, input_path) DO NOTHING`);
  const jobIdByPath = db.prepare<[number, string], number>(
    'SELECT id FROM jobs WHERE batch_id = ? AND input_path = ?',
  ).pluck();
  const jobById = db.prepare<[number], JobRecord>('SELECT * FROM jobs WHERE id = ?');
  const filteredJobs = jobListQuery(db);
  const attemptsOf = db.prepare<[number], AttemptRecord>('SELECT * FROM attempts WHERE job_id = ? ORDER BY epoch');
  const updateBatchState = db.prepare<[BatchState, number]>('UPDATE batches SET state = ? WHERE id = ?');
  const outputsAmong = db
    .prepare<[string], string>(`
      SELECT value FROM json_each(?) AS p
      WHERE EXISTS (SELECT 1 FROM jobs WHERE final_path = p.value)
         OR EXISTS (SELECT 1 FROM jobs WHERE output_path = p.value)`)
    .pluck();

  const getBatch = (id: number): BatchRow | undefined => {
    const r = batchById.get(id);
    return r && toBatchRow(r);
  };

  return {
    findBatchByKey: (key) => {
      const r = batchByKey.get(key);
      return r && toBatchRow(r);
    },
    createBatch: writeTx(db, (batch: NewBatch, now: number): BatchRow => {
      insertBatch.run({ ...batch, requireTags: JSON.stringify(batch.requireTags ?? []), now });
      return toBatchRow(batchByKey.get(batch.key)!);
    }),
    addJobs: writeTx(db, (batchId: number, jobs: readonly NewJob[], now: number): number[] => {
      const batch = batchById.get(batchId);
      if (!batch) throw new Error(`Expected an existing batch, got id ${batchId}`);
      return jobs.map((job) => {
        insertJob.run({ ...job, batchId, onExists: batch.on_exists, priority: batch.priority, now });
        return jobIdByPath.get(batchId, job.inputPath)!;
      });
    }),
    getBatch,
    listBatches: (limit) => recentBatches.all(limit).map(toBatchRow),
    getJob: (id): JobRow | undefined => {
      const r = jobById.get(id);
      return r && toJobRow(r);
    },
    listJobs: (filter: JobFilter) => filteredJobs(filter).map(toJobRow),
    listAttempts: (jobId) => attemptsOf.all(jobId).map(toAttemptRow),
    setBatchState: writeTx(db, (batchId: number, state: BatchState): void => {
      updateBatchState.run(state, batchId);
    }),
    farmOutputsAmong: (paths) => new Set(paths.length ? outputsAmong.all(jsonList(paths)) : []),
  };
}

/**
 * `listJobs` as SQL built from the filters present, so a batch filter uses the (batch_id, …)
 * index instead of an `@x IS NULL OR …` condition that the planner cannot index. At most four
 * statements exist; each is prepared once.
 */
function jobListQuery(db: Db): (filter: JobFilter) => JobRecord[] {
  const cache = new Map<string, ReturnType<Db['prepare']>>();
  return (filter) => {
    const where: string[] = [];
    const params: Record<string, string | number> = {};
    if (filter.batchId !== undefined) {
      where.push('batch_id = @batchId');
      params.batchId = filter.batchId;
    }
    if (filter.states) {
      where.push('state IN (SELECT value FROM json_each(@states))');
      params.states = jsonList(filter.states);
    }
    // LIMIT -1 is SQLite for "no limit".
    params.limit = filter.limit ?? -1;
    const sql = `SELECT * FROM jobs ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY id LIMIT @limit`;
    let stmt = cache.get(sql);
    if (!stmt) {
      stmt = db.prepare(sql);
      cache.set(sql, stmt);
    }
    return stmt.all(params) as JobRecord[];
  };
}
