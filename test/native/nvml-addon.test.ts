import { execFile, execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADDON_FILE, addonCandidates, loadNvml } from '../../native/index.ts';
import { TelemetrySampleSchema, type TelemetrySample } from '../../core/shared/telemetry.ts';

// The REAL addon (native/build/Release) loaded through native/index.ts, with a STUB
// libnvidia-ml.so.1 (test/native/nvml-stub.c, not NVIDIA's library) compiled here and found by
// the addon's own dlopen through LD_LIBRARY_PATH, so the binding code runs for real.

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const STUB_SOURCE = fileURLToPath(new URL('./nvml-stub.c', import.meta.url));
const PRINTER = fileURLToPath(new URL('./print-telemetry.ts', import.meta.url));
const ADDON = path.join(ROOT, 'native', 'build', 'Release', ADDON_FILE);

function hasCompiler(): boolean {
  try {
    execFileSync('cc', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** Whether the system already has a real NVML (a GPU machine), which would answer the "absent" case. */
function systemHasNvml(): boolean {
  try {
    return execFileSync('/sbin/ldconfig', ['-p'], { encoding: 'utf8' }).includes('libnvidia-ml.so.1');
  } catch {
    return false;
  }
}

const skipReason = !existsSync(ADDON)
  ? 'native addon not built: run node scripts/build-native.mjs'
  : !hasCompiler()
    ? 'no C compiler (cc) to build the stub libnvidia-ml.so.1'
    : undefined;

// CI (`bash .ci/run`, CI=true) must build and test the addon: a skip there would hide a broken build.
describe.runIf(process.env.CI === 'true')('in CI', () => {
  it('has built the addon and has a C compiler for the stub', () => {
    expect(skipReason).toBeUndefined();
  });
});

describe('loadNvml without a built addon', () => {
  it('answers with the reason and how to build it, instead of throwing', () => {
    const load = loadNvml({ addonPath: path.join(os.tmpdir(), 'no-such-dir', ADDON_FILE) });
    expect(load).toEqual({ ok: false, reason: expect.stringMatching(/^native addon not built .*build-native\.mjs/) });
  });

  it('finds the addon from the source file and from the bundles (dist/cli.mjs, dist/electron/*.mjs)', () => {
    expect(addonCandidates(path.join(ROOT, 'native'))).toContain(ADDON);
    expect(addonCandidates(path.join(ROOT, 'dist'))).toContain(ADDON);
    expect(addonCandidates(path.join(ROOT, 'dist', 'electron'))).toContain(ADDON);
  });
});

describe.skipIf(skipReason !== undefined)(`NVML addon over the stub libnvidia-ml.so.1${skipReason ? ` — skipped: ${skipReason}` : ''}`, () => {
  let dir: string;
  let stubDir: string;
  let noCapacityDir: string;
  let emptyDir: string;

  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'encodefarm-nvml-stub-'));
    stubDir = path.join(dir, 'stub');
    noCapacityDir = path.join(dir, 'no-capacity');
    emptyDir = path.join(dir, 'empty');
    for (const d of [stubDir, noCapacityDir, emptyDir]) await run('mkdir', ['-p', d]);
    await run('cc', ['-shared', '-fPIC', '-O1', '-o', path.join(stubDir, 'libnvidia-ml.so.1'), STUB_SOURCE]);
    await run('cc', ['-shared', '-fPIC', '-O1', '-DSTUB_WITHOUT_ENCODER_CAPACITY', '-o', path.join(noCapacityDir, 'libnvidia-ml.so.1'), STUB_SOURCE]);
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  /** Runs print-telemetry.ts in a child whose dlopen finds `libDir` first; PATH has no nvidia-smi. */
  async function child<T>(args: string[], libDir: string, script?: string): Promise<T> {
    const env: NodeJS.ProcessEnv = { PATH: emptyDir, LD_LIBRARY_PATH: libDir, HOME: process.env.HOME };
    if (script !== undefined) {
      const file = path.join(dir, `script-${Math.random().toString(36).slice(2)}.txt`);
      await writeFile(file, script);
      env.NVML_STUB_SCRIPT = file;
    }
    const { stdout } = await run(process.execPath, ['--import', 'tsx', PRINTER, ...args], { cwd: ROOT, env, timeout: 60_000 });
    return JSON.parse(stdout.trim().split('\n').at(-1)!) as T;
  }

  it('reads both stub GPUs through the real binding; an error return blanks only its own figures', async () => {
    const r = await child<{ ok: boolean; count: number; driverVersion: string; library: string; devices: unknown[] }>(['raw'], stubDir);
    expect(r).toMatchObject({ ok: true, count: 2, driverVersion: '550.54.14-stub', library: 'libnvidia-ml.so.1' });
    expect(r.devices[0]).toEqual({
      index: 0,
      uuid: 'GPU-00000000-0000-4000-8000-57ab00000000',
      name: 'NVIDIA GeForce RTX 4090 (stub)',
      pciBusId: '00000000:01:00.0',
      memoryUsedBytes: 1073741824,
      memoryTotalBytes: 25757220864,
      temperatureC: 40,
      gpuUtil: 10,
      encoderUtil: 20,
      decoderUtil: 5,
      encoderSessions: 1,
      encoderFps: 60,
      encoderLatencyUs: 1500,
      encoderCapacity: { h264: 90, hevc: 80, av1: 70 },
      errors: {},
    });
    // The stub's GPU 1 answers NVML_ERROR_NOT_SUPPORTED for encoder stats and AV1 capacity.
    expect(r.devices[1]).toMatchObject({
      index: 1,
      name: 'NVIDIA GeForce RTX 3080 (stub)',
      temperatureC: 35,
      memoryTotalBytes: 10737418240,
      encoderSessions: null,
      encoderFps: null,
      encoderLatencyUs: null,
      encoderCapacity: { h264: 100, hevc: 100, av1: null },
      errors: { encoderStats: 'Not Supported', 'encoderCapacity.av1': 'Not Supported' },
    });
  });

  it('openTelemetry picks NVML and its samples follow the script, poll by poll', async () => {
    const script = ['gpu0.temp=40,41,err:999,43', 'gpu0.enc_sessions=1,2,3,4', 'gpu0.enc_fps=60,58,55,50', 'gpu0.mem_used=1048576,2097152'].join('\n');
    const r = await child<{ kind: string; notes: string[]; samples: TelemetrySample[] }>(['sample', '4'], stubDir, script);
    expect(r.kind).toBe('nvml');
    expect(r.notes).toEqual([]);
    for (const s of r.samples) expect(TelemetrySampleSchema.parse(s)).toEqual(s);
    const gpu0 = r.samples.map((s) => s.gpus[0]!);
    expect(gpu0.map((g) => g.temperatureC)).toEqual([40, 41, null, 43]);
    expect(gpu0.map((g) => g.encoderSessions)).toEqual([1, 2, 3, 4]);
    expect(gpu0.map((g) => g.encoderFps)).toEqual([60, 58, 55, 50]);
    expect(gpu0.map((g) => g.memoryUsedBytes)).toEqual([1048576, 2097152, 2097152, 2097152]);
    // The failed temperature read is named, and the rest of that poll is intact.
    expect(r.samples.map((s) => s.reason)).toEqual([null, null, 'GPU 0 temperatureC: Unknown Error', null]);
    expect(r.samples[2]!.gpus).toHaveLength(2);
    expect(r.samples[0]!.gpus[1]).toMatchObject({ index: 1, encoderSessions: null, encoderCapacity: { av1: null }, driverVersion: '550.54.14-stub' });
  });

  it('a GPU whose handle NVML refuses stays in the sample with null figures and the reason', async () => {
    const r = await child<{ samples: TelemetrySample[] }>(['sample', '1'], stubDir, 'gpu1.handle=err:15\ndriver=err:3\n');
    const [s] = r.samples;
    expect(s!.reason).toBe('GPU 1 handle: GPU is lost');
    expect(s!.gpus[1]).toMatchObject({ index: 1, name: 'GPU 1', temperatureC: null, encoderSessions: null, driverVersion: null });
    expect(s!.gpus[0]).toMatchObject({ temperatureC: 40, driverVersion: null });
  });

  it('an NVML without nvmlDeviceGetEncoderCapacity still gives every other figure', async () => {
    const r = await child<{ kind: string; samples: TelemetrySample[] }>(['sample', '1'], noCapacityDir);
    expect(r.kind).toBe('nvml');
    const [s] = r.samples;
    expect(s!.reason).toBeNull();
    expect(s!.gpus[0]).toMatchObject({ temperatureC: 40, encoderSessions: 1, encoderCapacity: { h264: null, hevc: null, av1: null } });
  });

  it('nvmlInit failing (driver not loaded) falls through to `none` with both reasons', async () => {
    const raw = await child<{ initError: { name: string; reason: string } }>(['raw'], stubDir, 'init=9\n');
    expect(raw.initError).toEqual({ name: 'NvmlUnavailableError', reason: 'nvmlInit: Driver Not Loaded' });
    const r = await child<{ kind: string; notes: string[]; samples: TelemetrySample[] }>(['sample', '1'], stubDir, 'init=9\n');
    expect(r.kind).toBe('none');
    expect(r.notes).toEqual(['NVML: nvmlInit: Driver Not Loaded', 'nvidia-smi not found']);
    expect(r.samples[0]).toMatchObject({ source: 'none', gpus: [], reason: 'NVML: nvmlInit: Driver Not Loaded; nvidia-smi not found' });
  });

  it.skipIf(systemHasNvml())('no libnvidia-ml.so.1 at all: the loader says so in dlopen\'s words', async () => {
    const r = await child<{ ok: boolean; reason: string }>(['load'], emptyDir);
    expect(r).toEqual({ ok: false, reason: expect.stringMatching(/^libnvidia-ml\.so\.1: cannot open shared object file/) });
    const s = await child<{ kind: string; samples: TelemetrySample[] }>(['sample', '1'], emptyDir);
    expect(s.kind).toBe('none');
    expect(s.samples[0]!.reason).toMatch(/^NVML: libnvidia-ml\.so\.1: cannot open shared object file.*; nvidia-smi not found$/);
  });
});
