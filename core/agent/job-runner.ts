import { promises as fsp } from 'node:fs';
import path from 'node:path';
import type { Clock } from '../shared/clock.ts';
import {
  DeviceFaultError,
  DiskFullError,
  EncodeStalledError,
  InputInvalidError,
  LeaseLostError,
  OutputUnwritableError,
  VerifyFailedError,
  toFarmError,
  type ErrorInfo,
} from '../shared/errors.ts';
import type { Assign } from '../shared/protocol/index.ts';
import { tempPathFor } from '../shared/temp-names.ts';
import type { AgentDevice, EncodeProgress, Encoder, FileAccess, JobFiles, PresetLookup, ProbeResult, Prober } from './ports.ts';
import { startWatchdog } from './watchdog.ts';
import { fsyncFile, verifyOutput } from './encoder/verify.ts';

export interface JobRunnerDeps {
  encoder: Encoder;
  prober: Prober;
  presets: PresetLookup;
  clock: Clock;
  /** @default 120000 — kill an encode whose output time has not advanced for this long. */
  stallTimeoutMs: number;
  /** How assignments' paths are reached here (default: the coordinator's paths as they are). */
  files?: FileAccess;
}

/** Same machine or same mounts: the coordinator's paths are this agent's paths. */
export const directFileAccess: FileAccess = {
  open: async (a, coordinatorTempPath) => ({
    inputPath: a.input.path,
    tempPath: coordinatorTempPath,
    deliver: async () => {},
    cleanup: () => fsp.rm(coordinatorTempPath, { force: true }).catch(() => {}),
  }),
};

export interface JobCallbacks {
  signal: AbortSignal;
  onStarted(tempPath: string, source: ProbeResult): void;
  onProgress(p: EncodeProgress): void;
  onLog(lines: string[]): void;
  /** ffmpeg finished: the device is free again while the output is verified. */
  onEncoded(): void;
  /** Whether the lease is still this attempt's; a verified output of a lost lease is thrown away. */
  stillHeld?(): boolean;
}

export type JobOutcome =
  | { ok: true; tempPath: string; outputSize: number; encodeMs: number; avgFps: number }
  | { ok: false; error: ErrorInfo };

/**
 * One attempt on one device: probe the source, encode to a temp file beside the target, verify
 * the result with ffprobe and fsync it. The coordinator commits it; on any failure the temp file
 * is removed here and the error says what happens next.
 */
export async function runJob(deps: JobRunnerDeps, a: Assign, device: AgentDevice, cb: JobCallbacks): Promise<JobOutcome> {
  // Messages name the temp file in the coordinator's terms; the agent may write it elsewhere.
  const reportedTemp = tempPathFor(a.output.path, a.jobId, a.epoch);
  let files: JobFiles | undefined;
  try {
    const preset = deps.presets.get(a.presetId);
    if (!preset) throw new InputInvalidError(`preset "${a.presetId}" is not known to this agent`);
    files = await (deps.files ?? directFileAccess).open(a, reportedTemp, cb.signal);
    const outcome = await attempt(deps, a, device, cb, files, reportedTemp);
    if (cb.stillHeld && !cb.stillHeld()) throw new LeaseLostError(`job ${a.jobId}: lease epoch ${a.epoch} was lost while verifying; output dropped`);
    await files.deliver(cb.signal);
    return outcome;
  } catch (err) {
    await files?.cleanup().catch(() => {});
    const reason: unknown = cb.signal.aborted ? (cb.signal.reason ?? err) : err;
    return { ok: false, error: toFarmError(reason).toInfo() };
  }
}

async function attempt(
  deps: JobRunnerDeps,
  a: Assign,
  device: AgentDevice,
  cb: JobCallbacks,
  files: JobFiles,
  reportedTemp: string,
): Promise<JobOutcome> {
  const preset = deps.presets.get(a.presetId)!;
  const encoder = device.encoderFor(preset.codec);
  if (!encoder) throw new DeviceFaultError(`${device.label} cannot encode ${preset.codec}`);
  const { inputPath, tempPath } = files;
  const source = await deps.prober.probe(inputPath, cb.signal);
  cb.signal.throwIfAborted();
  await checkWritable(tempPath);
  cb.onStarted(reportedTemp, source);

  const name = path.basename(a.input.path);
  const stall = new AbortController();
  const watchdog = startWatchdog(deps.clock, deps.stallTimeoutMs, (idleMs) =>
    stall.abort(new EncodeStalledError(`${name}: ffmpeg made no progress for ${Math.round(idleMs / 1000)} s; killed it`)),
  );
  const signal = AbortSignal.any([cb.signal, stall.signal]);
  try {
    const summary = await deps.encoder.encode(
      { inputPath, tempPath, preset, encoder, durationS: source.durationS },
      {
        signal,
        onProgress: (p) => {
          watchdog.observe(p.outTimeS);
          cb.onProgress(p);
        },
        onLog: cb.onLog,
      },
    );
    watchdog.stop();
    cb.onEncoded();
    const outputSize = await verify(deps.prober, tempPath, source, preset, name);
    return { ok: true, tempPath: reportedTemp, outputSize, encodeMs: summary.encodeMs, avgFps: summary.avgFps };
  } finally {
    watchdog.stop();
  }
}

async function verify(prober: Prober, tempPath: string, source: ProbeResult, preset: Parameters<typeof verifyOutput>[2], name: string): Promise<number> {
  let out: ProbeResult;
  try {
    out = await prober.probe(tempPath);
  } catch (err) {
    throw new VerifyFailedError(`${name}: encoded output is unreadable (${(err as Error).message})`);
  }
  const problems = verifyOutput(out, source, preset);
  if (problems.length) throw new VerifyFailedError(`${name}: output failed verification: ${problems.join('; ')}`);
  await fsyncFile(tempPath);
  return out.sizeBytes;
}

/** Creates the output folder and proves we can write there before spending an encode on it. */
async function checkWritable(tempPath: string): Promise<void> {
  const dir = path.dirname(tempPath);
  try {
    await fsp.mkdir(dir, { recursive: true });
    const fh = await fsp.open(tempPath, 'wx');
    await fh.close();
    await fsp.unlink(tempPath);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOSPC') throw new DiskFullError(`${dir}: no space left on the output volume`);
    throw new OutputUnwritableError(`${dir}: output folder is not writable (${code ?? (err as Error).message})`);
  }
}
