import { open } from 'node:fs/promises';
import type { Preset } from '../../shared/preset.ts';
import type { ProbeResult } from '../ports.ts';

/** Absolute floor of the duration tolerance: container rounding and the last audio frame. */
const MIN_DURATION_TOLERANCE_S = 0.5;
const DURATION_TOLERANCE_RATIO = 0.01;

const fmt = (s: number) => `${s.toFixed(2)} s`;

/**
 * Checks an encoded file's probe against its source and preset: a video stream in the preset's
 * codec, no taller than maxHeight, the duration within max(0.5 s, 1 %) of the source, and every
 * audio stream kept unless the preset drops audio. Returns one line per problem; empty means ok.
 */
export function verifyOutput(out: ProbeResult, source: ProbeResult, preset: Preset): string[] {
  const problems: string[] = [];
  if (!out.video) {
    problems.push('output has no video stream');
  } else {
    if (out.video.codec !== preset.codec) {
      problems.push(`video codec is ${out.video.codec || 'unknown'}, expected ${preset.codec}`);
    }
    if (preset.maxHeight !== undefined && out.video.height > preset.maxHeight) {
      problems.push(`video is ${out.video.height} lines high, preset allows at most ${preset.maxHeight}`);
    }
  }
  const tolerance = Math.max(MIN_DURATION_TOLERANCE_S, source.durationS * DURATION_TOLERANCE_RATIO);
  if (!(Math.abs(out.durationS - source.durationS) <= tolerance)) {
    problems.push(
      `duration ${fmt(out.durationS)} differs from the source's ${fmt(source.durationS)} by more than ${fmt(tolerance)}`,
    );
  }
  if (preset.audio.mode === 'none') {
    if (out.audioStreams > 0) problems.push(`output has ${out.audioStreams} audio stream(s), preset drops audio`);
  } else if (out.audioStreams < source.audioStreams) {
    problems.push(`audio dropped: output has ${out.audioStreams} of the source's ${source.audioStreams} audio stream(s)`);
  }
  return problems;
}

/** Flushes a file's data to disk, so the rename that publishes it never exposes a torn file. */
export async function fsyncFile(path: string): Promise<void> {
  // 'r+' rather than 'r': Windows refuses to flush a handle opened read-only.
  const handle = await open(path, 'r+');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
