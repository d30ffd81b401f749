import { createRequire } from 'node:module';
import path from 'node:path';
import { FfmpegMissingError } from '../../core/shared/errors.ts';
import type { Terminal } from '../../core/cli/context.ts';
import { startServe, type RunningServe } from '../../core/cli/serve/run-serve.ts';
import { NO_FFMPEG_EXIT, StopMessageSchema, type HostMessage } from './messages.ts';

export interface HostOptions {
  env: NodeJS.ProcessEnv;
  /** @default ENCODEFARM_DATA_DIR, then the OS user-data dir: the same queue as the CLI's */
  dataDir?: string;
  /** @default true — this machine's devices as the in-process agent */
  localAgent?: boolean;
  /** `--gpus` / `--cpu-slots` as the CLI takes them. */
  gpus?: string;
  cpuSlots?: string;
  /** Where the built renderer lies (the bundle's own `../renderer/`). */
  uiDir?: string;
  /** The installer packages' ffmpeg/ffprobe folders, searched after PATH (see unpackedInstallerDirs). */
  extraPath?: readonly string[];
  /** Log lines (JSON) go here. @default stderr */
  log?: (s: string) => void;
}

/**
 * What the desktop app's utility process does: `encodefarm serve` on 127.0.0.1 with a port the OS
 * picks, then `ready` with the URL and API token to main. A start that fails posts `failed`
 * (saying whether ffmpeg is missing, which a restart will not fix) and resolves undefined.
 */
export async function startCoordinatorHost(opts: HostOptions, post: (m: HostMessage) => void): Promise<RunningServe | undefined> {
  const log = opts.log ?? ((s: string) => void process.stderr.write(s));
  const term: Terminal = { out: log, err: log, tty: false, env: withExtraPath(opts.env, opts.extraPath ?? []), cwd: process.cwd() };
  try {
    const running = await startServe(
      {
        // Loopback only: the window and main reach it, other machines do not (`encodefarm serve`
        // is the way to run a coordinator for a farm). Port 0 never collides with a running serve.
        listen: '127.0.0.1:0',
        dataDir: opts.dataDir,
        localAgent: opts.localAgent ?? true,
        gpus: opts.gpus,
        cpuSlots: opts.cpuSlots,
        uiDir: opts.uiDir,
      },
      term,
    );
    post({ type: 'ready', url: running.url, token: running.apiToken });
    return running;
  } catch (err) {
    const reason = err instanceof FfmpegMissingError ? 'no-ffmpeg' : 'error';
    post({ type: 'failed', reason, message: err instanceof Error ? err.message : String(err) });
    return undefined;
  }
}

/** The part of Electron's `process.parentPort` the host uses. */
export interface ParentPortLike {
  on(event: 'message', listener: (e: { data: unknown }) => void): unknown;
  postMessage(message: unknown): void;
}

/**
 * Runs the host behind a parent port: starts, posts ready/failed, and on `stop` hands local work
 * back to the queue before exiting 0. A failed start exits non-zero so the supervisor sees it.
 */
export async function runHostOnPort(port: ParentPortLike, opts: HostOptions, exit: (code: number) => void): Promise<void> {
  let stopRequested = false;
  let running: RunningServe | undefined;
  const stop = async () => {
    await running?.stop();
    exit(0);
  };
  // Listening before the (slow) device discovery: a stop that comes meanwhile is kept, not lost.
  port.on('message', (e) => {
    if (!StopMessageSchema.safeParse(e.data).success || stopRequested) return;
    stopRequested = true;
    if (running) void stop();
  });
  let failure: HostMessage | undefined;
  running = await startCoordinatorHost(opts, (m) => {
    if (m.type === 'failed') failure = m;
    port.postMessage(m);
  });
  if (!running) return exit(failure?.type === 'failed' && failure.reason === 'no-ffmpeg' ? NO_FFMPEG_EXIT : 1);
  if (stopRequested) await stop();
}

/**
 * In a packaged app the installer packages' binaries live in `app.asar.unpacked` (asarUnpack),
 * but `require(pkg).path` points into `app.asar`, where nothing can be executed. This gives the
 * unpacked folders, to be searched after PATH so a system ffmpeg still wins as in the CLI.
 */
export function unpackedInstallerDirs(resolve: (pkg: string) => string | undefined = requireInstallerPath): string[] {
  const dirs: string[] = [];
  for (const pkg of ['@ffmpeg-installer/ffmpeg', '@ffprobe-installer/ffprobe']) {
    const p = resolve(pkg);
    if (!p || !/app\.asar[\\/]/.test(p)) continue;
    dirs.push(path.dirname(p.replace(/app\.asar([\\/])/, 'app.asar.unpacked$1')));
  }
  return dirs;
}

function requireInstallerPath(pkg: string): string | undefined {
  try {
    const mod: unknown = createRequire(import.meta.url)(pkg);
    const p = (mod as { path?: unknown } | null)?.path;
    return typeof p === 'string' ? p : undefined;
  } catch {
    return undefined;
  }
}

function withExtraPath(env: NodeJS.ProcessEnv, extra: readonly string[]): NodeJS.ProcessEnv {
  if (extra.length === 0) return env;
  // Windows spells it Path; keep whichever key the environment uses.
  const key = Object.keys(env).find((k) => k.toUpperCase() === 'PATH') ?? 'PATH';
  return { ...env, [key]: [env[key], ...extra].filter(Boolean).join(path.delimiter) };
}
