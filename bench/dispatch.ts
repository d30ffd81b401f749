/**
 * bench/dispatch: how fast the coordinator hands out work, with the encodes taken out.
 *
 * A real coordinator service (HTTP + WebSocket API, SQLite file, no local agent) and `--agents`
 * simulated agents, each a real WebSocket client on loopback speaking protocol v1 with one null
 * device that finishes at once. `--jobs` tiny input files are submitted with POST /api/v1/batches.
 * Prints jobs/s, p50/p99 from "slot freed" (the agent sent `encoded`) to "next job started" (the
 * next `assign` reached that agent), and the coordinator's RSS, each beside its target (issue 3,
 * point 8). Exits 0 whatever the figures; non-zero when a job was lost or something broke.
 * The measured process runs the code bundled, as the shipped CLI does (see dispatch/bundle.ts).
 *
 *   node --import tsx bench/dispatch.ts [--agents 50] [--jobs 20000] [--slots 2] [--hold-ms 0]
 *     [--fleet inline|child] [--submit http|direct] [--dir D] [--store-timing] [--tsx] [--keep]
 */
import { existsSync, mkdirSync, promises as fsp, realpathSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { startCoordinatorService, type CoordinatorService } from '../core/cli/serve/coordinator-service.ts';
import { createApiClient } from '../core/cli/remote/api-client.ts';
import { openSqliteStore } from '../core/coordinator/store/sqlite-store.ts';
import { dbFileIn } from '../core/coordinator/store/data-dir.ts';
import { planBatch } from '../core/coordinator/intake/plan-batch.ts';
import type { JobStore } from '../core/coordinator/ports.ts';
import type { FfmpegInstall } from '../core/agent/devices/locate-ffmpeg.ts';
import type { Logger } from '../core/shared/logger.ts';
import { SubmitResponseSchema } from '../core/shared/protocol/index.ts';
import { FLEET_CHILD_ENV, startChildFleet, startInlineFleet, type Fleet, type FleetOptions, type FleetReport } from './dispatch/fleet.ts';
import { MB, MemorySampler, memoryPoint, percentile, type MemoryPoint } from './dispatch/stats.ts';
import { checkRun, type RunCheck } from './dispatch/run-checks.ts';
import { formatTimings, timedStore, type MethodTiming } from './dispatch/store-timing.ts';
import { BUNDLED_ENV, runBundled } from './dispatch/bundle.ts';

const PRESET_ID = 'h264-fast';
export const TARGETS = { jobsPerS: 2000, p99Ms: 50, rssMb: 150 } as const;

export interface DispatchOptions {
  agents: number;
  jobs: number;
  slots: number;
  kind: FleetOptions['kind'];
  /**
   * How long each null "encode" takes (default 0: at once). With 0 the loop is closed and saturated,
   * so "slot freed → next job started" is mostly queueing (about slots in flight ÷ jobs/s); a hold
   * that keeps the offered load below capacity shows the dispatch path's own latency.
   */
  holdMs: number;
  /** `inline`: agents in this process (the default); `child`: in a child process, so RSS is the coordinator's alone. */
  fleet: 'inline' | 'child';
  /** `http`: POST /api/v1/batches with the input folder; `direct`: coordinator.submit in process. */
  submit: 'http' | 'direct';
  /** Where the temp dir goes (default /dev/shm when writable, else the OS temp dir). */
  dir: string | undefined;
  timeoutS: number;
  keep: boolean;
  /** Times every store call and prints the table (adds a little overhead per call). */
  storeTiming: boolean;
  /** Run the TypeScript as it is (under tsx) instead of bundled like the shipped CLI; RSS then includes the loader. */
  tsx: boolean;
}

/** The run failed as a run (lost jobs, protocol errors): there is no figure worth printing. */
export class BenchFailedError extends Error {}

/** A logger that keeps the coordinator's warnings and errors (the bench fails on errors). */
function collectingLogger(): Logger & { warnings: string[]; errors: string[] } {
  const warnings: string[] = [];
  const errors: string[] = [];
  const line = (m: string, f?: Record<string, unknown>) => (f ? `${m} ${JSON.stringify(f)}` : m);
  return {
    warnings,
    errors,
    debug() {},
    info() {},
    warn: (m, f) => void warnings.push(line(m, f)),
    error: (m, f) => void errors.push(line(m, f)),
  };
}

/** /dev/shm keeps disk writes (SQLite WAL, fsyncs, links) out of the figures when it is there. */
async function makeWorkDir(base: string | undefined): Promise<{ work: string; onShm: boolean }> {
  const shm = '/dev/shm';
  let parent = base ?? os.tmpdir();
  if (base === undefined && existsSync(shm)) {
    try {
      await fsp.access(shm, fsp.constants.W_OK);
      parent = shm;
    } catch {
      // not writable: the OS temp dir it is
    }
  }
  const work = await fsp.mkdtemp(path.join(parent, 'encodefarm-bench-dispatch-'));
  return { work, onShm: parent === shm };
}

/** Tiny stand-ins: in shared mode the coordinator plans outputs by path and never probes inputs. */
function makeInputs(dir: string, count: number): void {
  mkdirSync(dir, { recursive: true });
  const width = String(count).length;
  // Synchronously: thousands of concurrent writes would grow this process's RSS before the first sample.
  for (let i = 0; i < count; i++) writeFileSync(path.join(dir, `clip-${String(i).padStart(width, '0')}.mp4`), 'in\n');
}

/** The coordinator's ffmpeg is only used to verify uploads (transfer mode), which no null agent makes. */
const NO_FFMPEG: FfmpegInstall = { ffmpegPath: 'ffmpeg', ffprobePath: 'ffprobe', version: 'n/a', ffprobeVersion: 'n/a', encoders: new Set(), source: 'path' };

/**
 * First lease to last done, as the coordinator's job events say; resolves when every job has
 * ended, from the coordinator's cheap 'claimed' and 'ended' events (no row is read for them).
 */
function watchJobs(service: CoordinatorService, jobs: number) {
  let firstLeased: number | undefined;
  let lastEnded = 0;
  const done = new Set<number>();
  const failed = new Set<number>();
  let resolve!: () => void;
  const finished = new Promise<void>((r) => (resolve = r));
  // Cheap events only: listening to 'job' would make the coordinator read every changed row back.
  service.coordinator.events.on('claimed', () => void (firstLeased ??= performance.now()));
  service.coordinator.events.on('ended', ({ jobId, state }) => {
    if (state === 'done') done.add(jobId);
    else if (state === 'failed' || state === 'blocked' || state === 'canceled') failed.add(jobId);
    else return;
    lastEnded = performance.now();
    if (done.size + failed.size >= jobs) resolve();
  });
  return {
    finished,
    done,
    failed,
    elapsedMs: () => (firstLeased === undefined ? NaN : lastEnded - firstLeased),
  };
}

async function submitJobs(opts: DispatchOptions, service: CoordinatorService, apiToken: string, inputs: string, outDir: string): Promise<number> {
  const request = { inputs: [inputs], presetId: PRESET_ID, outDir, onExists: 'skip' as const };
  if (opts.submit === 'direct') {
    const preset = service.presets.get(PRESET_ID)!;
    const planned = await planBatch({ ...request, preset, priority: 0 }, process.cwd(), () => new Set());
    return service.coordinator.submit(planned.submission!).batch.id;
  }
  const api = createApiClient({ url: service.address.url, token: apiToken, timeoutMs: 600_000 });
  const r = await api.post('/batches', SubmitResponseSchema, request);
  if (r.errors.length) throw new BenchFailedError(`submit: ${r.errors.slice(0, 3).join('; ')}`);
  return r.batchId;
}

function withTimeout<T>(p: Promise<T>, s: number, what: () => string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new BenchFailedError(what())), s * 1000)));
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

export interface DispatchResult {
  jobsPerS: number;
  p50Ms: number;
  p99Ms: number;
  latencySamples: number;
  rss: { before: MemoryPoint; idle: MemoryPoint; peakRss: number; peakHeapUsed: number; fleet: NodeJS.MemoryUsage | undefined };
  loopDelay: { p50: number; p99: number; max: number };
  submitMs: number;
  /** First lease to last done. */
  elapsedMs: number;
  storeTimings: MethodTiming[] | undefined;
  check: RunCheck;
  onShm: boolean;
  warnings: string[];
}

export async function runBench(opts: DispatchOptions): Promise<DispatchResult> {
  const { work, onShm } = await makeWorkDir(opts.dir);
  const dataDir = path.join(work, 'data');
  const inputs = path.join(work, 'inputs');
  const outDir = path.join(work, 'out');
  await Promise.all([fsp.mkdir(dataDir), fsp.mkdir(outDir)]);
  makeInputs(inputs, opts.jobs);
  const rawStore = openSqliteStore({ file: dbFileIn(dataDir) });
  const timed = opts.storeTiming ? timedStore(rawStore) : undefined;
  const store: JobStore = timed?.store ?? rawStore;
  const logger = collectingLogger();
  const apiToken = 'bench-api-token-0123456789abcdef';
  let service: CoordinatorService | undefined;
  let fleet: Fleet | undefined;
  const sampler = new MemorySampler();
  try {
    service = await startCoordinatorService({ store, dataDir, logger, ffmpeg: NO_FFMPEG, listen: { host: '127.0.0.1', port: 0 }, apiToken });
    const before = memoryPoint('coordinator alone, before agents');
    const fleetOpts: FleetOptions = { url: service.address.url, apiToken, agents: opts.agents, slots: opts.slots, kind: opts.kind, holdMs: opts.holdMs };
    fleet = opts.fleet === 'child' ? await startChildFleet(fleetOpts) : await startInlineFleet(fleetOpts);
    const idle = memoryPoint(`with ${opts.agents} agents connected, idle`);

    const watch = watchJobs(service, opts.jobs);
    sampler.start();
    const t0 = performance.now();
    const batchId = await submitJobs(opts, service, apiToken, inputs, outDir);
    const submitMs = performance.now() - t0;
    await withTimeout(watch.finished, opts.timeoutS, () => `timed out after ${opts.timeoutS} s: ${watch.done.size} of ${opts.jobs} jobs done`);
    sampler.stop();
    const elapsedMs = watch.elapsedMs();
    await service.coordinator.idle();

    const finishing = fleet;
    fleet = undefined;
    const report: FleetReport = await finishing.finish();
    const check = await checkRun(store, batchId, opts.jobs, outDir);
    const agentErrors = Object.entries(report.errors).filter(([, n]) => n > 0);
    if (agentErrors.length) check.problems.push(`agent side: ${agentErrors.map(([k, n]) => `${k} ${n}`).join(', ')}`);
    if (logger.errors.length) check.problems.push(`coordinator logged ${logger.errors.length} errors, e.g. ${logger.errors[0]}`);
    return {
      jobsPerS: (watch.done.size / elapsedMs) * 1000,
      p50Ms: percentile(report.latencies, 50),
      p99Ms: percentile(report.latencies, 99),
      latencySamples: report.latencies.length,
      rss: { before, idle, peakRss: sampler.peakRss, peakHeapUsed: sampler.peakHeapUsed, fleet: opts.fleet === 'child' ? report.memory : undefined },
      loopDelay: sampler.loopDelayMs(),
      submitMs,
      elapsedMs,
      storeTimings: timed?.timings(),
      check,
      onShm,
      warnings: logger.warnings,
    };
  } finally {
    sampler.stop();
    await fleet?.finish().catch(() => undefined);
    await service?.close();
    rawStore.close();
    if (!opts.keep) await fsp.rm(work, { recursive: true, force: true });
    else console.log(`kept ${work}`);
  }
}

const bundled = () => process.env[BUNDLED_ENV] === '1';
const mb = (bytes: number) => `${(bytes / MB).toFixed(1)} MB`;
const verdict = (ok: boolean) => (ok ? 'PASS' : 'MISS');

function report(opts: DispatchOptions, r: DispatchResult): void {
  const peakMb = r.rss.peakRss / MB;
  const where = r.onShm ? 'on /dev/shm (tmpfs: no disk in the figures)' : `in ${os.tmpdir()} (not tmpfs: disk writes are in the figures)`;
  const fleetNote =
    opts.fleet === 'inline'
      ? `the ${opts.agents} agents live in this same process, so peak RSS includes them and their sockets (the idle line above less the first is roughly their share at rest)`
      : `the agents ran in a child process (its RSS at the end: ${mb(r.rss.fleet!.rss)}); the figures above are the coordinator's process alone`;
  console.log(
    [
      `dispatch: ${opts.jobs} jobs, ${opts.agents} agents × 1 null ${opts.kind} device × ${opts.slots} slots` +
        `${opts.holdMs ? ` (each job held ${opts.holdMs} ms: at most ${Math.round((opts.agents * opts.slots * 1000) / opts.holdMs)} jobs/s offered)` : ' (finishing at once)'}, SQLite and files ${where}`,
      `  code: ${bundled() ? 'bundled by esbuild like dist/cli.mjs (no TypeScript loader in the process)' : 'run under tsx (its loader adds ~40 MB of RSS that the shipped CLI does not have)'}`,
      `  submit (${opts.submit === 'http' ? 'POST /api/v1/batches, folder of inputs' : 'coordinator.submit in process'}): ${(r.submitMs / 1000).toFixed(2)} s`,
      `  throughput     ${r.jobsPerS.toFixed(0).padStart(7)} jobs/s   target >= ${TARGETS.jobsPerS}     ${verdict(r.jobsPerS >= TARGETS.jobsPerS)}   (first lease to last done)`,
      `  freed→started  p50 ${r.p50Ms.toFixed(2)} ms, p99 ${r.p99Ms.toFixed(2)} ms   target p99 < ${TARGETS.p99Ms} ms   ${verdict(r.p99Ms < TARGETS.p99Ms)}   (${r.latencySamples} samples)`,
      `  RSS peak       ${mb(r.rss.peakRss).padStart(9)}   target < ${TARGETS.rssMb} MB     ${verdict(peakMb < TARGETS.rssMb)}   (heap used peak ${mb(r.rss.peakHeapUsed)})`,
      `    ${r.rss.before.label}: RSS ${mb(r.rss.before.rss)}, heap ${mb(r.rss.before.heapUsed)}`,
      `    ${r.rss.idle.label}: RSS ${mb(r.rss.idle.rss)}, heap ${mb(r.rss.idle.heapUsed)}`,
      `    note: ${fleetNote}`,
      `  event loop delay during the run: p50 ${r.loopDelay.p50.toFixed(1)} ms, p99 ${r.loopDelay.p99.toFixed(1)} ms, max ${r.loopDelay.max.toFixed(1)} ms`,
      `  check: ${r.check.done}/${opts.jobs} done, ${r.check.outputs} output files, ${r.check.retried} leased more than once, ${r.warnings.length} coordinator warnings`,
    ].join('\n'),
  );
  for (const w of r.warnings.slice(0, 5)) console.log(`    warning: ${w}`);
  if (r.storeTimings) console.log(formatTimings(r.storeTimings, opts.jobs, r.elapsedMs));
  const r2 = (x: number) => Math.round(x * 100) / 100;
  console.log(
    JSON.stringify({
      bench: 'dispatch',
      jobs: opts.jobs,
      agents: opts.agents,
      slots: opts.slots,
      holdMs: opts.holdMs,
      fleet: opts.fleet,
      submit: opts.submit,
      bundled: bundled(),
      tmpfs: r.onShm,
      jobsPerS: Math.round(r.jobsPerS),
      p50Ms: r2(r.p50Ms),
      p99Ms: r2(r.p99Ms),
      rssPeakMb: r2(peakMb),
      rssBeforeAgentsMb: r2(r.rss.before.rss / MB),
      rssAgentsIdleMb: r2(r.rss.idle.rss / MB),
      heapPeakMb: r2(r.rss.peakHeapUsed / MB),
      submitMs: Math.round(r.submitMs),
      pass: { jobsPerS: r.jobsPerS >= TARGETS.jobsPerS, p99: r.p99Ms < TARGETS.p99Ms, rss: peakMb < TARGETS.rssMb },
    }),
  );
}

export function parseOptions(argv: readonly string[]): DispatchOptions {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      agents: { type: 'string' },
      jobs: { type: 'string' },
      slots: { type: 'string' },
      kind: { type: 'string' },
      'hold-ms': { type: 'string' },
      fleet: { type: 'string' },
      submit: { type: 'string' },
      dir: { type: 'string' },
      timeout: { type: 'string' },
      keep: { type: 'boolean', default: false },
      'store-timing': { type: 'boolean', default: false },
      tsx: { type: 'boolean', default: false },
    },
  });
  const int = (name: string, v: string | undefined, fallback: number, min: number): number => {
    if (v === undefined) return fallback;
    const n = Number(v);
    if (!Number.isInteger(n) || n < min) throw new Error(`--${name}: expected a whole number >= ${min}, got "${v}"`);
    return n;
  };
  const oneOf = <T extends string>(name: string, v: string | undefined, allowed: readonly T[]): T => {
    if (v === undefined) return allowed[0]!;
    if (!(allowed as readonly string[]).includes(v)) throw new Error(`--${name}: expected one of ${allowed.join(', ')}, got "${v}"`);
    return v as T;
  };
  return {
    agents: int('agents', values.agents, 50, 1),
    jobs: int('jobs', values.jobs, 20_000, 1),
    slots: int('slots', values.slots, 2, 1),
    kind: oneOf('kind', values.kind, ['simulated-gpu', 'cpu'] as const),
    holdMs: int('hold-ms', values['hold-ms'], 0, 0),
    fleet: oneOf('fleet', values.fleet, ['inline', 'child'] as const),
    submit: oneOf('submit', values.submit, ['http', 'direct'] as const),
    dir: values.dir === undefined ? undefined : path.resolve(values.dir),
    timeoutS: int('timeout', values.timeout, 300, 1),
    keep: values.keep === true,
    storeTiming: values['store-timing'] === true,
    tsx: values.tsx === true,
  };
}

/** The bench proper, in the process that is measured. */
async function main(opts: DispatchOptions): Promise<void> {
  const result = await runBench(opts);
  report(opts, result);
  if (result.check.problems.length) {
    for (const p of result.check.problems) process.stderr.write(`dispatch: ${p}\n`);
    process.exitCode = 1;
  }
}

// Real paths: the bundle may be reached through a symlinked node_modules.
const isMain = process.argv[1] !== undefined && realpathSync(process.argv[1]) === realpathSync(fileURLToPath(import.meta.url));
// A bundled fleet child loads this same file; only the fleet runs there.
if (isMain && process.env[FLEET_CHILD_ENV] !== '1') {
  try {
    const opts = parseOptions(process.argv.slice(2));
    if (opts.tsx || bundled()) await main(opts);
    else process.exitCode = await runBundled(fileURLToPath(import.meta.url), process.argv.slice(2));
  } catch (err) {
    process.stderr.write(`dispatch: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  }
}
