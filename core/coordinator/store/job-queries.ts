import type { JobState } from '../../shared/job-state.ts';
import type { JobSort } from '../../shared/protocol/index.ts';
import type { HistoryTotals, JobQuery, JobRow, JobStore, ThroughputBucket } from '../ports.ts';
import { jsonList, type Db } from './db.ts';
import { toJobRow, type JobRecord } from './row-mapping.ts';

type JobQueries = Pick<
  JobStore,
  'countJobsByState' | 'queryJobs' | 'countOpenJobsWithPreset' | 'historyTotals' | 'listFinished' | 'throughput'
>;

const FINISHED = `state IN ('done', 'failed', 'canceled')`;

/** The queue view's state groups: in flight, queued, paused, blocked, finished. */
const QUEUE_GROUP: Record<JobState, number> = {
  running: 0,
  leased: 0,
  verifying: 0,
  queued: 1,
  paused: 2,
  blocked: 3,
  done: 4,
  failed: 4,
  canceled: 4,
};

/**
 * The queue view's order: in-flight jobs, then queued, paused and blocked ones in claim order,
 * then finished jobs newest first. Index jobs_queue_view (migration 005) is built on exactly these
 * expressions (SQLite matches them as written), so a page is read by walking the index.
 */
const QUEUE_ORDER: readonly string[] = [
  `(CASE state WHEN 'running' THEN 0 WHEN 'leased' THEN 0 WHEN 'verifying' THEN 0
              WHEN 'queued' THEN 1 WHEN 'paused' THEN 2 WHEN 'blocked' THEN 3 ELSE 4 END)`,
  `(CASE WHEN state IN ('done', 'failed', 'canceled') THEN 0 ELSE -priority END)`,
  `(CASE WHEN state IN ('done', 'failed', 'canceled') THEN -id ELSE rank END)`,
];

/** A sort key and whether it runs backwards in the ascending order. */
type Key = readonly [expr: string, descending?: boolean];

/**
 * Sort keys of each view order before the final `id`; each order has an index to walk
 * (progress aside: its column changes with every progress update). Column names are ours.
 */
const SORT_KEYS: Record<JobSort, readonly Key[]> = {
  queue: QUEUE_ORDER.map((e) => [e]),
  id: [],
  input: [['input_path']],
  // States in name order, each in claim order: the claim index (state, priority DESC, rank, id).
  state: [['state'], ['priority', true], ['rank']],
  progress: [['percent']],
  size: [['input_size']],
  finished: [['finished_at']],
};

/** The ORDER BY clause of a view order in one direction. */
function orderBy(sort: JobSort, dir: 'asc' | 'desc'): string {
  const flip = dir === 'desc';
  return [...SORT_KEYS[sort], ['id'] as Key].map(([expr, desc = false]) => `${expr} ${desc !== flip ? 'DESC' : 'ASC'}`).join(', ');
}

/** `text` as a LIKE pattern matching it anywhere, with LIKE's own wildcards taken literally. */
export function containsPattern(text: string): string {
  return `%${text.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}

/**
 * The WHERE clause and parameters of a query; only the filters present appear (so indexes apply).
 * For the queue order a state filter also bounds its state groups: the leading column of
 * jobs_queue_view, so the page is an index range walk instead of a sort of every matching job.
 */
function whereOf(q: JobQuery): { sql: string; params: Record<string, string | number> } {
  const where: string[] = [];
  const params: Record<string, string | number> = {};
  if (q.states.length) {
    where.push('state IN (SELECT value FROM json_each(@states))');
    params.states = jsonList(q.states);
    if (q.sort === 'queue') {
      // A range, not IN: SQLite sorts after an IN of one value, but walks a range in order.
      const groups = q.states.map((s) => QUEUE_GROUP[s]);
      where.push(`${QUEUE_ORDER[0]} BETWEEN ${Math.min(...groups)} AND ${Math.max(...groups)}`);
    }
  }
  if (q.q !== '') {
    where.push(`(input_path LIKE @q ESCAPE '\\' OR output_path LIKE @q ESCAPE '\\')`);
    params.q = containsPattern(q.q);
  }
  if (q.batchId !== undefined) {
    where.push('batch_id = @batchId');
    params.batchId = q.batchId;
  }
  return { sql: where.length ? `WHERE ${where.join(' AND ')}` : '', params };
}

/** Prepares each distinct SQL text once (a bounded set: filters × sorts × directions). */
function statementCache(db: Db): (sql: string) => ReturnType<Db['prepare']> {
  const cache = new Map<string, ReturnType<Db['prepare']>>();
  return (sql) => {
    let stmt = cache.get(sql);
    if (!stmt) {
      stmt = db.prepare(sql);
      cache.set(sql, stmt);
    }
    return stmt;
  };
}

/**
 * The SQL of one queue page and of its total. For the queue order the planner would rather seek a
 * state filter in the claim index and sort what it finds, which at 100k queued jobs is the slow
 * plan: that order walks its own index.
 */
export function jobsPageSql(q: JobQuery): { page: string; count: string; params: Record<string, string | number> } {
  const where = whereOf(q);
  const from = q.sort === 'queue' ? 'jobs INDEXED BY jobs_queue_view' : 'jobs';
  return {
    // The page also takes @limit and @offset.
    page: `SELECT * FROM ${from} ${where.sql} ORDER BY ${orderBy(q.sort, q.dir)} LIMIT @limit OFFSET @offset`,
    count: `SELECT COUNT(*) AS n FROM jobs ${where.sql}`,
    params: where.params,
  };
}

/** Read-only queries of the UI: the paged queue, counts, and the history view. */
export function jobQueries(db: Db): JobQueries {
  const prepared = statementCache(db);
  const countsAll = db.prepare<[], { state: string; n: number }>('SELECT state, COUNT(*) AS n FROM jobs GROUP BY state');
  const countsOfBatch = db.prepare<[number], { state: string; n: number }>(
    'SELECT state, COUNT(*) AS n FROM jobs WHERE batch_id = ? GROUP BY state',
  );
  const openWithPreset = db
    .prepare<[string], number>(`SELECT COUNT(*) FROM jobs WHERE preset_id = ? AND NOT ${FINISHED}`)
    .pluck();
  const totals = db.prepare<[], Record<keyof HistoryTotals, number | null>>(`
    SELECT SUM(state = 'done') AS done, SUM(state = 'failed') AS failed, SUM(state = 'canceled') AS canceled,
           SUM(CASE WHEN state = 'done' THEN encode_ms END) AS encodeMs,
           SUM(CASE WHEN state = 'done' THEN input_size END) AS inputBytes,
           SUM(CASE WHEN state = 'done' THEN output_size END) AS outputBytes,
           SUM(CASE WHEN state = 'done' THEN input_size - output_size END) AS savedBytes
    FROM jobs WHERE ${FINISHED}`);
  // finished_at is set whenever a job reaches one of these states (and cleared by a retry).
  const finished = db.prepare<[number, number], JobRecord>(`
    SELECT * FROM jobs INDEXED BY jobs_finished WHERE ${FINISHED} AND finished_at IS NOT NULL
    ORDER BY finished_at DESC, id DESC LIMIT ? OFFSET ?`);
  const buckets = db.prepare<{ start: number; end: number; bucket: number }, ThroughputBucket & { b: number }>(`
    SELECT CAST((finished_at - @start) / @bucket AS INTEGER) AS b,
           SUM(state = 'done') AS done, SUM(state = 'failed') AS failed,
           COALESCE(SUM(CASE WHEN state = 'done' THEN output_size END), 0) AS outputBytes
    FROM jobs
    WHERE finished_at >= @start AND finished_at < @end AND state IN ('done', 'failed')
    GROUP BY b`);

  const countsOf = (rows: { state: string; n: number }[]) => Object.fromEntries(rows.map((r) => [r.state, r.n]));

  return {
    countJobsByState: (batchId) => countsOf(batchId === undefined ? countsAll.all() : countsOfBatch.all(batchId)),

    queryJobs: (q) => {
      const sql = jobsPageSql(q);
      const total = prepared(sql.count).get(sql.params) as { n: number };
      const rows = prepared(sql.page).all({ ...sql.params, limit: q.limit, offset: q.offset }) as JobRecord[];
      return { total: total.n, jobs: rows.map(toJobRow) };
    },

    countOpenJobsWithPreset: (presetId) => openWithPreset.get(presetId) ?? 0,

    historyTotals: () => {
      const t = totals.get()!;
      return {
        done: t.done ?? 0,
        failed: t.failed ?? 0,
        canceled: t.canceled ?? 0,
        encodeMs: t.encodeMs ?? 0,
        inputBytes: t.inputBytes ?? 0,
        outputBytes: t.outputBytes ?? 0,
        savedBytes: t.savedBytes ?? 0,
      };
    },

    listFinished: (offset, limit): JobRow[] => finished.all(limit, offset).map(toJobRow),

    throughput: (start, bucketMs, count) => {
      const found = new Map(buckets.all({ start, end: start + bucketMs * count, bucket: bucketMs }).map((r) => [r.b, r]));
      // Every bucket is listed, empty ones too, so a chart needs no gap filling.
      return Array.from({ length: count }, (_, i) => {
        const r = found.get(i);
        return { at: start + i * bucketMs, done: r?.done ?? 0, failed: r?.failed ?? 0, outputBytes: r?.outputBytes ?? 0 };
      });
    },
  };
}
