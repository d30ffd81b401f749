import { existsSync } from 'node:fs';
import { chmod, copyFile, mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { probeFailureReason, probeNvencCodec } from '../../../core/agent/encoder/capability-probe.ts';
import { buildLocalDevices } from '../../../core/agent/devices/device-set.ts';
import type { FfmpegInstall } from '../../../core/agent/devices/locate-ffmpeg.ts';

const FIXTURES = fileURLToPath(new URL('../../fixtures/', import.meta.url));
const SYSTEM_FFMPEG = '/usr/bin/ffmpeg';

let dir: string;

beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'encodefarm-probe-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Copies a fixture script (a fake, see its header) into this test's temp dir as an executable. */
async function fake(fixture: string, as = path.basename(fixture)): Promise<string> {
  const target = path.join(dir, as);
  await copyFile(path.join(FIXTURES, fixture), target);
  await chmod(target, 0o755);
  return target;
}

describe('probeNvencCodec', () => {
  it('passes on the GPU whose session opens and names the driver error on the other', async () => {
    const ffmpeg = await fake('ffmpeg-probe/ffmpeg-gpu0-only');
    expect(await probeNvencCodec(ffmpeg, 0, 'h264_nvenc')).toEqual({ ok: true });
    expect(await probeNvencCodec(ffmpeg, 1, 'hevc_nvenc')).toEqual({
      ok: false,
      reason: 'OpenEncodeSessionEx failed: incompatible client key (21): (no details)',
    });
  });

  it('runs a tiny lavfi test encode pinned with -gpu N', async () => {
    const ffmpeg = await fake('ffmpeg-probe/ffmpeg-gpu0-only');
    const log = path.join(dir, 'argv.log');
    // CUDA_DEVICE_ORDER is set by the probe even when the caller's env says otherwise.
    await probeNvencCodec(ffmpeg, 0, 'h264_nvenc', { env: { FAKE_FFMPEG_ARGV_LOG: log, CUDA_DEVICE_ORDER: 'FASTEST_FIRST' } });
    const argv = (await readFile(log, 'utf8')).trim().split('\n').slice(0, -1);
    expect(argv).toEqual([
      '-hide_banner', '-nostdin', '-loglevel', 'error',
      '-f', 'lavfi', '-i', 'testsrc2=size=256x144:rate=30:duration=0.2',
      '-c:v', 'h264_nvenc', '-gpu', '0',
      '-f', 'null', '-',
    ]);
  });

  it('reports a missing CUDA driver from the encoder line, not ffmpeg\'s generic one', async () => {
    const ffmpeg = await fake('ffmpeg-probe/ffmpeg-no-libcuda');
    expect(await probeNvencCodec(ffmpeg, 0, 'h264_nvenc')).toEqual({ ok: false, reason: 'Cannot load libcuda.so.1' });
  });

  it('ends a probe that hangs and says it timed out', async () => {
    const ffmpeg = await fake('ffmpeg-probe/ffmpeg-hangs');
    expect(await probeNvencCodec(ffmpeg, 0, 'h264_nvenc', { timeoutMs: 300 })).toEqual({
      ok: false,
      reason: 'the test encode did not finish within 0.3 s',
    });
  });

  it('reports an ffmpeg that cannot be started', async () => {
    const result = await probeNvencCodec(path.join(dir, 'no-ffmpeg'), 0, 'h264_nvenc');
    expect(result).toEqual({ ok: false, reason: `cannot run ${path.join(dir, 'no-ffmpeg')}: no such file` });
  });

  it('refuses arguments that are not a GPU index or an encoder name', async () => {
    await expect(probeNvencCodec('/bin/false', -1, 'h264_nvenc')).rejects.toThrow(RangeError);
    await expect(probeNvencCodec('/bin/false', 0, '-y')).rejects.toThrow(RangeError);
  });

  it.skipIf(!existsSync(SYSTEM_FFMPEG))('fails with a libcuda reason on real ffmpeg without an NVIDIA driver', async () => {
    const result = await probeNvencCodec(SYSTEM_FFMPEG, 0, 'h264_nvenc');
    expect(result.ok).toBe(false);
    expect(result.ok === false && result.reason).toMatch(/libcuda/);
  });
});

describe('probeFailureReason', () => {
  it('skips ffmpeg 7 wrap-up lines and strips the context prefix', () => {
    const stderr = [
      '[h264_nvenc @ 0x600000] OpenEncodeSessionEx failed: out of memory (10): (no details)',
      '[vost#0:0/h264_nvenc @ 0x600001] Error while opening encoder - maybe incorrect parameters such as bit_rate, rate, width or height',
      '[vf#0:0 @ 0x600002] Error sending frames to consumers: Generic error in an external library',
      '[vf#0:0 @ 0x600002] Task finished with error code: -542398533 (Generic error in an external library)',
      '[out#0/null @ 0x600003] Nothing was written into output file, because at least one of its streams received no packets.',
      'Conversion failed!',
      '',
    ].join('\n');
    expect(probeFailureReason(stderr)).toBe('OpenEncodeSessionEx failed: out of memory (10): (no details)');
  });

  it('falls back to a vague line when it is all there is', () => {
    expect(probeFailureReason('[h264_nvenc @ 0x1] No capable devices found\nConversion failed!\n')).toBe('No capable devices found');
    expect(probeFailureReason('Conversion failed!\n')).toBeUndefined();
  });
});

describe('buildLocalDevices with a fake nvidia-smi and a fake ffmpeg', () => {
  it('announces the GPU whose probe passes and reports the one whose probe fails', async () => {
    const ffmpegPath = await fake('ffmpeg-probe/ffmpeg-gpu0-only', 'ffmpeg');
    await fake('nvidia-smi/nvidia-smi');
    const ffmpeg: FfmpegInstall = {
      ffmpegPath,
      ffprobePath: '/usr/bin/ffprobe',
      version: 'fake',
      ffprobeVersion: 'fake',
      encoders: new Set(['libx264', 'h264_nvenc']),
      source: 'config',
    };
    const set = await buildLocalDevices({ ffmpeg, env: { PATH: dir, FAKE_NVIDIA_SMI_SCENARIO: 'two-geforce' } });
    expect(set.devices.map((d) => [d.id, d.label, d.codecs, d.limitGroup])).toEqual([
      ['gpu0', 'GPU 0 NVIDIA GeForce RTX 4090', ['h264'], 'nvenc-geforce-host'],
    ]);
    expect(set.gpus[1]!.probes).toEqual([
      { codec: 'h264', encoder: 'h264_nvenc', ok: false, reason: 'OpenEncodeSessionEx failed: incompatible client key (21): (no details)' },
    ]);
    expect(set.notices).toEqual([
      'GPU 1 NVIDIA GeForce RTX 3080 failed its NVENC test encode (OpenEncodeSessionEx failed: incompatible client key (21): (no details)) and is not used.',
    ]);
  });

  it('falls back to the CPU when the driver is not loaded', async () => {
    await fake('nvidia-smi/nvidia-smi');
    const ffmpeg: FfmpegInstall = {
      ffmpegPath: path.join(dir, 'unused'),
      ffprobePath: '/usr/bin/ffprobe',
      version: 'fake',
      ffprobeVersion: 'fake',
      encoders: new Set(['libx264', 'h264_nvenc']),
      source: 'config',
    };
    const set = await buildLocalDevices({ ffmpeg, env: { PATH: dir, FAKE_NVIDIA_SMI_SCENARIO: 'driver-failure' } });
    expect(set.devices.map((d) => d.id)).toEqual(['cpu']);
    expect(set.notices[0]).toMatch(
      /^No working NVIDIA GPU found \(nvidia-smi failed: NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver\..*\): encoding on the CPU with libx264\.$/,
    );
  });
});
