import { constants as fsConstants } from 'node:fs';
import { access, stat } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { FfmpegMissingError } from '../../shared/errors.ts';
import { readFfmpegInfo, type FfmpegInfo } from '../encoder/ffmpeg-info.ts';

/** Where the ffmpeg in use came from: `--ffmpeg`/ENCODEFARM_FFMPEG, PATH, or the npm installer package. */
export type FfmpegSource = 'config' | 'path' | 'bundled';

export interface FfmpegInstall extends FfmpegInfo {
  source: FfmpegSource;
}

export interface LocateFfmpegOptions {
  /** Explicit ffmpeg; wins over ENCODEFARM_FFMPEG. Must run, or locateFfmpeg throws. */
  ffmpegPath?: string;
  /** Explicit ffprobe; wins over ENCODEFARM_FFPROBE. @default the ffprobe beside ffmpeg, then PATH, then bundled */
  ffprobePath?: string;
  /** Environment for PATH and ENCODEFARM_FFMPEG/ENCODEFARM_FFPROBE. @default process.env */
  env?: NodeJS.ProcessEnv;
  /** Try the `@ffmpeg-installer` packages last. @default true */
  useBundled?: boolean;
  /** How to ask a candidate for its version and encoders (a cached reader). @default readFfmpegInfo */
  readInfo?: typeof readFfmpegInfo;
}

/** How to fix a missing ffmpeg; ends every FfmpegMissingError from here. */
export const FFMPEG_FIX_HINT = 'install ffmpeg (e.g. apt-get install ffmpeg) or set --ffmpeg /path/to/ffmpeg';

interface Candidate {
  ffmpeg: string;
  ffprobe: string;
  source: FfmpegSource;
}

/**
 * Finds a working ffmpeg/ffprobe pair: configured paths first (an error if they do not run, since
 * the user asked for them), then both on PATH, then the bundled installer packages. Throws
 * FfmpegMissingError saying what was tried and how to fix it.
 */
export async function locateFfmpeg(opts: LocateFfmpegOptions = {}): Promise<FfmpegInstall> {
  const env = opts.env ?? process.env;
  const ffmpegPath = opts.ffmpegPath ?? nonEmpty(env.ENCODEFARM_FFMPEG);
  const ffprobePath = opts.ffprobePath ?? nonEmpty(env.ENCODEFARM_FFPROBE);
  const bundled = opts.useBundled === false ? undefined : await bundledPair();
  if (ffmpegPath !== undefined) {
    const ffmpeg = path.resolve(ffmpegPath);
    const ffprobe = ffprobePath !== undefined ? path.resolve(ffprobePath) : await companionProbe(ffmpeg, env, bundled);
    const found = await tryCandidate({ ffmpeg, ffprobe, source: 'config' }, env, opts.readInfo);
    if (typeof found === 'string') throw new FfmpegMissingError(`${capitalize(found)}; ${FFMPEG_FIX_HINT}.`);
    return found;
  }
  const tried: string[] = [];
  const onPath = await pathPair(env, tried);
  for (const candidate of [onPath, bundled]) {
    if (!candidate) continue;
    if (ffprobePath !== undefined) candidate.ffprobe = path.resolve(ffprobePath);
    const found = await tryCandidate(candidate, env, opts.readInfo);
    if (typeof found !== 'string') return found;
    tried.push(found);
  }
  if (opts.useBundled !== false && !bundled) tried.push('the bundled @ffmpeg-installer packages are missing or not executable');
  throw new FfmpegMissingError(`No working ffmpeg found (${tried.join('; ')}); ${FFMPEG_FIX_HINT}.`);
}

/** The install, or one sentence on why this candidate does not work. */
async function tryCandidate(c: Candidate, env: NodeJS.ProcessEnv, readInfo = readFfmpegInfo): Promise<FfmpegInstall | string> {
  try {
    return { ...(await readInfo(c.ffmpeg, c.ffprobe, { env })), source: c.source };
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    const from = { config: 'configured ffmpeg', path: 'ffmpeg on PATH', bundled: 'bundled ffmpeg' }[c.source];
    return `the ${from} (${c.ffmpeg}) does not work: ${why}`;
  }
}

/** A configured ffmpeg's ffprobe: the one beside it, else PATH's, else the bundled one. */
async function companionProbe(ffmpeg: string, env: NodeJS.ProcessEnv, bundled?: Candidate): Promise<string> {
  const sibling = path.join(path.dirname(ffmpeg), exeName('ffprobe'));
  if (await isExecutableFile(sibling)) return sibling;
  // Falling back to the sibling name keeps the error message pointing at where we looked first.
  return (await findOnPath('ffprobe', env)) ?? bundled?.ffprobe ?? sibling;
}

async function pathPair(env: NodeJS.ProcessEnv, tried: string[]): Promise<Candidate | undefined> {
  const [ffmpeg, ffprobe] = await Promise.all([findOnPath('ffmpeg', env), findOnPath('ffprobe', env)]);
  if (ffmpeg && ffprobe) return { ffmpeg, ffprobe, source: 'path' };
  tried.push(ffmpeg ? `ffmpeg is on PATH (${ffmpeg}) but ffprobe is not` : 'no ffmpeg on PATH');
  return undefined;
}

/** The installer packages' binaries, or undefined when a package is absent or its binary is unusable. */
async function bundledPair(): Promise<Candidate | undefined> {
  const require = createRequire(import.meta.url);
  const ffmpeg = installerPath(require, '@ffmpeg-installer/ffmpeg');
  const ffprobe = installerPath(require, '@ffprobe-installer/ffprobe');
  if (!ffmpeg || !ffprobe) return undefined;
  const usable = (await isExecutableFile(ffmpeg)) && (await isExecutableFile(ffprobe));
  return usable ? { ffmpeg, ffprobe, source: 'bundled' } : undefined;
}

function installerPath(require: NodeRequire, pkg: string): string | undefined {
  try {
    // The installer packages throw (sometimes a bare string) when their platform binary is absent.
    const mod: unknown = require(pkg);
    const p = (mod as { path?: unknown } | null)?.path;
    return typeof p === 'string' && p.length > 0 ? p : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Searches PATH for an executable the way a shell would, without spawning `which`. Empty and
 * relative PATH entries are skipped so a binary in the current directory is never picked up.
 */
export async function findOnPath(name: string, env: NodeJS.ProcessEnv = process.env): Promise<string | undefined> {
  const pathVar = env.PATH ?? env.Path ?? '';
  const exts = process.platform === 'win32' ? (env.PATHEXT ?? '.EXE;.CMD;.BAT;.COM').split(';').filter(Boolean) : [''];
  for (const dir of pathVar.split(path.delimiter)) {
    if (!dir || !path.isAbsolute(dir)) continue;
    for (const ext of exts) {
      const candidate = path.join(dir, name + ext);
      if (await isExecutableFile(candidate)) return candidate;
    }
  }
  return undefined;
}

/** A regular file (or a link to one) that this process may execute. */
export async function isExecutableFile(file: string): Promise<boolean> {
  try {
    if (!(await stat(file)).isFile()) return false;
    await access(file, fsConstants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function exeName(base: string): string {
  return process.platform === 'win32' ? `${base}.exe` : base;
}

function nonEmpty(value: string | undefined): string | undefined {
  return value && value.trim() ? value.trim() : undefined;
}

function capitalize(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}
