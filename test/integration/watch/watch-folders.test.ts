import { execFileSync } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, open, readFile, rename, rm, symlink, utimes } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { systemClock } from '../../../core/shared/clock.ts';
import { silentLogger } from '../../../core/shared/logger.ts';
import { createCoordinator, type Coordinator } from '../../../core/coordinator/coordinator.ts';
import { createPresetCatalog } from '../../../core/coordinator/preset-catalog.ts';
import type { JobStore, NewWatchFolder, SourceProber } from '../../../core/coordinator/ports.ts';
import { openSqliteStore } from '../../../core/coordinator/store/sqlite-store.ts';
import { createWatchService, type WatchService } from '../../../core/coordinator/watch/watch-service.ts';
import { createProber } from '../../../core/agent/encoder/probe.ts';
import { locateFfmpeg, type FfmpegInstall } from '../../../core/agent/devices/locate-ffmpeg.ts';
import { buildLocalDevices } from '../../../core/agent/devices/device-set.ts';
import { startLocalFarm } from '../../../core/cli/local-farm.ts';
import { makeClip } from '../../helpers/clips.ts';
import { expectEncodeOf, waitFor } from '../../helpers/cli.ts';

// Real files, real ffprobe, real SQLite, the real clock with short stability windows.

let ffmpeg: FfmpegInstall;
let clip: string;
const dirs: string[] = [];
const closers: (() => Promise<void> | void)[] = [];

beforeAll(async () => {
  ffmpeg = await locateFfmpeg();
  const d = await mkdtemp(path.join(os.tmpdir(), 'ef-watch-clip-'));
  dirs.push(d);
  clip = await makeClip(d, 'clip.mp4', { seconds: 1, width: 160, height: 120 });
}, 60_000);

afterEach(async () => {
  for (const c of closers.splice(0).reverse()) await c();
  for (const d of dirs.splice(1)) await rm(d, { recursive: true, force: true });
});

async function tempDir(prefix: string): Promise<string> {
  const d = await mkdtemp(path.join(os.tmpdir(), `ef-watch-${prefix}-`));
  dirs.push(d);
  return d;
}

interface Setup {
  root: string;
  out: string;
  store: JobStore;
  coordinator: Coordinator;
  watch: WatchService;
  jobs(): { inputPath: string; outputPath: string; id: number }[];
  restart(): Promise<void>;
}

/** A coordinator with no agent (jobs stay queued) and a watch service over one folder. */
async function setup(folder: Partial<NewWatchFolder> & { stabilityMs: number }, opts: { outInside?: boolean; useEvents?: boolean } = {}): Promise<Setup> {
  const base = await tempDir('t');
  const root = path.join(base, 'in');
  const out = opts.outInside ? path.join(root, 'encoded') : path.join(base, 'out');
  await mkdir(root, { recursive: true });
  await mkdir(out, { recursive: true });
  const file = path.join(base, 'farm.db');
  const prober: SourceProber = createProber({ ffprobePath: ffmpeg.ffprobePath }) as unknown as SourceProber;
  const s = {} as Setup;
  const open1 = async () => {
    s.store = openSqliteStore({ file });
    const presets = createPresetCatalog(s.store, Date.now);
    s.coordinator = createCoordinator({ store: s.store, clock: systemClock, logger: silentLogger, presets });
    if (!s.store.listWatchFolders().length) {
      s.store.addWatchFolder({ path: root, presetId: 'h264-fast', outDir: out, recursive: false, include: [], exclude: [], after: { kind: 'keep' }, ...folder }, Date.now());
    }
    s.watch = createWatchService({
      store: s.store,
      clock: systemClock,
      logger: silentLogger,
      presets,
      prober,
      submit: (sub) => s.coordinator.submit(sub),
      config: { useEvents: opts.useEvents ?? true, syncMs: 200, rescanMs: 60_000 },
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
  Object.assign(s, {
    root,
    out,
    jobs: () => s.store.listJobs({}).map((j) => ({ id: j.id, inputPath: j.inputPath, outputPath: j.outputPath })),
    restart: async () => {
      await close1();
      await open1();
    },
  });
  return s;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('watch folders', () => {
  it('never queues a clip copied in small chunks before it is complete', async () => {
    const s = await setup({ stabilityMs: 1500 });
    const data = await readFile(clip);
    const target = path.join(s.root, 'slow.mp4');
    const fh = await open(target, 'w');
    // 20 chunks over 20 s, as a slow download or NAS copy writes: each pause is shorter than the
    // window (with room for a loaded machine's late timers), so the file never looks stable, while
    // the copy as a whole lasts many windows long.
    const chunks = 20;
    const size = Math.ceil(data.length / chunks);
    const started = Date.now();
    for (let i = 0; i < chunks; i++) {
      await fh.write(data.subarray(i * size, (i + 1) * size));
      await fh.sync();
      await sleep(1000);
      expect(s.jobs(), `queued after chunk ${i + 1} of ${chunks}`).toEqual([]);
    }
    await fh.close();
    expect(Date.now() - started).toBeGreaterThanOrEqual(20_000);
    const [job] = await waitFor('the job', () => s.jobs().length === 1 && s.jobs(), 10_000);
    expect(job!.inputPath).toBe(target);
    expect(s.store.findWatchFile(1, { path: target, size: data.length, mtimeMs: (await import('node:fs')).statSync(target).mtimeMs, inode: (await import('node:fs')).statSync(target).ino })).toBeDefined();
  }, 35_000);

  it('turns 200 files dropped at once into exactly 200 jobs, even with rescans and a restart', async () => {
    const s = await setup({ stabilityMs: 600 });
    await Promise.all(Array.from({ length: 200 }, (_, i) => copyFile(clip, path.join(s.root, `f${String(i).padStart(3, '0')}.mp4`))));
    await waitFor("200 jobs", () => s.jobs().length >= 200, 90_000);
    await s.watch.rescanAll();
    await s.restart();
    await sleep(1500);
    await s.watch.rescanAll();
    await s.watch.idle();
    const jobs = s.jobs();
    expect(jobs).toHaveLength(200);
    expect(new Set(jobs.map((j) => j.inputPath)).size).toBe(200);
  }, 120_000);

  it('queues a file renamed into the folder, once', async () => {
    const s = await setup({ stabilityMs: 600 });
    const outside = path.join(path.dirname(s.root), 'staging.mp4');
    await copyFile(clip, outside);
    await rename(outside, path.join(s.root, 'moved.mp4'));
    await waitFor('the job', () => s.jobs().length === 1, 15_000);
    await s.watch.rescanAll();
    await sleep(1000);
    expect(s.jobs().map((j) => path.basename(j.inputPath))).toEqual(['moved.mp4']);
  }, 30_000);

  it('restarted half-way through a stability window: one job, no duplicate', async () => {
    const s = await setup({ stabilityMs: 1500 });
    await copyFile(clip, path.join(s.root, 'a.mp4'));
    await sleep(700);
    await s.restart();
    await waitFor('the job', () => s.jobs().length === 1, 15_000);
    await s.restart();
    await s.watch.rescanAll();
    await sleep(2000);
    expect(s.jobs()).toHaveLength(1);
  }, 30_000);

  it('never picks up its output folder inside the watched folder, nor files the farm wrote', async () => {
    const s = await setup({ stabilityMs: 600, recursive: true }, { outInside: true });
    await copyFile(clip, path.join(s.out, 'old-output.mp4'));
    await copyFile(clip, path.join(s.root, 'src.mp4'));
    await waitFor('the job', () => s.jobs().length === 1, 15_000);
    // The job's target appears (as an encode would write it): it is the farm's own file.
    const [job] = s.jobs();
    await copyFile(clip, job!.outputPath);
    await s.watch.rescanAll();
    await sleep(1500);
    expect(s.jobs().map((j) => j.inputPath)).toEqual([path.join(s.root, 'src.mp4')]);
  }, 30_000);

  it('ignores a symlink escaping the folder, a FIFO, a folder named x.mp4 and partial names, without hanging', async () => {
    const s = await setup({ stabilityMs: 600 });
    const outside = path.join(path.dirname(s.root), 'secret.mp4');
    await copyFile(clip, outside);
    await symlink(outside, path.join(s.root, 'link.mp4'));
    execFileSync('mkfifo', [path.join(s.root, 'pipe.mp4')]);
    await mkdir(path.join(s.root, 'dir.mp4'));
    for (const name of ['a.mp4.part', 'b.mp4.crdownload', 'c.tmp', 'd.mp4.!qB', '~$e.mp4', '.hidden.mp4', '.x.mp4.ef-1-1.part']) {
      await copyFile(clip, path.join(s.root, name));
    }
    await copyFile(clip, path.join(s.root, 'real.mp4'));
    await waitFor('the job', () => s.jobs().length === 1, 15_000);
    await s.watch.rescanAll();
    await sleep(1500);
    await s.watch.idle();
    expect(s.jobs().map((j) => path.basename(j.inputPath))).toEqual(['real.mp4']);
  }, 30_000);

  it('reports a missing folder offline and resumes without duplicates when it returns', async () => {
    const s = await setup({ stabilityMs: 600 });
    await copyFile(clip, path.join(s.root, 'a.mp4'));
    await waitFor('the job', () => s.jobs().length === 1, 15_000);
    const away = s.root + '.away';
    await rename(s.root, away);
    await waitFor('offline', () => s.store.listWatchFolders()[0]!.state === 'offline', 10_000);
    expect(s.store.listWatchFolders()[0]!.offlineReason).toMatch(/missing/);
    await rename(away, s.root);
    await copyFile(clip, path.join(s.root, 'b.mp4'));
    await waitFor('online and the new file queued', () => s.jobs().length === 2, 15_000);
    await sleep(1000);
    expect(s.store.listWatchFolders()[0]!.state).toBe('online');
    expect(s.jobs().map((j) => path.basename(j.inputPath)).sort()).toEqual(['a.mp4', 'b.mp4']);
  }, 40_000);
});

describe('watch folders with a real encode', () => {
  it('gives a replaced file a second job whose output does not overwrite the first, and archives after done', async () => {
    const base = await tempDir('enc');
    const root = path.join(base, 'in');
    const out = path.join(base, 'out');
    const archive = path.join(base, 'archive');
    await mkdir(root, { recursive: true });
    const store = openSqliteStore({ file: path.join(base, 'farm.db') });
    const deviceSet = await buildLocalDevices({ ffmpeg, gpus: 'none', cpuSlots: 1, env: process.env });
    const farm = await startLocalFarm({ store, ffmpeg, deviceSet, logger: silentLogger });
    store.addWatchFolder({ path: root, presetId: 'h264-fast', outDir: out, recursive: false, include: [], exclude: [], after: { kind: 'archive', dir: archive }, stabilityMs: 600 }, Date.now());
    const watch = createWatchService({
      store,
      clock: systemClock,
      logger: silentLogger,
      presets: farm.presets,
      prober: createProber({ ffprobePath: ffmpeg.ffprobePath }) as unknown as SourceProber,
      submit: (sub) => farm.coordinator.submit(sub),
      events: farm.coordinator.events,
      config: { syncMs: 200 },
    });
    await watch.start();
    closers.push(async () => {
      await watch.close();
      await farm.shutdown();
      store.close();
    });
    const src = path.join(root, 'movie.mp4');
    await copyFile(clip, src);
    const first = await waitFor('first job done', () => store.listJobs({}).find((j) => j.state === 'done'), 60_000);
    await waitFor('source archived', () => store.watchFileForJob(first.id)?.archivedPath, 10_000);
    const firstOut = await readFile(first.finalPath!);
    // A new version of the same name arrives (the first was archived away).
    const second = await makeClip(base, 'v2.mp4', { seconds: 2, width: 160, height: 120 });
    await copyFile(second, src);
    await utimes(src, new Date(), new Date(Date.now() + 5000));
    const done = await waitFor('second job done', () => {
      const d = store.listJobs({}).filter((j) => j.state === 'done');
      return d.length === 2 && d;
    }, 60_000);
    const later = done.find((j) => j.id !== first.id)!;
    expect(later.finalPath).not.toBe(first.finalPath);
    expect(await readFile(first.finalPath!)).toEqual(firstOut);
    await expectEncodeOf(later.finalPath!, second, 'h264');
    await waitFor('second source archived', () => store.watchFileForJob(later.id)?.archivedPath, 10_000);
    expect(store.listJobs({})).toHaveLength(2);
  }, 120_000);
});
