import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createFfmpegEncoder, shellQuote } from '../../../core/agent/encoder/ffmpeg-encoder.ts';
import { createProber } from '../../../core/agent/encoder/probe.ts';
import { verifyOutput } from '../../../core/agent/encoder/verify.ts';
import type { EncodeHooks, EncodeProgress, EncodeRequest, EncoderChoice } from '../../../core/agent/ports.ts';
import { BUILTIN_PRESETS } from '../../../core/shared/builtin-presets.ts';
import {
  CanceledError,
  DeviceCapacityError,
  DeviceFaultError,
  DiskFullError,
  EncodeFailedError,
  FfmpegMissingError,
  InputInvalidError,
  LeaseLostError,
  OutputUnwritableError,
  type FarmError,
} from '../../../core/shared/errors.ts';
import type { Preset } from '../../../core/shared/preset.ts';
import { FFMPEG, FFPROBE, makeClip } from '../../helpers/clips.ts';
import { builtinPreset } from '../../helpers/presets.ts';
import { pidsMentioning } from '../../helpers/cli.ts';

const FIXTURES = fileURLToPath(new URL('../../fixtures/ffmpeg/', import.meta.url));
const fake = (name: string) => path.join(FIXTURES, name);

const prober = createProber({ ffprobePath: FFPROBE });
const encoder = createFfmpegEncoder({ ffmpegPath: FFMPEG });

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'encodefarm-encoder-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const preset = builtinPreset;

const X264: EncoderChoice = { family: 'software', name: 'libx264' };

function request(inputPath: string, p: Preset, encoderChoice: EncoderChoice = X264, durationS = 2): EncodeRequest {
  return { inputPath, tempPath: path.join(dir, `out.${p.id}.part`), preset: p, encoder: encoderChoice, durationS };
}

function hooks(patch: Partial<EncodeHooks> = {}): EncodeHooks & { progress: EncodeProgress[]; log: string[] } {
  const progress: EncodeProgress[] = [];
  const log: string[] = [];
  return {
    signal: new AbortController().signal,
    onProgress: (p) => progress.push(p),
    onLog: (lines) => log.push(...lines),
    progress,
    log,
    ...patch,
  };
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function rejection(promise: Promise<unknown>): Promise<FarmError> {
  try {
    await promise;
  } catch (err) {
    return err as FarmError;
  }
  throw new Error('expected the encode to fail');
}

describe('createFfmpegEncoder with real ffmpeg', () => {
  it('encodes a 2 s clip with libx264, reporting rising progress up to 100 %, and the output verifies', async () => {
    const input = await makeClip(dir, 'clip.mp4', { seconds: 2 });
    const source = await prober.probe(input);
    const p = preset('h264-fast');
    const req = request(input, p, X264, source.durationS);
    const h = hooks();

    const summary = await encoder.encode(req, h);

    expect(h.progress.length).toBeGreaterThan(0);
    const times = h.progress.map((e) => e.outTimeS);
    expect(times).toEqual([...times].sort((a, b) => a - b));
    expect(times.at(-1)).toBeGreaterThan(1.9);
    expect(h.progress.at(-1)?.percent).toBe(100);
    expect(h.progress.every((e) => e.percent >= 0 && e.percent <= 100)).toBe(true);
    expect(summary.encodeMs).toBeGreaterThan(0);
    expect(summary.avgFps).toBeGreaterThan(0);
    expect(summary.stderrTail.length).toBeLessThanOrEqual(50);

    const out = await prober.probe(req.tempPath);
    expect(verifyOutput(out, source, p)).toEqual([]);
    expect(out.video).toMatchObject({ codec: 'h264', width: 320, height: 240 });
  });

  it('encodes every built-in preset with its software encoder, and each output verifies', async () => {
    const input = await makeClip(dir, 'clip.mp4', { seconds: 1, width: 160, height: 120 });
    const source = await prober.probe(input);
    const software: Record<string, string> = { h264: 'libx264', hevc: 'libx265', av1: 'libsvtav1' };
    for (const p of BUILTIN_PRESETS) {
      const req = request(input, p, { family: 'software', name: software[p.codec] ?? '' }, source.durationS);
      await encoder.encode(req, hooks());
      expect({ id: p.id, problems: verifyOutput(await prober.probe(req.tempPath), source, p) }).toEqual({
        id: p.id,
        problems: [],
      });
    }
  });

  it('encodes AV1 with libaom when SVT-AV1 is not the choice, honouring -threads', async () => {
    const input = await makeClip(dir, 'clip.mkv', { seconds: 1, width: 160, height: 120 });
    const source = await prober.probe(input);
    const p = preset('av1-fast');
    const req = request(input, p, { family: 'software', name: 'libaom-av1', threads: 1 }, source.durationS);
    await encoder.encode(req, hooks());
    expect(verifyOutput(await prober.probe(req.tempPath), source, p)).toEqual([]);
  });

  it('downscales to maxHeight through the escaped scale filter', async () => {
    const input = await makeClip(dir, 'clip.mp4', { seconds: 1, audio: false });
    const source = await prober.probe(input);
    const p = preset('h264-fast', { maxHeight: 144, audio: { mode: 'none', bitrateKbps: 160 } });
    const req = request(input, p, X264, source.durationS);
    await encoder.encode(req, hooks());
    const out = await prober.probe(req.tempPath);
    expect(out.video).toMatchObject({ width: 192, height: 144 });
    expect(out.audioStreams).toBe(0);
    expect(verifyOutput(out, source, p)).toEqual([]);
  });

  it('encodes files with weird names (spaces, quotes, unicode, newline, -, :, concat:) as plain files', async () => {
    const names = [
      'with space.mp4',
      `it's "quoted".mp4`,
      'ünïcødé 日本語 🎬.mp4',
      'new\nline.mp4',
      '-x.mp4',
      'a:b.mp4',
      'concat:a.mp4|b.mp4',
      '$(touch pwned);`id`.mp4',
    ];
    const p = preset('h264-fast');
    for (const [i, name] of names.entries()) {
      const input = await makeClip(dir, name, { seconds: 1, width: 64, height: 48 });
      const tempPath = path.join(dir, `out ${i} ${name}.part`);
      await encoder.encode({ inputPath: input, tempPath, preset: p, encoder: X264, durationS: 1 }, hooks());
      const out = await prober.probe(tempPath);
      expect(out.video?.codec).toBe('h264');
    }
    const files = await readdir(dir);
    expect(files.sort()).toEqual([...names, ...names.map((n, i) => `out ${i} ${n}.part`)].sort());
    expect(existsSync(path.join(process.cwd(), 'pwned'))).toBe(false);
  });

  it('rejects an input that is not a video with InputInvalidError', async () => {
    const input = path.join(dir, 'notes.txt');
    await writeFile(input, 'this is not a video\n');
    const err = await rejection(encoder.encode(request(input, preset('h264-fast')), hooks()));
    expect(err).toBeInstanceOf(InputInvalidError);
    expect(err.message).toBe('notes.txt: not a valid video (Invalid data found when processing input)');
  });

  it('never overwrites an existing output (-n)', async () => {
    const input = await makeClip(dir, 'clip.mp4', { seconds: 1, width: 64, height: 48 });
    const req = request(input, preset('h264-fast'), X264, 1);
    await writeFile(req.tempPath, 'precious');
    const err = await rejection(encoder.encode(req, hooks()));
    expect(err).toBeInstanceOf(EncodeFailedError);
    expect(err.message).toMatch(/already exists/);
    expect(readFileSync(req.tempPath, 'utf8')).toBe('precious');
  });

  it('kills ffmpeg on abort mid-encode and rejects with CanceledError', async () => {
    const input = await makeClip(dir, 'long.mp4', { seconds: 30 });
    const p = preset('hevc-archive');
    const req = request(input, p, { family: 'software', name: 'libx265' }, 30);
    const controller = new AbortController();
    const pids: number[] = [];
    const h = hooks({
      signal: controller.signal,
      onProgress: () => {
        if (controller.signal.aborted) return;
        pids.push(...pidsMentioning(dir));
        controller.abort();
      },
    });

    const err = await rejection(encoder.encode(req, h));

    expect(err).toBeInstanceOf(CanceledError);
    expect(err.message).toBe('long.mp4: encode canceled');
    expect(pids).toHaveLength(1);
    expect(alive(pids[0] ?? -1)).toBe(false);
    expect(pidsMentioning(dir)).toEqual([]);
  });
});

describe('createFfmpegEncoder with fake ffmpeg fixtures', () => {
  const failures: Array<[string, new (message: string) => FarmError, RegExp]> = [
    ['nvenc-session-limit.sh', DeviceCapacityError, /^GPU refused a new NVENC session \(session limit\)$/],
    ['nvenc-client-key.sh', DeviceCapacityError, /session limit/],
    ['no-libcuda.sh', DeviceFaultError, /^GPU unusable for NVENC \(Cannot load libcuda\.so\.1\)$/],
    ['cuda-no-device.sh', DeviceFaultError, /CUDA_ERROR_NO_DEVICE/],
    ['nvenc-driver-too-old.sh', DeviceFaultError, /required nvenc API version/],
    ['disk-full.sh', DiskFullError, /^out\.h264-fast\.part: disk full while writing/],
    ['output-permission-denied.sh', OutputUnwritableError, /^out\.h264-fast\.part: cannot write output \(Permission denied\)$/],
    ['unknown-failure.sh', EncodeFailedError, /^clip\.mp4: ffmpeg exited with code 1 \(frame MB size/],
  ];
  for (const [script, kind, message] of failures) {
    it(`maps ${script} to ${kind.name}`, async () => {
      const enc = createFfmpegEncoder({ ffmpegPath: fake(script) });
      const h = hooks();
      const err = await rejection(
        enc.encode(request(path.join(dir, 'clip.mp4'), preset('h264-fast'), { family: 'nvenc', name: 'h264_nvenc', gpuIndex: 0 }), h),
      );
      expect(err).toBeInstanceOf(kind);
      expect(err.message).toMatch(message);
      expect(h.log.length).toBeGreaterThan(0);
    });
  }

  it('runs ffmpeg with CUDA_DEVICE_ORDER=PCI_BUS_ID, the given env, stdin ignored, and passes stderr to onLog', async () => {
    const enc = createFfmpegEncoder({
      ffmpegPath: fake('echo-env.sh'),
      env: { PATH: process.env.PATH, ENCODEFARM_TEST_EXTRA: 'yes', CUDA_DEVICE_ORDER: 'FASTEST_FIRST' },
    });
    const h = hooks();
    const req = request(path.join(dir, 'with space.mp4'), preset('h264-fast'));
    const summary = await enc.encode(req, h);
    const { buildEncodeArgv } = await import('../../../core/agent/encoder/argv.ts');
    // The log starts with the command line (quoted for a shell), then ffmpeg's stderr.
    expect(h.log[0]).toBe(`$ ${[fake('echo-env.sh'), ...buildEncodeArgv(req)].map(shellQuote).join(' ')}`);
    expect(h.log[0]).toContain(`'file:${path.join(dir, 'with space.mp4')}'`);
    expect(h.log.slice(1)).toEqual([
      'CUDA_DEVICE_ORDER=PCI_BUS_ID',
      'EXTRA=yes',
      `argc=${(await import('../../../core/agent/encoder/argv.ts')).buildEncodeArgv(req).length}`,
      'stdin=empty',
      'no newline at the end',
    ]);
    expect(summary.stderrTail).toEqual(h.log.slice(1));
    expect(h.progress).toEqual([{ frame: 25, fps: 50, speed: 2, outTimeS: 1, percent: 100, etaS: 0 }]);
  });

  it('kills a hung ffmpeg on abort and rejects with CanceledError once the process is gone', async () => {
    const enc = createFfmpegEncoder({ ffmpegPath: fake('hang.sh') });
    const controller = new AbortController();
    let pid: number | undefined;
    let progressed = false;
    const maybeAbort = () => {
      if (pid !== undefined && progressed) controller.abort();
    };
    const h = hooks({
      signal: controller.signal,
      onProgress: () => {
        progressed = true;
        maybeAbort();
      },
      onLog: (lines) => {
        const m = lines.map((l) => /^pid=(\d+)/.exec(l)).find(Boolean);
        if (m?.[1]) pid = Number(m[1]);
        maybeAbort();
      },
    });
    const err = await rejection(enc.encode(request(path.join(dir, 'clip.mp4'), preset('h264-fast')), h));
    expect(err).toBeInstanceOf(CanceledError);
    expect(pid).toBeDefined();
    expect(alive(pid ?? -1)).toBe(false);
  });

  it('sends SIGKILL after killGraceMs when ffmpeg ignores SIGTERM', async () => {
    const enc = createFfmpegEncoder({ ffmpegPath: fake('hang-ignore-term.sh'), killGraceMs: 100 });
    const controller = new AbortController();
    let pid: number | undefined;
    const h = hooks({
      signal: controller.signal,
      onLog: (lines) => {
        const m = lines.map((l) => /^pid=(\d+)/.exec(l)).find(Boolean);
        if (m?.[1]) {
          pid = Number(m[1]);
          controller.abort(new LeaseLostError('lease expired'));
        }
      },
    });
    const err = await rejection(enc.encode(request(path.join(dir, 'clip.mp4'), preset('h264-fast')), h));
    expect(err).toBeInstanceOf(LeaseLostError);
    expect(err.message).toBe('lease expired');
    expect(alive(pid ?? -1)).toBe(false);
  });

  it('rejects at once, without starting ffmpeg, when the signal is already aborted', async () => {
    const enc = createFfmpegEncoder({ ffmpegPath: fake('echo-env.sh') });
    const h = hooks({ signal: AbortSignal.abort() });
    const err = await rejection(enc.encode(request(path.join(dir, 'clip.mp4'), preset('h264-fast')), h));
    expect(err).toBeInstanceOf(CanceledError);
    expect(h.log).toEqual([]);
  });

  it('stops ffmpeg and rejects with the error when onProgress throws', async () => {
    const enc = createFfmpegEncoder({ ffmpegPath: fake('hang.sh') });
    const h = hooks({
      onProgress: () => {
        throw new Error('UI went away');
      },
    });
    const err = await rejection(enc.encode(request(path.join(dir, 'clip.mp4'), preset('h264-fast')), h));
    expect(err).toBeInstanceOf(EncodeFailedError);
    expect(err.message).toBe('UI went away');
  });

  it('rejects (does not throw) when the encoder does not fit the preset', async () => {
    const enc = createFfmpegEncoder({ ffmpegPath: fake('echo-env.sh') });
    const h = hooks();
    const pending = enc.encode(request(path.join(dir, 'clip.mp4'), preset('hevc-fast'), X264), h);
    const err = await rejection(pending);
    expect(err).toBeInstanceOf(EncodeFailedError);
    expect(err.message).toBe('libx264 encodes h264, but preset hevc-fast asks for hevc');
    expect(h.log).toEqual([]);
  });

  it('rejects with FfmpegMissingError when the binary does not exist', async () => {
    const enc = createFfmpegEncoder({ ffmpegPath: path.join(dir, 'no-such-ffmpeg') });
    const err = await rejection(enc.encode(request(path.join(dir, 'clip.mp4'), preset('h264-fast')), hooks()));
    expect(err).toBeInstanceOf(FfmpegMissingError);
    expect(err.message).toContain('no-such-ffmpeg');
  });

  it('rejects with FfmpegMissingError when the binary is not executable', async () => {
    const notExec = path.join(dir, 'ffmpeg');
    await writeFile(notExec, '#!/bin/sh\nexit 0\n', { mode: 0o644 });
    const enc = createFfmpegEncoder({ ffmpegPath: notExec });
    const err = await rejection(enc.encode(request(path.join(dir, 'clip.mp4'), preset('h264-fast')), hooks()));
    expect(err).toBeInstanceOf(FfmpegMissingError);
  });

  it('validates its options eagerly', () => {
    expect(() => createFfmpegEncoder({ ffmpegPath: '' })).toThrow('Expected ffmpegPath to be a non-empty string');
    expect(() => createFfmpegEncoder({ ffmpegPath: 'ffmpeg', killGraceMs: -1 })).toThrow(
      'Expected killGraceMs to be a non-negative number, got -1',
    );
  });
});
