import { spawn, type ChildProcess } from 'node:child_process';
import type { Clock, TimerHandle } from '../../shared/clock.ts';
import type { GpuTelemetry } from '../../shared/telemetry.ts';
import { backoffDelay, backoffOptions, type BackoffOptions } from '../client/backoff.ts';

/**
 * The telemetry fallback when NVML is not loadable: ONE long-lived `nvidia-smi --query-gpu=…
 * -lms <ms>` process that prints a CSV row per GPU every interval, rather than a spawn per poll
 * (7–20 ms of CPU each, seconds on a busy host). Reading the figures is then reading the latest
 * row per GPU. The process is restarted with backoff if it dies.
 */

/** The fields asked for, in the order the row parser expects (see `nvidia-smi --help-query-gpu`). */
export const TELEMETRY_FIELDS = [
  'index',
  'uuid',
  'name',
  'pci.bus_id',
  'memory.used',
  'memory.total',
  'temperature.gpu',
  'utilization.gpu',
  'utilization.encoder',
  'utilization.decoder',
  'encoder.stats.sessionCount',
  'encoder.stats.averageFps',
  'encoder.stats.averageLatency',
  'driver_version',
] as const;

/** argv for the telemetry query: with `intervalMs`, nvidia-smi repeats it every that many ms until killed. */
export function telemetryQueryArgs(intervalMs?: number): string[] {
  const args = [`--query-gpu=${TELEMETRY_FIELDS.join(',')}`, '--format=csv,noheader,nounits'];
  return intervalMs === undefined ? args : [...args, '-lms', String(Math.round(intervalMs))];
}

const MIB = 1024 * 1024;

/**
 * One `--format=csv,noheader,nounits` row of the telemetry query; undefined for anything else (a
 * complaint such as "NVIDIA-SMI has failed …", a blank line). `[N/A]`, `[Not Supported]` and
 * other bracketed answers become null. Memory comes in MiB, latency in microseconds.
 */
export function parseTelemetryRow(line: string): GpuTelemetry | undefined {
  const fields = line.split(',').map((f) => f.trim());
  if (fields.length !== TELEMETRY_FIELDS.length) return undefined;
  const [index, uuid, name, pciBusId, memUsed, memTotal, temp, gpu, enc, dec, sessions, fps, latency, driver] = fields as [
    string, string, string, string, string, string, string, string, string, string, string, string, string, string,
  ];
  if (!/^\d+$/.test(index) || Number(index) > 1023 || !name) return undefined;
  const used = num(memUsed);
  const total = num(memTotal);
  return {
    index: Number(index),
    uuid: text(uuid, 100) ?? '',
    name: name.slice(0, 200),
    pciBusId: text(pciBusId, 100) ?? '',
    memoryUsedBytes: used === null || used < 0 ? null : used * MIB,
    memoryTotalBytes: total === null || total < 0 ? null : total * MIB,
    temperatureC: num(temp),
    gpuUtil: pct(gpu),
    encoderUtil: pct(enc),
    decoderUtil: pct(dec),
    encoderSessions: whole(sessions),
    encoderFps: nonNegative(fps),
    encoderLatencyUs: nonNegative(latency),
    // nvidia-smi has no query for nvmlDeviceGetEncoderCapacity.
    encoderCapacity: { h264: null, hevc: null, av1: null },
    driverVersion: text(driver, 50),
  };
}

function num(s: string): number | null {
  return /^-?\d+(?:\.\d+)?$/.test(s) ? Number(s) : null;
}
function pct(s: string): number | null {
  const n = num(s);
  return n !== null && n >= 0 && n <= 100 ? n : null;
}
function whole(s: string): number | null {
  const n = num(s);
  return n !== null && Number.isInteger(n) && n >= 0 ? n : null;
}
function nonNegative(s: string): number | null {
  const n = num(s);
  return n !== null && n >= 0 ? n : null;
}
function text(s: string, max: number): string | null {
  return s === '' || /^\[.*\]$/.test(s) || s === 'N/A' ? null : s.slice(0, max);
}

export interface NvidiaSmiStreamOptions {
  /** Absolute path of nvidia-smi. */
  binary: string;
  /** `-lms`: how often nvidia-smi prints. */
  intervalMs: number;
  clock: Clock;
  env?: NodeJS.ProcessEnv;
  /** Restart delays after the process dies. @default { baseMs: 1000, maxMs: 30000 } */
  restart?: Partial<BackoffOptions>;
  /** Jitter source for the restart delay, in [0, 1). @default Math.random */
  random?: () => number;
  /** A row older than this is dropped from `latest()`. @default max(5 s, 3 intervals) */
  staleAfterMs?: number;
}

export interface NvidiaSmiStreamState {
  /** The latest row per GPU, by index; rows older than `staleAfterMs` are left out. */
  gpus: GpuTelemetry[];
  /** When the newest row arrived (clock ms); null before the first. */
  updatedAt: number | null;
  running: boolean;
  /** How many times the process was started again after dying. */
  restarts: number;
  /** Why the figures are missing or old: the process died (with what it said), or is restarting. */
  reason: string | null;
}

/** How the first run went: a row arrived, the process ended first, or neither within the wait. */
export type FirstRows = 'rows' | 'exited' | 'timeout';

export interface NvidiaSmiStream {
  latest(): NvidiaSmiStreamState;
  /** Resolves once the first run printed a GPU row, ended, or `timeoutMs` passed on the clock. */
  firstRows(timeoutMs: number): Promise<FirstRows>;
  close(): void;
}

const MAX_NOTE = 300;

/** Starts nvidia-smi now; every later death is followed by a restart after a backoff delay. */
export function startNvidiaSmiStream(opts: NvidiaSmiStreamOptions): NvidiaSmiStream {
  const { clock } = opts;
  const backoff = backoffOptions({ baseMs: 1000, maxMs: 30_000, ...opts.restart });
  const random = opts.random ?? Math.random;
  const staleAfterMs = opts.staleAfterMs ?? Math.max(5000, 3 * opts.intervalMs);
  const rows = new Map<number, { gpu: GpuTelemetry; at: number }>();
  let child: ChildProcess | undefined;
  let restartTimer: TimerHandle | undefined;
  let closed = false;
  let failures = 0;
  let restarts = 0;
  let updatedAt: number | null = null;
  let reason: string | null = null;
  let firstRun: FirstRows | undefined;
  const firstRunWaiters: ((r: FirstRows) => void)[] = [];

  const settleFirstRun = (how: FirstRows) => {
    if (firstRun) return;
    firstRun = how;
    for (const w of firstRunWaiters.splice(0)) w(how);
  };

  const start = () => {
    restartTimer = undefined;
    if (closed) return;
    let pending = '';
    /** What the process said that is not a row: its complaint, if it dies. */
    let note = '';
    let stderr = '';
    let gotRow = false;
    let ended = false;
    const proc = spawn(opts.binary, telemetryQueryArgs(opts.intervalMs), {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: opts.env ?? process.env,
      shell: false,
      windowsHide: true,
    });
    child = proc;
    const onLine = (line: string) => {
      const gpu = parseTelemetryRow(line);
      if (!gpu) {
        if (!note && line.trim()) note = line.trim().slice(0, MAX_NOTE);
        return;
      }
      const now = clock.now();
      rows.set(gpu.index, { gpu, at: now });
      updatedAt = now;
      if (!gotRow) {
        gotRow = true;
        failures = 0;
        reason = null;
        settleFirstRun('rows');
      }
    };
    proc.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
      pending += chunk;
      const lines = pending.split(/\r?\n/);
      pending = lines.pop() ?? '';
      for (const line of lines) onLine(line);
      // A runaway line without a newline is not a row; don't let it grow without bound.
      if (pending.length > 64 * 1024) pending = '';
    });
    proc.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
      stderr = (stderr + chunk).slice(-2048);
    });
    const onEnd = (how: string) => {
      if (ended) return;
      ended = true;
      if (child === proc) child = undefined;
      if (closed) return;
      if (pending) onLine(pending);
      const said = note || stderr.split(/\r?\n/).map((l) => l.trim()).find(Boolean) || '';
      const delay = backoffDelay(failures++, backoff, random);
      reason = `nvidia-smi ${how}${said ? `: ${said.slice(0, MAX_NOTE)}` : ''}; restarting in ${formatSeconds(delay)}`;
      settleFirstRun('exited');
      restartTimer = clock.setTimeout(() => {
        restarts++;
        start();
      }, delay);
    };
    proc.once('error', (err) => onEnd(`could not be started (${err.message})`));
    proc.once('close', (code, signal) => onEnd(code === null ? `was killed by ${signal ?? 'a signal'}` : `exited with code ${code}`));
  };

  start();

  return {
    latest() {
      const now = clock.now();
      const fresh = [...rows.values()].filter((r) => now - r.at <= staleAfterMs).map((r) => r.gpu);
      fresh.sort((a, b) => a.index - b.index);
      const staleNote = fresh.length < rows.size && !reason ? `nvidia-smi printed nothing for ${formatSeconds(staleAfterMs)}` : null;
      return { gpus: fresh, updatedAt, running: child !== undefined, restarts, reason: reason ?? staleNote };
    },
    firstRows(timeoutMs) {
      if (firstRun) return Promise.resolve(firstRun);
      return new Promise((resolve) => {
        const timer = clock.setTimeout(() => {
          const i = firstRunWaiters.indexOf(done);
          if (i >= 0) firstRunWaiters.splice(i, 1);
          resolve('timeout');
        }, timeoutMs);
        const done = (how: FirstRows) => {
          clock.clearTimeout(timer);
          resolve(how);
        };
        firstRunWaiters.push(done);
      });
    },
    close() {
      if (closed) return;
      closed = true;
      if (restartTimer) clock.clearTimeout(restartTimer);
      restartTimer = undefined;
      child?.kill('SIGTERM');
      child = undefined;
      settleFirstRun('exited');
    },
  };
}

function formatSeconds(ms: number): string {
  const s = ms / 1000;
  return `${Number.isInteger(s) ? s : s.toFixed(1)} s`;
}
