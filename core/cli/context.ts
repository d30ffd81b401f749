import { createWriteStream } from 'node:fs';
import path from 'node:path';
import { jsonLogger, type Logger } from '../shared/logger.ts';
import type { JobStore } from '../coordinator/ports.ts';
import { openSqliteStore } from '../coordinator/store/sqlite-store.ts';
import { dbFileIn, resolveDataDir } from '../coordinator/store/data-dir.ts';
import { locateFfmpeg, type FfmpegInstall } from '../agent/devices/locate-ffmpeg.ts';
import { cachedFfmpegInfoReader } from '../agent/devices/ffmpeg-info-cache.ts';
import { buildLocalDevices, type DeviceSet } from '../agent/devices/device-set.ts';

/** Options every command that touches the farm's data accepts. */
export interface CommonOptions {
  dataDir?: string;
  ffmpeg?: string;
  ffprobe?: string;
}

export interface DeviceOptions {
  gpus?: string;
  cpuSlots?: string;
  simulateGpus?: string;
  gpuSessions?: string;
  geforceBudget?: string;
}

export interface Terminal {
  out: (s: string) => void;
  err: (s: string) => void;
  tty: boolean;
  env: NodeJS.ProcessEnv;
  cwd: string;
}

export const processTerminal = (): Terminal => {
  // `encodefarm status | head` closes the pipe early: that is the reader being done, not an error.
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code !== 'EPIPE') throw err;
    });
  }
  return {
    out: (s) => void process.stdout.write(s),
    err: (s) => void process.stderr.write(s),
    tty: Boolean(process.stdout.isTTY),
    env: process.env,
    cwd: process.cwd(),
  };
};

/** A usage mistake: printed with the command's help hint, exit code 2. */
export class UsageError extends Error {
  override name = 'UsageError';
}

export interface OpenedData {
  dataDir: string;
  store: JobStore;
  logger: Logger;
  closeLog(): void;
}

/** Opens the data dir's database and a JSON-lines log file beside it. */
export function openData(opts: CommonOptions, term: Terminal): OpenedData {
  const dataDir = resolveDataDir({ flag: opts.dataDir, env: term.env });
  // Set by `npm run app` to an Electron build of better-sqlite3 (scripts/electron-sqlite.mjs).
  const store = openSqliteStore({ file: dbFileIn(dataDir), nativeBinding: term.env.ENCODEFARM_SQLITE_BINDING || undefined });
  const log = createWriteStream(path.join(dataDir, 'encodefarm.log'), { flags: 'a' });
  const logger = jsonLogger((line) => log.write(line), term.env.ENCODEFARM_LOG_LEVEL === 'debug' ? 'debug' : 'info');
  return { dataDir, store, logger, closeLog: () => log.end() };
}

export function findFfmpeg(opts: CommonOptions, term: Terminal): Promise<FfmpegInstall> {
  const dataDir = resolveDataDir({ flag: opts.dataDir, env: term.env });
  const readInfo = cachedFfmpegInfoReader(path.join(dataDir, 'ffmpeg-info.json'));
  return locateFfmpeg({ ffmpegPath: opts.ffmpeg, ffprobePath: opts.ffprobe, env: term.env, readInfo });
}

export function parseIntOption(name: string, value: string | undefined, min: number): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min) throw new UsageError(`--${name}: expected a whole number >= ${min}, got "${value}"`);
  return n;
}

/** A whole number of seconds (>= 1) as milliseconds; undefined when the option is absent. */
export function secondsOption(name: string, value: string | undefined): number | undefined {
  const s = parseIntOption(name, value, 1);
  return s === undefined ? undefined : s * 1000;
}

/** `--gpus 0,2` / `--gpus none` / absent (all). */
export function parseGpus(value: string | undefined): number[] | 'none' | undefined {
  if (value === undefined || value === 'all') return undefined;
  if (value === 'none') return 'none';
  const list = value.split(',').map((s) => s.trim());
  if (list.some((s) => !/^\d+$/.test(s))) throw new UsageError(`--gpus: expected "all", "none" or indexes like 0,1; got "${value}"`);
  return list.map(Number);
}

export function discoverDevices(ffmpeg: FfmpegInstall, opts: DeviceOptions, term: Terminal): Promise<DeviceSet> {
  return buildLocalDevices({
    ffmpeg,
    gpus: parseGpus(opts.gpus),
    cpuSlots: parseIntOption('cpu-slots', opts.cpuSlots, 0),
    simulateGpus: parseIntOption('simulate-gpus', opts.simulateGpus, 0),
    gpuSessions: parseIntOption('gpu-sessions', opts.gpuSessions, 1),
    geforceHostBudget: parseIntOption('geforce-budget', opts.geforceBudget, 1),
    env: term.env,
  });
}
