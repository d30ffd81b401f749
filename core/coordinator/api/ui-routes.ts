import { z } from 'zod';
import { API_PREFIX, JobMoveRequestSchema, type DevicesResponse, type SettingsResponse } from '../../shared/protocol/index.ts';
import type { Coordinator } from '../coordinator.ts';
import type { JobStore } from '../ports.ts';
import { deviceView } from '../server/events-socket.ts';
import type { Route } from '../server/router.ts';
import { ApiRequestError } from './farm-api.ts';
import { handle } from './handle.ts';
import { historyView } from './history.ts';
import type { createInbox } from './inbox.ts';
import { jobDetail } from './job-detail.ts';
import { jobsPage } from './jobs-query.ts';
import type { ProbeCache } from './probe-cache.ts';
import type { createPresetsApi } from './presets-api.ts';
import { idParam } from './query-params.ts';
import type { FarmSettingsStore } from './settings.ts';

export interface UiRouteDeps {
  coordinator: Coordinator;
  store: JobStore;
  probes: ProbeCache;
  presets: ReturnType<typeof createPresetsApi>;
  settings: FarmSettingsStore;
  inbox: ReturnType<typeof createInbox>;
  /** The ffmpeg the farm uses and the folders it keeps, for the settings view. */
  about: Omit<SettingsResponse, 'settings'>;
  now: () => number;
}

/** Any JSON value: the handler validates it and answers 422 with a message per field. */
const AnyJson = z.unknown();

/** Devices with the frame rate of the jobs running on each (the sum of their fps) and their ids. */
export function devicesView(coordinator: Pick<Coordinator, 'devices'>, store: Pick<JobStore, 'getJob'>): DevicesResponse {
  return {
    devices: coordinator.devices().map((d) => {
      const jobs = [...d.busy];
      const fps = jobs.reduce((sum, id) => {
        const job = store.getJob(id);
        return job?.state === 'running' ? sum + job.fps : sum;
      }, 0);
      return { ...deviceView(d), fps, jobs };
    }),
  };
}

/** Checks a move before it reaches the store: the target must be a waiting job that is not moved. */
function checkMove(store: Pick<JobStore, 'getJob'>, ids: readonly number[], before: number | null): void {
  if (before === null) return;
  if (ids.includes(before)) {
    throw new ApiRequestError(400, 'invalid-move', 'before: must not be one of the moved ids', { before: 'must not be one of the moved ids' });
  }
  const target = store.getJob(before);
  if (!target) throw new ApiRequestError(404, 'no-such-job', `before: no job ${before}`, { before: `no job ${before}` });
  if (target.state !== 'queued' && target.state !== 'paused') {
    const why = `job ${before} is ${target.state}: only queued or paused jobs have a place in the queue`;
    throw new ApiRequestError(409, 'not-in-queue', `before: ${why}`, { before: why });
  }
}

/**
 * The routes the UI needs beyond the CLI's: the paged queue and job detail, reordering, devices
 * with fps, presets, history, settings and the browser upload inbox. All need the API token.
 */
export function uiRoutes(deps: UiRouteDeps): Route[] {
  const { coordinator, store, presets, settings } = deps;
  const r = (method: string, path: string, handler: Route['handler']): Route => ({ method, path: API_PREFIX + path, auth: 'api', handler });
  const settingsView = (): SettingsResponse => ({ settings: settings.get(), ...deps.about });
  return [
    r('GET', '/jobs', handle((ctx) => jobsPage(store, ctx.query))),
    r(
      'POST',
      '/jobs/move',
      handle(async (ctx) => {
        const { ids, before } = await ctx.readJson(JobMoveRequestSchema);
        checkMove(store, ids, before);
        return { changed: coordinator.moveJobs(ids, before === null ? 'tail' : { before }) };
      }),
    ),
    r('GET', '/jobs/:id', handle((ctx) => jobDetail({ store, probes: deps.probes }, idParam(ctx.params.id, 'id')))),
    r('GET', '/devices', handle(() => devicesView(coordinator, store))),
    r('GET', '/presets', handle(() => presets.list())),
    r('POST', '/presets', handle(async (ctx) => presets.create(await ctx.readJson(AnyJson)))),
    r('PUT', '/presets/:id', handle(async (ctx) => presets.update(ctx.params.id!, await ctx.readJson(AnyJson)))),
    r('DELETE', '/presets/:id', handle((ctx) => presets.remove(ctx.params.id!))),
    r('GET', '/history', handle((ctx) => historyView(store, ctx.query, deps.now()))),
    r('GET', '/settings', handle(() => settingsView())),
    r(
      'PUT',
      '/settings',
      handle(async (ctx) => {
        settings.update(await ctx.readJson(AnyJson));
        return settingsView();
      }),
    ),
    r('PUT', '/inbox/:uploadId/:name', (ctx) => deps.inbox.upload(ctx)),
  ];
}
