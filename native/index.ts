import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import type { NvmlApi } from '../core/agent/telemetry/nvml-source.ts';

/**
 * Typed loader for the NVML telemetry addon (native/src/addon.cc). Only the composition root
 * (core/cli) imports this file; it hands core/agent an `NvmlApi` port of the same shape.
 *
 * Two things can be missing, and neither is an error for the farm: the addon itself (no compiler
 * at install time, or `npm install --ignore-scripts`) and NVIDIA's library (no driver). Either
 * way `loadNvml` answers `{ ok: false, reason }` and the caller falls back to nvidia-smi or none.
 */

// The figures and the call shape are core/agent's NvmlApi port (core may not import native/, so
// the port is declared there and the addon is checked against it here).
export type { NvmlDeviceFigures } from '../core/agent/telemetry/nvml-source.ts';

/**
 * The loaded addon: the NvmlApi port plus the library it opened. `init` throws NvmlUnavailableError
 * (e.g. "Driver Not Loaded") and is counted (pair each with `shutdown`); `deviceCount` throws with
 * NVML's reason when it cannot count.
 */
export interface NvmlAddon extends NvmlApi {
  /** The library file that was opened (e.g. `libnvidia-ml.so.1`). */
  readonly library: string;
}

export type NvmlLoad = { ok: true; nvml: NvmlAddon } | { ok: false; reason: string };

/** NVML is there but will not start (no driver loaded, permissions, a library/driver mismatch). */
export class NvmlUnavailableError extends Error {
  override name = 'NvmlUnavailableError';
  constructor(readonly reason: string) {
    super(`NVML unavailable: ${reason}`);
  }
}

export const ADDON_FILE = 'encodefarm_nvml.node';
const BUILD_HINT = 'run `node scripts/build-native.mjs` (or npm install) with a C++ compiler present';

const nullableNumber = z.number().nullable();
const FiguresSchema = z.object({
  index: z.number().int().min(0),
  uuid: z.string().nullable(),
  name: z.string().nullable(),
  pciBusId: z.string().nullable(),
  memoryUsedBytes: nullableNumber,
  memoryTotalBytes: nullableNumber,
  temperatureC: nullableNumber,
  gpuUtil: nullableNumber,
  encoderUtil: nullableNumber,
  decoderUtil: nullableNumber,
  encoderSessions: nullableNumber,
  encoderFps: nullableNumber,
  encoderLatencyUs: nullableNumber,
  encoderCapacity: z.object({ h264: nullableNumber, hevc: nullableNumber, av1: nullableNumber }),
  errors: z.record(z.string(), z.string()),
});

/** What the compiled module exports (native/src/addon.cc). */
interface RawBinding {
  load(library?: string): string | null;
  library(): string | null;
  init(): void;
  shutdown(): void;
  deviceCount(): number;
  driverVersion(): string | null;
  device(index: number): unknown;
}
const BINDING_FUNCTIONS = ['load', 'library', 'init', 'shutdown', 'deviceCount', 'driverVersion', 'device'] as const;

/**
 * Where the built addon may be: beside this file when it runs from source (native/index.ts), or
 * one or two levels up from a bundle (dist/cli.mjs, dist/electron/*.mjs) that inlined it.
 */
export function addonCandidates(from: string = path.dirname(fileURLToPath(import.meta.url))): string[] {
  const release = path.join('build', 'Release', ADDON_FILE);
  return [path.join(from, release), path.join(from, '..', 'native', release), path.join(from, '..', '..', 'native', release)];
}

/**
 * Loads the addon and opens NVIDIA's library (`library`, default `libnvidia-ml.so.1` found the
 * usual way, LD_LIBRARY_PATH included). The library is opened once per process: a later call
 * with another `library` reuses the first.
 */
export function loadNvml(opts: { addonPath?: string; library?: string } = {}): NvmlLoad {
  const file = opts.addonPath ?? addonCandidates().find((f) => existsSync(f));
  if (!file || !existsSync(file)) return { ok: false, reason: `native addon not built (no native/build/Release/${ADDON_FILE}): ${BUILD_HINT}` };
  let raw: unknown;
  try {
    raw = createRequire(import.meta.url)(file);
  } catch (err) {
    return { ok: false, reason: `native addon ${file} does not load (${errorText(err)}): ${BUILD_HINT}` };
  }
  const missing = BINDING_FUNCTIONS.filter((name) => typeof (raw as Record<string, unknown> | null)?.[name] !== 'function');
  if (missing.length) return { ok: false, reason: `native addon ${file} is not EncodeFarm's NVML addon (no ${missing.join(', ')}): ${BUILD_HINT}` };
  const binding = raw as RawBinding;
  const why = binding.load(opts.library);
  if (why !== null) return { ok: false, reason: why };
  return { ok: true, nvml: wrap(binding) };
}

function wrap(binding: RawBinding): NvmlAddon {
  return {
    library: binding.library() ?? 'libnvidia-ml.so.1',
    init() {
      try {
        binding.init();
      } catch (err) {
        throw new NvmlUnavailableError(errorText(err));
      }
    },
    deviceCount: () => binding.deviceCount(),
    device(index) {
      const parsed = FiguresSchema.safeParse(binding.device(index));
      // The addon is ours, so a mismatch is a build of another version: say so rather than guess.
      if (!parsed.success) throw new Error(`native addon returned unexpected figures for GPU ${index}: ${parsed.error.message}`);
      return parsed.data;
    },
    driverVersion: () => binding.driverVersion(),
    shutdown: () => binding.shutdown(),
  };
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
