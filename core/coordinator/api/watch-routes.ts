import { z } from 'zod';
import { API_PREFIX } from '../../shared/protocol/index.ts';
import type { JobStore, WatchFolderRow } from '../ports.ts';
import type { PresetSource } from '../coordinator.ts';
import type { Route } from '../server/router.ts';
import { validateWatchFolder } from '../watch/watch-config.ts';
import { WatchConfigError } from '../watch/watch-errors.ts';
import { ApiRequestError } from './farm-api.ts';
import { handle } from './handle.ts';
import { idParam } from './query-params.ts';

export interface WatchRouteDeps {
  store: Pick<JobStore, 'listWatchFolders' | 'addWatchFolder' | 'removeWatchFolder' | 'getWatchFolder'>;
  presets: Pick<PresetSource, 'get'>;
  /** Relative paths in a request resolve against this (the coordinator's working directory). */
  cwd: string;
  now: () => number;
  /** Starts or stops watchers now instead of at the next sync. */
  reload(): Promise<void>;
}

const AnyJson = z.unknown();

/** `GET/POST /api/v1/watch`, `DELETE /api/v1/watch/:id`: watch folders, each refusal naming the folder. */
export function watchRoutes(deps: WatchRouteDeps): Route[] {
  const r = (method: string, path: string, handler: Route['handler']): Route => ({ method, path: API_PREFIX + path, auth: 'api', handler });
  return [
    r('GET', '/watch', handle(() => ({ folders: deps.store.listWatchFolders() }))),
    r(
      'POST',
      '/watch',
      handle(async (ctx): Promise<{ folder: WatchFolderRow }> => {
        const body = await ctx.readJson(AnyJson);
        let folder: WatchFolderRow;
        try {
          folder = deps.store.addWatchFolder(validateWatchFolder(body, { cwd: deps.cwd, presetExists: (id) => deps.presets.get(id) !== undefined }), deps.now());
        } catch (err) {
          if (err instanceof WatchConfigError) {
            const status = err.name === 'WatchFolderExistsError' ? 409 : 422;
            throw new ApiRequestError(status, status === 409 ? 'watch-exists' : 'invalid-watch-folder', err.message, { [err.field]: err.message });
          }
          throw err;
        }
        await deps.reload();
        return { folder };
      }),
    ),
    r(
      'DELETE',
      '/watch/:id',
      handle(async (ctx) => {
        const id = idParam(ctx.params.id, 'id');
        if (!deps.store.removeWatchFolder(id)) throw new ApiRequestError(404, 'no-such-watch-folder', `no watch folder ${id}`);
        await deps.reload();
        return { ok: true as const };
      }),
    ),
  ];
}
