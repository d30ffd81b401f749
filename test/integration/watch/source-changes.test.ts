import { copyFile, mkdir, mkdtemp, readdir, rename, rm, stat, unlink } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { systemClock } from '../../../core/shared/clock.ts';
import { silentLogger } from '../../../core/shared/logger.ts';
import { PresetSchema } from '../../../core/shared/preset.ts';
import { isFarmTempName } from '../../../core/shared/temp-names.ts';
import { createCoordinator, type Coordinator } from '../../../core/coordinator/coordinator.ts';
import { createPresetCatalog } from '../../../core/coordinator/preset-catalog.ts';
import type { JobRow, JobStore, SourceProber } from '../../../core/coordinator/ports.ts';
import { openSqliteStore } from '../../../core/coordinator/store/sqlite-store.ts';
import { createWatchService, type WatchService } from '../../../core/coordinator/watch/watch-service.ts';
import { createSourceCheck } from '../../../core/coordinator/watch/source-check.ts';
import { createProber } from '../../../core/agent/encoder/probe.ts';
import { locateFfmpeg, type FfmpegInstall } from '../../../core/agent/devices/locate-ffmpeg.ts';
import { buildLocalDevices } from '../../../core/agent/devices/device-set.ts';
import { attachLocalAgent } from '../../../core/cli/local-farm.ts';
import { makeClip } from '../../helpers/clips.ts';
import { expectEncodeOf, waitFor } from '../../helpers/cli.ts';

// Issue 5, "source changes": real files, real ffmpeg encodes on one CPU slot, real SQLite, the
// real clock. The rule under test (core/coordinator/watch/source-check.ts): a watched source that
// changed during its encode gets that encode discarded and its job canceled; the new version is
// the watcher's own job and is encoded exactly once. A vanished source fails its job; an offline
// folder blocks it. Jobs not from a watch folder commit as they always did.

/** One encoder thread, slow effort: a few seconds per encode, time enough to act while it runs. */
const SLOW = PresetSchema.parse({
  id: 'h264-slow-1t',
  name: 'H.264 slow, one thread',
  codec: 'h264',
  quality: 23,
  speed: 'slow',
  audio: { mode: 'aac', bitrateKbps: 96 },
  container: 'mp4',
  threads: 1,
});

let ffmpeg: FfmpegInstall;
/** Takes seconds to encode with SLOW. */
let longClip: string;
/** Another version: a different duration, so whose encode an output is can be told apart. */
let shortClip: string;
const dirs: string[] = [];
const closers: (() => Promise<void> | void)[] = [];

beforeAll(async () => {
  ffmpeg = await locateFfmpeg();
  const d = await mkdtemp(path.join(os.tmpdir(), 'ef-srcchg-clips-'));
  dirs.push(d);
  longClip = await makeClip(d, 'long.mp4', { seconds: 12, width: 640, height: 360 });
  shortClip = await makeClip(d, 'short.mp4', { seconds: 2, width: 160, height: 120 });
}, 60_000);

afterEach(async () => {
  for (const c of closers.splice(0).reverse()) await c();
  for (const d of dirs.splice(1)) await rm(d, { recursive: true, force: true });
});

interface Farm {
  base: string;
  root: string;
  out: string;
  store: JobStore;
  coordinator: Coordinator;
  watch: WatchService;
  jobs(): JobRow[];
  job(id: number): JobRow;
}

/** A coordinator wired as `serve` wires it (source check included), one CPU agent, one watch folder. */
async function startFarm(): Promise<Farm> {
  const base = await mkdtemp(path.join(os.tmpdir(), 'ef-srcchg-'));
  dirs.push(base);
  const root = path.join(base, 'in');
  const out = path.join(base, 'out');
  await mkdir(root, { recursive: true });
  await mkdir(out, { recursive: true });
  const store = openSqliteStore({ file: path.join(base, 'farm.db') });
  store.saveUserPreset(SLOW, Date.now());
  const presets = createPresetCatalog(store, Date.now);
  const coordinator = createCoordinator({ store, clock: systemClock, logger: silentLogger, presets, sourceCheck: createSourceCheck({ store }) });
  const deviceSet = await buildLocalDevices({ ffmpeg, gpus: 'none', cpuSlots: 1, env: process.env });
  const local = attachLocalAgent(coordinator, presets, { ffmpeg, deviceSet, logger: silentLogger, clock: systemClock });
  coordinator.start();
  store.addWatchFolder({ path: root, presetId: SLOW.id, outDir: out, recursive: false, include: [], exclude: [], after: { kind: 'keep' }, stabilityMs: 600 }, Date.now());
  const watch = createWatchService({
    store,
    clock: systemClock,
    logger: silentLogger,
    presets,
    prober: createProber({ ffprobePath: ffmpeg.ffprobePath }) as unknown as SourceProber,
    submit: (sub) => coordinator.submit(sub),
    events: coordinator.events,
    config: { syncMs: 200, rescanMs: 60_000 },
  });
  await watch.start();
  closers.push(async () => {
    await watch.close();
    await local.detach('test over');
    coordinator.close();
    store.close();
  });
  const jobs = () => store.listJobs({}).sort((a, b) => a.id - b.id);
  return { base, root, out, store, coordinator, watch, jobs, job: (id) => store.getJob(id)! };
}

/**
 * Waits for a job's ffmpeg to be reading its source (it reported encoded time; `running` alone
 * comes before ffmpeg opens the file): the moment to change that source.
 */
const running = (what: string, pick: () => JobRow | undefined) =>
  waitFor(`${what} encoding`, () => {
    const j = pick();
    return j?.state === 'running' && j.outTimeS > 0 && j;
  }, 30_000, 20);

/** Waits for a job to end `state`; a commit where none was expected fails at once. */
const settled = (f: Farm, id: number, state: JobRow['state']) =>
  waitFor(`job ${id} ${state}`, () => {
    const j = f.job(id);
    if (j.state === 'done' && state !== 'done') throw new Error(`job ${id} was committed (${j.finalPath}) instead of ending ${state}`);
    if (j.state === 'failed' && state !== 'failed') throw new Error(`job ${id} failed instead of ending ${state}: ${j.errorMessage}`);
    return j.state === state && j;
  }, 60_000);

/** Output-folder names that are not in-flight temp files. */
async function outputs(out: string): Promise<string[]> {
  return (await readdir(out)).filter((n) => !isFarmTempName(n)).sort();
}

/** Replaces a file as a copy tool or a download finishing would: a new inode renamed over the name. */
async function replaceWith(target: string, clip: string, staging: string): Promise<void> {
  await copyFile(clip, staging);
  await rename(staging, target);
}

describe('watched sources that change during their encode', () => {
  it('discards the encode of a file replaced mid-encode and encodes the new version exactly once', async () => {
    const f = await startFarm();
    const src = path.join(f.root, 'movie.mp4');
    await copyFile(longClip, src);
    const first = await running('the first version', () => f.jobs()[0]);
    await replaceWith(src, shortClip, path.join(f.base, 'staging.mp4'));

    const canceled = await settled(f, first.id, 'canceled');
    expect(canceled.errorMessage).toMatch(/source changed during the encode/);
    expect(canceled.finalPath).toBeNull();
    // Neither the old encode nor its temp file is left anywhere. (The new version may already be
    // encoding, or even committed, once the old attempt gave its device back.)
    const committed = f.jobs().filter((j) => j.state === 'done').map((j) => path.basename(j.finalPath!));
    expect(await outputs(f.out)).toEqual(committed);
    expect((await readdir(f.out)).filter((n) => n.includes(`.ef-${first.id}-`))).toEqual([]);

    const second = await waitFor('the new version encoded', () => f.jobs().find((j) => j.id !== first.id && j.state === 'done'), 60_000);
    expect(second.inputPath).toBe(src);
    await expectEncodeOf(second.finalPath!, shortClip, 'h264');
    // Nothing was there to overwrite: the one output is the new version's, at the plain name.
    expect(await outputs(f.out)).toEqual([path.basename(first.outputPath)]);
    expect(await readdir(f.out)).toEqual([path.basename(first.outputPath)]);
    const st = await stat(src);
    expect(f.store.watchFileForJob(second.id)).toMatchObject({ size: st.size, mtimeMs: st.mtimeMs, inode: st.ino });

    // Rescans and time find nothing more to do: one job per version, the old one stays canceled.
    await f.watch.rescanAll();
    await f.watch.idle();
    await new Promise((r) => setTimeout(r, 1000));
    expect(f.jobs().map((j) => [j.id, j.state])).toEqual([
      [first.id, 'canceled'],
      [second.id, 'done'],
    ]);
  }, 90_000);

  it('handles a file overwritten in place mid-encode the same way, whether its encode fails or not', async () => {
    const f = await startFarm();
    const src = path.join(f.root, 'clip.mp4');
    await copyFile(longClip, src);
    const first = await running('the first version', () => f.jobs()[0]);
    // `cp new old`: the same inode truncated and rewritten under the reading encoder. Depending on
    // what ffmpeg had read, its encode fails or "succeeds" with a mix; the rule holds either way.
    await copyFile(shortClip, src);

    const canceled = await settled(f, first.id, 'canceled');
    expect(canceled.errorMessage).toMatch(/source changed during the encode/);
    // Ended by the check, not retried: a retry could only encode a version that is not its own.
    expect(f.store.listAttempts(first.id)).toHaveLength(1);
    const second = await waitFor('the new version encoded', () => f.jobs().find((j) => j.id !== first.id && j.state === 'done'), 60_000);
    await expectEncodeOf(second.finalPath!, shortClip, 'h264');
    expect(await readdir(f.out)).toEqual([path.basename(second.finalPath!)]);
    expect(f.jobs()).toHaveLength(2);
  }, 90_000);

  it('fails a job whose source is deleted mid-encode with "source vanished" and leaves no temp file', async () => {
    const f = await startFarm();
    const src = path.join(f.root, 'gone.mp4');
    await copyFile(longClip, src);
    const job = await running('the encode', () => f.jobs()[0]);
    await unlink(src);

    const failed = await settled(f, job.id, 'failed');
    expect(failed.errorKind).toBe('input-invalid');
    expect(failed.errorMessage).toMatch(/^source vanished: /);
    expect(failed.errorMessage).toContain(src);
    expect(await readdir(f.out)).toEqual([]);
    await f.watch.rescanAll();
    await f.watch.idle();
    expect(f.jobs()).toHaveLength(1);
  }, 60_000);

  it('blocks (never fails) a job whose watch folder goes offline mid-encode; resumed, it encodes once', async () => {
    const f = await startFarm();
    const src = path.join(f.root, 'nas.mp4');
    await copyFile(longClip, src);
    const job = await running('the encode', () => f.jobs()[0]);
    const away = `${f.root}.unmounted`;
    await rename(f.root, away);

    const blocked = await settled(f, job.id, 'blocked');
    expect(blocked.blockReason).toMatch(/watch folder .* is offline/);
    expect(await readdir(f.out)).toEqual([]);

    await rename(away, f.root);
    await waitFor('folder online', () => f.store.listWatchFolders()[0]!.state === 'online', 10_000);
    // Whoever resumes it (the user, or the folder coming back): the same version, the same job.
    f.coordinator.resumeJobs([job.id]);
    const done = await settled(f, job.id, 'done');
    await expectEncodeOf(done.finalPath!, longClip, 'h264');
    await f.watch.rescanAll();
    await f.watch.idle();
    expect(f.jobs()).toHaveLength(1);
  }, 90_000);

  it('leaves jobs not from a watch folder as they were: replaced or deleted sources still commit', async () => {
    const f = await startFarm();
    const plain = path.join(f.base, 'plain');
    await mkdir(plain);
    const a = path.join(plain, 'a.mp4');
    const b = path.join(plain, 'b.mp4');
    await copyFile(longClip, a);
    await copyFile(longClip, b);
    const { jobIds } = f.coordinator.submit({
      key: 'plain',
      label: 'plain',
      presetId: SLOW.id,
      outDir: f.out,
      onExists: 'skip',
      priority: 0,
      requireTags: [],
      jobs: [
        { inputPath: a, outputPath: path.join(f.out, 'a.mp4') },
        { inputPath: b, outputPath: path.join(f.out, 'b.mp4') },
      ],
    });
    const [ja, jb] = jobIds as [number, number];
    await running('job a', () => f.job(ja));
    await replaceWith(a, shortClip, path.join(f.base, 'staging.mp4'));
    await running('job b', () => f.job(jb));
    await unlink(b);

    // Today's handling: the encode of what was read is committed either way.
    for (const id of [ja, jb]) await expectEncodeOf((await settled(f, id, 'done')).finalPath!, longClip, 'h264');
    expect(await readdir(f.out).then((n) => n.sort())).toEqual(['a.mp4', 'b.mp4']);
  }, 90_000);
});
