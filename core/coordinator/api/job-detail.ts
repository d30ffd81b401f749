import type { AttemptView, JobDetail } from '../../shared/protocol/index.ts';
import type { AttemptRow, JobStore } from '../ports.ts';
import { ApiRequestError, batchView } from './farm-api.ts';
import { jobView } from './job-view.ts';
import type { ProbeCache } from './probe-cache.ts';

/** Lines of the ffmpeg log the detail view shows (all the store keeps by default). */
export const DETAIL_LOG_LINES = 200;

function attemptView(a: AttemptRow): AttemptView {
  return {
    epoch: a.epoch,
    agentId: a.agentId,
    deviceId: a.deviceId,
    startedAt: a.startedAt,
    endedAt: a.endedAt,
    outcome: a.outcome,
    errorKind: a.errorKind,
    errorMessage: a.errorMessage,
  };
}

/**
 * GET /jobs/:id: the job, its batch, every attempt, the log tail and what ffprobe says about the
 * source (probed on demand, cached per file version). 404 for an unknown job.
 */
export async function jobDetail(
  deps: { store: Pick<JobStore, 'getJob' | 'getBatch' | 'countJobsByState' | 'listAttempts' | 'logTail'>; probes: ProbeCache },
  id: number,
): Promise<JobDetail> {
  const { store } = deps;
  const job = store.getJob(id);
  if (!job) throw new ApiRequestError(404, 'no-such-job', `no job ${id}`);
  const batch = batchView(store, job.batchId);
  if (!batch) throw new ApiRequestError(404, 'no-such-batch', `job ${id}: its batch ${job.batchId} is gone`);
  const source = await deps.probes.describe(job.inputPath);
  return {
    job: jobView(job),
    batch,
    attempts: store.listAttempts(id).map(attemptView),
    log: store.logTail(id, DETAIL_LOG_LINES),
    probe: source.probe,
    probeError: source.probeError,
  };
}
