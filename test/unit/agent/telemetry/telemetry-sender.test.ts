import { beforeEach, describe, expect, it } from 'vitest';
import {
  DEFAULT_TELEMETRY_INTERVAL_MS,
  TELEMETRY_REPEAT_MS,
  createTelemetrySender,
  type TelemetrySender,
} from '../../../../core/agent/telemetry/telemetry-sender.ts';
import type { Logger } from '../../../../core/shared/logger.ts';
import type { TelemetrySample } from '../../../../core/shared/telemetry.ts';
import { FakeClock } from '../../../helpers/fake-clock.ts';
import { FakeTelemetrySource, settle } from '../../../helpers/fake-telemetry-source.ts';
import { gpuFigures } from '../../../helpers/gpu-sample.ts';

let clock: FakeClock;
let source: FakeTelemetrySource;
let sent: TelemetrySample[];
let logged: { level: string; msg: string }[];
let sender: TelemetrySender;

const logger: Logger = {
  debug: () => {},
  info: (msg) => logged.push({ level: 'info', msg }),
  warn: (msg) => logged.push({ level: 'warn', msg }),
  error: (msg) => logged.push({ level: 'error', msg }),
};

function make(intervalMs?: number): TelemetrySender {
  return createTelemetrySender({ source, clock, logger, ...(intervalMs !== undefined && { intervalMs }), send: (s) => sent.push(s) });
}

/** Advances the clock one interval at a time, letting each poll's answer arrive. */
async function run(ms: number, step = DEFAULT_TELEMETRY_INTERVAL_MS): Promise<void> {
  for (let t = 0; t < ms; t += step) {
    clock.advance(step);
    await settle();
  }
}

beforeEach(() => {
  clock = new FakeClock();
  source = new FakeTelemetrySource(clock);
  sent = [];
  logged = [];
  sender = make();
});

describe('createTelemetrySender', () => {
  it('polls at once on start, then every 2 s by default, and sends what changed', async () => {
    sender.start();
    await settle();
    expect(sent.map((s) => s.gpus[0]?.temperatureC)).toEqual([60]);

    source.temperature = 61;
    await run(DEFAULT_TELEMETRY_INTERVAL_MS);
    source.temperature = 62;
    await run(DEFAULT_TELEMETRY_INTERVAL_MS);

    expect(source.calls).toBe(3);
    expect(sent.map((s) => [s.at - sent[0]!.at, s.gpus[0]?.temperatureC])).toEqual([
      [0, 60],
      [2000, 61],
      [4000, 62],
    ]);
    sender.stop();
  });

  it('sends a sample that only moved its timestamp again only after 10 s', async () => {
    sender.start();
    await settle();
    await run(TELEMETRY_REPEAT_MS - DEFAULT_TELEMETRY_INTERVAL_MS);
    // Polled every interval, sent once.
    expect(source.calls).toBe(5);
    expect(sent).toHaveLength(1);

    await run(DEFAULT_TELEMETRY_INTERVAL_MS);
    expect(sent).toHaveLength(2);
    expect(sent[1]!.at - sent[0]!.at).toBe(TELEMETRY_REPEAT_MS);
    sender.stop();
  });

  it('keeps at most one poll in flight: a slow source skips ticks instead of queueing them', async () => {
    source.auto = false;
    sender.start();
    await run(5 * DEFAULT_TELEMETRY_INTERVAL_MS);
    expect(source.calls).toBe(1);
    expect(sent).toEqual([]);

    source.answer();
    await settle();
    expect(sent).toHaveLength(1);
    // The next tick polls again.
    await run(DEFAULT_TELEMETRY_INTERVAL_MS);
    expect(source.calls).toBe(2);
    sender.stop();
  });

  it('sends the next sample whole after forget(), even if unchanged', async () => {
    sender.start();
    await settle();
    sender.forget();
    await run(DEFAULT_TELEMETRY_INTERVAL_MS);
    expect(sent).toHaveLength(2);
    sender.stop();
  });

  it('stops polling on stop() and drops the answer of a poll that was in flight', async () => {
    source.auto = false;
    sender.start();
    sender.stop();
    source.answer();
    await run(5 * DEFAULT_TELEMETRY_INTERVAL_MS);
    expect(source.calls).toBe(1);
    expect(sent).toEqual([]);
    expect(clock.pending()).toBe(0);
  });

  it('logs a failing source once per streak and keeps polling; an invalid sample is not sent', async () => {
    source.auto = false;
    sender.start();
    source.fail('NVML_ERROR_GPU_IS_LOST');
    await run(DEFAULT_TELEMETRY_INTERVAL_MS);
    source.answer({ ...source.current(), gpus: [gpuFigures(0, { gpuUtil: 140 })] });
    await run(DEFAULT_TELEMETRY_INTERVAL_MS);
    expect(sent).toEqual([]);
    expect(logged).toEqual([{ level: 'warn', msg: 'GPU telemetry poll failed; the farm runs on without it' }]);

    source.answer();
    await settle();
    expect(sent).toHaveLength(1);
    expect(logged.at(-1)).toEqual({ level: 'info', msg: 'GPU telemetry is back' });
    sender.stop();
  });

  it('takes its interval from the options, no shorter than 1 s', async () => {
    sender = make(5000);
    sender.start();
    await run(10_000, 1000);
    expect(source.calls).toBe(3);
    sender.stop();
    expect(() => make(999)).toThrow(/at least 1000/);
    expect(() => make(Number.NaN)).toThrow(RangeError);
  });
});
