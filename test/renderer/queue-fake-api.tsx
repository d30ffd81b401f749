import { render } from '@testing-library/react';
import type { ReactNode } from 'react';
import { vi } from 'vitest';
import { JOB_STATES, type JobState } from '../../core/shared/job-state.ts';
import { JobsPageSchema, JobViewSchema, type JobView } from '../../core/shared/protocol/index.ts';
import type { ApiClient } from '../../renderer/src/api/client.ts';
import { AppContext, createEventsHub, type AppServices, type EventsHub } from '../../renderer/src/app-context.tsx';
import type { EncodeFarmBridge } from '../../renderer/src/bridge.ts';

/** Fakes shared by the queue, job detail, submit and shell tests. */
export const NOW = Date.UTC(2025, 0, 15, 12, 0, 0);

/** A stand-in coordinator: unfaked methods reject, so a test sees every call it did not expect. */
export function fake(methods: Partial<ApiClient>): ApiClient {
  return new Proxy(methods, {
    get: (t, k: string) => t[k as keyof ApiClient] ?? (() => Promise.reject(new Error(`fake api: ${k} not faked`))),
  }) as ApiClient;
}

/** A schema-valid job row. */
export function job(id: number, over: Partial<JobView> = {}): JobView {
  return JobViewSchema.parse({
    id,
    batchId: 1,
    inputPath: `/videos/clip-${id}.mp4`,
    presetId: 'h264-fast',
    outputPath: `/out/clip-${id}.h264-fast.mp4`,
    state: 'queued',
    percent: 0,
    fps: 0,
    etaS: null,
    attempts: 0,
    agentId: null,
    deviceId: null,
    inputSize: 12_300_000,
    outputSize: null,
    finalPath: null,
    errorKind: null,
    errorMessage: null,
    blockReason: null,
    speed: 0,
    priority: 0,
    createdAt: NOW - 60_000,
    startedAt: null,
    finishedAt: null,
    encodeMs: null,
    durationS: 30,
    ...over,
  });
}

const zeroCounts = () => Object.fromEntries(JOB_STATES.map((s) => [s, 0])) as Record<JobState, number>;

/**
 * `GET /jobs` over `total` synthetic jobs (ids 1…total, made on demand so 100k cost nothing),
 * honouring offset/limit and a state filter.
 */
export function jobsEndpoint(total: number, make: (id: number) => JobView = (id) => job(id)) {
  return vi.fn<ApiClient['jobs']>(async (q = {}) => {
    const offset = q.offset ?? 0;
    const limit = q.limit ?? 200;
    const all = (id: number) => make(id);
    const states = q.states ?? [];
    const counts = zeroCounts();
    if (total <= 5000) for (let id = 1; id <= total; id++) counts[all(id).state]++;
    else counts.queued = total;
    let ids: number[];
    let matching: number;
    if (states.length === 0 && !q.q) {
      matching = total;
      ids = Array.from({ length: Math.max(0, Math.min(limit, total - offset)) }, (_, k) => offset + k + 1);
    } else {
      const hits = Array.from({ length: total }, (_, k) => k + 1).filter((id) => {
        const j = all(id);
        return (states.length === 0 || states.includes(j.state)) && (!q.q || j.inputPath.includes(q.q));
      });
      matching = hits.length;
      ids = hits.slice(offset, offset + limit);
    }
    return JobsPageSchema.parse({ total: matching, offset, jobs: ids.map(all), counts });
  });
}

export interface Rendered {
  events: EventsHub;
  services: AppServices;
}

export function servicesFor(api: ApiClient, bridge?: EncodeFarmBridge): AppServices {
  return { api, connection: { baseUrl: '', token: 't' }, events: createEventsHub(), bridge, now: () => NOW };
}

/** Renders `ui` inside the real AppContext provider with the given fake API (and bridge). */
export function renderWithApp(ui: ReactNode, api: ApiClient, bridge?: EncodeFarmBridge): Rendered & ReturnType<typeof render> {
  const services = servicesFor(api, bridge);
  const result = render(<AppContext.Provider value={services}>{ui}</AppContext.Provider>);
  return { ...result, events: services.events, services };
}

/**
 * happy-dom lays nothing out, so the virtualiser would see a 0 px viewport; give every element
 * a 600 × 800 client box for the test.
 */
export function fakeViewport(height = 600, width = 800): () => void {
  const h = vi.spyOn(HTMLElement.prototype, 'clientHeight', 'get').mockReturnValue(height);
  const w = vi.spyOn(HTMLElement.prototype, 'clientWidth', 'get').mockReturnValue(width);
  const o = vi.spyOn(HTMLElement.prototype, 'offsetHeight', 'get').mockReturnValue(height);
  return () => {
    h.mockRestore();
    w.mockRestore();
    o.mockRestore();
  };
}

/** A fake desktop bridge with spies. */
export function fakeBridge(over: Partial<EncodeFarmBridge> = {}): EncodeFarmBridge {
  return {
    getPathForFile: vi.fn((f: File) => `/real/${f.name}`),
    pickFiles: vi.fn(async () => []),
    pickFolder: vi.fn(async () => null),
    ...over,
  };
}
