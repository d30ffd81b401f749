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
import type { JobStore, OnExists } from '../ports.ts';
import type { PresetCatalog } from '../preset-catalog.ts';
import { planBatch } from '../intake/plan-batch.ts';
import { jobView } from './job-view.ts';
import { allStateCounts } from './jobs-query.ts';

/** A request the API refuses, with the HTTP status and a code the client can act on. */
export class ApiRequestError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    /** Per-field messages of a validation failure (422), keyed by the field's dotted path. */
    readonly fields?: Readonly<Record<string, string>>,
  ) {
    super(message);
    this.name = 'ApiRequestError';
  }
}

/** A batch with its job counts per state (one grouped count, however big the batch). */
export function batchView(store: Pick<JobStore, 'getBatch' | 'countJobsByState'>, id: number): BatchView | undefined {
  const b = store.getBatch(id);
  if (!b) return undefined;
  const counts = store.countJobsByState(id);
  return { id: b.id, label: b.label, presetId: b.presetId, state: b.state, createdAt: b.createdAt, counts };
}

/** Recent batches with counts per state, and the jobs of one batch (default: the latest). */
export function statusView(store: JobStore, q: { batchId?: number; limit?: number; withJobs?: boolean }): StatusResponse {
  const batches = store.listBatches(q.limit ?? 10).map((b) => batchView(store, b.id)!);
  const batchId = q.batchId ?? batches[0]?.id ?? null;
  if (q.batchId !== undefined && !store.getBatch(q.batchId)) throw new ApiRequestError(404, 'no-such-batch', `no batch ${q.batchId}`);
  // The UI's batch headers need only the counts; a 100k-job batch's rows are for the paged /jobs.
  const jobs = batchId === null || q.withJobs === false ? [] : store.listJobs({ batchId }).map(jobView);
  return { batches, batchId, jobs };
}


/** What a submission that leaves them out gets (the farm settings). */
export interface SubmitDefaults {
  defaultOutDir: string | null;
  onExists: OnExists;
}

export interface FarmApiDeps {
  coordinator: Coordinator;
  store: JobStore;
  presets: PresetCatalog;
  cwd: string;
  /** @default no output folder (beside each source), skip existing outputs */
  submitDefaults?: () => SubmitDefaults;
}

/**
 * What the HTTP API does, without HTTP: submit, status, job actions and the agents view. Routes
 * validate bodies with the shared zod schemas and call these.
 */
export function createFarmApi(deps: FarmApiDeps) {
  const { coordinator, store, presets } = deps;
  const defaults = deps.submitDefaults ?? (() => ({ defaultOutDir: null, onExists: 'skip' as const }));

  async function submit(req: z.infer<typeof SubmitRequestSchema>): Promise<SubmitResponse> {
    const preset = presets.get(req.presetId);
    if (!preset) {
      const known = presets.list().map((p) => p.preset.id).join(', ');
      throw new ApiRequestError(400, 'unknown-preset', `unknown preset "${req.presetId}" (known: ${known})`);
    }
    const fallback = defaults();
    const request = { ...req, outDir: req.outDir ?? fallback.defaultOutDir, onExists: req.onExists ?? fallback.onExists, preset };
    const planned = await planBatch(request, deps.cwd, (p) => store.farmOutputsAmong(p));
    if (!planned.submission) throw new ApiRequestError(422, 'nothing-to-encode', ['nothing to encode', ...planned.errors].join('\n'));
    const r = coordinator.submit(planned.submission);
    return { batchId: r.batch.id, jobIds: r.jobIds, resumed: r.resumed, errors: planned.errors };
  }

  const status = (q: { batchId?: number; limit?: number; withJobs?: boolean }) => statusView(store, q);

  function jobAction(req: z.infer<typeof JobActionRequestSchema>): number[] {
    if (req.action === 'bump' || req.action === 'debump') {
      const place = req.action === 'bump' ? 'head' : 'tail';
      return coordinator.moveJobs(req.batch ? batchJobIds(req.ids) : req.ids, place);
    }
    if (!req.batch) {
      const act = { cancel: coordinator.cancelJobs, pause: coordinator.pauseJobs, resume: coordinator.resumeJobs, retry: coordinator.retryJobs }[req.action];
      return act(req.ids);
    }
    return batchActions(req.action, req.ids);
  }

  function requireBatches(ids: readonly number[]): void {
    for (const b of ids) if (!store.getBatch(b)) throw new ApiRequestError(404, 'no-such-batch', `no batch ${b}`);
  }

  /** The jobs of these batches, in submission order. */
  function batchJobIds(batchIds: readonly number[]): number[] {
    requireBatches(batchIds);
    return batchIds.flatMap((b) => store.listJobs({ batchId: b }).map((j) => j.id));
  }

  function batchActions(action: 'cancel' | 'pause' | 'resume' | 'retry', ids: readonly number[]): number[] {
    requireBatches(ids);
    return ids.flatMap((b) => {
      if (action === 'cancel') return coordinator.cancelBatch(b);
      if (action === 'retry') return coordinator.retryBatch(b);
      // A batch's pause and resume hold or release all of it, queued jobs included.
      if (action === 'pause') coordinator.pauseBatch(b);
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
      .map((id) => ({ id, name: 'this machine', tags: [], state: coordinator.isAgentHeld(id) ? 'paused' : 'active', connected: true, revoked: false, busy: coordinator.busyOf(id), devices: view(id), lastSeenAt: null }));
    return [...local, ...enrolled];
  }

  const jobCounts = (): Record<string, number> => allStateCounts(store);

  return { submit, status, jobAction, agents, jobCounts };
}

export type FarmApi = ReturnType<typeof createFarmApi>;
