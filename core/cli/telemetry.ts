import path from 'node:path';
import type { Clock } from '../shared/clock.ts';
import type { TelemetrySample } from '../shared/telemetry.ts';
import { loadNvml, type NvmlLoad } from '../../native/index.ts';
import { createNvmlSource } from '../agent/telemetry/nvml-source.ts';
import { createNvidiaSmiSource } from '../agent/telemetry/nvidia-smi-source.ts';
import type { TelemetrySource } from '../agent/telemetry/telemetry-source.ts';
import { startNvidiaSmiStream } from '../agent/devices/nvidia-smi-stream.ts';
import { findOnPath, isExecutableFile } from '../agent/devices/locate-ffmpeg.ts';

/** A source plus why the better ones were passed over (empty when NVML was taken). */
export type OpenedTelemetry = TelemetrySource & { readonly notes: readonly string[] };

export interface OpenTelemetryOptions {
  /**
   * PATH (for nvidia-smi) and two switches: ENCODEFARM_TELEMETRY=none turns GPU telemetry off,
   * =nvidia-smi skips NVML; ENCODEFARM_NVML_LIBRARY names the NVML library file to open.
   */
  env: NodeJS.ProcessEnv;
  /** nvidia-smi binary. @default found on PATH */
  nvidiaSmi?: string;
  clock: Clock;
  /** How often nvidia-smi prints (its `-lms`); NVML is read on demand. @default 2000 */
  intervalMs?: number;
  /** How long nvidia-smi may take to print its first row before it counts as not running. @default 5000 */
  nvidiaSmiWaitMs?: number;
  /** @default native/index.ts's loadNvml */
  loadNvml?: (opts: { library?: string }) => NvmlLoad;
}

/**
 * Picks where this machine's GPU figures come from: NVML through the native addon if it loads and
 * initialises, else one long-lived nvidia-smi if it runs and prints a GPU, else `none` with the
 * reasons. Never throws; the caller closes what it gets (which stops nvidia-smi).
 */
export async function openTelemetry(opts: OpenTelemetryOptions): Promise<OpenedTelemetry> {
  const { env, clock } = opts;
  const mode = env.ENCODEFARM_TELEMETRY?.trim().toLowerCase();
  if (mode === 'none' || mode === 'off') return noTelemetry(['GPU telemetry is turned off (ENCODEFARM_TELEMETRY=none)'], clock);
  const notes: string[] = [];

  if (mode === 'nvidia-smi') notes.push('NVML skipped (ENCODEFARM_TELEMETRY=nvidia-smi)');
  else {
    const load = (opts.loadNvml ?? loadNvml)(env.ENCODEFARM_NVML_LIBRARY ? { library: env.ENCODEFARM_NVML_LIBRARY } : {});
    if (!load.ok) notes.push(`NVML: ${load.reason}`);
    else {
      try {
        return withNotes(createNvmlSource({ nvml: load.nvml, clock }), notes);
      } catch (err) {
        notes.push(`NVML: ${err instanceof Error && 'reason' in err ? String(err.reason) : errorText(err)}`);
      }
    }
  }

  const binary = await resolveNvidiaSmi(opts.nvidiaSmi, env);
  if (!binary) {
    notes.push(opts.nvidiaSmi ? `nvidia-smi not found at ${opts.nvidiaSmi}` : 'nvidia-smi not found');
    return noTelemetry(notes, clock);
  }
  const stream = startNvidiaSmiStream({ binary, intervalMs: Math.max(100, opts.intervalMs ?? 2000), clock, env });
  const first = await stream.firstRows(opts.nvidiaSmiWaitMs ?? 5000);
  if (first === 'rows') return withNotes(createNvidiaSmiSource({ stream, clock }), notes);
  const why = stream.latest().reason?.replace(/; restarting in .*$/, '');
  stream.close();
  notes.push(first === 'timeout' ? `nvidia-smi printed no GPU within ${(opts.nvidiaSmiWaitMs ?? 5000) / 1000} s` : (why ?? 'nvidia-smi ended'));
  return noTelemetry(notes, clock);
}

/** The `none` source: no GPU figures, and the reasons on every sample. */
export function noTelemetry(reasons: readonly string[], clock: Clock): OpenedTelemetry {
  const reason = (reasons.join('; ') || 'no GPU telemetry source').slice(0, 500);
  return {
    kind: 'none',
    notes: reasons,
    sample: async (): Promise<TelemetrySample> => ({ source: 'none', at: clock.now(), gpus: [], reason }),
    close: () => {},
  };
}

function withNotes(source: TelemetrySource, notes: readonly string[]): OpenedTelemetry {
  return { kind: source.kind, notes, sample: () => source.sample(), close: () => source.close() };
}

async function resolveNvidiaSmi(explicit: string | undefined, env: NodeJS.ProcessEnv): Promise<string | undefined> {
  if (explicit === undefined) return findOnPath('nvidia-smi', env);
  const absolute = path.resolve(explicit);
  return (await isExecutableFile(absolute)) ? absolute : undefined;
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
