import { constants, promises as fsp, type Stats } from 'node:fs';
import path from 'node:path';
import { watch, type FSWatcher } from 'chokidar';
import type { Clock, TimerHandle } from '../../shared/clock.ts';
import type { Logger } from '../../shared/logger.ts';
import type { Submission, SubmitResult, PresetSource } from '../coordinator.ts';
import type { FileFingerprint, JobStore, SourceProber, WatchFileRow, WatchFolderRow } from '../ports.ts';
import { planOutputs } from '../intake/plan.ts';
import { archiveSource } from './archive-source.ts';
import { createFileFilter, isUnder, type FileFilter } from './file-filter.ts';
import { fingerprintOf, normalisePath, sameVersion } from './fingerprint.ts';
import { createOfflineHold, watchBatchKey } from './offline-block.ts';
import { lookAtRoot, type RootFs } from './root-state.ts';
import { StabilityTracker, MIN_STABLE_POLLS } from './stability.ts';

export interface FolderWatcherDeps {
  store: JobStore;
  clock: Clock;
  logger: Logger;
  presets: Pick<PresetSource, 'get'>;
  prober: SourceProber;
  submit: (sub: Submission) => SubmitResult;
  /** The window this folder uses (its own setting, or the default for its filesystem). */
  stabilityMs: number;
  rescanMs: number;
  /** chokidar events besides the rescans. @default true */
  useEvents?: boolean;
  /** @default 4 — ffprobes at once: a drop of 200 files must not start 200 processes. */
  probeConcurrency?: number;
  /** blocked → queued, attempts untouched: releases the jobs held while the folder was offline. */
  resumeJobs: (ids: readonly number[]) => number[];
  /** The file-system calls that look at the root (a test fakes device ids). */
  rootFs?: RootFs;
}

/** A version left alone until it changes: it failed the probe, or (until the next rescan) the open. */
interface Rejected {
  fp: FileFingerprint;
  untilRescan: boolean;
}

export type FolderWatcher = ReturnType<typeof createFolderWatcher>;

/**
 * One watch folder: chokidar events and periodic rescans feed candidates; a candidate becomes a
 * job only when it stayed the same for the stability window, opens for reading and ffprobe reads
 * it; its fingerprint is then recorded so nothing queues that version again. A missing,
 * unreadable or unmounted root is reported (offline) and watched for until it returns; its queued
 * jobs wait blocked meanwhile, nothing is failed, and they are queued again when it is back.
 */
export function createFolderWatcher(row: WatchFolderRow, deps: FolderWatcherDeps) {
  const { store, clock, logger } = deps;
  const root = normalisePath(row.path);
  // Outputs and archived sources inside the watched folder would be fed back in: never scanned.
  const excludedDirs = [row.outDir, ...(row.after.kind === 'archive' ? [row.after.dir] : [])].filter((d) => isUnder(d, root));
  const filter: FileFilter = createFileFilter({ root, include: row.include, exclude: row.exclude, excludedDirs });
  const tracker = new StabilityTracker(deps.stabilityMs);
  // Twice the looks the rule needs: a file counts as stable at the first look after its window
  // ends, so the look interval is how late it can be (bench/watch: window + ~0.35 s at window/3).
  const pollMs = Math.max(20, Math.ceil(deps.stabilityMs / (2 * MIN_STABLE_POLLS)));
  const rejected = new Map<string, Rejected>();
  const admitting = new Set<string>();
  const archiveTried = new Set<number>();
  const pending = new Set<Promise<unknown>>();
  let watcher: FSWatcher | undefined;
  let pollTimer: TimerHandle | undefined;
  let rescanTimer: TimerHandle | undefined;
  let online: boolean | undefined;
  /** Why the root is offline, as last written to the store. */
  let offlineWhy: string | undefined;
  /** The root's own device id while it is a mount point (see root-state.ts); loaded at the first look. */
  let mountDev: number | null | undefined;
  const offlineHold = createOfflineHold(row.id, root, { store, resumeJobs: deps.resumeJobs });
  let closed = false;
  const fields = { folder: row.id, path: root };
  const probeSlots = { free: deps.probeConcurrency ?? 4, waiters: [] as (() => void)[] };

  async function withProbeSlot<T>(fn: () => Promise<T>): Promise<T> {
    if (probeSlots.free > 0) probeSlots.free--;
    else await new Promise<void>((resolve) => probeSlots.waiters.push(resolve));
    try {
      return await fn();
    } finally {
      const next = probeSlots.waiters.shift();
      if (next) next();
      else probeSlots.free++;
    }
  }

  function track<T>(work: Promise<T>): void {
    const p = work.catch((err: unknown) => logger.error('watch: unexpected error', { ...fields, error: String((err as Error)?.stack ?? err) }));
    pending.add(p);
    void p.finally(() => pending.delete(p));
  }

  async function lstatOrNull(p: string): Promise<Stats | null> {
    try {
      return await fsp.lstat(p);
    } catch {
      return null;
    }
  }

  /** A path an event or a scan turned up: tracked for stability unless it is out of bounds or known. */
  async function consider(p: string, known?: Stats): Promise<void> {
    if (closed || !online) return;
    const abs = normalisePath(p);
    if (!isUnder(abs, root) || abs === root || !filter.takesFile(abs)) return;
    if (tracker.has(abs) || admitting.has(abs)) return;
    // lstat, never stat: a symlink is not followed (one pointing outside could feed the farm any
    // file on the machine; one pointing inside would encode its target twice), and a FIFO,
    // socket or folder named x.mp4 is seen for what it is without being opened.
    const st = known ?? (await lstatOrNull(abs));
    if (!st || !st.isFile()) {
      if (st?.isSymbolicLink()) logger.debug('watch: symlink ignored', { ...fields, file: abs });
      return;
    }
    const fp = fingerprintOf(abs, st);
    const r = rejected.get(abs);
    if (r && sameVersion(r.fp, fp)) return;
    if (store.findWatchFile(row.id, fp)) return;
    tracker.observe(fp, clock.now());
    schedulePoll();
  }

  function schedulePoll(): void {
    if (pollTimer || closed || tracker.size === 0) return;
    pollTimer = clock.setTimeout(() => track(poll()), pollMs);
  }

  async function poll(): Promise<void> {
    try {
      for (const p of tracker.paths()) {
        if (closed) return;
        const st = await lstatOrNull(p);
        if (!st?.isFile()) {
          tracker.forget(p);
          continue;
        }
        const fp = fingerprintOf(p, st);
        if (tracker.observe(fp, clock.now())) {
          tracker.forget(p);
          track(admit(fp));
        }
      }
    } finally {
      pollTimer = undefined;
      schedulePoll();
    }
  }

  function reject(fp: FileFingerprint, untilRescan: boolean, why: string): void {
    rejected.set(fp.path, { fp, untilRescan });
    logger.warn('watch: file not queued', { ...fields, file: fp.path, why });
  }

  /** The stable version of a file: opens, probes and queues it (once per fingerprint). */
  async function admit(fp: FileFingerprint): Promise<void> {
    if (admitting.has(fp.path)) return;
    admitting.add(fp.path);
    try {
      if (closed || store.findWatchFile(row.id, fp)) return;
      if (store.farmOutputsAmong([fp.path]).size) {
        rejected.set(fp.path, { fp, untilRescan: false });
        return;
      }
      // O_NONBLOCK: should the name have become a FIFO since the lstat, opening it cannot hang.
      try {
        const fh = await fsp.open(fp.path, constants.O_RDONLY | constants.O_NONBLOCK);
        try {
          if (!(await fh.stat()).isFile()) return reject(fp, false, 'not a regular file');
        } finally {
          await fh.close();
        }
      } catch (err) {
        // A writer's lock (SMB, Windows) or a permission: try again after the next rescan.
        return reject(fp, true, `cannot open for reading: ${(err as Error).message}`);
      }
      try {
        await withProbeSlot(() => deps.prober.probe(fp.path));
      } catch (err) {
        return reject(fp, false, `not a readable video: ${(err as Error).message}`);
      }
      const st = await lstatOrNull(fp.path);
      if (!st?.isFile()) return;
      const now = fingerprintOf(fp.path, st);
      if (!sameVersion(now, fp)) {
        // Written to while being probed: back to waiting for it to settle.
        tracker.observe(now, clock.now());
        schedulePoll();
        return;
      }
      // Gone offline while this was probed: the version is found again when the folder returns.
      if (!closed && online) queue(fp);
    } finally {
      admitting.delete(fp.path);
    }
  }

  function queue(fp: FileFingerprint): void {
    const preset = deps.presets.get(row.presetId);
    if (!preset) return reject(fp, true, `unknown preset "${row.presetId}"`);
    const relDir = path.relative(root, path.dirname(fp.path));
    const plan = planOutputs([{ path: fp.path, relDir }], preset, row.outDir);
    const job = plan.jobs[0];
    if (!job) return reject(fp, false, plan.errors.join('; '));
    // Versions of a path go to batches of their own (jobs are unique per path within a batch), and
    // a later version commits with a suffix: its output never replaces the earlier one's.
    const version = store.countWatchVersions(row.id, fp.path) + 1;
    const res = deps.submit({
      key: watchBatchKey(row.id, version),
      label: version === 1 ? `watch ${root}` : `watch ${root} (version ${version})`,
      presetId: row.presetId,
      outDir: row.outDir,
      onExists: version === 1 ? 'skip' : 'suffix',
      priority: 0,
      requireTags: [],
      jobs: [job],
    });
    const jobId = res.jobIds[0]!;
    store.recordWatchFile(row.id, fp, { jobId, batchId: res.batch.id }, clock.now());
    logger.info('watch: queued', { ...fields, file: fp.path, jobId, version });
  }

  /** Every file under the root, through the same checks as an event. */
  async function scan(): Promise<void> {
    for (const [p, r] of rejected) if (r.untilRescan) rejected.delete(p);
    const walk = async (dir: string): Promise<void> => {
      let entries;
      try {
        entries = await fsp.readdir(dir, { withFileTypes: true });
      } catch (err) {
        if (dir === root) logger.warn('watch: cannot list folder', { ...fields, error: (err as Error).message });
        return;
      }
      for (const e of entries) {
        if (closed || !online) return;
        const p = path.join(dir, e.name);
        if (e.isDirectory()) {
          if (row.recursive && filter.entersDir(p)) await walk(p);
        } else if (e.isFile() || e.isSymbolicLink()) {
          await consider(p);
        }
      }
    };
    await walk(root);
    await sweepArchive();
  }

  /**
   * What chokidar leaves alone. It gives every file it keeps an fs.watch of its own (an inotify
   * watch and a handle: ~7 KB and 0.2 ms of start-up each, 375 MB for a library of 50,000 files),
   * worth it only for a file that may still become a job. A version already queued or refused,
   * or a name the filter never takes, is left to its folder's watch: a change to it or a new
   * file under its name makes chokidar re-read the folder and judge the entry again.
   */
  function ignoredByEvents(abs: string, st: Stats | undefined): boolean {
    if (!st) return false;
    if (st.isDirectory()) return !filter.entersDir(abs);
    if (!st.isFile()) return false;
    if (!filter.takesFile(abs)) return true;
    const fp = fingerprintOf(abs, st);
    const r = rejected.get(abs);
    if (r && !r.untilRescan && sameVersion(r.fp, fp)) return true;
    return store.findWatchFile(row.id, fp) !== undefined;
  }

  async function startEvents(): Promise<void> {
    if (deps.useEvents === false || watcher) return;
    const w = watch(root, {
      ignoreInitial: true,
      followSymlinks: false,
      ignorePermissionErrors: true,
      ...(row.recursive ? {} : { depth: 0 }),
      ignored: (p: string, st?: Stats) => ignoredByEvents(normalisePath(p), st),
    });
    watcher = w;
    w.on('add', (p) => track(consider(p)));
    w.on('change', (p) => track(consider(p)));
    w.on('error', (err) => logger.warn('watch: event source error (rescans continue)', { ...fields, error: String(err) }));
    await new Promise<void>((resolve) => w.once('ready', () => resolve()));
  }

  async function stopEvents(): Promise<void> {
    const w = watcher;
    watcher = undefined;
    await w?.close();
  }

  /**
   * Looks at the root. Offline: reported, events stopped, queued jobs blocked — at every look, so
   * a job requeued since (a lost lease) is held too. Back online: exactly the jobs it blocked are
   * queued again, then a scan finds what arrived meanwhile (fingerprints keep the rest from
   * queueing twice).
   */
  async function checkRoot(): Promise<boolean> {
    if (mountDev === undefined) mountDev = store.watchFolderMountDev(row.id);
    const look = await lookAtRoot(root, mountDev, deps.rootFs);
    if (closed) return false;
    if (!look.online) {
      const wentOffline = online !== false;
      online = false;
      if (wentOffline) {
        tracker.clear();
        await stopEvents();
      }
      // Written before it is remembered: should the store refuse (busy), the next look tries again.
      if (look.why !== offlineWhy) {
        store.setWatchFolderState(row.id, 'offline', look.why);
        offlineWhy = look.why;
      }
      const held = offlineHold.hold(look.why);
      if (wentOffline) {
        logger.warn('watch: folder offline; its queued jobs wait blocked, nothing is failed', { ...fields, reason: look.why, blocked: held.length });
      } else if (held.length) {
        logger.warn('watch: folder still offline; more jobs blocked', { ...fields, reason: look.why, blocked: held.length });
      }
      return false;
    }
    if (look.mountDev !== mountDev) {
      store.setWatchFolderMountDev(row.id, look.mountDev);
      mountDev = look.mountDev;
    }
    if (online) return true;
    // Released before the folder counts as online: should that fail, the next look tries again
    // instead of finding it online and leaving the jobs blocked. Before the scan too, so the
    // scan finds their files fingerprinted and queues nothing twice.
    const released = offlineHold.release();
    store.setWatchFolderState(row.id, 'online', null);
    online = true;
    offlineWhy = undefined;
    logger.info('watch: folder online', { ...fields, ...(mountDev !== null && { mountDev }), released: released.length });
    await startEvents();
    await scan();
    return true;
  }

  function scheduleRescan(): void {
    if (closed) return;
    rescanTimer = clock.setTimeout(() => {
      track(
        (async () => {
          if ((await checkRoot()) && online) await scan();
        })().finally(scheduleRescan),
      );
    }, deps.rescanMs);
  }

  /** Moves a done job's source into the archive, if this folder archives and it is still that version. */
  async function archiveDone(file: WatchFileRow): Promise<void> {
    if (row.after.kind !== 'archive' || file.archivedPath || archiveTried.has(file.id)) return;
    archiveTried.add(file.id);
    const st = await lstatOrNull(file.path);
    if (!st?.isFile() || !sameVersion(fingerprintOf(file.path, st), file)) {
      logger.info('watch: source not archived: it changed or moved since it was queued', { ...fields, file: file.path, jobId: file.jobId });
      return;
    }
    try {
      const moved = await archiveSource(file.path, row.after.dir, path.relative(root, path.dirname(file.path)));
      store.setWatchFileArchived(file.id, moved);
      logger.info('watch: source archived', { ...fields, file: file.path, to: moved, jobId: file.jobId });
    } catch (err) {
      // Left where it is; the next rescan tries again.
      archiveTried.delete(file.id);
      logger.warn('watch: cannot archive source', { ...fields, file: file.path, error: (err as Error).message });
    }
  }

  /** Jobs that finished while no one listened (e.g. the coordinator was down) get archived too. */
  async function sweepArchive(): Promise<void> {
    if (row.after.kind !== 'archive') return;
    for (const f of store.listUnarchivedDone(row.id)) await archiveDone(f);
  }

  return {
    row,
    root,
    stabilityMs: deps.stabilityMs,
    async start(): Promise<void> {
      await checkRoot();
      scheduleRescan();
    },
    checkRoot,
    /** Scans now (a reload, or a test). */
    async rescan(): Promise<void> {
      if (await checkRoot()) await scan();
    },
    archiveDone: (file: WatchFileRow) => track(archiveDone(file)),
    /** Files waiting to prove stable. */
    waiting: () => tracker.size,
    online: () => online === true,
    /** Resolves when no poll, probe or submission is in flight. */
    async idle(): Promise<void> {
      while (pending.size) await Promise.all([...pending]);
    },
    async close(): Promise<void> {
      closed = true;
      if (pollTimer) clock.clearTimeout(pollTimer);
      if (rescanTimer) clock.clearTimeout(rescanTimer);
      pollTimer = rescanTimer = undefined;
      await stopEvents();
      while (pending.size) await Promise.all([...pending]);
    },
  };
}
