import { JOB_STATES } from '../../shared/job-state.ts';
import type {
  AgentView,
  BatchView,
  JobActionRequestSchema,
  StatusResponse,
  SubmitRequestSchema,
  SubmitResponse,
} from '../../shared/protocol/index.ts';
import type { z } from 'zod';
import type { Coordinator } from '../coordinator.ts';
import type { JobStore } from '../ports.ts';
import type { PresetCatalog } from '../preset-catalog.ts';
import { planBatch } from '../intake/plan-batch.ts';
import { jobView } from './job-view.ts';

/** A request the API refuses, with the HTTP status and a code the client can act on. */
export class ApiRequestError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'ApiRequestError';
  }
}


function batchView(store: JobStore, id: number): BatchView | undefined {
  const b = store.getBatch(id);
  if (!b) return undefined;
  const counts: Record<string, number> = {};
  for (const j of store.listJobs({ batchId: id })) counts[j.state] = (counts[j.state] ?? 0) + 1;
  return { id: b.id, label: b.label, presetId: b.presetId, state: b.state, createdAt: b.createdAt, counts };
}

/** Recent batches with counts per state, and the jobs of one batch (default: the latest). */
export function statusView(store: JobStore, q: { batchId?: number; limit?: number }): StatusResponse {
  const batches = store.listBatches(q.limit ?? 10).map((b) => batchView(store, b.id)!);
  const batchId = q.batchId ?? batches[0]?.id ?? null;
  if (q.batchId !== undefined && !store.getBatch(q.batchId)) throw new ApiRequestError(404, 'no-such-batch', `no batch ${q.batchId}`);
  const jobs = batchId === null ? [] : store.listJobs({ batchId }).map(jobView);
  return { batches, batchId, jobs };
}


/**
 * What the HTTP API does, without HTTP: submit, status, job actions and the agents view. Routes
 * validate bodies with the shared zod schemas and call these.
 */
export function createFarmApi(deps: { coordinator: Coordinator; store: JobStore; presets: PresetCatalog; cwd: string }) {
  const { coordinator, store, presets } = deps;

  async function submit(req: z.infer<typeof SubmitRequestSchema>): Promise<SubmitResponse> {
    const preset = presets.get(req.presetId);
    if (!preset) {
      const known = presets.list().map((p) => p.preset.id).join(', ');
      throw new ApiRequestError(400, 'unknown-preset', `unknown preset "${req.presetId}" (known: ${known})`);
    }
    const planned = await planBatch({ ...req, preset }, deps.cwd, (p) => store.farmOutputsAmong(p));
    if (!planned.submission) throw new ApiRequestError(422, 'nothing-to-encode', ['nothing to encode', ...planned.errors].join('\n'));
    const r = coordinator.submit(planned.submission);
    return { batchId: r.batch.id, jobIds: r.jobIds, resumed: r.resumed, errors: planned.errors };
  }

  const status = (q: { batchId?: number; limit?: number }) => statusView(store, q);

  function jobAction(req: z.infer<typeof JobActionRequestSchema>): number[] {
    if (!req.batch) {
      const act = { cancel: coordinator.cancelJobs, pause: coordinator.pauseJobs, resume: coordinator.resumeJobs, retry: coordinator.retryJobs }[req.action];
      return act(req.ids);
    }
    for (const b of req.ids) if (!store.getBatch(b)) throw new ApiRequestError(404, 'no-such-batch', `no batch ${b}`);
    return req.ids.flatMap((b) => {
      if (req.action === 'cancel') return coordinator.cancelBatch(b);
      if (req.action === 'retry') return coordinator.retryBatch(b);
      // A batch's pause and resume hold or release all of it, queued jobs included.
      if (req.action === 'pause') coordinator.pauseBatch(b);
      else coordinator.resumeBatch(b);
      return store.listJobs({ batchId: b }).map((j) => j.id);
    });
  }

  function agents(): AgentView[] {
    const connected = new Set(coordinator.connectedAgents());
    const devices = coordinator.devices();
    const view = (id: string) =>
      devices
        .filter((d) => d.agentId === id)
        .map((d) => ({ id: d.id, label: d.label, slots: d.slots, busy: d.busy.size, state: d.state }));
    const enrolled: AgentView[] = store.listAgents().map((a) => ({
      id: a.id,
      name: a.name,
      tags: a.tags,
      state: a.state,
      connected: connected.has(a.id),
      revoked: a.revokedAt !== null,
      busy: coordinator.busyOf(a.id),
      devices: view(a.id),
      lastSeenAt: a.lastSeenAt,
    }));
    // This machine's in-process agent is not enrolled; it is listed all the same.
    const local: AgentView[] = [...connected]
      .filter((id) => id.startsWith('local:'))
      .map((id) => ({ id, name: 'this machine', tags: [], state: 'active', connected: true, revoked: false, busy: coordinator.busyOf(id), devices: view(id), lastSeenAt: null }));
    return [...local, ...enrolled];
  }

  function jobCounts(): Record<string, number> {
    const counts = store.countJobsByState();
    return Object.fromEntries(JOB_STATES.map((s) => [s, counts[s] ?? 0]));
  }

  return { submit, status, jobAction, agents, jobCounts };
}

export type FarmApi = ReturnType<typeof createFarmApi>;
