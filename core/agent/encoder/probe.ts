import { stat } from 'node:fs/promises';
import path from 'node:path';
import ffmpeg, { type FfprobeData, type FfprobeStream } from 'fluent-ffmpeg';
import { CanceledError, EncodeFailedError, FarmError, FfmpegMissingError, InputInvalidError } from '../../shared/errors.ts';
import type { ProbedAudio, ProbeResult, Prober } from '../ports.ts';

export interface ProberOptions {
  /** The ffprobe binary: an absolute path, or a name looked up on PATH. */
  ffprobePath: string;
  /** @default 60000 — a probe that has not answered by then (a hung network mount) is given up. */
  timeoutMs?: number;
}

/** Demuxers that read a single still image (ffprobe reports it as a one-frame video stream). */
const IMAGE_FORMATS = /^(image2|image2pipe|[a-z0-9]+_pipe)$/;

async function checkFile(abs: string, name: string): Promise<number> {
  let info;
  try {
    info = await stat(abs);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') throw new InputInvalidError(`${name}: file not found`);
    throw new InputInvalidError(`${name}: cannot be read (${code ?? String(err)})`);
  }
  if (info.isDirectory()) throw new InputInvalidError(`${name}: is a directory, not a video file`);
  if (!info.isFile()) throw new InputInvalidError(`${name}: not a regular file`);
  if (info.size === 0) throw new InputInvalidError(`${name}: file is empty (0 bytes)`);
  return info.size;
}

/** The first line of ffprobe's stderr that says why, without `[mov @ 0x…]` or the file's URL. */
function ffprobeReason(err: Error, url: string): string {
  const lines = err.message.split(/\r?\n/).slice(1);
  const line = lines.map((l) => l.trim()).find((l) => l !== '') ?? err.message.split('\n')[0] ?? 'unknown error';
  const reason = line.replace(/^\[[^\]]*@ 0x[0-9a-f]+\]\s*/i, '').replace(`${url}: `, '');
  return reason.length > 200 ? `${reason.slice(0, 199)}…` : reason;
}

function runFfprobe(ffprobePath: string, url: string): Promise<FfprobeData> {
  return new Promise((resolve, reject) => {
    const command = ffmpeg(url);
    // fluent-ffmpeg keeps the ffprobe path in module-wide state and reads it synchronously in
    // ffprobe(), so setting it in the same tick is safe even with probers for different paths.
    command.setFfprobePath(ffprobePath);
    command.ffprobe(['-hide_banner', '-v', 'error', '-protocol_whitelist', 'file'], (err, data) =>
      err ? reject(err) : resolve(data),
    );
  });
}

function toSeconds(value: unknown): number {
  const n = typeof value === 'number' ? value : Number.parseFloat(String(value));
  return Number.isFinite(n) && n > 0 ? n : 0;
}

/**
 * A stream's frame rate from ffprobe's `num/den`: avg_frame_rate first (r_frame_rate can be a
 * timebase such as 90000/1); null when neither is known (`0/0`).
 */
function frameRate(s: FfprobeStream): number | null {
  for (const value of [s.avg_frame_rate, s.r_frame_rate]) {
    const m = /^(\d+(?:\.\d+)?)(?:\/(\d+(?:\.\d+)?))?$/.exec(String(value ?? ''));
    if (!m) continue;
    const fps = Number(m[1]) / Number(m[2] ?? 1);
    if (Number.isFinite(fps) && fps > 0) return Math.round(fps * 1000) / 1000;
  }
  return null;
}

function audioOf(s: FfprobeStream): ProbedAudio {
  const channels = Number(s.channels);
  const language = (s.tags as Record<string, unknown> | undefined)?.language;
  return {
    codec: String(s.codec_name ?? ''),
    channels: Number.isInteger(channels) && channels > 0 ? channels : null,
    language: typeof language === 'string' && language !== '' && language !== 'und' ? language : null,
  };
}

function isAttachedPicture(s: FfprobeStream): boolean {
  return Number(s.disposition?.attached_pic ?? 0) === 1;
}

/** Turns ffprobe's answer into a ProbeResult, or says why the file is not a usable video. */
function interpret(data: FfprobeData, name: string, sizeBytes: number): ProbeResult {
  const formatName = String(data.format.format_name ?? '');
  const videos = data.streams.filter((s) => s.codec_type === 'video');
  const real = videos.filter((s) => !isAttachedPicture(s));
  const audio = data.streams.filter((s) => s.codec_type === 'audio').map(audioOf);
  const audioStreams = audio.length;
  if (IMAGE_FORMATS.test(formatName) || (videos.length > 0 && real.length === 0 && audioStreams === 0)) {
    throw new InputInvalidError(`${name}: is an image, not a video`);
  }
  const video = real[0];
  if (!video) throw new InputInvalidError(`${name}: has no video stream (audio-only or data file)`);
  const durationS = toSeconds(data.format.duration) || toSeconds(video.duration);
  if (durationS === 0) throw new InputInvalidError(`${name}: duration unknown (truncated or still being written?)`);
  return {
    durationS,
    sizeBytes,
    formatName,
    video: { codec: String(video.codec_name ?? ''), width: Number(video.width ?? 0), height: Number(video.height ?? 0) },
    fps: frameRate(video),
    audioStreams,
    audio,
  };
}

function abortReason(signal: AbortSignal, name: string): FarmError {
  return signal.reason instanceof FarmError ? signal.reason : new CanceledError(`${name}: probe canceled`);
}

/**
 * Settles with `work`, or with the abort reason as soon as the signal fires, or with a retryable
 * error after `timeoutMs`. ffprobe on a local file ends on its own in moments; fluent-ffmpeg gives
 * no handle to kill it, so a probe stuck on a dead mount is abandoned rather than awaited forever.
 */
function raceAbort<T>(work: Promise<T>, signal: AbortSignal | undefined, name: string, timeoutMs: number): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(abortReason(signal!, name));
    const timer = setTimeout(
      () => reject(new EncodeFailedError(`${name}: ffprobe did not answer within ${Math.round(timeoutMs / 1000)} s (unreachable storage?)`)),
      timeoutMs,
    );
    signal?.addEventListener('abort', onAbort, { once: true });
    work.then(resolve, reject).finally(() => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
    });
  });
}

/**
 * The prober: checks the path is a non-empty regular file, then asks ffprobe (via fluent-ffmpeg)
 * for its streams and duration. Every "not a usable video" answer is an InputInvalidError whose
 * message names the file and the reason.
 */
export function createProber(opts: ProberOptions): Prober {
  if (typeof opts.ffprobePath !== 'string' || opts.ffprobePath === '') {
    throw new TypeError(`Expected ffprobePath to be a non-empty string, got ${String(opts.ffprobePath)}`);
  }
  const probe = async (file: string, signal?: AbortSignal): Promise<ProbeResult> => {
    const abs = path.resolve(file);
    const name = path.basename(abs);
    if (signal?.aborted) throw abortReason(signal, name);
    const sizeBytes = await checkFile(abs, name);
    if (signal?.aborted) throw abortReason(signal, name);
    // `file:` keeps names like `concat:a|b.mp4` or `-x.mp4` a plain local file.
    const url = `file:${abs}`;
    let data: FfprobeData;
    try {
      data = await raceAbort(runFfprobe(opts.ffprobePath, url), signal, name, opts.timeoutMs ?? 60_000);
    } catch (err) {
      if (err instanceof FarmError) throw err;
      const e = err as NodeJS.ErrnoException;
      if (e.code === 'ENOENT' || e.code === 'EACCES') {
        throw new FfmpegMissingError(`ffprobe not found or not executable at ${opts.ffprobePath} (${e.code})`);
      }
      throw new InputInvalidError(`${name}: not a readable video (${ffprobeReason(e, url)})`);
    }
    return interpret(data, name, sizeBytes);
  };
  return { probe };
}
