import { z } from 'zod';
import { JOB_STATES, type JobState } from '../../shared/job-state.ts';
import { JOB_SORTS, JobsQuerySchema, type JobsPage } from '../../shared/protocol/index.ts';
import type { JobStore } from '../ports.ts';
import { jobView } from './job-view.ts';
import { intParam, parseQuery } from './query-params.ts';

const isState = (s: string): s is JobState => (JOB_STATES as readonly string[]).includes(s);

/** `state=queued,paused`: a comma-separated list of job states ('' = every state). */
const stateList = z.string().transform((text, ctx): JobState[] => {
  const states = text.split(',').map((s) => s.trim()).filter((s) => s !== '');
  const unknown = states.filter((s) => !isState(s));
  if (unknown.length) ctx.addIssue({ code: 'custom', message: `unknown state(s) ${unknown.join(', ')} (known: ${JOB_STATES.join(', ')})` });
  return states.filter(isState);
});

/** GET /jobs as the query string carries it; unknown parameters are ignored. */
const JobsParamsSchema = z.object({
  state: stateList.optional(),
  q: z.string().max(500, 'must be at most 500 characters').optional(),
  sort: z.enum(JOB_SORTS, { error: `must be one of ${JOB_SORTS.join(', ')}` }).optional(),
  dir: z.enum(['asc', 'desc'], { error: 'must be asc or desc' }).optional(),
  offset: intParam(0, 1_000_000_000).optional(),
  limit: intParam(1, 1000).optional(),
  batch: intParam(1, Number.MAX_SAFE_INTEGER).optional(),
});

/** Every state with its count (zero included), so filter chips never miss one. */
export function allStateCounts(store: Pick<JobStore, 'countJobsByState'>): Record<JobState, number> {
  const counts = store.countJobsByState();
  return Object.fromEntries(JOB_STATES.map((s) => [s, counts[s] ?? 0])) as Record<JobState, number>;
}

/**
 * GET /jobs: one page of the filtered, sorted queue, how many jobs match, and the count of every
 * state over all jobs (filters ignored). Defaults: every state, `sort=queue`, `dir=asc`, 200 jobs.
 */
export function jobsPage(store: Pick<JobStore, 'queryJobs' | 'countJobsByState'>, query: URLSearchParams): JobsPage {
  const p = parseQuery(query, JobsParamsSchema);
  const q = JobsQuerySchema.parse({ states: p.state, q: p.q, sort: p.sort, dir: p.dir, offset: p.offset, limit: p.limit, batchId: p.batch });
  const { total, jobs } = store.queryJobs(q);
  return { total, offset: q.offset, jobs: jobs.map(jobView), counts: allStateCounts(store) };
}
