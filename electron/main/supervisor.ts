import type { Clock, TimerHandle } from '../../core/shared/clock.ts';
import type { Logger } from '../../core/shared/logger.ts';
import { HostMessageSchema, NO_FFMPEG_EXIT } from '../utility/messages.ts';

/** The part of Electron's UtilityProcess the supervisor uses (a fake in tests). */
export interface ChildHandle {
  on(event: 'message', listener: (message: unknown) => void): unknown;
  on(event: 'exit', listener: (code: number) => void): unknown;
  postMessage(message: unknown): void;
  kill(): boolean;
}

export type SupervisorStatus =
  | { state: 'starting'; attempt: number }
  | { state: 'ready'; url: string; token: string }
  /** It exited or failed; the next start is due in `retryInMs`. */
  | { state: 'restarting'; attempt: number; retryInMs: number; reason: string }
  /**
   * It cannot start and restarting by itself will not help: ffmpeg is missing, or it failed
   * before getting ready several times in a row (say, a native module built for another Node).
   * `restart()` tries again.
   */
  | { state: 'failed'; cause: 'no-ffmpeg' | 'keeps-failing'; reason: string }
  | { state: 'stopped' };

export interface SupervisorOptions {
  /** Starts the coordinator host (utilityProcess.fork of coordinator-host.mjs). */
  fork: () => ChildHandle;
  clock: Clock;
  logger: Logger;
  onStatus: (status: SupervisorStatus) => void;
  /** @default 1000 — the first restart's delay; it doubles per crash in a row */
  backoffBaseMs?: number;
  /** @default 30000 */
  backoffMaxMs?: number;
  /** @default 60000 — a child that stayed ready this long resets the backoff */
  healthyAfterMs?: number;
  /** @default 5 — starts in a row that end before `ready` until the supervisor gives up */
  maxFailedStarts?: number;
  /** @default 120000 — device discovery probes every GPU; past this, the child is stuck */
  readyTimeoutMs?: number;
  /** @default 10000 — how long `stop()` waits for a clean exit before killing */
  stopTimeoutMs?: number;
}

export interface Supervisor {
  start(): void;
  /** Asks the child to hand its work back and exit; kills it if it does not in time. */
  stop(): Promise<void>;
  /** Starts again now (after `failed`, or to skip a pending backoff). */
  restart(): void;
  status(): SupervisorStatus;
}

/**
 * Keeps the coordinator's utility process alive: starts it, waits for its `ready` (URL and API
 * token), and restarts it after a crash with exponential backoff, every status change reported.
 * Time comes from the injected clock so tests drive the backoff.
 */
export function createSupervisor(opts: SupervisorOptions): Supervisor {
  const { clock, logger } = opts;
  const base = opts.backoffBaseMs ?? 1000;
  const max = opts.backoffMaxMs ?? 30_000;
  let status: SupervisorStatus = { state: 'stopped' };
  let child: ChildHandle | undefined;
  let crashes = 0;
  let readyAt: number | undefined;
  let timer: TimerHandle | undefined;
  let stopping: Promise<void> | undefined;
  let permanentFailure: string | undefined;
  let lastError: string | undefined;
  let failedStarts = 0;
  let respawnNow = false;

  const set = (s: SupervisorStatus) => {
    status = s;
    opts.onStatus(s);
  };
  const clearTimer = () => {
    if (timer) clock.clearTimeout(timer);
    timer = undefined;
  };

  function spawn(): void {
    clearTimer();
    permanentFailure = undefined;
    lastError = undefined;
    readyAt = undefined;
    set({ state: 'starting', attempt: crashes + 1 });
    const c = opts.fork();
    child = c;
    c.on('message', (raw) => child === c && onMessage(raw));
    c.on('exit', (code) => child === c && onExit(code));
    const readyTimeoutMs = opts.readyTimeoutMs ?? 120_000;
    timer = clock.setTimeout(() => {
      logger.warn('coordinator host did not get ready in time; killing it', { readyTimeoutMs });
      lastError = `not ready after ${Math.round(readyTimeoutMs / 1000)} s`;
      c.kill();
    }, readyTimeoutMs);
  }

  function onMessage(raw: unknown): void {
    const parsed = HostMessageSchema.safeParse(raw);
    if (!parsed.success) return void logger.warn('coordinator host sent an unknown message', { issues: parsed.error.issues.length });
    const m = parsed.data;
    if (m.type === 'ready') {
      clearTimer();
      readyAt = clock.now();
      failedStarts = 0;
      set({ state: 'ready', url: m.url, token: m.token });
    } else {
      logger.error('coordinator host failed to start', { reason: m.reason, message: m.message });
      // The host exits right after; onExit decides between failed and a restart.
      if (m.reason === 'no-ffmpeg') permanentFailure = m.message;
      else lastError = m.message;
    }
  }

  function onExit(code: number): void {
    clearTimer();
    child = undefined;
    if (stopping) return set({ state: 'stopped' });
    if (respawnNow) {
      respawnNow = false;
      return spawn();
    }
    if (permanentFailure !== undefined || code === NO_FFMPEG_EXIT) {
      return set({ state: 'failed', cause: 'no-ffmpeg', reason: permanentFailure ?? 'ffmpeg was not found' });
    }
    const reason = lastError ?? `exited with code ${code}`;
    if (readyAt === undefined && ++failedStarts >= (opts.maxFailedStarts ?? 5)) {
      logger.error('coordinator host keeps failing to start; giving up until asked', { failedStarts, reason });
      return set({ state: 'failed', cause: 'keeps-failing', reason });
    }
    // A child that ran fine for a while crashed for a new reason: start over from the short delay.
    if (readyAt !== undefined && clock.now() - readyAt >= (opts.healthyAfterMs ?? 60_000)) crashes = 0;
    crashes++;
    const retryInMs = Math.min(max, base * 2 ** (crashes - 1));
    logger.warn('coordinator host exited; restarting', { code, retryInMs, attempt: crashes });
    set({ state: 'restarting', attempt: crashes, retryInMs, reason });
    timer = clock.setTimeout(spawn, retryInMs);
  }

  return {
    start: () => {
      if (!child && !stopping && status.state !== 'restarting') spawn();
    },
    restart: () => {
      if (stopping) return;
      crashes = 0;
      failedStarts = 0;
      if (!child) return spawn();
      respawnNow = true;
      child.kill();
    },
    status: () => status,
    stop: () =>
      (stopping ??= new Promise<void>((resolve) => {
        clearTimer();
        const c = child;
        if (!c) {
          set({ state: 'stopped' });
          return resolve();
        }
        c.on('exit', () => resolve());
        c.postMessage({ type: 'stop' });
        timer = clock.setTimeout(() => {
          logger.warn('coordinator host did not stop in time; killing it');
          c.kill();
        }, opts.stopTimeoutMs ?? 10_000);
      })),
  };
}
