import { execFileSync } from 'node:child_process';
import { appendFile, chmod, copyFile, mkdir, mkdtemp, rename, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { systemClock } from '../../../core/shared/clock.ts';
import { silentLogger } from '../../../core/shared/logger.ts';
import { createCoordinator, type Coordinator } from '../../../core/coordinator/coordinator.ts';
import { createPresetCatalog } from '../../../core/coordinator/preset-catalog.ts';
import type { JobRow, JobStore, SourceProber } from '../../../core/coordinator/ports.ts';
import { openSqliteStore } from '../../../core/coordinator/store/sqlite-store.ts';
import { createWatchService, type WatchService } from '../../../core/coordinator/watch/watch-service.ts';
import { lookAtRoot, type RootFs } from '../../../core/coordinator/watch/root-state.ts';
import { offlineReasonPrefix } from '../../../core/coordinator/watch/offline-block.ts';
import { createProber } from '../../../core/agent/encoder/probe.ts';
import { locateFfmpeg, type FfmpegInstall } from '../../../core/agent/devices/locate-ffmpeg.ts';
import { makeClip } from '../../helpers/clips.ts';
import { canMountTmpfs, waitFor } from '../../helpers/cli.ts';

// Point 6 of the watch-folder issue with real folders, real ffprobe, real SQLite and the real
// clock: an offline folder's queued jobs wait blocked (never failed) and exactly those are queued
// again when it returns, with no duplicate jobs.

const CAN_MOUNT = canMountTmpfs('size=1m');
const IS_ROOT = process.getuid?.() === 0;
/** Says in the test's name why it did not run, where it did not. */
const unless = (ok: boolean, why: string) => (ok ? '' : ` — SKIPPED: ${why}`);

let ffmpeg: FfmpegInstall;
let clip: string;
const dirs: string[] = [];
const closers: (() => Promise<void> | void)[] = [];

beforeAll(async () => {
  ffmpeg = await locateFfmpeg();
  const d = await mkdtemp(path.join(os.tmpdir(), 'ef-offline-clip-'));
  dirs.push(d);
  clip = await makeClip(d, 'clip.mp4', { seconds: 1, width: 160, height: 120 });
}, 60_000);

afterEach(async () => {
  for (const c of closers.splice(0).reverse()) await c();
  for (const d of dirs.splice(1)) await rm(d, { recursive: true, force: true });
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Setup {
  base: string;
  root: string;
  store: JobStore;
  coordinator: Coordinator;
  watch: WatchService;
  jobs(): JobRow[];
  job(id: number): JobRow;
  restart(): Promise<void>;
}

/**
 * A coordinator with no agent (jobs stay queued unless a test claims them) and a watch service
 * over `<base>/in`, wired as `serve` is: released jobs go through the coordinator's resumeJobs.
 * `prepare` runs before the service first looks (e.g. to mount something on the folder).
 */
async function setup(prepare?: (root: string) => void): Promise<Setup> {
  const base = await mkdtemp(path.join(os.tmpdir(), 'ef-offline-'));
  dirs.push(base);
  const root = path.join(base, 'in');
  const out = path.join(base, 'out');
  await mkdir(root);
  await mkdir(out);
  prepare?.(root);
  const prober = createProber({ ffprobePath: ffmpeg.ffprobePath }) as unknown as SourceProber;
  const s = { base, root } as Setup;
  const open1 = async () => {
    s.store = openSqliteStore({ file: path.join(base, 'farm.db') });
    const presets = createPresetCatalog(s.store, Date.now);
    s.coordinator = createCoordinator({ store: s.store, clock: systemClock, logger: silentLogger, presets });
    if (!s.store.listWatchFolders().length) {
      s.store.addWatchFolder(
        { path: root, presetId: 'h264-fast', outDir: out, recursive: false, include: [], exclude: [], after: { kind: 'keep' }, stabilityMs: 600 },
        Date.now(),
      );
    }
    s.watch = createWatchService({
      store: s.store,
      clock: systemClock,
      logger: silentLogger,
      presets,
      prober,
      submit: (sub) => s.coordinator.submit(sub),
      resumeJobs: (ids) => s.coordinator.resumeJobs(ids),
      config: { syncMs: 200, rescanMs: 60_000 },
    });
    await s.watch.start();
  };
  const close1 = async () => {
    await s.watch.close();
    s.coordinator.close();
    s.store.close();
  };
  await open1();
  closers.push(() => close1());
  s.jobs = () => s.store.listJobs({}).sort((a, b) => a.id - b.id);
  s.job = (id) => s.store.getJob(id)!;
  s.restart = async () => {
    await close1();
    await open1();
  };
  return s;
}

const folderOf = (s: Setup) => s.store.listWatchFolders()[0]!;

function claim(s: Setup) {
  const c = s.store.claimNext({ agentId: 'agent-x', deviceId: 'gpu0', codecs: ['h264'], now: Date.now(), leaseTtlMs: 3_600_000 });
  if (!c) throw new Error('nothing to claim');
  return c;
}

function mount(args: string[]): void {
  execFileSync('mount', args, { stdio: 'pipe' });
}

function unmount(dir: string): void {
  try {
    execFileSync('umount', [dir], { stdio: 'pipe' });
  } catch {
    execFileSync('umount', ['-l', dir], { stdio: 'pipe' });
  }
}

describe('offline watch folders', () => {
  it('blocks the queued jobs of a folder renamed away, leaves in-flight and other blocked jobs alone, and queues exactly those again when it returns', async () => {
    const s = await setup();
    for (const n of ['a', 'b', 'c', 'd']) await copyFile(clip, path.join(s.root, `${n}.mp4`));
    await waitFor('4 jobs', () => s.jobs().length === 4, 20_000);
    await s.watch.idle();

    // One job burned an attempt and waits out a backoff, one is blocked for its own reason
    // (disk full), one is in flight; the fourth is plainly queued.
    const retried = claim(s);
    s.store.endAttempt(retried.job.id, retried.epoch, { to: 'queued', burnAttempt: true, notBefore: Date.now() + 3_600_000, error: { kind: 'encode-failed', message: 'transient' }, outcome: 'requeued' }, Date.now());
    const diskFull = claim(s);
    s.store.endAttempt(diskFull.job.id, diskFull.epoch, { to: 'blocked', error: { kind: 'disk-full', message: 'disk full' } }, Date.now());
    const inFlight = claim(s);
    const plain = s.jobs().find((j) => j.state === 'queued' && j.id !== retried.job.id)!;
    expect(s.job(retried.job.id).attempts).toBe(1);

    const away = s.root + '.away';
    await rename(s.root, away);
    await waitFor('offline', () => folderOf(s).state === 'offline', 10_000);
    expect(folderOf(s).offlineReason).toBe('folder missing: deleted, renamed or not mounted');
    const reason = `watch folder offline: ${s.root} (folder missing: deleted, renamed or not mounted)`;
    await waitFor('the queued jobs blocked', () => s.job(plain.id).state === 'blocked', 5000);
    for (const id of [retried.job.id, plain.id]) {
      expect(s.job(id)).toMatchObject({ state: 'blocked', blockReason: reason });
    }
    expect(s.job(retried.job.id).attempts).toBe(1);
    expect(s.job(diskFull.job.id)).toMatchObject({ state: 'blocked', blockReason: 'disk full' });
    expect(s.job(inFlight.job.id).state).toBe('leased');

    // The in-flight job loses its lease while the folder is away: requeued by the normal path,
    // then held at the watcher's next look instead of being claimed and failed on a missing source.
    s.store.endAttempt(inFlight.job.id, inFlight.epoch, { to: 'queued', burnAttempt: false, notBefore: Date.now(), error: { kind: 'lease-lost', message: 'lease expired' }, outcome: 'lost' }, Date.now());
    await waitFor('the requeued job held', () => s.job(inFlight.job.id).state === 'blocked', 5000);
    expect(s.job(inFlight.job.id).blockReason).toBe(reason);
    expect(s.jobs().filter((j) => j.state === 'failed')).toEqual([]);

    await rename(away, s.root);
    await waitFor('online', () => folderOf(s).state === 'online', 10_000);
    await s.watch.idle();
    for (const id of [retried.job.id, plain.id, inFlight.job.id]) {
      expect(s.job(id)).toMatchObject({ state: 'queued', blockReason: null });
    }
    // Attempts are never reset by the hold: a backoff retry is still its second attempt.
    expect(s.job(retried.job.id).attempts).toBe(1);
    expect(s.job(diskFull.job.id)).toMatchObject({ state: 'blocked', blockReason: 'disk full' });

    await s.watch.rescanAll();
    await sleep(1500);
    await s.watch.idle();
    expect(s.jobs()).toHaveLength(4);
    for (const n of ['a', 'b', 'c', 'd']) expect(s.store.countWatchVersions(1, path.join(s.root, `${n}.mp4`))).toBe(1);
    expect(folderOf(s).offlineReason).toBeNull();
  }, 60_000);

  it('keeps jobs blocked across a restart while the folder is away, and releases them once it is back', async () => {
    const s = await setup();
    await copyFile(clip, path.join(s.root, 'a.mp4'));
    const [job] = await waitFor('the job', () => s.jobs().length === 1 && s.jobs(), 15_000);
    const away = s.root + '.away';
    await rename(s.root, away);
    await waitFor('blocked', () => s.job(job!.id).state === 'blocked', 10_000);
    await s.restart();
    await sleep(600);
    expect(s.job(job!.id).state).toBe('blocked');
    expect(folderOf(s).state).toBe('offline');
    await rename(away, s.root);
    await waitFor('released', () => s.job(job!.id).state === 'queued', 10_000);
    await s.watch.rescanAll();
    await s.watch.idle();
    expect(s.jobs()).toHaveLength(1);
  }, 40_000);

  it(`blocks the jobs of an unreadable folder and releases them when it is readable again${unless(!IS_ROOT, 'running as root, whom permissions do not stop')}`, async (ctx) => {
    if (IS_ROOT) return ctx.skip('running as root, whom permissions do not stop');
    const s = await setup();
    await copyFile(clip, path.join(s.root, 'a.mp4'));
    const [job] = await waitFor('the job', () => s.jobs().length === 1 && s.jobs(), 15_000);
    await chmod(s.root, 0o000);
    try {
      await waitFor('blocked', () => s.job(job!.id).state === 'blocked', 10_000);
      expect(folderOf(s).offlineReason).toMatch(/^cannot read folder: EACCES/);
      expect(s.job(job!.id).blockReason).toBe(`watch folder offline: ${s.root} (cannot read folder: EACCES)`);
    } finally {
      await chmod(s.root, 0o755);
    }
    await waitFor('released', () => s.job(job!.id).state === 'queued', 10_000);
    expect(s.jobs()).toHaveLength(1);
  }, 40_000);

  it(`takes a folder whose tmpfs was unmounted for offline, not emptied, even across a restart, and resumes without duplicates when it is mounted again${unless(CAN_MOUNT, 'mounting a tmpfs is not permitted here; the faked device ids below cover the rule')}`, async (ctx) => {
    if (!CAN_MOUNT) return ctx.skip('mounting a tmpfs is not permitted here');
    const mounted: string[] = [];
    closers.push(() => {
      for (const m of mounted.splice(0).reverse()) unmount(m);
    });
    const s = await setup((root) => {
      // A real tmpfs on the watched folder itself, before the watcher first looks at it.
      mount(['-t', 'tmpfs', '-o', 'size=8m', 'tmpfs', root]);
      mounted.push(root);
    });
    expect(s.store.watchFolderMountDev(1)).not.toBeNull();
    await copyFile(clip, path.join(s.root, 'a.mp4'));
    const [job] = await waitFor('the job', () => s.jobs().length === 1 && s.jobs(), 15_000);

    // Keep the filesystem (and its files, inodes and mtimes) alive elsewhere, then unmount the
    // folder: what is left at its path is the empty mount point on the parent's filesystem.
    const keep = path.join(s.base, 'keep');
    await mkdir(keep);
    mount(['--bind', s.root, keep]);
    mounted.splice(0, 0, keep);
    unmount(s.root);
    mounted.splice(mounted.indexOf(s.root), 1);

    await waitFor('offline', () => folderOf(s).state === 'offline', 10_000);
    expect(folderOf(s).offlineReason).toMatch(/^unmounted: /);
    await waitFor('blocked', () => s.job(job!.id).state === 'blocked', 5000);
    expect(s.job(job!.id).blockReason).toBe(`${offlineReasonPrefix(s.root)}${folderOf(s).offlineReason})`);

    // A coordinator started while the mount is missing still knows the folder was a mount point.
    await s.restart();
    await sleep(600);
    expect(folderOf(s)).toMatchObject({ state: 'offline', offlineReason: expect.stringMatching(/^unmounted: /) });
    expect(s.job(job!.id).state).toBe('blocked');

    mount(['--bind', keep, s.root]);
    mounted.push(s.root);
    await waitFor('online', () => folderOf(s).state === 'online', 10_000);
    await waitFor('released', () => s.job(job!.id).state === 'queued', 5000);
    await s.watch.rescanAll();
    await sleep(1200);
    await s.watch.idle();
    expect(s.jobs()).toHaveLength(1);
  }, 60_000);
});

describe('events for files chokidar leaves to their folder', () => {
  // Known versions get no fs.watch of their own (see ignoredByEvents in folder-watcher.ts); a
  // new version must still arrive by event, long before the next rescan (60 s here).
  it('queues a known file rewritten in place and one renamed over it, without a rescan', async () => {
    const s = await setup();
    const a = path.join(s.root, 'a.mp4');
    await copyFile(clip, a);
    await waitFor('the job', () => s.jobs().length === 1, 15_000);
    // Restarted: chokidar now starts with a.mp4 known, so it gives it no watch of its own.
    await s.restart();
    await sleep(1100);
    // Same inode, new size and mtime.
    await appendFile(a, Buffer.alloc(16));
    await waitFor('the rewritten version queued', () => s.jobs().length === 2, 15_000);
    const staged = path.join(s.base, 'staged.mp4');
    await copyFile(clip, staged);
    await rename(staged, a);
    await waitFor('the renamed-over version queued', () => s.jobs().length === 3, 15_000);
    expect(s.store.countWatchVersions(1, a)).toBe(3);
  }, 60_000);
});

describe('lookAtRoot (device ids faked)', () => {
  const fakeFs = (devs: Record<string, number | Error>): RootFs => ({
    stat: async (p) => {
      const d = devs[p];
      if (d === undefined) throw Object.assign(new Error('ENOENT'), { code: 'ENOENT' });
      if (d instanceof Error) throw d;
      return { dev: d, isDirectory: () => true };
    },
    access: async () => undefined,
  });

  it('records a mount point, takes it back on its parent device for unmounted, and leaves ordinary folders alone', async () => {
    expect(await lookAtRoot('/srv/in', null, fakeFs({ '/srv/in': 7, '/srv': 1 }))).toEqual({ online: true, mountDev: 7 });
    expect(await lookAtRoot('/srv/in', 7, fakeFs({ '/srv/in': 1, '/srv': 1 }))).toEqual({ online: false, why: expect.stringMatching(/^unmounted: /) });
    expect(await lookAtRoot('/srv/in', null, fakeFs({ '/srv/in': 1, '/srv': 1 }))).toEqual({ online: true, mountDev: null });
    // Mounted again (a new device id after a reboot is fine): online, the new id remembered.
    expect(await lookAtRoot('/srv/in', 7, fakeFs({ '/srv/in': 9, '/srv': 1 }))).toEqual({ online: true, mountDev: 9 });
    expect(await lookAtRoot('/srv/in', 7, fakeFs({ '/srv': 1 }))).toEqual({ online: false, why: 'folder missing: deleted, renamed or not mounted' });
    const eio = Object.assign(new Error('EIO'), { code: 'EIO' });
    expect(await lookAtRoot('/srv/in', null, fakeFs({ '/srv/in': eio }))).toEqual({ online: false, why: 'cannot read folder: EIO' });
    const unreadable: RootFs = { ...fakeFs({ '/srv/in': 1, '/srv': 1 }), access: async () => Promise.reject(Object.assign(new Error('EACCES'), { code: 'EACCES' })) };
    expect(await lookAtRoot('/srv/in', null, unreadable)).toEqual({ online: false, why: 'cannot read folder: EACCES' });
  });
});
