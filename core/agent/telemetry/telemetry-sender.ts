import type { Clock, TimerHandle } from '../../shared/clock.ts';
import type { Logger } from '../../shared/logger.ts';
import { TelemetrySampleSchema, type TelemetrySample } from '../../shared/telemetry.ts';
import type { TelemetrySource } from './telemetry-source.ts';

/** @default 2000 ms between polls of the telemetry source. */
export const DEFAULT_TELEMETRY_INTERVAL_MS = 2000;
/** Polls closer than this would only cost the host CPU: NVML itself refreshes about once a second. */
export const MIN_TELEMETRY_INTERVAL_MS = 1000;
/** An unchanged sample (only its `at` moved) is sent again after this long, so the coordinator sees it is fresh. */
export const TELEMETRY_REPEAT_MS = 10_000;

export interface TelemetrySenderOptions {
  source: TelemetrySource;
  clock: Clock;
  logger: Logger;
  /** @default DEFAULT_TELEMETRY_INTERVAL_MS; at least MIN_TELEMETRY_INTERVAL_MS. */
  intervalMs?: number;
  send(sample: TelemetrySample): void;
}

export interface TelemetrySender {
  /** Starts polling (now, then every interval); a second call only polls now. */
  start(): void;
  /** Stops polling; a poll in flight is dropped when it returns. */
  stop(): void;
  /** The next sample goes out even if unchanged (a new coordinator connection knows nothing yet). */
  forget(): void;
}

/**
 * Polls a telemetry source in-process on the agent's clock and sends what it reads, coalesced:
 * at most one poll in flight (a slow source skips ticks rather than queueing them), and a sample
 * that differs from the last one sent only in `at` is sent again only after TELEMETRY_REPEAT_MS.
 */
export function createTelemetrySender(opts: TelemetrySenderOptions): TelemetrySender {
  const { source, clock, logger } = opts;
  const intervalMs = opts.intervalMs ?? DEFAULT_TELEMETRY_INTERVAL_MS;
  if (!Number.isFinite(intervalMs) || intervalMs < MIN_TELEMETRY_INTERVAL_MS) {
    throw new RangeError(`Expected telemetryIntervalMs to be at least ${MIN_TELEMETRY_INTERVAL_MS}, got ${intervalMs}`);
  }
  let timer: TimerHandle | undefined;
  let running = false;
  let inFlight = false;
  /** Bumped by stop(): a poll that returns after it belongs to an earlier run and is dropped. */
  let generation = 0;
  let last: { figures: string; sentAt: number } | undefined;
  /** Whether the last poll failed, so a failing source is logged once per streak, not every tick. */
  let failing = false;

  function tick(): void {
    timer = clock.setTimeout(tick, intervalMs);
    poll();
  }

  function poll(): void {
    if (inFlight) return;
    inFlight = true;
    const run = generation;
    source.sample().then(
      (raw) => {
        inFlight = false;
        if (run === generation) deliver(raw);
      },
      (err: unknown) => {
        inFlight = false;
        if (run === generation) noteFailure(err instanceof Error ? err.message : String(err));
      },
    );
  }

  function deliver(raw: TelemetrySample): void {
    // The source is another module's code: what goes on the wire is checked here, once.
    const parsed = TelemetrySampleSchema.safeParse(raw);
    if (!parsed.success) return noteFailure(`invalid sample: ${parsed.error.issues[0]?.message ?? 'schema mismatch'}`);
    if (failing) logger.info('GPU telemetry is back', { source: parsed.data.source });
    failing = false;
    const { at: _at, ...rest } = parsed.data;
    const figures = JSON.stringify(rest);
    const now = clock.now();
    if (last && last.figures === figures && now - last.sentAt < TELEMETRY_REPEAT_MS) return;
    last = { figures, sentAt: now };
    opts.send(parsed.data);
  }

  function noteFailure(reason: string): void {
    if (!failing) logger.warn('GPU telemetry poll failed; the farm runs on without it', { source: source.kind, reason });
    failing = true;
  }

  return {
    start() {
      if (running) return poll();
      running = true;
      tick();
    },
    stop() {
      running = false;
      generation++;
      if (timer) clock.clearTimeout(timer);
      timer = undefined;
    },
    forget() {
      last = undefined;
    },
  };
}
