import type { GpuTelemetry, TelemetrySample } from '../../core/shared/telemetry.ts';

/** Made-up figures of one GPU, as a telemetry source would report them (tests only). */
export function gpuFigures(index: number, overrides: Partial<GpuTelemetry> = {}): GpuTelemetry {
  return {
    index,
    uuid: `GPU-0000000${index}-fake`,
    name: 'NVIDIA GeForce RTX 4090',
    pciBusId: `00000000:0${index + 1}:00.0`,
    memoryUsedBytes: 2 * 1024 ** 3,
    memoryTotalBytes: 24 * 1024 ** 3,
    temperatureC: 61,
    gpuUtil: 37,
    encoderUtil: 82,
    decoderUtil: 12,
    encoderSessions: 3,
    encoderFps: 240.5,
    encoderLatencyUs: 1800,
    encoderCapacity: { h264: 40, hevc: 35, av1: null },
    driverVersion: '550.54.14',
    ...overrides,
  };
}

/** A telemetry sample of made-up GPUs (tests only). */
export function gpuSample(at: number, gpus: GpuTelemetry[], overrides: Partial<TelemetrySample> = {}): TelemetrySample {
  return { source: 'nvml', at, gpus, reason: null, ...overrides };
}
