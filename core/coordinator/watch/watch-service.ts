import type { EventEmitter } from 'node:events';
import type { Clock, TimerHandle } from '../../shared/clock.ts';
import type { Logger } from '../../shared/logger.ts';
import type { CoordinatorEvents, PresetSource, Submission, SubmitResult } from '../coordinator.ts';
import type { JobStore, SourceProber, WatchFolderRow } from '../ports.ts';
import { createFolderWatcher, type FolderWatcher } from './folder-watcher.ts';
import { mountKindOf, type MountKind } from './mount-kind.ts';
import type { RootFs } from './root-state.ts';

export interface WatchConfig {
  /** @default 300000 — full rescans, because file-system events get lost. */
  rescanMs: number;
  /** @default 10000 — how long a file must stay unchanged on a local disk. */
  stabilityMs: number;
  /** @default 30000 — the same on a network mount, whose writes arrive in bursts. */
  networkStabilityMs: number;
  /** @default 2000 — how often folder settings are re-read (another process may have changed them) and roots looked at. */
  syncMs: number;
  /** @default true */
  useEvents: boolean;
}

export const DEFAULT_WATCH_CONFIG: WatchConfig = {
  rescanMs: 300_000,
  stabilityMs: 10_000,
  networkStabilityMs: 30_000,
  syncMs: 2000,
  useEvents: true,
};

export interface WatchServiceDeps {
  store: JobStore;
  clock: Clock;
  logger: Logger;
  presets: Pick<PresetSource, 'get'>;
  prober: SourceProber;
  submit: (sub: Submission) => SubmitResult;
  /** The coordinator's events: a job that ends done triggers its folder's after-action. */
  events?: Pick<EventEmitter<CoordinatorEvents>, 'on' | 'off'>;
  config?: Partial<WatchConfig>;
  mountKind?: (dir: string) => MountKind;
  /**
   * blocked → queued for the jobs an offline folder held, attempts untouched. Pass the
   * coordinator's `resumeJobs` (it tells the UI and dispatches at once); the default is the
   * store's transition alone, which waits for the coordinator's next dispatch.
   */
  resumeJobs?: (ids: readonly number[]) => number[];
  /** The file-system calls that look at each root (a test fakes device ids). */
  rootFs?: RootFs;
}

export type WatchService = ReturnType<typeof createWatchService>;

/** Settings whose change means a folder's watcher starts over. */
function settingsKey(r: WatchFolderRow): string {
  return JSON.stringify([r.path, r.presetId, r.outDir, r.recursive, r.include, r.exclude, r.after, r.stabilityMs]);
}

/**
 * Every configured watch folder, kept in step with the database (the CLI's `watch add/rm` write
 * it directly; the next sync picks the change up), plus the after-action once a job is done.
 */
export function createWatchService(deps: WatchServiceDeps) {
  const { store, clock, logger } = deps;
  const config: WatchConfig = { ...DEFAULT_WATCH_CONFIG, ...deps.config };
  const mountKind = deps.mountKind ?? ((dir: string) => mountKindOf(dir));
  const resumeJobs = deps.resumeJobs ?? ((ids: readonly number[]) => store.resumeJobs(ids, clock.now()));
  const folders = new Map<number, { key: string; watcher: FolderWatcher }>();
  let syncTimer: TimerHandle | undefined;
  let syncing: Promise<void> | undefined;
  let closed = false;

  function windowFor(row: WatchFolderRow): number {
    if (row.stabilityMs !== null) return row.stabilityMs;
    return mountKind(row.path) === 'network' ? config.networkStabilityMs : config.stabilityMs;
  }

  async function syncOnce(): Promise<void> {
    const rows = store.listWatchFolders();
    const byId = new Map(rows.map((r) => [r.id, r]));
    for (const [id, f] of folders) {
      const row = byId.get(id);
      if (row && settingsKey(row) === f.key) continue;
      folders.delete(id);
      await f.watcher.close();
      logger.info('watch: folder stopped', { folder: id, path: f.watcher.root });
    }
    for (const row of rows) {
      if (closed) return;
      if (folders.has(row.id)) {
        await folders.get(row.id)!.watcher.checkRoot();
        continue;
      }
      const watcher = createFolderWatcher(row, {
        store,
        clock,
        logger,
        presets: deps.presets,
        prober: deps.prober,
        submit: deps.submit,
        stabilityMs: windowFor(row),
        rescanMs: config.rescanMs,
        useEvents: config.useEvents,
        resumeJobs,
        ...(deps.rootFs && { rootFs: deps.rootFs }),
      });
      folders.set(row.id, { key: settingsKey(row), watcher });
      logger.info('watch: folder started', { folder: row.id, path: watcher.root, stabilityMs: watcher.stabilityMs, recursive: row.recursive });
      await watcher.start();
    }
  }

  /** Re-reads the folder list now (serialised: one sync at a time). */
  function sync(): Promise<void> {
    syncing ??= syncOnce().finally(() => (syncing = undefined));
    return syncing;
  }

  function scheduleSync(): void {
    if (closed) return;
    syncTimer = clock.setTimeout(() => {
      void sync()
        .catch((err: unknown) => logger.error('watch: sync failed', { error: String(err) }))
        .finally(scheduleSync);
    }, config.syncMs);
  }

  const onEnded = ({ jobId, state }: { jobId: number; state: string }) => {
    // Every finished job of the farm passes here: no lookup at all while nothing is watched.
    if (state !== 'done' || folders.size === 0) return;
    const file = store.watchFileForJob(jobId);
    if (file) folders.get(file.folderId)?.watcher.archiveDone(file);
  };

  return {
    /** Starts every folder (a scan each, at once) and keeps them in step with the database. */
    async start(): Promise<void> {
      deps.events?.on('ended', onEnded);
      await sync();
      scheduleSync();
    },
    /** Picks up added, changed and removed folders now instead of at the next sync. */
    reload: sync,
    /** Scans every folder now. */
    async rescanAll(): Promise<void> {
      for (const f of folders.values()) await f.watcher.rescan();
    },
    folder: (id: number) => folders.get(id)?.watcher,
    async idle(): Promise<void> {
      await syncing;
      for (const f of folders.values()) await f.watcher.idle();
    },
    async close(): Promise<void> {
      closed = true;
      deps.events?.off('ended', onEnded);
      if (syncTimer) clock.clearTimeout(syncTimer);
      await syncing;
      for (const f of folders.values()) await f.watcher.close();
      folders.clear();
    },
  };
}
