import type { Clock } from '../../shared/clock.ts';
import type { GpuTelemetry, TelemetrySample } from '../../shared/telemetry.ts';
import type { TelemetrySource } from './telemetry-source.ts';

/** One GPU's raw NVML figures: null where NVML refused the query or lacks the function. */
export interface NvmlDeviceFigures {
  index: number;
  uuid: string | null;
  name: string | null;
  pciBusId: string | null;
  memoryUsedBytes: number | null;
  memoryTotalBytes: number | null;
  temperatureC: number | null;
  gpuUtil: number | null;
  encoderUtil: number | null;
  decoderUtil: number | null;
  encoderSessions: number | null;
  encoderFps: number | null;
  encoderLatencyUs: number | null;
  encoderCapacity: { h264: number | null; hevc: number | null; av1: number | null };
  /** Why a figure is null, by figure name, in NVML's words ("Not Supported", "GPU is lost"). */
  errors: Record<string, string>;
}

/**
 * The NVML port: the shape of native/index.ts's NvmlAddon, declared here because core/agent may
 * not import native/ (the composition root loads the addon and passes it in).
 */
export interface NvmlApi {
  init(): void;
  deviceCount(): number;
  device(index: number): NvmlDeviceFigures;
  driverVersion(): string | null;
  shutdown(): void;
}

/** TelemetrySampleSchema caps a sample at 64 GPUs and a reason at 500 characters. */
const MAX_GPUS = 64;
const MAX_REASON = 500;

/**
 * A TelemetrySource that asks NVML directly on each `sample()` (about ten calls per GPU, each a
 * fraction of a millisecond). Calls `nvml.init()` now, so it throws what init throws (no driver,
 * no permission); `close()` pairs it with one `shutdown()`.
 */
export function createNvmlSource(opts: { nvml: NvmlApi; clock: Clock }): TelemetrySource {
  const { nvml, clock } = opts;
  nvml.init();
  let open = true;
  // The driver cannot change under a loaded NVML (a mismatch fails every call), so once is enough.
  let driverVersion: string | null | undefined;

  return {
    kind: 'nvml',
    async sample(): Promise<TelemetrySample> {
      const at = clock.now();
      if (!open) return { source: 'nvml', at, gpus: [], reason: 'NVML telemetry is closed' };
      let count: number;
      try {
        count = nvml.deviceCount();
      } catch (err) {
        return { source: 'nvml', at, gpus: [], reason: clip(`NVML: ${errorText(err)}`) };
      }
      driverVersion ??= nvml.driverVersion();
      const gpus: GpuTelemetry[] = [];
      const problems: string[] = [];
      for (let i = 0; i < Math.min(count, MAX_GPUS); i++) {
        let figures: NvmlDeviceFigures;
        try {
          figures = nvml.device(i);
        } catch (err) {
          problems.push(`GPU ${i}: ${errorText(err)}`);
          continue;
        }
        gpus.push(toGpuTelemetry(figures, driverVersion));
        problems.push(...notableErrors(figures));
      }
      return { source: 'nvml', at, gpus, reason: problems.length ? clip(problems.join('; ')) : null };
    },
    close() {
      if (!open) return;
      open = false;
      nvml.shutdown();
    },
  };
}

/** NVML's figures in the wire shape; a value outside what the schema allows becomes null. */
export function toGpuTelemetry(f: NvmlDeviceFigures, driverVersion: string | null): GpuTelemetry {
  return {
    index: f.index,
    uuid: (f.uuid ?? '').slice(0, 100),
    name: (f.name ?? `GPU ${f.index}`).slice(0, 200),
    pciBusId: (f.pciBusId ?? '').slice(0, 100),
    memoryUsedBytes: nonNegative(f.memoryUsedBytes),
    memoryTotalBytes: nonNegative(f.memoryTotalBytes),
    temperatureC: finite(f.temperatureC),
    gpuUtil: percent(f.gpuUtil),
    encoderUtil: percent(f.encoderUtil),
    decoderUtil: percent(f.decoderUtil),
    encoderSessions: wholeNonNegative(f.encoderSessions),
    encoderFps: nonNegative(f.encoderFps),
    encoderLatencyUs: nonNegative(f.encoderLatencyUs),
    encoderCapacity: {
      h264: percent(f.encoderCapacity.h264),
      hevc: percent(f.encoderCapacity.hevc),
      av1: percent(f.encoderCapacity.av1),
    },
    driverVersion: driverVersion === null ? null : driverVersion.slice(0, 50),
  };
}

/**
 * Errors worth a reason line. "Not Supported" is how NVML says a card lacks a figure (GeForce
 * encoder stats on old drivers, AV1 capacity before Ada), and a missing function is an old driver:
 * both are normal, and the null figure already says it.
 */
function notableErrors(f: NvmlDeviceFigures): string[] {
  return Object.entries(f.errors)
    .filter(([, why]) => !/^not supported$/i.test(why) && !/^no nvml\w+ in this NVML$/i.test(why))
    .map(([figure, why]) => `GPU ${f.index} ${figure}: ${why}`);
}

const finite = (v: number | null): number | null => (v !== null && Number.isFinite(v) ? v : null);
const nonNegative = (v: number | null): number | null => (v !== null && Number.isFinite(v) && v >= 0 ? v : null);
const wholeNonNegative = (v: number | null): number | null => (v !== null && Number.isInteger(v) && v >= 0 ? v : null);
// Some drivers answer capacity queries with garbage above 100 for codecs the card lacks.
const percent = (v: number | null): number | null => (v !== null && Number.isFinite(v) && v >= 0 && v <= 100 ? v : null);

function clip(s: string): string {
  return s.length <= MAX_REASON ? s : `${s.slice(0, MAX_REASON - 1)}…`;
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
