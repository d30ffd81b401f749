import { describe, expect, it } from 'vitest';
import { createNvmlSource, type NvmlApi, type NvmlDeviceFigures } from '../../../../core/agent/telemetry/nvml-source.ts';
import { TelemetrySampleSchema } from '../../../../core/shared/telemetry.ts';
import { FakeClock } from '../../../helpers/fake-clock.ts';

function figures(index: number, over: Partial<NvmlDeviceFigures> = {}): NvmlDeviceFigures {
  return {
    index,
    uuid: `GPU-${index}`,
    name: `Fake GPU ${index}`,
    pciBusId: `00000000:0${index + 1}:00.0`,
    memoryUsedBytes: 1024 ** 3,
    memoryTotalBytes: 8 * 1024 ** 3,
    temperatureC: 50 + index,
    gpuUtil: 30,
    encoderUtil: 40,
    decoderUtil: 0,
    encoderSessions: 2,
    encoderFps: 120,
    encoderLatencyUs: 900,
    encoderCapacity: { h264: 60, hevc: 50, av1: null },
    errors: {},
    ...over,
  };
}

/** A FAKE NVML port: counts calls, answers from `devices`. */
class FakeNvml implements NvmlApi {
  inits = 0;
  shutdowns = 0;
  driverCalls = 0;
  initError: Error | undefined;
  countError: Error | undefined;
  constructor(public devices: (NvmlDeviceFigures | Error)[]) {}
  init() {
    if (this.initError) throw this.initError;
    this.inits++;
  }
  deviceCount() {
    if (this.countError) throw this.countError;
    return this.devices.length;
  }
  device(i: number) {
    const d = this.devices[i]!;
    if (d instanceof Error) throw d;
    return d;
  }
  driverVersion() {
    this.driverCalls++;
    return '550.54.14';
  }
  shutdown() {
    this.shutdowns++;
  }
}

describe('createNvmlSource', () => {
  it('initialises NVML, maps every GPU to the wire shape and stamps the clock', async () => {
    const nvml = new FakeNvml([figures(0), figures(1)]);
    const clock = new FakeClock();
    const source = createNvmlSource({ nvml, clock });
    expect(source.kind).toBe('nvml');
    expect(nvml.inits).toBe(1);
    const sample = await source.sample();
    expect(TelemetrySampleSchema.parse(sample)).toEqual(sample);
    expect(sample).toMatchObject({ source: 'nvml', at: clock.now(), reason: null });
    expect(sample.gpus[1]).toEqual({
      index: 1,
      uuid: 'GPU-1',
      name: 'Fake GPU 1',
      pciBusId: '00000000:02:00.0',
      memoryUsedBytes: 1024 ** 3,
      memoryTotalBytes: 8 * 1024 ** 3,
      temperatureC: 51,
      gpuUtil: 30,
      encoderUtil: 40,
      decoderUtil: 0,
      encoderSessions: 2,
      encoderFps: 120,
      encoderLatencyUs: 900,
      encoderCapacity: { h264: 60, hevc: 50, av1: null },
      driverVersion: '550.54.14',
    });
  });

  it('keeps the other figures when one is null, and keeps "Not Supported" out of the reason', async () => {
    const gpu1 = figures(1, {
      encoderSessions: null,
      encoderFps: null,
      encoderLatencyUs: null,
      errors: { encoderStats: 'Not Supported', 'encoderCapacity.av1': 'no nvmlDeviceGetEncoderCapacity in this NVML' },
    });
    const sample = await createNvmlSource({ nvml: new FakeNvml([figures(0), gpu1]), clock: new FakeClock() }).sample();
    expect(sample.reason).toBeNull();
    expect(sample.gpus[1]).toMatchObject({ encoderSessions: null, encoderFps: null, temperatureC: 51, gpuUtil: 30 });
  });

  it('names a real fault (a lost GPU, a refused query) in the reason without dropping the poll', async () => {
    const lost = figures(1, { uuid: null, name: null, pciBusId: null, temperatureC: null, errors: { handle: 'GPU is lost' } });
    const hot = figures(0, { temperatureC: null, errors: { temperatureC: 'Insufficient Permissions' } });
    const sample = await createNvmlSource({ nvml: new FakeNvml([hot, lost]), clock: new FakeClock() }).sample();
    expect(sample.reason).toBe('GPU 0 temperatureC: Insufficient Permissions; GPU 1 handle: GPU is lost');
    expect(sample.gpus.map((g) => [g.index, g.name, g.uuid])).toEqual([
      [0, 'Fake GPU 0', 'GPU-0'],
      [1, 'GPU 1', ''],
    ]);
    expect(TelemetrySampleSchema.safeParse(sample).success).toBe(true);
  });

  it('turns values the schema would refuse into null (capacity above 100, negative memory, fractional sessions)', async () => {
    const odd = figures(0, { encoderCapacity: { h264: 4294967295, hevc: 100, av1: -1 }, memoryUsedBytes: -5, encoderSessions: 1.5, gpuUtil: 101 });
    const sample = await createNvmlSource({ nvml: new FakeNvml([odd]), clock: new FakeClock() }).sample();
    expect(sample.gpus[0]).toMatchObject({ encoderCapacity: { h264: null, hevc: 100, av1: null }, memoryUsedBytes: null, encoderSessions: null, gpuUtil: null });
    expect(TelemetrySampleSchema.safeParse(sample).success).toBe(true);
  });

  it('answers an empty sample with the reason when NVML cannot count its devices, and recovers', async () => {
    const nvml = new FakeNvml([figures(0)]);
    const source = createNvmlSource({ nvml, clock: new FakeClock() });
    nvml.countError = new Error('nvmlDeviceGetCount: GPU is lost');
    expect(await source.sample()).toMatchObject({ source: 'nvml', gpus: [], reason: 'NVML: nvmlDeviceGetCount: GPU is lost' });
    nvml.countError = undefined;
    expect((await source.sample()).gpus).toHaveLength(1);
  });

  it('skips a device whose read throws, and says which', async () => {
    const sample = await createNvmlSource({ nvml: new FakeNvml([new Error('boom'), figures(1)]), clock: new FakeClock() }).sample();
    expect(sample.gpus.map((g) => g.index)).toEqual([1]);
    expect(sample.reason).toBe('GPU 0: boom');
  });

  it('asks for the driver version once, not on every poll', async () => {
    const nvml = new FakeNvml([figures(0)]);
    const source = createNvmlSource({ nvml, clock: new FakeClock() });
    for (let i = 0; i < 5; i++) await source.sample();
    expect(nvml.driverCalls).toBe(1);
  });

  it('throws what init throws, and shuts NVML down once on close', async () => {
    const broken = new FakeNvml([]);
    broken.initError = new Error('Driver Not Loaded');
    expect(() => createNvmlSource({ nvml: broken, clock: new FakeClock() })).toThrow('Driver Not Loaded');

    const nvml = new FakeNvml([figures(0)]);
    const source = createNvmlSource({ nvml, clock: new FakeClock() });
    source.close();
    source.close();
    expect(nvml.shutdowns).toBe(1);
    expect(await source.sample()).toMatchObject({ gpus: [], reason: 'NVML telemetry is closed' });
  });
});
