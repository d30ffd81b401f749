import type { Clock } from '../../shared/clock.ts';
import type { TelemetrySample } from '../../shared/telemetry.ts';
import type { NvidiaSmiStreamState } from '../devices/nvidia-smi-stream.ts';
import type { TelemetrySource } from './telemetry-source.ts';

/** What this source needs of the long-lived nvidia-smi process (devices/nvidia-smi-stream.ts). */
export interface NvidiaSmiRows {
  latest(): NvidiaSmiStreamState;
  close(): void;
}

/**
 * A TelemetrySource over one long-lived `nvidia-smi -lms` process: a sample is the latest row it
 * printed per GPU, so polling costs no process start. No encoder capacity (nvidia-smi has no such
 * query); while the process is down, the reason says so and why.
 */
export function createNvidiaSmiSource(opts: { stream: NvidiaSmiRows; clock: Clock }): TelemetrySource {
  const { stream, clock } = opts;
  let open = true;
  return {
    kind: 'nvidia-smi',
    async sample(): Promise<TelemetrySample> {
      if (!open) return { source: 'nvidia-smi', at: clock.now(), gpus: [], reason: 'nvidia-smi telemetry is closed' };
      const state = stream.latest();
      const reason = state.reason === null ? null : state.reason.slice(0, 500);
      return { source: 'nvidia-smi', at: clock.now(), gpus: state.gpus.slice(0, 64), reason };
    },
    close() {
      if (!open) return;
      open = false;
      stream.close();
    },
  };
}
