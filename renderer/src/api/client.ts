import type { z } from 'zod';
import {
  API_PREFIX,
  AgentsResponseSchema,
  ApiErrorSchema,
  DevicesResponseSchema,
  HistoryResponseSchema,
  InboxUploadResponseSchema,
  JobActionResponseSchema,
  JobDetailSchema,
  JobsPageSchema,
  JoinTokenResponseSchema,
  OkSchema,
  PresetResponseSchema,
  PresetsResponseSchema,
  SettingsResponseSchema,
  StatusResponseSchema,
  SubmitResponseSchema,
  WatchFolderResponseSchema,
  WatchFoldersResponseSchema,
  type FarmSettings,
  type JobActionRequest,
  type JobsQuery,
  type SubmitRequest,
  type WatchFolderCreate,
} from '../../../core/shared/protocol/index.ts';

/** A refusal from the coordinator (or no answer at all: status 0), with what to show the user. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    /** Field-level messages of a validation failure, keyed by field name. */
    readonly fields: Record<string, string> = {},
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

export interface ApiClientOptions {
  /** Origin of the coordinator, e.g. `http://127.0.0.1:7400` ('' = the page's own origin). */
  baseUrl: string;
  token: string;
  fetch?: typeof fetch;
}

export type UploadProgress = (sentBytes: number, totalBytes: number) => void;

async function errorOf(res: Response): Promise<ApiError> {
  const text = await res.text().catch(() => '');
  try {
    const parsed = ApiErrorSchema.safeParse(JSON.parse(text));
    if (parsed.success) return new ApiError(res.status, parsed.data.error.code, parsed.data.error.message, parsed.data.error.fields);
  } catch {
    // Not JSON: a proxy's page or an empty body; the status line says enough.
  }
  return new ApiError(res.status, 'http-error', `${res.status} ${res.statusText || 'error'}`.trim());
}

function queryString(q: Record<string, string | number | undefined>): string {
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(q)) if (v !== undefined && v !== '') params.set(k, String(v));
  const s = params.toString();
  return s ? `?${s}` : '';
}

/**
 * The coordinator's HTTP API for the UI. Every answer is validated with the shared zod schema, so
 * a version mismatch shows up as a clear error instead of a blank view.
 */
export function createApiClient(opts: ApiClientOptions) {
  const doFetch = opts.fetch ?? globalThis.fetch.bind(globalThis);
  const base = `${opts.baseUrl.replace(/\/$/, '')}${API_PREFIX}`;

  async function call<S extends z.ZodType>(method: string, path: string, schema: S, body?: unknown): Promise<z.infer<S>> {
    let res: Response;
    try {
      res = await doFetch(`${base}${path}`, {
        method,
        headers: { authorization: `Bearer ${opts.token}`, ...(body !== undefined && { 'content-type': 'application/json' }) },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch (err) {
      throw new ApiError(0, 'unreachable', `the coordinator cannot be reached (${(err as Error).message})`);
    }
    if (!res.ok) throw await errorOf(res);
    const parsed = schema.safeParse(await res.json());
    if (!parsed.success) throw new ApiError(res.status, 'bad-answer', `unexpected answer from ${method} ${path}: ${parsed.error.issues[0]?.message ?? 'invalid'}`);
    return parsed.data;
  }

  /** Streams one file to the coordinator's inbox; XHR because fetch reports no upload progress. */
  function upload(uploadId: string, file: File, onProgress?: UploadProgress, signal?: AbortSignal) {
    return new Promise<z.infer<typeof InboxUploadResponseSchema>>((resolve, reject) => {
      const xhr = new XMLHttpRequest();
      xhr.open('PUT', `${base}/inbox/${encodeURIComponent(uploadId)}/${encodeURIComponent(file.name)}`);
      xhr.setRequestHeader('authorization', `Bearer ${opts.token}`);
      xhr.setRequestHeader('content-type', 'application/octet-stream');
      xhr.upload.onprogress = (e) => onProgress?.(e.loaded, e.total || file.size);
      xhr.onerror = () => reject(new ApiError(0, 'unreachable', `${file.name}: the upload was cut off`));
      xhr.onabort = () => reject(new ApiError(0, 'aborted', `${file.name}: upload canceled`));
      xhr.onload = () => {
        const res = new Response(xhr.responseText, { status: xhr.status, statusText: xhr.statusText });
        if (xhr.status < 200 || xhr.status >= 300) return void errorOf(res).then((e) => reject(new ApiError(e.status, e.code, `${file.name}: ${e.message}`, e.fields)));
        const parsed = InboxUploadResponseSchema.safeParse(JSON.parse(xhr.responseText || 'null'));
        if (parsed.success) resolve(parsed.data);
        else reject(new ApiError(xhr.status, 'bad-answer', `${file.name}: unexpected answer to the upload`));
      };
      signal?.addEventListener('abort', () => xhr.abort(), { once: true });
      xhr.send(file);
    });
  }

  return {
    /** Recent batches with counts; `withJobs: false` leaves out the jobs of the latest (the queue pages those). */
    status: (batchId?: number, opts: { withJobs?: boolean; limit?: number } = {}) =>
      call('GET', `/status${queryString({ batch: batchId, limit: opts.limit, jobs: opts.withJobs === false ? 0 : undefined })}`, StatusResponseSchema),
    jobs: (q: JobsQuery = {}) =>
      call(
        'GET',
        `/jobs${queryString({ state: q.states?.join(','), q: q.q, sort: q.sort, dir: q.dir, offset: q.offset, limit: q.limit, batch: q.batchId })}`,
        JobsPageSchema,
      ),
    job: (id: number) => call('GET', `/jobs/${id}`, JobDetailSchema),
    jobAction: (req: JobActionRequest) => call('POST', '/jobs/actions', JobActionResponseSchema, req),
    moveJobs: (ids: number[], before: number | null) => call('POST', '/jobs/move', JobActionResponseSchema, { ids, before }),
    submit: (req: SubmitRequest) => call('POST', '/batches', SubmitResponseSchema, req),
    upload,
    devices: () => call('GET', '/devices', DevicesResponseSchema),
    agents: () => call('GET', '/agents', AgentsResponseSchema),
    agentAction: (id: string, action: 'pause' | 'drain' | 'resume' | 'revoke') =>
      call('POST', `/agents/${encodeURIComponent(id)}/actions`, OkSchema, { action }),
    createJoinToken: () => call('POST', '/agents/join-tokens', JoinTokenResponseSchema),
    presets: () => call('GET', '/presets', PresetsResponseSchema),
    createPreset: (data: unknown) => call('POST', '/presets', PresetResponseSchema, data),
    updatePreset: (id: string, data: unknown) => call('PUT', `/presets/${encodeURIComponent(id)}`, PresetResponseSchema, data),
    deletePreset: (id: string) => call('DELETE', `/presets/${encodeURIComponent(id)}`, OkSchema),
    history: (q: { offset?: number; limit?: number; bucketMs?: number; since?: number } = {}) =>
      call('GET', `/history${queryString(q)}`, HistoryResponseSchema),
    settings: () => call('GET', '/settings', SettingsResponseSchema),
    updateSettings: (patch: Partial<FarmSettings>) => call('PUT', '/settings', SettingsResponseSchema, patch),
    watchFolders: () => call('GET', '/watch', WatchFoldersResponseSchema),
    addWatchFolder: (body: WatchFolderCreate) => call('POST', '/watch', WatchFolderResponseSchema, body),
    removeWatchFolder: (id: number) => call('DELETE', `/watch/${id}`, OkSchema),
  };
}

export type ApiClient = ReturnType<typeof createApiClient>;
