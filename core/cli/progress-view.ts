import path from 'node:path';
import cliProgress from 'cli-progress';
import type { JobRow } from '../coordinator/ports.ts';
import { ACTIVE_STATES, isTerminal } from '../shared/job-state.ts';
import { formatEta, printable } from './format.ts';

export interface ProgressView {
  update(job: JobRow): void;
  stop(): void;
}

interface Counts {
  total: number;
  settled: number;
}

/**
 * Live progress: on a terminal, one bar per running job plus one for the batch; otherwise (CI,
 * pipes) one line per job start and end, so logs stay readable.
 */
export interface ProgressViewOptions {
  tty: boolean;
  total: number;
  deviceLabel: (job: JobRow) => string;
  /** Where plain lines go (not a terminal). */
  write: (s: string) => void;
  /** Where bars are drawn on a terminal. @default process.stderr */
  stream?: NodeJS.WritableStream;
}

export function createProgressView(opts: ProgressViewOptions): ProgressView {
  return opts.tty ? barsView(opts) : linesView(opts);
}

function name(job: JobRow): string {
  return printable(path.basename(job.inputPath));
}

function barsView(opts: ProgressViewOptions): ProgressView {
  const multi = new cliProgress.MultiBar(
    {
      format: ' {bar} {percentage}% | {label} | {fps} fps {speed}x | ETA {eta_h}',
      barsize: 24,
      hideCursor: true,
      clearOnComplete: false,
      stopOnComplete: false,
      fps: 8,
      // Bars on stderr, so stdout carries only the results table (pipe-friendly).
      stream: opts.stream ?? process.stderr,
    },
    cliProgress.Presets.shades_classic,
  );
  const batch = multi.create(opts.total, 0, { label: `batch 0/${opts.total}`, fps: '-', speed: '-', eta_h: '--' });
  const bars = new Map<number, cliProgress.SingleBar>();
  const jobs = new Map<number, JobRow>();

  const refreshBatch = () => {
    const all = [...jobs.values()];
    const settled = all.filter((j) => isTerminal(j.state) || j.state === 'blocked').length;
    const running = all.filter((j) => ACTIVE_STATES.has(j.state));
    const fps = running.reduce((s, j) => s + j.fps, 0);
    const speed = running.reduce((s, j) => s + j.speed, 0);
    batch.update(settled, {
      label: `batch ${settled}/${opts.total} done, ${running.length} running`,
      fps: fps.toFixed(0),
      speed: speed.toFixed(2),
      eta_h: formatEta(batchEtaS(all, speed)),
    });
  };

  return {
    update(job) {
      jobs.set(job.id, job);
      let bar = bars.get(job.id);
      if (ACTIVE_STATES.has(job.state)) {
        const payload = {
          label: `${name(job)} on ${opts.deviceLabel(job)}`,
          fps: job.fps.toFixed(0),
          speed: job.speed.toFixed(2),
          eta_h: formatEta(job.etaS),
        };
        if (!bar) bars.set(job.id, (bar = multi.create(100, Math.round(job.percent), payload)));
        else bar.update(Math.round(job.percent), payload);
      } else if (bar) {
        multi.remove(bar);
        bars.delete(job.id);
      }
      refreshBatch();
    },
    stop() {
      multi.stop();
    },
  };
}

function linesView(opts: ProgressViewOptions): ProgressView {
  const last = new Map<number, string>();
  const counts: Counts = { total: opts.total, settled: 0 };
  return {
    update(job) {
      const prev = last.get(job.id);
      if (prev === job.state) return;
      last.set(job.id, job.state);
      if (isTerminal(job.state) || job.state === 'blocked') counts.settled++;
      if (job.state === 'running') opts.write(`started  ${name(job)} on ${opts.deviceLabel(job)}\n`);
      else if (job.state === 'done') opts.write(`done     ${name(job)} [${counts.settled}/${counts.total}]\n`);
      else if (job.state === 'failed' || job.state === 'blocked' || job.state === 'canceled') {
        opts.write(`${job.state.padEnd(8)} ${name(job)}: ${job.errorMessage ?? ''} [${counts.settled}/${counts.total}]\n`);
      } else if (job.state === 'queued' && prev && prev !== 'paused' && job.errorMessage) {
        opts.write(`retrying ${name(job)}: ${job.errorMessage}\n`);
      }
    },
    stop() {},
  };
}

/**
 * Media seconds left in the batch divided by the combined speed of the running encodes. Jobs not
 * probed yet count as the average known duration.
 */
export function batchEtaS(jobs: readonly JobRow[], combinedSpeed: number): number | null {
  if (combinedSpeed <= 0) return null;
  const known = jobs.filter((j) => j.durationS !== null).map((j) => j.durationS!);
  const avg = known.length ? known.reduce((a, b) => a + b, 0) / known.length : 0;
  let remaining = 0;
  for (const j of jobs) {
    if (isTerminal(j.state) || j.state === 'blocked') continue;
    remaining += (j.durationS ?? avg) * (1 - j.percent / 100);
  }
  return remaining / combinedSpeed;
}
