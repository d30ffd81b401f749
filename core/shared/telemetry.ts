import { z } from 'zod';

/**
 * Live figures of one GPU, as NVML (native addon) or the long-lived `nvidia-smi -lms` fallback
 * reads them. A figure the source cannot give is null: nvidia-smi has no encoder latency, a
 * driver may refuse one query and answer the others.
 */
export const GpuTelemetrySchema = z.object({
  /** NVML index = nvidia-smi index (PCI bus order) = the device's `gpuIndex`. */
  index: z.number().int().min(0),
  uuid: z.string().max(100),
  name: z.string().max(200),
  pciBusId: z.string().max(100),
  memoryUsedBytes: z.number().nonnegative().nullable(),
  memoryTotalBytes: z.number().nonnegative().nullable(),
  temperatureC: z.number().nullable(),
  /** Percent 0–100 over the driver's last sample period. */
  gpuUtil: z.number().min(0).max(100).nullable(),
  encoderUtil: z.number().min(0).max(100).nullable(),
  decoderUtil: z.number().min(0).max(100).nullable(),
  /** Open NVENC sessions on this GPU (all processes, not only ours). */
  encoderSessions: z.number().int().min(0).nullable(),
  encoderFps: z.number().min(0).nullable(),
  encoderLatencyUs: z.number().min(0).nullable(),
  /** Remaining encoder capacity per codec, percent 0–100 (`nvmlDeviceGetEncoderCapacity`). */
  encoderCapacity: z.object({ h264: z.number().nullable(), hevc: z.number().nullable(), av1: z.number().nullable() }),
  driverVersion: z.string().max(50).nullable(),
});
export type GpuTelemetry = z.infer<typeof GpuTelemetrySchema>;

export const TELEMETRY_SOURCES = ['nvml', 'nvidia-smi', 'none'] as const;
export type TelemetrySourceKind = (typeof TELEMETRY_SOURCES)[number];

/** One poll of all GPUs of a host. */
export const TelemetrySampleSchema = z.object({
  source: z.enum(TELEMETRY_SOURCES),
  /** Agent clock, epoch ms. */
  at: z.number(),
  gpus: z.array(GpuTelemetrySchema).max(64),
  /** Why the source is `none` or a poll failed (e.g. "libnvidia-ml.so.1: cannot open shared object file"). */
  reason: z.string().max(500).nullable(),
});
export type TelemetrySample = z.infer<typeof TelemetrySampleSchema>;
