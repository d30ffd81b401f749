import { describe, expect, it } from 'vitest';
import { parseTelemetryRow, telemetryQueryArgs, TELEMETRY_FIELDS, type NvidiaSmiStreamState } from '../../../../core/agent/devices/nvidia-smi-stream.ts';
import { createNvidiaSmiSource } from '../../../../core/agent/telemetry/nvidia-smi-source.ts';
import { TelemetrySampleSchema } from '../../../../core/shared/telemetry.ts';
import { FakeClock } from '../../../helpers/fake-clock.ts';

const ROW = '0, GPU-6f2a1c4e-0d3b-4f51-9a0e-2b7c5d8e9f01, NVIDIA GeForce RTX 4090, 00000000:01:00.0, 1024, 24564, 45, 10, 20, 5, 1, 60, 1500, 550.54.14';

describe('telemetryQueryArgs', () => {
  it('asks for the spec\'s fields in order, CSV without header or units, repeating with -lms', () => {
    expect(telemetryQueryArgs(500)).toEqual([
      '--query-gpu=index,uuid,name,pci.bus_id,memory.used,memory.total,temperature.gpu,utilization.gpu,utilization.encoder,utilization.decoder,encoder.stats.sessionCount,encoder.stats.averageFps,encoder.stats.averageLatency,driver_version',
      '--format=csv,noheader,nounits',
      '-lms',
      '500',
    ]);
    expect(telemetryQueryArgs()).toHaveLength(2);
    expect(TELEMETRY_FIELDS).toHaveLength(14);
  });
});

describe('parseTelemetryRow', () => {
  it('reads a full row; memory comes in MiB, latency in microseconds', () => {
    expect(parseTelemetryRow(ROW)).toEqual({
      index: 0,
      uuid: 'GPU-6f2a1c4e-0d3b-4f51-9a0e-2b7c5d8e9f01',
      name: 'NVIDIA GeForce RTX 4090',
      pciBusId: '00000000:01:00.0',
      memoryUsedBytes: 1024 * 1024 * 1024,
      memoryTotalBytes: 24564 * 1024 * 1024,
      temperatureC: 45,
      gpuUtil: 10,
      encoderUtil: 20,
      decoderUtil: 5,
      encoderSessions: 1,
      encoderFps: 60,
      encoderLatencyUs: 1500,
      encoderCapacity: { h264: null, hevc: null, av1: null },
      driverVersion: '550.54.14',
    });
  });

  it('turns [N/A], [Not Supported] and other bracketed answers into null, figure by figure', () => {
    const row = '1, GPU-x, NVIDIA GeForce GTX 1080 Ti, 00000000:02:00.0, [N/A], 11264, [Not Supported], 3, [N/A], [Unknown Error], [N/A], [N/A], [N/A], 470.1';
    expect(parseTelemetryRow(row)).toMatchObject({
      index: 1,
      memoryUsedBytes: null,
      memoryTotalBytes: 11264 * 1024 * 1024,
      temperatureC: null,
      gpuUtil: 3,
      encoderUtil: null,
      decoderUtil: null,
      encoderSessions: null,
      encoderFps: null,
      encoderLatencyUs: null,
    });
    expect(TelemetrySampleSchema.shape.gpus.element.safeParse(parseTelemetryRow(row)).success).toBe(true);
  });

  it('rejects what is not a row: complaints, blank lines, short rows, a bad index', () => {
    expect(parseTelemetryRow("NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver.")).toBeUndefined();
    expect(parseTelemetryRow('')).toBeUndefined();
    expect(parseTelemetryRow('0, GPU-x, RTX, 00000000:01:00.0, 1, 2')).toBeUndefined();
    expect(parseTelemetryRow(ROW.replace(/^0/, 'x'))).toBeUndefined();
    expect(parseTelemetryRow(`${ROW}\r`)).toMatchObject({ driverVersion: '550.54.14' });
  });

  it('drops out-of-range percentages rather than passing them on', () => {
    expect(parseTelemetryRow(ROW.replace(', 10, 20, 5,', ', 140, -3, 5,'))).toMatchObject({ gpuUtil: null, encoderUtil: null, decoderUtil: 5 });
  });
});

describe('createNvidiaSmiSource', () => {
  /** A FAKE stream: whatever state the test sets. */
  function fakeStream(state: Partial<NvidiaSmiStreamState>) {
    const s = { gpus: [], updatedAt: null, running: true, restarts: 0, reason: null, ...state } as NvidiaSmiStreamState;
    return { closed: 0, state: s, latest: () => s, close() { this.closed++; } };
  }

  it('samples the latest rows with the clock, passes the stream\'s reason on, and closes the stream once', async () => {
    const clock = new FakeClock();
    const stream = fakeStream({ gpus: [parseTelemetryRow(ROW)!], reason: null });
    const source = createNvidiaSmiSource({ stream, clock });
    expect(source.kind).toBe('nvidia-smi');
    const sample = await source.sample();
    expect(sample).toMatchObject({ source: 'nvidia-smi', at: clock.now(), reason: null });
    expect(sample.gpus).toHaveLength(1);
    stream.state.reason = 'nvidia-smi exited with code 9: NVIDIA-SMI has failed; restarting in 2 s';
    expect((await source.sample()).reason).toContain('exited with code 9');
    source.close();
    source.close();
    expect(stream.closed).toBe(1);
  });
});
