import type { TelemetrySample } from '../../shared/telemetry.ts';

/**
 * Where an agent's GPU figures come from: NVML through the native addon, else one long-lived
 * `nvidia-smi -lms` process, else nothing (`source: 'none'` with the reason). Implementations live
 * beside this file; the composition root (core/cli) picks one.
 */
export interface TelemetrySource {
  readonly kind: TelemetrySample['source'];
  /** The latest figures; cheap (NVML: one call per figure; nvidia-smi: the last line it printed). */
  sample(): Promise<TelemetrySample>;
  close(): void;
}
