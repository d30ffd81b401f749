import { describe, expect, it } from 'vitest';
import { createTelemetryWatchView, describeTelemetry, renderTelemetryBlock, telemetryRow } from '../../../core/cli/telemetry-view.ts';
import type { GpuTelemetry, TelemetrySample } from '../../../core/shared/telemetry.ts';

const gpu: GpuTelemetry = {
  index: 0,
  uuid: 'GPU-0',
  name: 'NVIDIA GeForce RTX 4090',
  pciBusId: '00000000:01:00.0',
  memoryUsedBytes: 1024 ** 3,
  memoryTotalBytes: 24 * 1024 ** 3,
  temperatureC: 45,
  gpuUtil: 10,
  encoderUtil: 20.4,
  decoderUtil: null,
  encoderSessions: 2,
  encoderFps: 60,
  encoderLatencyUs: 1500,
  encoderCapacity: { h264: 90, hevc: null, av1: null },
  driverVersion: '550.54.14',
};
const sample = (over: Partial<TelemetrySample> = {}): TelemetrySample => ({ source: 'nvml', at: Date.UTC(2026, 0, 2, 3, 4, 5), gpus: [gpu], reason: null, ...over });

describe('telemetry view', () => {
  it('shows one row per GPU with every column the watch table promises, `-` for a missing figure', () => {
    expect(telemetryRow(gpu, 'nvml')).toEqual(['0', 'NVIDIA GeForce RTX 4090', '45C', '10%', '20%', '-', '2', '60', '1.5 ms', '1.0 GiB / 24.0 GiB', 'nvml']);
  });

  it('renders a block: header with source and time, the table, and the reason as a note', () => {
    const block = renderTelemetryBlock(sample({ reason: 'GPU 1 handle: GPU is lost' }));
    const lines = block.trimEnd().split('\n');
    expect(lines[0]).toBe('GPU telemetry (nvml) at 2026-01-02T03:04:05.000Z');
    expect(lines[1]).toMatch(/^gpu\s+name\s+temp\s+gpu%\s+enc%\s+dec%\s+sessions\s+enc fps\s+latency\s+memory\s+source$/);
    expect(lines[3]).toMatch(/^0\s+NVIDIA GeForce RTX 4090\s+45C\s+10%\s+20%\s+-\s+2\s+60\s+1\.5 ms\s+1\.0 GiB \/ 24\.0 GiB\s+nvml$/);
    expect(lines.at(-1)).toBe('note: GPU 1 handle: GPU is lost');
    expect(renderTelemetryBlock(sample({ gpus: [] }))).toContain('no GPU figures');
  });

  it('describes the source in one line for plain `devices`', () => {
    expect(describeTelemetry(sample(), [])).toBe('telemetry nvml, 1 GPU, driver 550.54.14');
    expect(describeTelemetry(sample({ source: 'nvidia-smi', gpus: [gpu, { ...gpu, index: 1 }] }), ['NVML: libnvidia-ml.so.1: cannot open shared object file'])).toBe(
      'telemetry nvidia-smi, 2 GPUs, driver 550.54.14 (NVML: libnvidia-ml.so.1: cannot open shared object file)',
    );
    expect(describeTelemetry(sample({ source: 'none', gpus: [], reason: 'NVML: x; nvidia-smi not found' }), ['NVML: x', 'nvidia-smi not found'])).toBe(
      'telemetry none (NVML: x; nvidia-smi not found)',
    );
  });

  it('writes one block per frame off a terminal, and redraws in place on one', () => {
    const plain: string[] = [];
    const view = createTelemetryWatchView({ tty: false, write: (s) => plain.push(s) });
    view.frame(sample());
    view.frame(sample({ gpus: [{ ...gpu, temperatureC: 46 }] }));
    view.stop();
    expect(plain).toHaveLength(2);
    expect(plain.join('')).not.toContain('\x1b');
    expect(plain[1]).toContain('46C');

    const tty: string[] = [];
    const live = createTelemetryWatchView({ tty: true, write: (s) => tty.push(s) });
    live.frame(sample());
    live.frame(sample());
    live.stop();
    const blockLines = renderTelemetryBlock(sample()).split('\n').length - 1;
    expect(tty[0]!.startsWith('\x1b[?25l\x1b[J')).toBe(true);
    expect(tty[1]!.startsWith(`\x1b[${blockLines}F\x1b[J`)).toBe(true);
    expect(tty.at(-1)).toBe('\x1b[?25h');
  });
});
