import { execFile, execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createProber } from '../../../core/agent/encoder/probe.ts';
import { fsyncFile, verifyOutput } from '../../../core/agent/encoder/verify.ts';
import type { ProbeResult } from '../../../core/agent/ports.ts';
import {
  CanceledError,
  EncodeFailedError,
  FfmpegMissingError,
  InputInvalidError,
  LeaseLostError,
  type FarmError,
} from '../../../core/shared/errors.ts';
import { FFMPEG, FFPROBE, makeClip } from '../../helpers/clips.ts';
import { builtinPreset } from '../../helpers/presets.ts';

const run = promisify(execFile);
const prober = createProber({ ffprobePath: FFPROBE });

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'encodefarm-probe-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const preset = builtinPreset;

async function probeError(file: string): Promise<FarmError> {
  try {
    await prober.probe(file);
  } catch (err) {
    return err as FarmError;
  }
  throw new Error(`expected probing ${file} to fail`);
}

async function ffmpeg(...args: string[]): Promise<void> {
  await run(FFMPEG, ['-hide_banner', '-nostdin', '-loglevel', 'error', '-n', ...args]);
}

describe('createProber', () => {
  it('reports duration, size, format, video and audio streams of a real clip', async () => {
    const clip = await makeClip(dir, 'clip.mp4', { seconds: 2, width: 320, height: 240 });
    const result = await prober.probe(clip);
    expect(result.durationS).toBeGreaterThan(1.9);
    expect(result.durationS).toBeLessThan(2.2);
    expect(result.sizeBytes).toBe((await stat(clip)).size);
    expect(result.formatName).toContain('mp4');
    expect(result.video).toEqual({ codec: 'h264', width: 320, height: 240 });
    expect(result.audioStreams).toBe(1);
  });

  it('probes files with names that look like options or protocols', async () => {
    for (const name of ['-x.mp4', 'concat:a.mp4|b.mp4', 'a:b.mp4', 'new\nline.mp4']) {
      const clip = await makeClip(dir, name, { seconds: 1, width: 64, height: 48, audio: false });
      expect((await prober.probe(clip)).video?.codec).toBe('h264');
    }
  });

  it('says a missing file is not found', async () => {
    const err = await probeError(path.join(dir, 'gone.mp4'));
    expect(err).toBeInstanceOf(InputInvalidError);
    expect(err.message).toBe('gone.mp4: file not found');
  });

  it('says an empty file is empty', async () => {
    await writeFile(path.join(dir, 'empty.mp4'), '');
    const err = await probeError(path.join(dir, 'empty.mp4'));
    expect(err).toBeInstanceOf(InputInvalidError);
    expect(err.message).toBe('empty.mp4: file is empty (0 bytes)');
  });

  it('says a directory named x.mp4 is a directory', async () => {
    await mkdir(path.join(dir, 'x.mp4'));
    const err = await probeError(path.join(dir, 'x.mp4'));
    expect(err).toBeInstanceOf(InputInvalidError);
    expect(err.message).toBe('x.mp4: is a directory, not a video file');
  });

  it.skipIf(process.platform === 'win32')('says a FIFO is not a regular file (skipped on Windows)', async () => {
    const fifo = path.join(dir, 'pipe.mp4');
    execFileSync('mkfifo', [fifo]);
    const err = await probeError(fifo);
    expect(err).toBeInstanceOf(InputInvalidError);
    expect(err.message).toBe('pipe.mp4: not a regular file');
  });

  it('says a text file is not a readable video', async () => {
    await writeFile(path.join(dir, 'notes.txt'), 'hello, this is text\n');
    const err = await probeError(path.join(dir, 'notes.txt'));
    expect(err).toBeInstanceOf(InputInvalidError);
    expect(err.message).toBe('notes.txt: not a readable video (Invalid data found when processing input)');
  });

  it('says random bytes named .mp4 are not a readable video', async () => {
    await writeFile(path.join(dir, 'noise.mp4'), randomBytes(64 * 1024));
    const err = await probeError(path.join(dir, 'noise.mp4'));
    expect(err).toBeInstanceOf(InputInvalidError);
    expect(err.message).toMatch(/^noise\.mp4: not a readable video \(.+\)$/);
    expect(err.message).not.toContain(dir);
  });

  it('says the first half of a real mp4 is not readable (moov atom not found)', async () => {
    const clip = await makeClip(dir, 'whole.mp4', { seconds: 2 });
    const bytes = await readFile(clip);
    await writeFile(path.join(dir, 'half.mp4'), bytes.subarray(0, Math.floor(bytes.length / 2)));
    const err = await probeError(path.join(dir, 'half.mp4'));
    expect(err).toBeInstanceOf(InputInvalidError);
    expect(err.message).toBe('half.mp4: not a readable video (moov atom not found)');
  });

  it('says a JPEG or PNG is an image, not a video, whatever its name', async () => {
    await ffmpeg('-f', 'lavfi', '-i', 'testsrc2=size=64x48', '-frames:v', '1', `file:${dir}/photo.jpg`);
    await ffmpeg('-f', 'lavfi', '-i', 'testsrc2=size=64x48', '-frames:v', '1', `file:${dir}/shot.png`);
    await writeFile(path.join(dir, 'photo-named.mp4'), await readFile(path.join(dir, 'photo.jpg')));
    for (const name of ['photo.jpg', 'shot.png', 'photo-named.mp4']) {
      const err = await probeError(path.join(dir, name));
      expect(err).toBeInstanceOf(InputInvalidError);
      expect(err.message).toBe(`${name}: is an image, not a video`);
    }
  });

  it('says an audio-only file has no video stream', async () => {
    await ffmpeg('-f', 'lavfi', '-i', 'sine=duration=1', '-c:a', 'aac', `file:${dir}/song.m4a`);
    const err = await probeError(path.join(dir, 'song.m4a'));
    expect(err).toBeInstanceOf(InputInvalidError);
    expect(err.message).toBe('song.m4a: has no video stream (audio-only or data file)');
  });

  it('says a music file with cover art has no video stream, not that it is an image', async () => {
    await ffmpeg('-f', 'lavfi', '-i', 'testsrc2=size=64x64', '-frames:v', '1', `file:${dir}/cover.png`);
    await ffmpeg(
      '-f', 'lavfi', '-i', 'sine=duration=1', '-i', `file:${dir}/cover.png`,
      '-map', '0', '-map', '1', '-c:a', 'aac', '-c:v', 'png', '-disposition:v', 'attached_pic',
      `file:${dir}/song-with-art.m4a`,
    );
    const err = await probeError(path.join(dir, 'song-with-art.m4a'));
    expect(err.message).toBe('song-with-art.m4a: has no video stream (audio-only or data file)');
  });

  it('says a stream without a known duration (raw H.264) has an unknown duration', async () => {
    const clip = await makeClip(dir, 'clip.mp4', { seconds: 1, audio: false });
    await ffmpeg('-i', `file:${clip}`, '-c:v', 'copy', '-f', 'h264', `file:${dir}/raw.h264`);
    const err = await probeError(path.join(dir, 'raw.h264'));
    expect(err).toBeInstanceOf(InputInvalidError);
    expect(err.message).toBe('raw.h264: duration unknown (truncated or still being written?)');
  });

  it('rejects with FfmpegMissingError when ffprobe does not exist', async () => {
    const clip = await makeClip(dir, 'clip.mp4', { seconds: 1, width: 64, height: 48 });
    const missing = createProber({ ffprobePath: path.join(dir, 'no-such-ffprobe') });
    await expect(missing.probe(clip)).rejects.toBeInstanceOf(FfmpegMissingError);
    // The module-wide fluent-ffmpeg path does not leak into other probers.
    expect((await prober.probe(clip)).video?.codec).toBe('h264');
  });

  it('gives up on an ffprobe that never answers (a dead mount) with a retryable error', async () => {
    const clip = await makeClip(dir, 'clip.mp4', { seconds: 1, width: 64, height: 48 });
    // FAKE ffprobe that hangs, as one reading from an unreachable network share does.
    const hanging = path.join(dir, 'ffprobe-hangs');
    await writeFile(hanging, '#!/bin/sh\nexec sleep 5\n', { mode: 0o755 });
    const err = await createProber({ ffprobePath: hanging, timeoutMs: 1000 })
      .probe(clip)
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(EncodeFailedError);
    expect((err as Error).message).toBe('clip.mp4: ffprobe did not answer within 1 s (unreachable storage?)');
  });

  it('rejects with CanceledError, or the abort reason, when aborted', async () => {
    const clip = await makeClip(dir, 'clip.mp4', { seconds: 1, width: 64, height: 48 });
    await expect(prober.probe(clip, AbortSignal.abort())).rejects.toBeInstanceOf(CanceledError);
    const lease = new AbortController();
    lease.abort(new LeaseLostError('lease expired'));
    await expect(prober.probe(clip, lease.signal)).rejects.toBeInstanceOf(LeaseLostError);
    const controller = new AbortController();
    const pending = prober.probe(clip, controller.signal);
    controller.abort();
    await expect(pending).rejects.toBeInstanceOf(CanceledError);
  });
});

describe('verifyOutput', () => {
  it('accepts a real encode of the source and flags a wrong codec on it', async () => {
    const source = await prober.probe(await makeClip(dir, 'src.mp4', { seconds: 2 }));
    await ffmpeg('-i', `file:${dir}/src.mp4`, '-c:v', 'libx264', '-preset', 'ultrafast', '-c:a', 'aac', `file:${dir}/out.mp4`);
    const out = await prober.probe(path.join(dir, 'out.mp4'));
    expect(verifyOutput(out, source, preset('h264-fast'))).toEqual([]);
    expect(verifyOutput(out, source, preset('hevc-fast'))).toEqual(['video codec is h264, expected hevc']);
  });

  it('flags an output shorter than the source', async () => {
    const source = await prober.probe(await makeClip(dir, 'src.mp4', { seconds: 2 }));
    const short = await prober.probe(await makeClip(dir, 'short.mp4', { seconds: 1 }));
    const problems = verifyOutput(short, source, preset('h264-fast'));
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(/^duration 1\.\d\d s differs from the source's 2\.\d\d s by more than 0\.50 s$/);
  });

  it('flags dropped audio, unless the preset drops audio', async () => {
    const source = await prober.probe(await makeClip(dir, 'src.mp4', { seconds: 2 }));
    const silent = await prober.probe(await makeClip(dir, 'silent.mp4', { seconds: 2, audio: false }));
    expect(verifyOutput(silent, source, preset('h264-fast'))).toEqual([
      "audio dropped: output has 0 of the source's 1 audio stream(s)",
    ]);
    expect(verifyOutput(silent, source, preset('h264-fast', { audio: { mode: 'none', bitrateKbps: 160 } }))).toEqual([]);
  });

  const base: ProbeResult = {
    durationS: 600,
    sizeBytes: 1,
    formatName: 'matroska,webm',
    video: { codec: 'hevc', width: 1920, height: 1080 },
    audioStreams: 2,
  };

  it('allows 1 % of a long source, and at least 0.5 s', () => {
    const p = preset('hevc-archive');
    expect(verifyOutput({ ...base, durationS: 594.1 }, base, p)).toEqual([]);
    expect(verifyOutput({ ...base, durationS: 593.9 }, base, p)).toHaveLength(1);
    const short: ProbeResult = { ...base, durationS: 10 };
    expect(verifyOutput({ ...short, durationS: 10.49 }, short, p)).toEqual([]);
    expect(verifyOutput({ ...short, durationS: 10.51 }, short, p)).toHaveLength(1);
    expect(verifyOutput({ ...short, durationS: Number.NaN }, short, p)).toHaveLength(1);
  });

  it('flags a missing video stream, a lost audio stream, extra audio and an over-tall frame', () => {
    expect(verifyOutput({ ...base, video: null }, base, preset('hevc-archive'))).toEqual(['output has no video stream']);
    expect(verifyOutput({ ...base, audioStreams: 1 }, base, preset('hevc-archive'))).toEqual([
      "audio dropped: output has 1 of the source's 2 audio stream(s)",
    ]);
    const none = preset('hevc-archive', { audio: { mode: 'none', bitrateKbps: 160 } });
    expect(verifyOutput(base, base, none)).toEqual(['output has 2 audio stream(s), preset drops audio']);
    const small = preset('hevc-archive', { maxHeight: 720 });
    expect(verifyOutput(base, base, small)).toEqual(['video is 1080 lines high, preset allows at most 720']);
  });
});

describe('fsyncFile', () => {
  it('flushes an existing file and fails for a missing one', async () => {
    const file = path.join(dir, 'out.part');
    await writeFile(file, 'data');
    await expect(fsyncFile(file)).resolves.toBeUndefined();
    await expect(fsyncFile(path.join(dir, 'missing'))).rejects.toMatchObject({ code: 'ENOENT' });
  });
});
