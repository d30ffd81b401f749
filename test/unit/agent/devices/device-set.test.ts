import { describe, expect, it, vi } from 'vitest';
import { DeviceAnnouncementSchema } from '../../../../core/shared/device.ts';
import {
  buildLocalDevices,
  GEFORCE_LIMIT_GROUP,
  type DeviceSetOptions,
} from '../../../../core/agent/devices/device-set.ts';
import type { FfmpegInstall } from '../../../../core/agent/devices/locate-ffmpeg.ts';
import type { GpuInfo, listNvidiaGpus } from '../../../../core/agent/devices/nvidia-smi.ts';
import type { probeNvencCodec } from '../../../../core/agent/encoder/capability-probe.ts';

/** Encoders of Debian's ffmpeg 5.1: NVENC for h264/hevc only, SVT-AV1 and libaom for AV1. */
const DEBIAN_ENCODERS = ['libx264', 'libx265', 'libsvtav1', 'libaom-av1', 'h264_nvenc', 'hevc_nvenc', 'aac'];

function ffmpeg(encoders: string[] = DEBIAN_ENCODERS): FfmpegInstall {
  return {
    ffmpegPath: '/usr/bin/ffmpeg',
    ffprobePath: '/usr/bin/ffprobe',
    version: '5.1.9-0+deb12u1',
    ffprobeVersion: '5.1.9-0+deb12u1',
    encoders: new Set(encoders),
    source: 'path',
  };
}

function gpu(index: number, name: string, geforce: boolean): GpuInfo {
  return {
    index,
    uuid: `GPU-${index}`,
    name,
    pciBusId: `00000000:0${index + 1}:00.0`,
    memoryTotalMiB: 24564,
    driverVersion: '550.54.14',
    geforce,
  };
}

const TWO_GEFORCE = [gpu(0, 'NVIDIA GeForce RTX 4090', true), gpu(1, 'NVIDIA GeForce RTX 3080', true)];

function listing(gpus: GpuInfo[], error?: string): typeof listNvidiaGpus {
  return async () => (error ? { gpus: [], error } : { gpus });
}

/** A probe that passes unless `failures` names `<gpu>:<encoder>`; records every call. */
function probeStub(failures: Record<string, string> = {}) {
  const calls: string[] = [];
  const probe: typeof probeNvencCodec = async (_ffmpeg, gpuIndex, encoder) => {
    calls.push(`${gpuIndex}:${encoder}`);
    const reason = failures[`${gpuIndex}:${encoder}`];
    return reason ? { ok: false, reason } : { ok: true };
  };
  return { probe, calls };
}

async function build(opts: Partial<DeviceSetOptions>) {
  return buildLocalDevices({ ffmpeg: ffmpeg(), probe: probeStub().probe, listGpus: listing([]), ...opts });
}

describe('buildLocalDevices', () => {
  it('announces each working GPU pinned to its index with the GeForce host limit', async () => {
    const { probe, calls } = probeStub();
    const set = await build({ listGpus: listing(TWO_GEFORCE), probe });
    expect(calls.sort()).toEqual(['0:h264_nvenc', '0:hevc_nvenc', '1:h264_nvenc', '1:hevc_nvenc']);
    const gpus = set.devices.filter((d) => d.kind === 'nvenc');
    expect(gpus.map(({ encoderFor: _e, ...d }) => d)).toEqual([
      { id: 'gpu0', kind: 'nvenc', label: 'GPU 0 NVIDIA GeForce RTX 4090', gpuIndex: 0, slots: 3, codecs: ['h264', 'hevc'], limitGroup: GEFORCE_LIMIT_GROUP, state: 'working' },
      { id: 'gpu1', kind: 'nvenc', label: 'GPU 1 NVIDIA GeForce RTX 3080', gpuIndex: 1, slots: 3, codecs: ['h264', 'hevc'], limitGroup: GEFORCE_LIMIT_GROUP, state: 'working' },
    ]);
    expect(set.limitGroups).toEqual([{ name: GEFORCE_LIMIT_GROUP, max: 8 }]);
    expect(set.devices[1]!.encoderFor('hevc')).toEqual({ family: 'nvenc', name: 'hevc_nvenc', gpuIndex: 1 });
    expect(set.devices[1]!.encoderFor('av1')).toBeUndefined();
    // No GPU here has AV1 (Debian's ffmpeg has no av1_nvenc): the CPU takes only that codec.
    expect(set.devices.filter((d) => d.kind === 'cpu').map((d) => [d.slots, d.codecs])).toEqual([[1, ['av1']]]);
    expect(set.notices).toEqual(['No GPU here encodes av1: the CPU does, with libsvtav1.']);
    for (const d of set.devices) expect(DeviceAnnouncementSchema.safeParse(d).success).toBe(true);
  });

  it('probes av1_nvenc only when this ffmpeg has it', async () => {
    const { probe, calls } = probeStub();
    const set = await build({
      ffmpeg: ffmpeg([...DEBIAN_ENCODERS, 'av1_nvenc']),
      listGpus: listing([gpu(0, 'NVIDIA GeForce RTX 4090', true)]),
      probe,
    });
    expect(calls).toEqual(['0:h264_nvenc', '0:hevc_nvenc', '0:av1_nvenc']);
    expect(set.devices[0]!.codecs).toEqual(['h264', 'hevc', 'av1']);
  });

  it('uses the session settings the caller gives', async () => {
    const set = await build({ listGpus: listing(TWO_GEFORCE), gpuSessions: 5, geforceHostBudget: 3 });
    expect(set.devices.filter((d) => d.kind === 'nvenc').map((d) => d.slots)).toEqual([5, 5]);
    expect(set.limitGroups).toEqual([{ name: GEFORCE_LIMIT_GROUP, max: 3 }]);
  });

  it('gives workstation and data-centre GPUs no shared limit group', async () => {
    const set = await build({ listGpus: listing([gpu(0, 'NVIDIA RTX A5000', false), gpu(1, 'Tesla T4', false)]) });
    expect(set.devices.filter((d) => d.kind === 'nvenc').map((d) => [d.id, d.limitGroup])).toEqual([['gpu0', undefined], ['gpu1', undefined]]);
    expect(set.limitGroups).toEqual([]);
  });

  it('probes GPUs in parallel and each GPU one codec at a time', async () => {
    const started: string[] = [];
    const release: Array<() => void> = [];
    const probe: typeof probeNvencCodec = (_f, gpuIndex, encoder) =>
      new Promise((resolve) => {
        started.push(`${gpuIndex}:${encoder}`);
        release.push(() => resolve({ ok: true }));
      });
    const pending = build({ listGpus: listing(TWO_GEFORCE), probe });
    // Nothing has resolved yet: both GPUs are being probed, neither has moved on to hevc.
    await vi.waitFor(() => expect(started).toEqual(['0:h264_nvenc', '1:h264_nvenc']));
    release.splice(0).forEach((resolve) => resolve());
    await vi.waitFor(() => expect(started).toHaveLength(4));
    release.splice(0).forEach((resolve) => resolve());
    expect((await pending).devices.map((d) => d.id)).toEqual(['gpu0', 'gpu1', 'cpu']);
  });

  it('keeps a GPU with the codecs that passed and drops one where none did', async () => {
    const { probe } = probeStub({
      '0:hevc_nvenc': 'OpenEncodeSessionEx failed: unsupported device (2)',
      '1:h264_nvenc': 'OpenEncodeSessionEx failed: incompatible client key (21)',
      '1:hevc_nvenc': 'OpenEncodeSessionEx failed: incompatible client key (21)',
    });
    const set = await build({ listGpus: listing(TWO_GEFORCE), probe });
    expect(set.devices.map((d) => [d.id, d.codecs])).toEqual([['gpu0', ['h264']], ['cpu', ['hevc', 'av1']]]);
    expect(set.devices[0]!.encoderFor('hevc')).toBeUndefined();
    expect(set.gpus.map((g) => [g.index, g.deviceId, g.probes.map((p) => p.ok)])).toEqual([
      [0, 'gpu0', [true, false]],
      [1, undefined, [false, false]],
    ]);
    expect(set.gpus[1]!.probes[0]!.reason).toBe('OpenEncodeSessionEx failed: incompatible client key (21)');
    expect(set.notices).toEqual([
      'GPU 0 NVIDIA GeForce RTX 4090 encodes h264 only; its test encode failed for hevc_nvenc: OpenEncodeSessionEx failed: unsupported device (2).',
      'GPU 1 NVIDIA GeForce RTX 3080 failed its NVENC test encode (OpenEncodeSessionEx failed: incompatible client key (21)) and is not used.',
      'No GPU here encodes hevc, av1: the CPU does, with libx265/libsvtav1.',
    ]);
    // The CPU stands in only for what no working GPU encodes.
    expect(set.devices.find((d) => d.kind === 'cpu')?.encoderFor('h264')).toBeUndefined();
  });

  it('uses only the GPUs asked for and says which are not there', async () => {
    const { probe, calls } = probeStub();
    const set = await build({ listGpus: listing(TWO_GEFORCE), probe, gpus: [1, 4] });
    expect(calls).toEqual(['1:h264_nvenc', '1:hevc_nvenc']);
    expect(set.devices.map((d) => d.id)).toEqual(['gpu1', 'cpu']);
    expect(set.gpus.map((g) => [g.index, g.selected, g.probes.length])).toEqual([
      [0, false, 0],
      [1, true, 2],
    ]);
    expect(set.notices.filter((n) => !n.startsWith('No GPU here encodes'))).toEqual(['GPU 4 was asked for, but nvidia-smi does not list it.']);
  });

  it('falls back to one CPU slot when nvidia-smi is missing', async () => {
    const set = await build({ listGpus: listing([], 'nvidia-smi not found') });
    expect(set.devices.map(({ encoderFor: _e, ...d }) => d)).toEqual([
      { id: 'cpu', kind: 'cpu', label: 'CPU (libx264, libx265, libsvtav1)', slots: 1, codecs: ['h264', 'hevc', 'av1'], state: 'working' },
    ]);
    expect(set.devices[0]!.encoderFor('av1')).toEqual({ family: 'software', name: 'libsvtav1' });
    expect(set.devices[0]!.encoderFor('h264')).toEqual({ family: 'software', name: 'libx264' });
    expect(set.limitGroups).toEqual([]);
    expect(set.notices).toEqual([
      'No working NVIDIA GPU found (nvidia-smi not found): encoding on the CPU with libx264/libx265/libsvtav1.',
    ]);
  });

  it('names the probe failure when every GPU fails', async () => {
    const { probe } = probeStub({
      '0:h264_nvenc': 'Cannot load libcuda.so.1',
      '0:hevc_nvenc': 'Cannot load libcuda.so.1',
    });
    const set = await build({ listGpus: listing([gpu(0, 'NVIDIA GeForce RTX 4090', true)]), probe });
    expect(set.devices.map((d) => d.id)).toEqual(['cpu']);
    expect(set.gpus[0]!.deviceId).toBeUndefined();
    expect(set.notices).toEqual([
      'No working NVIDIA GPU found (GPU 0: Cannot load libcuda.so.1): encoding on the CPU with libx264/libx265/libsvtav1.',
    ]);
  });

  it('says so when this ffmpeg has no NVENC encoder, without probing', async () => {
    const { probe, calls } = probeStub();
    const set = await build({ ffmpeg: ffmpeg(['libx264', 'libx265', 'libaom-av1']), listGpus: listing(TWO_GEFORCE), probe });
    expect(calls).toEqual([]);
    expect(set.devices.map((d) => d.label)).toEqual(['CPU (libx264, libx265, libaom-av1)']);
    expect(set.notices).toEqual([
      'No working NVIDIA GPU found (/usr/bin/ffmpeg (5.1.9-0+deb12u1) has no NVENC encoders): encoding on the CPU with libx264/libx265/libaom-av1.',
    ]);
  });

  it('runs simulated GPUs on one software thread each and leaves the CPU off', async () => {
    const set = await build({ gpus: 'none', simulateGpus: 2 });
    expect(set.devices.map(({ encoderFor: _e, ...d }) => d)).toEqual([
      { id: 'sim0', kind: 'simulated-gpu', label: 'simulated GPU 0', gpuIndex: 0, slots: 2, codecs: ['h264', 'hevc', 'av1'], state: 'working' },
      { id: 'sim1', kind: 'simulated-gpu', label: 'simulated GPU 1', gpuIndex: 1, slots: 2, codecs: ['h264', 'hevc', 'av1'], state: 'working' },
    ]);
    expect(set.devices[1]!.encoderFor('hevc')).toEqual({ family: 'software', name: 'libx265', threads: 1 });
    expect(set.notices).toEqual([
      "Simulated GPUs (sim0, sim1) are not real GPUs: each runs libx264/libx265/libsvtav1 with one thread in a GPU's slots.",
      'NVIDIA GPUs are turned off by configuration: encoding on 2 simulated GPUs with libx264/libx265/libsvtav1.',
    ]);
  });

  it('does not list GPUs when they are turned off', async () => {
    const listGpus = vi.fn(listing(TWO_GEFORCE));
    const set = await build({ gpus: 'none', listGpus });
    expect(listGpus).not.toHaveBeenCalled();
    expect(set.devices.map((d) => d.id)).toEqual(['cpu']);
  });

  it('lets an explicit cpuSlots win in both directions', async () => {
    const withGpus = await build({ listGpus: listing(TWO_GEFORCE), cpuSlots: 4 });
    expect(withGpus.devices.map((d) => [d.id, d.slots])).toEqual([['gpu0', 3], ['gpu1', 3], ['cpu', 4]]);
    expect(withGpus.devices[2]!.encoderFor('h264')).toEqual({ family: 'software', name: 'libx264' });

    const none = await build({ listGpus: listing([], 'nvidia-smi not found'), cpuSlots: 0 });
    expect(none.devices).toEqual([]);
    expect(none.notices).toEqual([
      'No working NVIDIA GPU found (nvidia-smi not found), and the CPU device is turned off (cpuSlots 0): no device can encode.',
    ]);
  });

  it('says no device can encode when ffmpeg has no usable encoder at all', async () => {
    const set = await build({ ffmpeg: ffmpeg(['aac', 'mjpeg']), listGpus: listing([], 'nvidia-smi not found'), simulateGpus: 1 });
    expect(set.devices).toEqual([]);
    expect(set.notices).toEqual([
      'No simulated GPU is announced: /usr/bin/ffmpeg has no software encoder (libx264, libx265, libsvtav1 or libaom-av1).',
      'No working NVIDIA GPU found (nvidia-smi not found), and /usr/bin/ffmpeg has no software encoder (libx264, libx265, libsvtav1 or libaom-av1): no device can encode.',
    ]);
  });

  it('passes nvidiaSmi and env through to the GPU listing and env to the probe', async () => {
    const env = { PATH: '/nowhere' };
    const listGpus = vi.fn(listing([gpu(0, 'Tesla T4', false)]));
    const probe = vi.fn<typeof probeNvencCodec>(async () => ({ ok: true }));
    await build({ listGpus, probe, nvidiaSmi: '/opt/nvidia-smi', env });
    expect(listGpus).toHaveBeenCalledWith({ nvidiaSmi: '/opt/nvidia-smi', env });
    expect(probe).toHaveBeenCalledWith('/usr/bin/ffmpeg', 0, 'h264_nvenc', { env });
  });

  it.each([
    [{ gpuSessions: 0 }, 'Expected gpuSessions to be an integer from 1 to 256, got 0'],
    [{ cpuSlots: -1 }, 'Expected cpuSlots to be an integer from 0 to 256, got -1'],
    [{ simulateGpus: 1.5 }, 'Expected simulateGpus to be an integer from 0 to 64, got 1.5'],
    [{ gpus: [0, -1] }, 'Expected gpus to be \'none\' or a list of GPU indexes, got [0,-1]'],
  ])('rejects %o', async (opts, message) => {
    await expect(build(opts as Partial<DeviceSetOptions>)).rejects.toThrow(message);
  });
});
