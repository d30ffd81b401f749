import { z } from 'zod';
import {
  API_PREFIX,
  WatchFolderCreateSchema,
  type WatchFolderResponse,
  type WatchFoldersResponse,
  type WatchFolderView,
} from '../../shared/protocol/index.ts';
import type { JobStore, WatchFolderRow } from '../ports.ts';
import type { PresetSource } from '../coordinator.ts';
import type { Route } from '../server/router.ts';
import { fieldErrors, summarise } from '../server/router.ts';
import { validateWatchFolder } from '../watch/watch-config.ts';
import { WatchConfigError, WatchFolderExistsError } from '../watch/watch-errors.ts';
import { ApiRequestError } from './farm-api.ts';
import { handle } from './handle.ts';
import { idParam } from './query-params.ts';

export interface WatchRouteDeps {
  store: Pick<JobStore, 'listWatchFolders' | 'addWatchFolder' | 'removeWatchFolder' | 'getWatchFolder'>;
  presets: Pick<PresetSource, 'get'>;
  /** Where a relative path would resolve; the API refuses relative paths, so only a fallback. */
  cwd: string;
  now: () => number;
  /** Starts or stops watchers now instead of at the next sync. */
  reload(): Promise<void>;
}

/** Any JSON value: the handler validates it and answers 422 with a message per field. */
const AnyJson = z.unknown();

/** What a folder the watcher has not looked at yet says (the next sync, within seconds, does). */
export const NOT_LOOKED_AT = 'not looked at yet';

/** A stored watch folder as the API shows it (WatchFolderViewSchema). */
export function watchFolderView(r: WatchFolderRow): WatchFolderView {
  return {
    id: r.id,
    path: r.path,
    presetId: r.presetId,
    outDir: r.outDir,
    recursive: r.recursive,
    include: r.include,
    exclude: r.exclude,
    afterAction: r.after.kind,
    archiveDir: r.after.kind === 'archive' ? r.after.dir : null,
    stabilityMs: r.stabilityMs,
    // Not yet looked at is not known to be watchable: shown offline, with the reason saying so.
    state: r.state === 'online' ? 'online' : 'offline',
    offlineReason: r.state === 'online' ? null : r.state === 'unknown' ? NOT_LOOKED_AT : r.offlineReason,
    createdAt: r.createdAt,
  };
}

/** The request field a WatchConfigError's field (named as the CLI names its options) stands for. */
function requestField(field: string, afterAction: 'keep' | 'archive'): string {
  switch (field) {
    case 'preset':
      return 'presetId';
    case 'out':
      return 'outDir';
    case 'after':
      return afterAction === 'archive' ? 'archiveDir' : 'afterAction';
    case 'stable':
    case 'stableS':
      return 'stabilityMs';
    default:
      return field;
  }
}

/**
 * `GET/POST /api/v1/watch`, `DELETE /api/v1/watch/:id`: watch folders in WatchFolderViewSchema's
 * shape. A refused folder is a 422 naming the field (409 when the path is watched already).
 */
export function watchRoutes(deps: WatchRouteDeps): Route[] {
  const r = (method: string, path: string, handler: Route['handler']): Route => ({ method, path: API_PREFIX + path, auth: 'api', handler });
  return [
    r('GET', '/watch', handle((): WatchFoldersResponse => ({ folders: deps.store.listWatchFolders().map(watchFolderView) }))),
    r(
      'POST',
      '/watch',
      handle(async (ctx): Promise<WatchFolderResponse> => {
        const parsed = WatchFolderCreateSchema.safeParse(await ctx.readJson(AnyJson));
        if (!parsed.success) {
          throw new ApiRequestError(422, 'invalid-watch-folder', summarise(parsed.error.issues), fieldErrors(parsed.error.issues));
        }
        const req = parsed.data;
        let folder: WatchFolderRow;
        try {
          const valid = validateWatchFolder(
            {
              path: req.path,
              preset: req.presetId,
              out: req.outDir,
              recursive: req.recursive,
              include: req.include,
              exclude: req.exclude,
              after: req.afterAction === 'archive' ? `archive:${req.archiveDir ?? ''}` : 'keep',
              ...(req.stabilityMs !== null && { stableS: req.stabilityMs / 1000 }),
            },
            { cwd: deps.cwd, presetExists: (id) => deps.presets.get(id) !== undefined },
          );
          folder = deps.store.addWatchFolder(valid, deps.now());
        } catch (err) {
          if (err instanceof WatchFolderExistsError) {
            throw new ApiRequestError(409, 'watch-exists', err.message, { path: err.message });
          }
          if (err instanceof WatchConfigError) {
            const field = requestField(err.field, req.afterAction);
            throw new ApiRequestError(422, 'invalid-watch-folder', `${field}: ${err.message}`, { [field]: err.message });
          }
          throw err;
        }
        // The watcher's first look decides online or offline before the answer goes out.
        await deps.reload();
        return { folder: watchFolderView(deps.store.getWatchFolder(folder.id) ?? folder) };
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
