import type { z } from 'zod';
import type { JobState } from '../../core/shared/job-state.ts';
import { API_PREFIX, JobActionResponseSchema, JobsPageSchema, StatusResponseSchema, type JobActionRequest } from '../../core/shared/protocol/index.ts';
import type { FarmConnection } from './connection.ts';

/** The slice of `fetch` main needs (a fake in tests). */
export type FetchLike = (
  url: string,
  init: { method: string; headers: Record<string, string>; body?: string; signal?: AbortSignal },
) => Promise<{ ok: boolean; status: number; json(): Promise<unknown> }>;

/** The coordinator did not answer, or answered with an error or an unexpected shape. */
export class FarmRequestError extends Error {
  override name = 'FarmRequestError';
}

export interface JobsQuery {
  states?: readonly JobState[];
  batchId?: number;
  sort?: 'finished' | 'queue';
  dir?: 'asc' | 'desc';
  limit: number;
}

/**
 * What main asks the coordinator (tray, taskbar progress, notifications), over the same HTTP API
 * and token as the UI, answers validated with the shared schemas.
 */
export function createFarmClient(deps: { fetch: FetchLike; connection: () => FarmConnection | null; timeoutMs?: number }) {
  async function call<S extends z.ZodType>(method: string, path: string, schema: S, body?: unknown): Promise<z.infer<S>> {
    const conn = deps.connection();
    if (!conn) throw new FarmRequestError('no coordinator yet');
    let res;
    try {
      res = await deps.fetch(`${conn.url}${API_PREFIX}${path}`, {
        method,
        headers: { authorization: `Bearer ${conn.token}`, ...(body !== undefined && { 'content-type': 'application/json' }) },
        ...(body !== undefined && { body: JSON.stringify(body) }),
        signal: AbortSignal.timeout(deps.timeoutMs ?? 10_000),
      });
    } catch (err) {
      throw new FarmRequestError(`${method} ${path}: the coordinator cannot be reached (${(err as Error).message})`);
    }
    if (!res.ok) throw new FarmRequestError(`${method} ${path}: HTTP ${res.status}`);
    const parsed = schema.safeParse(await res.json().catch(() => undefined));
    if (!parsed.success) throw new FarmRequestError(`${method} ${path}: unexpected answer`);
    return parsed.data;
  }

  return {
    jobs: (q: JobsQuery) => {
      const params = new URLSearchParams({ limit: String(q.limit) });
      if (q.states?.length) params.set('state', q.states.join(','));
      if (q.batchId !== undefined) params.set('batch', String(q.batchId));
      if (q.sort) params.set('sort', q.sort);
      if (q.dir) params.set('dir', q.dir);
      return call('GET', `/jobs?${params}`, JobsPageSchema);
    },
    /** Recent batches with their counts (and the jobs of the latest, which main ignores). */
    batches: async (limit: number) => (await call('GET', `/status?limit=${limit}`, StatusResponseSchema)).batches,
    jobAction: async (req: JobActionRequest) => (await call('POST', '/jobs/actions', JobActionResponseSchema, req)).changed,
  };
}

export type FarmClient = ReturnType<typeof createFarmClient>;
