import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { runTool } from './ffmpeg-info.ts';

const PATTERNS = ['testsrc2', 'smptehdbars', 'mandelbrot', 'rgbtestsrc', 'testsrc', 'yuvtestsrc'];

/**
 * Generates short demo clips (lavfi test patterns with a sine tone, H.264 + AAC in MP4) so a new
 * user can see the farm work without footage of their own. Existing clips are reused.
 */
export async function generateDemoClips(
  ffmpegPath: string,
  dir: string,
  opts: { count: number; seconds: number; width?: number; height?: number },
): Promise<string[]> {
  await fsp.mkdir(dir, { recursive: true });
  const size = `${opts.width ?? 640}x${opts.height ?? 360}`;
  const clips: string[] = [];
  for (let i = 0; i < opts.count; i++) {
    const pattern = PATTERNS[i % PATTERNS.length]!;
    const file = path.join(dir, `demo-${String(i + 1).padStart(2, '0')}-${pattern}-${opts.seconds}s.mp4`);
    clips.push(file);
    if (await exists(file)) continue;
    const tmp = `${file}.tmp`;
    const run = await runTool(
      ffmpegPath,
      [
        '-hide_banner', '-nostdin', '-y', '-loglevel', 'error',
        '-f', 'lavfi', '-i', `${pattern}=size=${size}:rate=30`,
        '-f', 'lavfi', '-i', `sine=frequency=${220 * (i + 1)}:sample_rate=48000:duration=${opts.seconds}`,
        '-c:v', 'libx264', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p',
        '-c:a', 'aac', '-b:a', '96k', '-t', String(opts.seconds), '-f', 'mp4', `file:${tmp}`,
      ],
      { timeoutMs: 120_000 },
    );
    if (run.code !== 0) throw new Error(`could not generate demo clip ${file}: ${run.stderr.trim().split('\n').pop() ?? 'ffmpeg failed'}`);
    await fsp.rename(tmp, file);
  }
  return clips;
}

async function exists(p: string): Promise<boolean> {
  try {
    await fsp.access(p);
    return true;
  } catch {
    return false;
  }
}
