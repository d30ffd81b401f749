import { FfmpegMissingError } from '../shared/errors.ts';
import { isTerminal } from '../shared/job-state.ts';
import type { JobRow } from '../coordinator/ports.ts';
import type { Coordinator } from '../coordinator/coordinator.ts';
import { startLocalFarm, type LocalFarm } from './local-farm.ts';
import type { FfmpegInstall } from '../agent/devices/locate-ffmpeg.ts';
import { createProgressView } from './progress-view.ts';
import { renderResults } from './results-table.ts';
import {
  discoverDevices,
  findFfmpeg,
  openData,
  parseIntOption,
  secondsOption,
  type CommonOptions,
  type DeviceOptions,
  type OpenedData,
  type Terminal,
} from './context.ts';

export const EXIT = { ok: 0, failed: 1, usage: 2, noFfmpeg: 3, interrupted: 130 } as const;

export interface FarmOptions extends CommonOptions, DeviceOptions {
  /** Test and tuning knobs, hidden from --help. */
  retryBaseMs?: string;
  stallTimeout?: string;
}

export interface FarmSession {
  farm: LocalFarm;
  data: OpenedData;
  deviceLabel(job: JobRow): string;
}

/**
 * Opens the data dir, finds ffmpeg and the devices, starts the embedded farm, runs `body`, and
 * always shuts down cleanly (running work requeued, temp files removed, database closed).
 */
export async function withFarmSession(opts: FarmOptions, term: Terminal, body: (s: FarmSession) => Promise<number>): Promise<number> {
  const data = openData(opts, term);
  try {
    const ffmpeg = await findFfmpegOrSay(opts, term);
    if (!ffmpeg) return EXIT.noFfmpeg;
    const deviceSet = await discoverDevices(ffmpeg, opts, term);
    for (const notice of deviceSet.notices) term.err(`${notice}\n`);
    if (!deviceSet.devices.some((d) => d.slots > 0 && d.codecs.length > 0)) {
      term.err('encodefarm: no device can encode here (see `encodefarm devices`)\n');
      return EXIT.failed;
    }
    const stallTimeoutMs = secondsOption('stall-timeout', opts.stallTimeout);
    const farm = await startLocalFarm({
      store: data.store,
      ffmpeg,
      deviceSet,
      logger: data.logger,
      coordinator: retryConfig(opts),
      stallTimeoutMs,
    });
    const labels = new Map(farm.coordinator.devices().map((d) => [d.id, d.kind === 'simulated-gpu' ? `${d.label} (simulated)` : d.label]));
    try {
      return await body({ farm, data, deviceLabel: (j) => (j.deviceId ? (labels.get(j.deviceId) ?? j.deviceId) : '-') });
    } finally {
      await farm.shutdown();
    }
  } finally {
    data.store.close();
    data.closeLog();
  }
}

/** The ffmpeg to use, or undefined after telling the user plainly how to get one. */
export async function findFfmpegOrSay(opts: CommonOptions, term: Terminal): Promise<FfmpegInstall | undefined> {
  try {
    return await findFfmpeg(opts, term);
  } catch (err) {
    if (!(err instanceof FfmpegMissingError)) throw err;
    term.err(`encodefarm: ${err.message}\n`);
    return undefined;
  }
}

function retryConfig(opts: FarmOptions) {
  const baseMs = parseIntOption('retry-base-ms', opts.retryBaseMs, 0);
  return baseMs === undefined ? undefined : { failure: { maxAttempts: 5, baseMs, capMs: Math.max(baseMs, baseMs * 16), maxRequeues: 20 } };
}

const settledState = (j: JobRow) => isTerminal(j.state) || j.state === 'blocked';

/**
 * Shows live progress for one batch until every job in it is settled (done, failed, canceled or
 * blocked) or `signal` aborts, then prints the results table. `start` submits or requeues the
 * work and returns the batch id; listening begins before it so no event is missed.
 */
export async function superviseBatch(
  s: FarmSession,
  term: Terminal,
  start: () => number,
  upfront: readonly string[],
  signal?: AbortSignal,
): Promise<number> {
  const { coordinator } = s.farm;
  const seen: JobRow[] = [];
  let onJob: (j: JobRow) => void = (j) => void seen.push(j);
  const listener = (j: JobRow) => onJob(j);
  coordinator.events.on('job', listener);
  try {
    const batchId = start();
    const jobsNow = () => s.data.store.listJobs({ batchId });
    const view = createProgressView({ tty: term.tty, total: jobsNow().length, deviceLabel: s.deviceLabel, write: term.err });
    const interrupted = await untilSettled(coordinator, batchId, jobsNow, view.update, seen, (fn) => (onJob = fn), signal);
    view.stop();
    if (interrupted) {
      term.err('interrupted: running jobs were put back in the queue; run the same command again to finish\n');
      return EXIT.interrupted;
    }
    const jobs = jobsNow();
    term.out(renderResults(jobs, s.deviceLabel, upfront) + '\n');
    return upfront.length === 0 && jobs.every((j) => j.state === 'done') ? EXIT.ok : EXIT.failed;
  } finally {
    coordinator.events.off('job', listener);
  }
}

function untilSettled(
  coordinator: Coordinator,
  batchId: number,
  jobsNow: () => JobRow[],
  show: (j: JobRow) => void,
  early: readonly JobRow[],
  setListener: (fn: (j: JobRow) => void) => void,
  signal: AbortSignal | undefined,
): Promise<boolean> {
  return new Promise((resolve) => {
    const finish = (interrupted: boolean) => {
      setListener(() => {});
      signal?.removeEventListener('abort', onAbort);
      resolve(interrupted);
    };
    const onAbort = () => finish(true);
    signal?.addEventListener('abort', onAbort, { once: true });
    // Settled-ness is counted as events arrive: re-reading the whole batch per event would be
    // quadratic in its size.
    const settled = new Map<number, boolean>();
    let unsettled = 0;
    const track = (j: JobRow) => {
      const was = settled.get(j.id);
      const now = settledState(j);
      if (was === undefined) unsettled += now ? 0 : 1;
      else if (was !== now) unsettled += now ? -1 : 1;
      settled.set(j.id, now);
    };
    setListener((j) => {
      if (j.batchId !== batchId) return;
      show(j);
      track(j);
      if (unsettled === 0) void coordinator.idle().then(() => finish(false));
    });
    for (const j of early) if (j.batchId === batchId) show(j);
    for (const j of jobsNow()) {
      show(j);
      track(j);
    }
    if (unsettled === 0) finish(false);
    if (signal?.aborted) finish(true);
  });
}
