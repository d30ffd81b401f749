import { chmod, copyFile, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openTelemetry, type OpenedTelemetry } from '../../../core/cli/telemetry.ts';
import { systemClock } from '../../../core/shared/clock.ts';
import type { NvmlAddon, NvmlLoad } from '../../../native/index.ts';
import { NvmlUnavailableError } from '../../../native/index.ts';

// openTelemetry's choice (NVML, else nvidia-smi, else none) with a FAKE NVML addon object
// (injected; no native code) and the FAKE nvidia-smi script (test/fixtures/nvidia-smi-telemetry).
const FAKE_SMI = fileURLToPath(new URL('../../fixtures/nvidia-smi-telemetry/nvidia-smi', import.meta.url));

function fakeAddon(initError?: string): NvmlAddon & { calls: string[] } {
  const calls: string[] = [];
  return {
    calls,
    library: 'libnvidia-ml.so.1',
    init() {
      calls.push('init');
      if (initError) throw new NvmlUnavailableError(initError);
    },
    deviceCount: () => 0,
    device: () => {
      throw new Error('no devices');
    },
    driverVersion: () => '550.54.14',
    shutdown: () => void calls.push('shutdown'),
  };
}

describe('openTelemetry', () => {
  let dir: string;
  let opened: OpenedTelemetry | undefined;

  beforeEach(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'encodefarm-telemetry-open-'));
  });
  afterEach(async () => {
    opened?.close();
    opened = undefined;
    await rm(dir, { recursive: true, force: true });
  });

  /** PATH with only the fake nvidia-smi, printing `script`'s ticks. */
  async function smiEnv(script?: string): Promise<NodeJS.ProcessEnv> {
    await copyFile(FAKE_SMI, path.join(dir, 'nvidia-smi'));
    await chmod(path.join(dir, 'nvidia-smi'), 0o755);
    const env: NodeJS.ProcessEnv = { PATH: dir };
    if (script !== undefined) {
      env.FAKE_NVIDIA_SMI_SCRIPT = path.join(dir, 'script');
      await writeFile(env.FAKE_NVIDIA_SMI_SCRIPT, script);
    }
    return env;
  }

  it('takes NVML when it loads and initialises; closing shuts it down', async () => {
    const addon = fakeAddon();
    opened = await openTelemetry({ env: await smiEnv(), clock: systemClock, loadNvml: (): NvmlLoad => ({ ok: true, nvml: addon }) });
    expect(opened.kind).toBe('nvml');
    expect(opened.notes).toEqual([]);
    opened.close();
    expect(addon.calls).toEqual(['init', 'shutdown']);
  });

  it('falls back to nvidia-smi when NVML will not initialise, and says why', async () => {
    opened = await openTelemetry({
      env: await smiEnv(),
      clock: systemClock,
      intervalMs: 200,
      loadNvml: () => ({ ok: true, nvml: fakeAddon('nvmlInit: Driver Not Loaded') }),
    });
    expect(opened.kind).toBe('nvidia-smi');
    expect(opened.notes).toEqual(['NVML: nvmlInit: Driver Not Loaded']);
    const sample = await opened.sample();
    expect(sample.source).toBe('nvidia-smi');
    expect(sample.gpus.map((g) => [g.index, g.name, g.encoderSessions])).toEqual([
      [0, 'NVIDIA GeForce RTX 4090', 1],
      [1, 'NVIDIA GeForce RTX 3080', null],
    ]);
  });

  it('is `none` with nvidia-smi\'s own complaint when it dies at once', async () => {
    const env = await smiEnv("NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver.\nexit 9\n");
    opened = await openTelemetry({ env, clock: systemClock, loadNvml: () => ({ ok: false, reason: 'libnvidia-ml.so.1: cannot open shared object file' }) });
    expect(opened.kind).toBe('none');
    expect(await opened.sample()).toMatchObject({
      source: 'none',
      gpus: [],
      reason: "NVML: libnvidia-ml.so.1: cannot open shared object file; nvidia-smi exited with code 9: NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver.",
    });
  });

  it('is `none` when nvidia-smi runs but prints no GPU in time', async () => {
    const env = await smiEnv('\n');
    opened = await openTelemetry({ env, clock: systemClock, intervalMs: 100, nvidiaSmiWaitMs: 500, loadNvml: () => ({ ok: false, reason: 'no lib' }) });
    expect(opened.kind).toBe('none');
    expect(opened.notes).toEqual(['NVML: no lib', 'nvidia-smi printed no GPU within 0.5 s']);
  });

  it('ENCODEFARM_TELEMETRY=none turns it off; =nvidia-smi skips NVML; an explicit nvidia-smi path must exist', async () => {
    const never = (): NvmlLoad => {
      throw new Error('NVML must not be tried');
    };
    opened = await openTelemetry({ env: { ...(await smiEnv()), ENCODEFARM_TELEMETRY: 'none' }, clock: systemClock, loadNvml: never });
    expect(await opened.sample()).toMatchObject({ source: 'none', reason: 'GPU telemetry is turned off (ENCODEFARM_TELEMETRY=none)' });

    opened = await openTelemetry({ env: { ...(await smiEnv()), ENCODEFARM_TELEMETRY: 'nvidia-smi' }, clock: systemClock, loadNvml: never });
    expect(opened.kind).toBe('nvidia-smi');
    expect(opened.notes).toEqual(['NVML skipped (ENCODEFARM_TELEMETRY=nvidia-smi)']);
    opened.close();

    const missing = path.join(dir, 'nope', 'nvidia-smi');
    opened = await openTelemetry({ env: { PATH: dir }, nvidiaSmi: missing, clock: systemClock, loadNvml: () => ({ ok: false, reason: 'no lib' }) });
    expect(opened.notes).toEqual(['NVML: no lib', `nvidia-smi not found at ${missing}`]);
  });

  it('passes ENCODEFARM_NVML_LIBRARY to the loader', async () => {
    const seen: unknown[] = [];
    opened = await openTelemetry({
      env: { PATH: dir, ENCODEFARM_NVML_LIBRARY: '/opt/nvidia/libnvidia-ml.so.1' },
      clock: systemClock,
      loadNvml: (o) => {
        seen.push(o);
        return { ok: false, reason: 'x' };
      },
    });
    expect(seen).toEqual([{ library: '/opt/nvidia/libnvidia-ml.so.1' }]);
  });
});
