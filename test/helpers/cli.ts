import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { FFMPEG, FFPROBE } from './clips.ts';

const run = promisify(execFile);

/** The CLI entry point, absolute, so a test may run it from any working directory. */
export const BIN = fileURLToPath(new URL('../../bin/encodefarm.js', import.meta.url));

/** A PATH with the system tools (ffmpeg from apt lives in /usr/bin) and nothing from the test runner. */
export const SYSTEM_PATH = '/usr/local/bin:/usr/bin:/bin';

/**
 * The absolute path of a tool the tests use (`ffmpeg`, `ffprobe`, honouring FFMPEG_PATH /
 * FFPROBE_PATH through clips.ts), for fake wrappers that delegate to it; '' when there is none.
 */
export function resolveTool(name: 'ffmpeg' | 'ffprobe'): string {
  const configured = name === 'ffmpeg' ? FFMPEG : FFPROBE;
  if (path.isAbsolute(configured)) return configured;
  try {
    return execFileSync('sh', ['-c', `command -v ${configured}`], { env: { PATH: SYSTEM_PATH }, encoding: 'utf8' }).trim();
  } catch {
    return '';
  }
}

export interface CliOptions {
  /** The queue database folder; every test passes its own fresh one (`--data-dir`). */
  dataDir: string;
  /** @default the repository root */
  cwd?: string;
  /** Added to (and overriding) the clean environment built by `cliEnv`. */
  env?: NodeJS.ProcessEnv;
  /** The run is killed (SIGKILL) after this long and the promise rejects. @default 100000 */
  timeoutMs?: number;
}

export interface CliRun {
  /** Exit code; null when the process was killed by a signal. */
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/**
 * A clean environment for the CLI: no ENCODEFARM_* variables from the developer's shell, a PATH
 * that still has /usr/bin (ffmpeg) and, since nothing else is inherited, no surprises.
 */
export function cliEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const base: NodeJS.ProcessEnv = { PATH: SYSTEM_PATH, LANG: 'C.UTF-8' };
  for (const key of ['HOME', 'TMPDIR', 'SYSTEMROOT']) if (process.env[key] !== undefined) base[key] = process.env[key];
  const env = { ...base, ...extra };
  delete env.ENCODEFARM_DATA_DIR;
  return env;
}

/** Starts `node bin/encodefarm.js <args> --data-dir <dataDir>` with pipes; for kill tests. */
export function spawnCli(args: readonly string[], opts: CliOptions): ChildProcess {
  return spawn(process.execPath, [BIN, ...args, '--data-dir', opts.dataDir], {
    cwd: opts.cwd ?? path.dirname(path.dirname(BIN)),
    env: cliEnv(opts.env),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

/** Collects a spawned CLI's output until it exits. */
export function collect(child: ChildProcess, timeoutMs = 100_000): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    let stdout = '';
    let stderr = '';
    child.stdout?.setEncoding('utf8').on('data', (c: string) => (stdout += c));
    child.stderr?.setEncoding('utf8').on('data', (c: string) => (stderr += c));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`encodefarm did not exit within ${timeoutMs / 1000} s\n--- stdout\n${stdout}\n--- stderr\n${stderr}`));
    }, timeoutMs);
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

/** Runs the CLI to completion and resolves its exit code and output. */
export function runCli(args: readonly string[], opts: CliOptions): Promise<CliRun> {
  return collect(spawnCli(args, opts), opts.timeoutMs);
}

/** Both streams, for failure messages: `expect(r.code, show(r)).toBe(0)`. */
export function show(r: CliRun): string {
  return `exit ${r.code ?? r.signal}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`;
}

// ---------------------------------------------------------------------------------------------
// Temp folders, files and processes

/** Temp folders made by a test, removed (after unmounting anything mounted in them) by `cleanup`. */
export class Scratch {
  private readonly dirs: string[] = [];
  private readonly mounts: string[] = [];

  async dir(prefix: string): Promise<string> {
    const d = await mkdtemp(path.join(os.tmpdir(), `encodefarm-cli-${prefix}-`));
    this.dirs.push(d);
    return d;
  }

  /** Mounts a tmpfs at `dir` (which must exist); throws when mounting is not permitted. */
  mountTmpfs(dir: string, options: string): void {
    execFileSync('mount', ['-t', 'tmpfs', '-o', options, 'tmpfs', dir], { stdio: 'pipe' });
    this.mounts.push(dir);
  }

  async cleanup(): Promise<void> {
    for (const d of this.dirs) killProcessesMentioning(d);
    for (const m of this.mounts.splice(0).reverse()) {
      try {
        execFileSync('umount', [m], { stdio: 'pipe' });
      } catch {
        execFileSync('umount', ['-l', m], { stdio: 'pipe' });
      }
    }
    for (const d of this.dirs.splice(0)) await rm(d, { recursive: true, force: true });
  }
}

/** Whether this process may mount a tmpfs (root in a permissive container), checked once. */
export function canMountTmpfs(options = 'size=64k'): boolean {
  let dir: string | undefined;
  try {
    dir = execFileSync('mktemp', ['-d'], { encoding: 'utf8' }).trim();
    execFileSync('mount', ['-t', 'tmpfs', '-o', options, 'tmpfs', dir], { stdio: 'pipe' });
    execFileSync('umount', [dir], { stdio: 'pipe' });
    return true;
  } catch {
    return false;
  } finally {
    if (dir) execFileSync('rmdir', [dir], { stdio: 'ignore' });
  }
}

/**
 * Kills (SIGKILL, by pid) leftover processes whose command line mentions `needle`, a test's
 * unique temp folder: ffmpeg children orphaned when a test kill -9'd the CLI. Linux only.
 */
export function killProcessesMentioning(needle: string): number[] {
  const pids = pidsMentioning(needle);
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // Already gone.
    }
  }
  return pids;
}

/** Pids of running processes (other than this one) whose command line mentions `needle` (Linux /proc). */
export function pidsMentioning(needle: string): number[] {
  if (!existsSync('/proc')) return [];
  return readdirSync('/proc')
    .filter((d) => /^\d+$/.test(d) && Number(d) !== process.pid)
    .filter((d) => {
      try {
        return readFileSync(`/proc/${d}/cmdline`, 'utf8').includes(needle);
      } catch {
        return false;
      }
    })
    .map(Number);
}

/** Every file (not folder) under `dir`, as paths relative to it. */
export async function filesUnder(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (d: string) => {
    for (const e of await readdir(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) await walk(p);
      else out.push(path.relative(dir, p));
    }
  };
  await walk(dir);
  return out.sort();
}

/** EncodeFarm's temp outputs (`.<name>.ef-<job>-<epoch>.part`) and any other `.part` file under `dir`. */
export async function partFilesUnder(dir: string): Promise<string[]> {
  return (await filesUnder(dir)).filter((f) => f.endsWith('.part'));
}

export interface FileIdentity {
  ino: number;
  mtimeMs: number;
  size: number;
  sha256: string;
}

/** What "not rewritten" means: same inode, same mtime, same bytes. */
export async function identity(file: string): Promise<FileIdentity> {
  const st = await stat(file);
  const sha256 = createHash('sha256').update(await readFile(file)).digest('hex');
  return { ino: st.ino, mtimeMs: st.mtimeMs, size: st.size, sha256 };
}

/** Polls `check` until it returns a value other than undefined/false, or throws after `timeoutMs`. */
export async function waitFor<T>(what: string, check: () => Promise<T | undefined | false> | T | undefined | false, timeoutMs = 60_000, everyMs = 50): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

// ---------------------------------------------------------------------------------------------
// Media checks with the real ffprobe

export interface Media {
  videoCodec: string | undefined;
  width: number;
  height: number;
  audioStreams: number;
  durationS: number;
}

/** ffprobe's view of a file; `file:` so odd names (`-x.mp4`, `a:b.mp4`) stay plain files. */
export async function probeMedia(file: string): Promise<Media> {
  const { stdout } = await run(FFPROBE, ['-v', 'error', '-show_format', '-show_streams', '-of', 'json', `file:${path.resolve(file)}`]);
  const data = JSON.parse(stdout) as {
    format?: { duration?: string };
    streams?: { codec_type?: string; codec_name?: string; width?: number; height?: number; duration?: string }[];
  };
  const streams = data.streams ?? [];
  const video = streams.find((s) => s.codec_type === 'video');
  return {
    videoCodec: video?.codec_name,
    width: video?.width ?? 0,
    height: video?.height ?? 0,
    audioStreams: streams.filter((s) => s.codec_type === 'audio').length,
    durationS: Number(data.format?.duration ?? video?.duration ?? 0),
  };
}

/** The verification rule of the issue: duration within max(0.5 s, 1 %) of the source. */
export function durationTolerance(sourceS: number): number {
  return Math.max(0.5, sourceS * 0.01);
}

/**
 * Expects `output` to be a complete encode of `source`: the codec, the duration within tolerance,
 * and the audio kept (when `audio` is true). Returns the output's probe.
 */
export async function expectEncodeOf(output: string, source: string, codec: string, audio = true): Promise<Media> {
  const [out, src] = await Promise.all([probeMedia(output), probeMedia(source)]);
  const problems: string[] = [];
  if (out.videoCodec !== codec) problems.push(`video codec ${out.videoCodec}, expected ${codec}`);
  if (!(Math.abs(out.durationS - src.durationS) <= durationTolerance(src.durationS))) {
    problems.push(`duration ${out.durationS} s, source ${src.durationS} s`);
  }
  if (audio && out.audioStreams < src.audioStreams) problems.push(`audio streams ${out.audioStreams} < ${src.audioStreams}`);
  if (problems.length) throw new Error(`${output} is not a complete ${codec} encode of ${source}: ${problems.join('; ')}`);
  return out;
}

/** Lines of a CLI's output that start with `prefix` (e.g. the results table's `✗` lines). */
export function linesStartingWith(text: string, prefix: string): string[] {
  return text.split('\n').filter((l) => l.startsWith(prefix));
}
