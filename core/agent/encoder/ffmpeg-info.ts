import { spawn } from 'node:child_process';
import { FfmpegMissingError } from '../../shared/errors.ts';

/** What one ffmpeg/ffprobe pair is and can do; `encodefarm devices` prints it. */
export interface FfmpegInfo {
  ffmpegPath: string;
  ffprobePath: string;
  /** The word after "ffmpeg version", e.g. `5.1.9-0+deb12u1` or `N-47683-g0e8eb07980-static`. */
  version: string;
  ffprobeVersion: string;
  /** Encoder names from `ffmpeg -encoders`, e.g. libx264, h264_nvenc. */
  encoders: ReadonlySet<string>;
}

/** How a short-lived tool run ended. `code` is null when it was killed by a signal. */
export interface ToolRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** True when we killed it because it ran past `timeoutMs`. */
  timedOut: boolean;
}

export interface ToolRunOptions {
  timeoutMs: number;
  env?: NodeJS.ProcessEnv;
  /** Each of stdout/stderr keeps at most this many bytes (the tail). @default 1 MiB */
  maxOutputBytes?: number;
}

/** Seconds we give `ffmpeg -version` and friends before deciding the binary is broken. */
export const TOOL_TIMEOUT_MS = 10_000;

/**
 * Runs a binary without a shell, stdin ignored, and collects its output. Resolves however it
 * exits (the caller decides what a non-zero code means); rejects only when it cannot be started
 * (ENOENT, EACCES), with Node's error. A run past `timeoutMs` is killed with SIGKILL.
 */
export function runTool(file: string, args: readonly string[], opts: ToolRunOptions): Promise<ToolRun> {
  const cap = opts.maxOutputBytes ?? 1024 * 1024;
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: opts.env ?? process.env,
      shell: false,
      windowsHide: true,
    });
    const stdout = tailBuffer(cap);
    const stderr = tailBuffer(cap);
    let timedOut = false;
    let settled = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
      // A grandchild that inherited the pipes would otherwise hold 'close' back indefinitely.
      child.stdout.destroy();
      child.stderr.destroy();
    }, opts.timeoutMs);
    child.stdout.on('data', (chunk: Buffer) => stdout.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => stderr.push(chunk));
    child.once('error', (err) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      reject(err);
    });
    child.once('close', (code, signal) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve({ code, signal, stdout: stdout.text(), stderr: stderr.text(), timedOut });
    });
  });
}

function tailBuffer(cap: number): { push(chunk: Buffer): void; text(): string } {
  const chunks: Buffer[] = [];
  let size = 0;
  return {
    push(chunk) {
      chunks.push(chunk);
      size += chunk.length;
      while (size > cap && chunks.length > 1) size -= chunks.shift()!.length;
    },
    text: () => Buffer.concat(chunks).toString('utf8'),
  };
}

/** One line on why a tool could not be started or did not succeed, for error messages. */
export function describeToolFailure(run: ToolRun | Error, timeoutMs: number): string {
  if (run instanceof Error) {
    const code = (run as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return 'no such file';
    if (code === 'EACCES') return 'not executable (permission denied)';
    return run.message;
  }
  if (run.timedOut) return `gave no answer within ${timeoutMs / 1000} s`;
  const last = lastLine(run.stderr) ?? lastLine(run.stdout);
  const how = run.code === null ? `was killed by ${run.signal ?? 'a signal'}` : `exited with code ${run.code}`;
  return last ? `${how}: ${last}` : how;
}

function lastLine(text: string): string | undefined {
  return text
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter(Boolean)
    .at(-1);
}

/**
 * Asks an ffmpeg/ffprobe pair who they are and which encoders ffmpeg has. Throws
 * FfmpegMissingError naming the path when either does not run or does not look like ffmpeg.
 */
export async function readFfmpegInfo(
  ffmpegPath: string,
  ffprobePath: string,
  opts: { timeoutMs?: number; env?: NodeJS.ProcessEnv } = {},
): Promise<FfmpegInfo> {
  const run = (file: string, args: string[]) => runOk(file, args, opts.timeoutMs ?? TOOL_TIMEOUT_MS, opts.env);
  const [versionOut, encodersOut, probeOut] = await Promise.all([
    run(ffmpegPath, ['-hide_banner', '-version']),
    run(ffmpegPath, ['-hide_banner', '-encoders']),
    run(ffprobePath, ['-hide_banner', '-version']),
  ]);
  return {
    ffmpegPath,
    ffprobePath,
    version: parseVersion(versionOut, 'ffmpeg', ffmpegPath),
    ffprobeVersion: parseVersion(probeOut, 'ffprobe', ffprobePath),
    encoders: parseEncoders(encodersOut),
  };
}

async function runOk(file: string, args: string[], timeoutMs: number, env?: NodeJS.ProcessEnv): Promise<string> {
  let run: ToolRun | Error;
  try {
    run = await runTool(file, args, { timeoutMs, ...(env ? { env } : {}) });
  } catch (err) {
    run = err instanceof Error ? err : new Error(String(err));
  }
  if (run instanceof Error) throw new FfmpegMissingError(`cannot run ${file}: ${describeToolFailure(run, timeoutMs)}`);
  if (run.code !== 0 || run.timedOut) {
    throw new FfmpegMissingError(`\`${file} ${args.join(' ')}\` ${describeToolFailure(run, timeoutMs)}`);
  }
  return run.stdout;
}

/** `ffmpeg version 5.1.9-0+deb12u1 Copyright …` → `5.1.9-0+deb12u1`. */
export function parseVersion(output: string, tool: 'ffmpeg' | 'ffprobe', path: string): string {
  const match = new RegExp(`^${tool} version (\\S+)`, 'm').exec(output);
  if (!match?.[1]) {
    throw new FfmpegMissingError(`${path} does not look like ${tool}: its -version output has no "${tool} version" line`);
  }
  return match[1];
}

/**
 * Encoder names from `ffmpeg -encoders`: the legend comes first, then `------`, then one line per
 * encoder such as ` V....D libx264   libx264 H.264 / AVC …`.
 */
export function parseEncoders(output: string): Set<string> {
  const lines = output.split(/\r?\n/);
  const start = lines.findIndex((l) => l.trim().startsWith('------'));
  const names = new Set<string>();
  for (const line of lines.slice(start + 1)) {
    const match = /^\s*[VAS][A-Z.]{5}\s+(\S+)/.exec(line);
    if (match?.[1] && match[1] !== '=') names.add(match[1]);
  }
  return names;
}
