import { JOB_STATES, type JobState } from '../../core/shared/job-state.ts';
import type { JobView, JobsPage } from '../../core/shared/protocol/index.ts';
import type { JobsQuery } from '../../electron/main/farm-client.ts';

/** A job as the API shows it, with only what a test cares about set. */
export function jobView(over: Partial<JobView> & { id: number; state: JobState }): JobView {
  return {
    batchId: 1,
    inputPath: `/videos/clip-${over.id}.mkv`,
    presetId: 'h264-fast',
    outputPath: `/out/clip-${over.id}.mp4`,
    percent: 0,
    fps: 0,
    etaS: null,
    attempts: 0,
    agentId: null,
    deviceId: null,
    inputSize: null,
    outputSize: null,
    finalPath: null,
    errorKind: null,
    errorMessage: null,
    blockReason: null,
    speed: 0,
    priority: 0,
    createdAt: 0,
    startedAt: null,
    finishedAt: null,
    encodeMs: null,
    durationS: null,
    ...over,
  } as JobView;
}

/**
 * A FAKE coordinator for main's farm client: a list of jobs the test edits, answering
 * `jobs(query)` the way GET /api/v1/jobs does (filter by states and batch, counts of all).
 */
export class FakeFarm {
  jobs: JobView[] = [];
  queries: JobsQuery[] = [];
  failNext = false;

  set(id: number, patch: Partial<JobView>): void {
    const j = this.jobs.find((x) => x.id === id);
    if (!j) throw new Error(`no job ${id}`);
    Object.assign(j, patch);
  }

  readonly client = {
    jobs: async (q: JobsQuery): Promise<JobsPage> => {
      this.queries.push(q);
      if (this.failNext) {
        this.failNext = false;
        throw new Error('ECONNREFUSED');
      }
      let rows = this.jobs.filter((j) => (!q.states?.length || q.states.includes(j.state)) && (q.batchId === undefined || j.batchId === q.batchId));
      if (q.sort === 'finished') rows = [...rows].sort((a, b) => (b.finishedAt ?? 0) - (a.finishedAt ?? 0));
      const counts = Object.fromEntries(JOB_STATES.map((s) => [s, this.jobs.filter((j) => j.state === s).length]));
      return { total: rows.length, offset: 0, jobs: rows.slice(0, q.limit), counts };
    },
  };
}

/** Lets the monitor's poll (a chain of awaited fake requests) run to its end. */
export async function settle(): Promise<void> {
  for (let i = 0; i < 20; i++) await Promise.resolve();
}
