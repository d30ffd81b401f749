import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** The real ffmpeg/ffprobe the integration tests use; override with FFMPEG_PATH / FFPROBE_PATH. */
export const FFMPEG = process.env.FFMPEG_PATH ?? 'ffmpeg';
export const FFPROBE = process.env.FFPROBE_PATH ?? 'ffprobe';

export interface ClipOptions {
  seconds: number;
  /** @default 320 */
  width?: number;
  /** @default 240 */
  height?: number;
  /** A 440 Hz sine track. @default true */
  audio?: boolean;
  /** @default 25 */
  fps?: number;
}

/**
 * Generates a real clip in `dir` (lavfi `testsrc2` + `sine`, libx264 ultrafast, AAC audio); the
 * container follows the name's extension. The index is written last (no faststart), as cameras
 * and most tools do. Returns the clip's absolute path.
 */
export async function makeClip(dir: string, name: string, opts: ClipOptions): Promise<string> {
  const { seconds, width = 320, height = 240, audio = true, fps = 25 } = opts;
  const out = path.resolve(dir, name);
  const argv = [
    '-hide_banner', '-nostdin', '-loglevel', 'error', '-n',
    '-f', 'lavfi', '-i', `testsrc2=size=${width}x${height}:rate=${fps}`,
    ...(audio ? ['-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000'] : []),
    '-t', String(seconds),
    '-c:v', 'libx264', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p',
    ...(audio ? ['-c:a', 'aac', '-b:a', '96k'] : []),
    // `file:` so names such as `-x.mp4` or `a:b.mp4` are plain files here too.
    `file:${out}`,
  ];
  await run(FFMPEG, argv);
  return out;
}
