import { ACTIVE_STATES, JOB_STATES, TERMINAL_STATES, type JobState } from '../../core/shared/job-state.ts';
import type { Clock, TimerHandle } from '../../core/shared/clock.ts';
import type { Logger } from '../../core/shared/logger.ts';
import type { JobView } from '../../core/shared/protocol/index.ts';
import type { FarmClient } from './farm-client.ts';

/** The farm as the tray and the taskbar show it. */
export interface FarmProgress {
  counts: Record<JobState, number>;
  /** Jobs holding a device slot (leased, running, verifying). */
  active: number;
  /** Jobs not finished yet (active, queued, paused, blocked). */
  pending: number;
  /** Progress of the work queued since the farm was last idle, 0–1; null when idle. */
  fraction: number | null;
  /** Work is waiting and nothing runs because it is held (paused jobs, or batches paused from the tray). */
  paused: boolean;
  /** Sum of the running encodes' fps. */
  fps: number;
}

export type FarmNotice =
  /** `count` jobs failed since the last look; `jobs` are the latest few of them. */
  | { kind: 'jobs-failed'; count: number; jobs: JobView[] }
  | { kind: 'batch-finished'; batchId: number; done: number; failed: number; canceled: number };

export interface FarmMonitorOptions {
  client: Pick<FarmClient, 'jobs'>;
  clock: Clock;
  logger: Logger;
  onProgress: (p: FarmProgress | null) => void;
  onNotice: (n: FarmNotice) => void;
  /** @default 2000 */
  intervalMs?: number;
}

const ACTIVE = JOB_STATES.filter((s) => ACTIVE_STATES.has(s));
const PENDING = JOB_STATES.filter((s) => !TERMINAL_STATES.has(s));
const MAX_WATCHED_BATCHES = 50;

/**
 * Polls the coordinator every couple of seconds for the job counts and the running jobs (one
 * small request), and turns changes into progress and notices: a batch whose last job finished,
 * jobs that failed. Counts before the first poll of a connection are history, never notices.
 */
export function createFarmMonitor(opts: FarmMonitorOptions) {
  const { client, clock, logger } = opts;
  const interval = opts.intervalMs ?? 2000;
  let timer: TimerHandle | undefined;
  let running = false;
  let generation = 0;
  let prev: Record<JobState, number> | undefined;
  let runStartFinished: number | undefined;
  let heldByUser = false;
  const watched = new Set<number>();

  async function poll(gen: number): Promise<void> {
    const page = await client.jobs({ states: ACTIVE, limit: 1000 });
    if (gen !== generation) return;
    const counts = countsOf(page.counts);
    const notices: FarmNotice[] = [];
    if (prev && counts.failed > prev.failed) {
      const count = counts.failed - prev.failed;
      const latest = await client.jobs({ states: ['failed'], sort: 'finished', dir: 'desc', limit: Math.min(count, 3) });
      notices.push({ kind: 'jobs-failed', count, jobs: latest.jobs });
    }
    notices.push(...(await finishedBatches(new Set(page.jobs.map((j) => j.batchId)))));
    if (gen !== generation) return;
    prev = counts;
    opts.onProgress(progressOf(counts, page.jobs));
    for (const n of notices) opts.onNotice(n);
  }

  /** Batches seen running that have nothing left to do now. */
  async function finishedBatches(activeBatches: Set<number>): Promise<FarmNotice[]> {
    for (const b of activeBatches) if (watched.size < MAX_WATCHED_BATCHES) watched.add(b);
    const out: FarmNotice[] = [];
    for (const batchId of [...watched].filter((b) => !activeBatches.has(b))) {
      const remaining = await client.jobs({ batchId, states: PENDING, limit: 1 });
      if (remaining.total > 0) continue;
      watched.delete(batchId);
      const total = async (state: JobState) => (await client.jobs({ batchId, states: [state], limit: 1 })).total;
      out.push({ kind: 'batch-finished', batchId, done: await total('done'), failed: await total('failed'), canceled: await total('canceled') });
    }
    return out;
  }

  function progressOf(counts: Record<JobState, number>, activeJobs: readonly JobView[]): FarmProgress {
    const active = ACTIVE.reduce((n, s) => n + counts[s], 0);
    const pending = PENDING.reduce((n, s) => n + counts[s], 0);
    const finished = counts.done + counts.failed + counts.canceled;
    if (pending === 0) {
      runStartFinished = undefined;
      heldByUser = false;
    } else runStartFinished ??= finished;
    // Progress of "this run": what finished since the farm was last idle, plus the running
    // encodes' own progress, over that plus what is still to do. A retry can lower `finished`.
    const doneSince = Math.max(0, finished - (runStartFinished ?? finished));
    const partial = activeJobs.reduce((n, j) => n + Math.min(100, Math.max(0, j.percent)) / 100, 0);
    const fraction = pending === 0 ? null : Math.min(1, (doneSince + partial) / (doneSince + pending));
    const waiting = counts.queued + counts.blocked;
    return {
      counts,
      active,
      pending,
      fraction,
      paused: pending > 0 && active === 0 && (waiting === 0 || heldByUser),
      fps: activeJobs.reduce((n, j) => n + j.fps, 0),
    };
  }

  function schedule(): void {
    const gen = generation;
    timer = clock.setTimeout(() => {
      poll(gen)
        .catch((err: unknown) => {
          logger.debug('farm poll failed', { error: (err as Error).message });
          if (gen === generation) opts.onProgress(null);
        })
        .finally(() => {
          if (running && gen === generation) schedule();
        });
    }, interval);
  }

  function start(): void {
    if (running) return;
    running = true;
    schedule();
  }

  function stop(): void {
    running = false;
    generation++;
    if (timer) clock.clearTimeout(timer);
    timer = undefined;
  }

  return {
    start,
    stop,
    /** Another coordinator (or the same one restarted): forget what was seen, poll afresh. */
    reset(): void {
      const wasRunning = running;
      stop();
      prev = undefined;
      runStartFinished = undefined;
      heldByUser = false;
      watched.clear();
      if (wasRunning) start();
    },
    /** The tray paused or resumed every batch: queued work is held (or not) on purpose. */
    setHeldByUser(held: boolean): void {
      heldByUser = held;
    },
  };
}

export type FarmMonitor = ReturnType<typeof createFarmMonitor>;

function countsOf(raw: Record<string, number>): Record<JobState, number> {
  return Object.fromEntries(JOB_STATES.map((s) => [s, raw[s] ?? 0])) as Record<JobState, number>;
}
