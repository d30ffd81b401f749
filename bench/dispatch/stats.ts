import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';

/** The p-th percentile (0–100) of `xs`, nearest rank; NaN when empty. */
export function percentile(xs: readonly number[], p: number): number {
  if (xs.length === 0) return NaN;
  const s = Float64Array.from(xs).sort();
  const rank = Math.ceil((p / 100) * s.length);
  return s[Math.min(s.length - 1, Math.max(0, rank - 1))]!;
}

export const MB = 1024 * 1024;

/** A labelled snapshot of this process's memory. */
export interface MemoryPoint {
  label: string;
  rss: number;
  heapUsed: number;
}

export function memoryPoint(label: string): MemoryPoint {
  const m = process.memoryUsage();
  return { label, rss: m.rss, heapUsed: m.heapUsed };
}

/**
 * Samples this process's RSS and heap every `everyMs` while a run lasts (and the event loop's
 * delay, which shows how long any message waited behind other work).
 */
export class MemorySampler {
  peakRss = 0;
  peakHeapUsed = 0;
  samples = 0;
  private timer: NodeJS.Timeout | undefined;
  private readonly loopDelay: IntervalHistogram = monitorEventLoopDelay({ resolution: 5 });

  constructor(private readonly everyMs = 50) {}

  start(): void {
    this.sample();
    this.loopDelay.enable();
    this.timer = setInterval(() => this.sample(), this.everyMs);
    // A run that fails must not be kept alive by its sampler.
    this.timer.unref();
  }

  /** Idempotent: the bench stops it when the jobs are done and again on the way out. */
  stop(): void {
    if (!this.timer) return;
    this.sample();
    this.loopDelay.disable();
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Event loop delay while sampling, in ms (nanoseconds from the histogram). */
  loopDelayMs(): { p50: number; p99: number; max: number } {
    const h = this.loopDelay;
    return { p50: h.percentile(50) / 1e6, p99: h.percentile(99) / 1e6, max: h.max / 1e6 };
  }

  private sample(): void {
    const m = process.memoryUsage();
    this.samples++;
    this.peakRss = Math.max(this.peakRss, m.rss);
    this.peakHeapUsed = Math.max(this.peakHeapUsed, m.heapUsed);
  }
}
