import { spawn, type ChildProcess, type ChildProcessByStdio } from 'node:child_process';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { CanceledError, FarmError, FfmpegMissingError, toFarmError } from '../../shared/errors.ts';
import type { EncodeHooks, EncodeRequest, EncodeSummary, Encoder } from '../ports.ts';
import { buildEncodeArgv } from './argv.ts';
import { classifyFailure } from './classify.ts';
import { finalNameOfTemp } from '../../shared/temp-names.ts';
import { createProgressParser } from './progress-parser.ts';

export interface FfmpegEncoderOptions {
  /** The ffmpeg binary: an absolute path, or a name looked up on PATH. */
  ffmpegPath: string;
  /** Environment for ffmpeg; CUDA_DEVICE_ORDER is always forced to PCI_BUS_ID. @default process.env */
  env?: NodeJS.ProcessEnv;
  /** How long ffmpeg gets to exit after SIGTERM before it is sent SIGKILL. @default 5000 */
  killGraceMs?: number;
}

const TAIL_LINES = 50;

/** Splits a byte stream into lines and keeps the last TAIL_LINES of them. */
function createLineTail() {
  let partial = '';
  const tail: string[] = [];
  const keep = (lines: string[]) => {
    tail.push(...lines);
    if (tail.length > TAIL_LINES) tail.splice(0, tail.length - TAIL_LINES);
    return lines;
  };
  return {
    tail,
    /** Returns the lines this chunk completed. */
    push(chunk: string): string[] {
      const lines = (partial + chunk).split(/\r?\n|\r/);
      partial = lines.pop() ?? '';
      return keep(lines.filter((l) => l !== ''));
    },
    /** Returns the unterminated last line, if any. */
    end(): string[] {
      const rest = partial;
      partial = '';
      return keep(rest === '' ? [] : [rest]);
    },
  };
}

function abortReason(signal: AbortSignal, req: EncodeRequest): FarmError {
  const reason: unknown = signal.reason;
  if (reason instanceof FarmError) return reason;
  return new CanceledError(`${path.basename(req.inputPath)}: encode canceled`);
}

function validate(opts: FfmpegEncoderOptions): number {
  if (typeof opts.ffmpegPath !== 'string' || opts.ffmpegPath === '') {
    throw new TypeError(`Expected ffmpegPath to be a non-empty string, got ${String(opts.ffmpegPath)}`);
  }
  const grace = opts.killGraceMs ?? 5000;
  if (!Number.isFinite(grace) || grace < 0) {
    throw new TypeError(`Expected killGraceMs to be a non-negative number, got ${grace}`);
  }
  return grace;
}

/**
 * The encoder that runs ffmpeg: spawned without a shell, stdin ignored, progress read from
 * `-progress pipe:1`, failures classified from the stderr tail. Its promise settles only after
 * the ffmpeg process has exited, so no encode outlives its caller's interest in it.
 */
export function createFfmpegEncoder(opts: FfmpegEncoderOptions): Encoder {
  const killGraceMs = validate(opts);
  const env: NodeJS.ProcessEnv = {
    // SVT-AV1 prints its banner straight to stderr; 2 = warnings and worse.
    SVT_LOG: '2',
    ...(opts.env ?? process.env),
    // Without this CUDA numbers GPUs fastest-first, so `-gpu N` would not be nvidia-smi's GPU N.
    CUDA_DEVICE_ORDER: 'PCI_BUS_ID',
  };
  return {
    // async: a request buildEncodeArgv rejects (wrong encoder for the codec) becomes a rejection.
    encode: async (req, hooks) => {
      if (hooks.signal.aborted) throw abortReason(hooks.signal, req);
      return run(opts.ffmpegPath, buildEncodeArgv(req), env, killGraceMs, req, hooks);
    },
  };
}

/** SIGTERM now, SIGKILL after the grace period; remembers the first reason given. */
function createStopper(child: ChildProcess, killGraceMs: number) {
  let reason: FarmError | undefined;
  let killTimer: NodeJS.Timeout | undefined;
  return {
    get reason() {
      return reason;
    },
    stop(why: FarmError): void {
      reason ??= why;
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      killTimer ??= setTimeout(() => child.kill('SIGKILL'), killGraceMs);
    },
    dispose(): void {
      clearTimeout(killTimer);
    },
  };
}

/** Feeds stdout to the progress parser and stderr to the tail, calling the hooks. */
function readOutput(child: ChildProcessByStdio<null, Readable, Readable>, req: EncodeRequest, hooks: EncodeHooks, stop: (e: FarmError) => void) {
  const progress = createProgressParser(req.durationS);
  const stderr = createLineTail();
  // A throwing callback must not crash the process or orphan ffmpeg: it stops the encode.
  const guard = (fn: () => void) => {
    try {
      fn();
    } catch (err) {
      stop(toFarmError(err));
    }
  };
  const emitLog = (lines: string[]) => {
    if (lines.length > 0 && hooks.onLog) guard(() => hooks.onLog?.(lines));
  };
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (chunk: string) => {
    for (const p of progress.push(chunk)) guard(() => hooks.onProgress(p));
  });
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (chunk: string) => emitLog(stderr.push(chunk)));
  return {
    frames: () => progress.last?.frame ?? 0,
    /** Flushes the last unterminated stderr line and returns the tail. */
    end(): string[] {
      emitLog(stderr.end());
      return [...stderr.tail];
    },
  };
}

function spawnError(err: NodeJS.ErrnoException, ffmpegPath: string): FarmError {
  if (err.code === 'ENOENT' || err.code === 'EACCES' || err.code === 'ENOTDIR') {
    return new FfmpegMissingError(`ffmpeg not found or not executable at ${ffmpegPath} (${err.code})`);
  }
  return toFarmError(err);
}

function run(
  ffmpegPath: string,
  argv: string[],
  env: NodeJS.ProcessEnv,
  killGraceMs: number,
  req: EncodeRequest,
  hooks: EncodeHooks,
): Promise<EncodeSummary> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(ffmpegPath, argv, { stdio: ['ignore', 'pipe', 'pipe'], env, shell: false, windowsHide: true });
    const stopper = createStopper(child, killGraceMs);
    const onAbort = () => stopper.stop(abortReason(hooks.signal, req));
    hooks.signal.addEventListener('abort', onAbort, { once: true });
    const output = readOutput(child, req, hooks, (e) => stopper.stop(e));
    // The job log starts with the exact command, quoted for a POSIX shell, so a user can rerun it.
    if (child.pid !== undefined) hooks.onLog?.([`$ ${[ffmpegPath, ...argv].map(shellQuote).join(' ')}`]);

    let settled = false;
    const settle = (fn: () => void) => {
      if (settled) return;
      settled = true;
      hooks.signal.removeEventListener('abort', onAbort);
      stopper.dispose();
      fn();
    };

    child.on('error', (err: NodeJS.ErrnoException) => {
      // Only a failed spawn ends the encode here; other errors (e.g. from kill) precede 'close'.
      if (child.pid === undefined) settle(() => reject(spawnError(err, ffmpegPath)));
    });
    child.on('close', (code) => {
      const stderrTail = output.end();
      const stopped = stopper.reason;
      if (stopped) return settle(() => reject(stopped));
      if (code !== 0) {
        const err = classifyFailure(stderrTail, code, {
          inputPath: req.inputPath,
          outputPath: req.tempPath,
          outputName: finalNameOfTemp(path.basename(req.tempPath)),
        });
        return settle(() => reject(err));
      }
      const encodeMs = Math.round(performance.now() - started);
      const avgFps = encodeMs > 0 ? output.frames() / (encodeMs / 1000) : 0;
      settle(() => resolve({ stderrTail, encodeMs, avgFps }));
    });
  });
}

/** Quotes one argument for display as a POSIX shell word. */
export function shellQuote(arg: string): string {
  return /^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`;
}
