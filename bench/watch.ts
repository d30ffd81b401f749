/**
 * bench/watch: what watch folders cost (issue 5, point 9), with the real watcher (chokidar events,
 * stability polls, rescans), real SQLite, real files and the real ffprobe.
 *
 * - Idle: `--idle-files` (default 50,000) tiny `.mp4` files in nested folders, every one already
 *   fingerprinted as queued (what a watched library that was encoded looks like: each rescan still
 *   lists, lstat()s and looks up every file, which `.txt` names the filter drops would skip). CPU
 *   (process.cpuUsage) and RSS over `--idle-s` of this process idle without a watcher, then the
 *   same with the folder watched, as ratios; plus the start-up scan and one full rescan, amortised
 *   over the default 5-minute rescan interval. `--idle-kind excluded` uses `.txt` names instead.
 * - Latency: `--files` (default 100) copies of a 1 s clip land in a watched folder (stability
 *   window `--window-ms`, default 2000), first one every `--gap-ms` (default 250: trickle), then
 *   all at once (burst). ffprobe is the one `serve` finds, or `--ffprobe P`. For each: queuedAt (its job was submitted) − stableAt (its copy was complete),
 *   p50/p99/max, against the target window + 1 s.
 *
 * Exits 0 whatever the figures; 1 when a file was not queued or something broke.
 *
 *   node --import tsx bench/watch.ts [--files 100] [--window-ms 2000] [--gap-ms 250]
 *     [--idle-files 50000] [--idle-s 30] [--idle-kind seen|excluded] [--dir D] [--ffprobe P] [--quick]
 *     [--skip-idle] [--skip-latency] [--tsx]
 *
 * Measured bundled (re-run as one esbuild bundle, as `serve` ships) unless --tsx.
 */
import { execFileSync } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { locateFfmpeg, type FfmpegInstall } from '../core/agent/devices/locate-ffmpeg.ts';
import { createProber } from '../core/agent/encoder/probe.ts';
import { createCoordinator } from '../core/coordinator/coordinator.ts';
import type { JobStore, SourceProber } from '../core/coordinator/ports.ts';
import { createPresetCatalog } from '../core/coordinator/preset-catalog.ts';
import { openSqliteStore } from '../core/coordinator/store/sqlite-store.ts';
import { fingerprintOf } from '../core/coordinator/watch/fingerprint.ts';
import { watchBatchKey } from '../core/coordinator/watch/offline-block.ts';
import { DEFAULT_WATCH_CONFIG, createWatchService } from '../core/coordinator/watch/watch-service.ts';
import { systemClock } from '../core/shared/clock.ts';
import type { Logger } from '../core/shared/logger.ts';
import { BUNDLED_ENV, runBundled } from './dispatch/bundle.ts';
import { MB, percentile } from './dispatch/stats.ts';

const PRESET_ID = 'h264-fast';

/** The run failed as a run (a file never queued, an error logged): no figure worth printing. */
class BenchFailedError extends Error {
  override name = 'BenchFailedError';
}

interface Options {
  files: number;
  windowMs: number;
  gapMs: number;
  idleFiles: number;
  idleS: number;
  idleKind: 'seen' | 'excluded';
  dir: string;
  /** Another ffprobe than the one `serve` would find (e.g. the bundled static one). */
  ffprobe: string | undefined;
  skipIdle: boolean;
  skipLatency: boolean;
  /** Run the TypeScript under tsx instead of bundled. */
  tsx: boolean;
}

function parseOptions(argv: string[]): Options {
  const { values } = parseArgs({
    args: argv,
    options: {
      files: { type: 'string' },
      'window-ms': { type: 'string' },
      'gap-ms': { type: 'string' },
      'idle-files': { type: 'string' },
      'idle-s': { type: 'string' },
      'idle-kind': { type: 'string' },
      dir: { type: 'string' },
      ffprobe: { type: 'string' },
      quick: { type: 'boolean', default: false },
      'skip-idle': { type: 'boolean', default: false },
      'skip-latency': { type: 'boolean', default: false },
      tsx: { type: 'boolean', default: false },
    },
  });
  const num = (v: string | undefined, quick: number, full: number) => (v === undefined ? (values.quick ? quick : full) : Number(v));
  const idleKind = values['idle-kind'] ?? 'seen';
  if (idleKind !== 'seen' && idleKind !== 'excluded') throw new Error(`--idle-kind: seen or excluded, got "${idleKind}"`);
  return {
    files: num(values.files, 20, 100),
    windowMs: num(values['window-ms'], 2000, 2000),
    gapMs: num(values['gap-ms'], 250, 250),
    idleFiles: num(values['idle-files'], 5000, 50_000),
    idleS: num(values['idle-s'], 5, 30),
    idleKind,
    dir: values.dir ?? os.tmpdir(),
    ffprobe: values.ffprobe,
    skipIdle: values['skip-idle'],
    skipLatency: values['skip-latency'],
    tsx: values.tsx,
  };
}

/** Keeps the watcher's warnings and errors: an error fails the run. */
function collectingLogger(): Logger & { warnings: string[]; errors: string[] } {
  const warnings: string[] = [];
  const errors: string[] = [];
  const line = (m: string, f?: Record<string, unknown>) => (f ? `${m} ${JSON.stringify(f)}` : m);
  return { warnings, errors, debug() {}, info() {}, warn: (m, f) => void warnings.push(line(m, f)), error: (m, f) => void errors.push(line(m, f)) };
}

/** V8's gc(), reached without --expose-gc on the command line (the bundled run is a plain `node`). */
const collectGarbage: () => void = (() => {
  setFlagsFromString('--expose-gc');
  return runInNewContext('gc') as () => void;
})();

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const cpuMs = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};

/** CPU ms per wall second (ms/s = thousandths of one core) and RSS while `wait` runs, sampled every 250 ms. */
async function measure(
  wait: () => Promise<void>,
): Promise<{ wallMs: number; cpuMs: number; cpuMsPerS: number; rssMeanMb: number; rssMaxMb: number; heapAfterGcMb: number }> {
  // Garbage from what came before is not counted against what is measured.
  collectGarbage();
  const rss: number[] = [];
  const timer = setInterval(() => rss.push(process.memoryUsage.rss()), 250);
  const c0 = cpuMs();
  const t0 = performance.now();
  await wait();
  const wallMs = performance.now() - t0;
  const cpu = cpuMs() - c0;
  clearInterval(timer);
  rss.push(process.memoryUsage.rss());
  // What is still held, as opposed to RSS, which keeps the high-water mark of a scan's garbage.
  collectGarbage();
  const heapAfterGcMb = process.memoryUsage().heapUsed / MB;
  return {
    heapAfterGcMb,
    wallMs,
    cpuMs: cpu,
    cpuMsPerS: cpu / (wallMs / 1000),
    rssMeanMb: rss.reduce((a, b) => a + b, 0) / rss.length / MB,
    rssMaxMb: Math.max(...rss) / MB,
  };
}

/** `n` tiny files in nested folders (50 × 10 folders of up to 100), 64 at a time. */
async function makeTree(root: string, n: number, ext: string): Promise<string[]> {
  const paths: string[] = [];
  for (let i = 0; i < n; i++) {
    const top = Math.floor(i / 1000);
    const sub = Math.floor(i / 100) % 10;
    paths.push(path.join(root, `d${String(top).padStart(3, '0')}`, `s${sub}`, `f${String(i).padStart(6, '0')}${ext}`));
  }
  for (const d of new Set(paths.map((p) => path.dirname(p)))) await fsp.mkdir(d, { recursive: true });
  for (let i = 0; i < paths.length; i += 64) {
    await Promise.all(paths.slice(i, i + 64).map((p, j) => fsp.writeFile(p, `tiny ${i + j}\n`)));
  }
  return paths;
}

/** Records every file as already queued by folder `folderId` (one batch of jobs, then a fingerprint each). */
async function seedSeen(store: JobStore, folderId: number, paths: readonly string[], outDir: string): Promise<void> {
  const now = Date.now();
  const batch = store.createBatch({ key: watchBatchKey(folderId, 1), label: 'bench seed', presetId: PRESET_ID, outDir, onExists: 'skip', priority: 0 }, now);
  const ids = store.addJobs(
    batch.id,
    paths.map((p, i) => ({ inputPath: p, presetId: PRESET_ID, codec: 'h264' as const, outputPath: path.join(outDir, `o${i}.mp4`) })),
    now,
  );
  for (let i = 0; i < paths.length; i++) {
    const st = await fsp.lstat(paths[i]!);
    store.recordWatchFile(folderId, fingerprintOf(paths[i]!, st), { jobId: ids[i]!, batchId: batch.id }, now);
  }
}

interface IdleResult {
  files: number;
  dirs: number;
  kind: Options['idleKind'];
  baseline: Awaited<ReturnType<typeof measure>>;
  watching: Awaited<ReturnType<typeof measure>>;
  startup: Awaited<ReturnType<typeof measure>>;
  rescan: Awaited<ReturnType<typeof measure>>;
}

async function idlePhase(opts: Options, base: string): Promise<IdleResult> {
  const root = path.join(base, 'library');
  const out = path.join(base, 'library-out');
  await fsp.mkdir(out, { recursive: true });
  const t0 = performance.now();
  const paths = await makeTree(root, opts.idleFiles, opts.idleKind === 'seen' ? '.mp4' : '.txt');
  const store = openSqliteStore({ file: path.join(base, 'idle.db') });
  const logger = collectingLogger();
  let submitted = 0;
  try {
    const folder = store.addWatchFolder(
      { path: root, presetId: PRESET_ID, outDir: out, recursive: true, include: [], exclude: [], after: { kind: 'keep' }, stabilityMs: opts.windowMs },
      Date.now(),
    );
    if (opts.idleKind === 'seen') await seedSeen(store, folder.id, paths, out);
    const dirs = new Set(paths.map((p) => path.dirname(p))).size;
    console.log(`idle: ${paths.length} ${opts.idleKind === 'seen' ? '.mp4 files, each fingerprinted as queued already' : '.txt files (left out by the filter)'} in ${dirs} folders, made in ${((performance.now() - t0) / 1000).toFixed(1)} s`);

    const baseline = await measure(() => sleep(opts.idleS * 1000));
    const watch = createWatchService({
      store,
      clock: systemClock,
      logger,
      presets: createPresetCatalog(store, Date.now),
      // Nothing may be queued: every file is known (or filtered out).
      prober: { probe: async (p) => Promise.reject(new Error(`bench: unexpected probe of ${p}`)) },
      submit: () => {
        submitted++;
        throw new BenchFailedError('bench: a known file was queued again');
      },
    });
    try {
      const startup = await measure(async (): Promise<void> => {
        await watch.start();
        await watch.idle();
      });
      const watching = await measure(() => sleep(opts.idleS * 1000));
      const rescan = await measure(async (): Promise<void> => {
        await watch.rescanAll();
      });
      if (submitted || logger.errors.length) throw new BenchFailedError(`idle: ${submitted} submissions, errors: ${logger.errors.slice(0, 3).join('; ')}`);
      return { files: paths.length, dirs, kind: opts.idleKind, baseline, watching, startup, rescan };
    } finally {
      await watch.close();
    }
  } finally {
    store.close();
  }
}

interface LatencyRun {
  mode: 'trickle' | 'burst';
  files: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  minMs: number;
  /** stableAt → the probe starting: the stability wait (and a probe slot, when all are busy). */
  toProbeP50Ms: number;
  toProbeMaxMs: number;
  /** One ffprobe of the file. */
  probeP50Ms: number;
  probeMaxMs: number;
}

/** A 1 s 160×120 clip made with the located ffmpeg. */
function makeClip(ffmpeg: FfmpegInstall, dir: string): string {
  const file = path.join(dir, 'clip.mp4');
  execFileSync(ffmpeg.ffmpegPath, ['-v', 'error', '-f', 'lavfi', '-i', 'testsrc2=size=160x120:rate=25', '-t', '1', '-pix_fmt', 'yuv420p', '-c:v', 'libx264', '-y', file], { stdio: 'pipe' });
  return file;
}

async function latencyPhase(opts: Options, base: string, ffmpeg: FfmpegInstall): Promise<LatencyRun[]> {
  const clip = makeClip(ffmpeg, base);
  const runs: LatencyRun[] = [];
  for (const mode of ['trickle', 'burst'] as const) {
    const dir = path.join(base, `lat-${mode}`);
    const root = path.join(dir, 'in');
    const out = path.join(dir, 'out');
    await fsp.mkdir(root, { recursive: true });
    await fsp.mkdir(out, { recursive: true });
    const store = openSqliteStore({ file: path.join(dir, 'farm.db') });
    const presets = createPresetCatalog(store, Date.now);
    const coordinator = createCoordinator({ store, clock: systemClock, logger: collectingLogger(), presets });
    const logger = collectingLogger();
    const queuedAt = new Map<string, number>();
    const stableAt = new Map<string, number>();
    const probeAt = new Map<string, { start: number; end: number }>();
    const ffprobe = createProber({ ffprobePath: ffmpeg.ffprobePath }) as unknown as SourceProber;
    store.addWatchFolder({ path: root, presetId: PRESET_ID, outDir: out, recursive: false, include: [], exclude: [], after: { kind: 'keep' }, stabilityMs: opts.windowMs }, Date.now());
    const watch = createWatchService({
      store,
      clock: systemClock,
      logger,
      presets,
      // Timed, to say where the latency goes: waiting to be seen stable, or probing.
      prober: {
        async probe(p) {
          const start = Date.now();
          try {
            return await ffprobe.probe(p);
          } finally {
            probeAt.set(p, { start, end: Date.now() });
          }
        },
      },
      submit: (sub) => {
        const res = coordinator.submit(sub);
        const now = Date.now();
        for (const j of sub.jobs) queuedAt.set(j.inputPath, now);
        return res;
      },
      resumeJobs: (ids) => coordinator.resumeJobs(ids),
    });
    try {
      await watch.start();
      const names = Array.from({ length: opts.files }, (_, i) => path.join(root, `${mode}-${String(i).padStart(4, '0')}.mp4`));
      const land = async (p: string) => {
        await fsp.copyFile(clip, p);
        stableAt.set(p, Date.now());
      };
      if (mode === 'burst') await Promise.all(names.map(land));
      else {
        for (const p of names) {
          await land(p);
          await sleep(opts.gapMs);
        }
      }
      const deadline = Date.now() + opts.windowMs * 5 + opts.files * 500 + 30_000;
      while (queuedAt.size < names.length && Date.now() < deadline) await sleep(50);
      await watch.idle();
      if (queuedAt.size < names.length || logger.errors.length) {
        throw new BenchFailedError(`${mode}: ${queuedAt.size} of ${names.length} files queued; ${[...logger.errors, ...logger.warnings].slice(0, 3).join('; ')}`);
      }
      const lat = names.map((p) => queuedAt.get(p)! - stableAt.get(p)!);
      const toProbe = names.map((p) => probeAt.get(p)!.start - stableAt.get(p)!);
      const probing = names.map((p) => probeAt.get(p)!.end - probeAt.get(p)!.start);
      runs.push({
        mode,
        files: names.length,
        p50Ms: percentile(lat, 50),
        p99Ms: percentile(lat, 99),
        maxMs: Math.max(...lat),
        minMs: Math.min(...lat),
        toProbeP50Ms: percentile(toProbe, 50),
        toProbeMaxMs: Math.max(...toProbe),
        probeP50Ms: percentile(probing, 50),
        probeMaxMs: Math.max(...probing),
      });
    } finally {
      await watch.close();
      coordinator.close();
      store.close();
    }
  }
  return runs;
}

const f1 = (x: number) => x.toFixed(1);

async function main(opts: Options): Promise<number> {
  const base = await fsp.mkdtemp(path.join(opts.dir, 'encodefarm-bench-watch-'));
  const load = os.loadavg().map((x) => x.toFixed(2)).join(' ');
  console.log(`bench/watch: ${os.cpus().length} cores, load average ${load}, temp dir ${base}, ${opts.tsx ? 'under tsx (its loader thread costs CPU even idle)' : 'bundled like the shipped CLI'}`);
  const json: Record<string, unknown> = { bench: 'watch', windowMs: opts.windowMs };
  try {
    if (!opts.skipIdle) {
      const r = await idlePhase(opts, base);
      const rescanEvery = DEFAULT_WATCH_CONFIG.rescanMs / 1000;
      const amortised = r.rescan.cpuMs / rescanEvery;
      const watchingWithRescans = r.watching.cpuMsPerS + amortised;
      console.log(`idle baseline (no watcher, ${opts.idleS} s): CPU ${f1(r.baseline.cpuMsPerS)} ms/s, RSS mean ${f1(r.baseline.rssMeanMb)} MB (max ${f1(r.baseline.rssMaxMb)}), JS heap after GC ${f1(r.baseline.heapAfterGcMb)} MB`);
      console.log(`start-up (first scan + chokidar ready): ${f1(r.startup.wallMs)} ms wall, ${f1(r.startup.cpuMs)} ms CPU`);
      console.log(
        `idle watching (${opts.idleS} s, events + 2 s syncs, no rescan): CPU ${f1(r.watching.cpuMsPerS)} ms/s, RSS mean ${f1(r.watching.rssMeanMb)} MB (max ${f1(r.watching.rssMaxMb)}), JS heap after GC ${f1(r.watching.heapAfterGcMb)} MB`,
      );
      console.log(`one full rescan: ${f1(r.rescan.wallMs)} ms wall, ${f1(r.rescan.cpuMs)} ms CPU → ${amortised.toFixed(2)} ms/s amortised over the default ${rescanEvery} s interval`);
      console.log(
        `ratios watching/baseline: CPU ${(watchingWithRescans / Math.max(r.baseline.cpuMsPerS, 0.001)).toFixed(2)}× (${f1(watchingWithRescans)} vs ${f1(r.baseline.cpuMsPerS)} ms/s, rescans amortised; ${(watchingWithRescans / 10).toFixed(2)} % of one core), ` +
          `RSS ${(r.watching.rssMeanMb / r.baseline.rssMeanMb).toFixed(2)}× (+${f1(r.watching.rssMeanMb - r.baseline.rssMeanMb)} MB)`,
      );
      Object.assign(json, {
        idle: {
          files: r.files,
          dirs: r.dirs,
          kind: r.kind,
          seconds: opts.idleS,
          baselineCpuMsPerS: r.baseline.cpuMsPerS,
          watchingCpuMsPerS: r.watching.cpuMsPerS,
          rescanCpuMs: r.rescan.cpuMs,
          rescanWallMs: r.rescan.wallMs,
          watchingWithRescansCpuMsPerS: watchingWithRescans,
          cpuRatio: watchingWithRescans / Math.max(r.baseline.cpuMsPerS, 0.001),
          baselineRssMb: r.baseline.rssMeanMb,
          watchingRssMb: r.watching.rssMeanMb,
          rssRatio: r.watching.rssMeanMb / r.baseline.rssMeanMb,
          baselineHeapMb: r.baseline.heapAfterGcMb,
          watchingHeapMb: r.watching.heapAfterGcMb,
          startupWallMs: r.startup.wallMs,
          startupCpuMs: r.startup.cpuMs,
        },
      });
    }
    if (!opts.skipLatency) {
      const found = await locateFfmpeg();
      const ffmpeg = opts.ffprobe ? { ...found, ffprobePath: path.resolve(opts.ffprobe) } : found;
      const runs = await latencyPhase(opts, base, ffmpeg);
      const target = opts.windowMs + 1000;
      for (const r of runs) {
        const verdict = r.p99Ms <= target && r.maxMs <= target ? 'PASS' : 'MISS';
        console.log(
          `stable → queued, ${r.mode} (${r.files} files${r.mode === 'trickle' ? `, one every ${opts.gapMs} ms` : ' at once'}, window ${opts.windowMs} ms): ` +
            `p50 ${Math.round(r.p50Ms)} ms, p99 ${Math.round(r.p99Ms)} ms, max ${Math.round(r.maxMs)} ms (min ${Math.round(r.minMs)}); target <= ${target} ms: ${verdict}`,
        );
        console.log(`  of which stable → probe start p50 ${Math.round(r.toProbeP50Ms)} ms (max ${Math.round(r.toProbeMaxMs)}), ffprobe p50 ${Math.round(r.probeP50Ms)} ms (max ${Math.round(r.probeMaxMs)})`);
      }
      json.latency = runs.map((r) => ({ ...r, targetMs: target }));
      json.ffprobe = ffmpeg.ffprobePath;
    }
    console.log(JSON.stringify(json));
    return 0;
  } catch (err) {
    console.error(err instanceof BenchFailedError ? `bench/watch failed: ${err.message}` : err);
    return 1;
  } finally {
    await fsp.rm(base, { recursive: true, force: true });
  }
}

const cli = parseOptions(process.argv.slice(2));
// Measured bundled, as `serve` ships (see bench/dispatch/bundle.ts): tsx's loader alone costs an
// idle process ~15 ms of CPU per second, more than the watcher, and tens of MB of RSS.
if (cli.tsx || process.env[BUNDLED_ENV] === '1') process.exitCode = await main(cli);
else process.exitCode = await runBundled(fileURLToPath(import.meta.url), process.argv.slice(2));
