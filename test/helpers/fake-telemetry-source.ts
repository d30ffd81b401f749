import type { TelemetrySource } from '../../core/agent/telemetry/telemetry-source.ts';
import type { TelemetrySample } from '../../core/shared/telemetry.ts';
import type { FakeClock } from './fake-clock.ts';
import { gpuFigures, gpuSample } from './gpu-sample.ts';

/**
 * A FAKE telemetry source: each `sample()` call is recorded and answered by the test, at once
 * (`auto`) with one GPU at `temperature`, or later by hand (`answer`/`fail`), to play a slow driver.
 */
export class FakeTelemetrySource implements TelemetrySource {
  readonly kind = 'nvml' as const;
  calls = 0;
  closed = 0;
  auto = true;
  temperature = 60;
  private waiting: { resolve: (s: TelemetrySample) => void; reject: (e: Error) => void }[] = [];

  constructor(private readonly clock: FakeClock) {}

  current(): TelemetrySample {
    return gpuSample(this.clock.now(), [gpuFigures(0, { temperatureC: this.temperature })]);
  }

  sample(): Promise<TelemetrySample> {
    this.calls++;
    if (this.auto) return Promise.resolve(this.current());
    return new Promise((resolve, reject) => this.waiting.push({ resolve, reject }));
  }

  /** Answers the oldest call still waiting. */
  answer(sample: TelemetrySample = this.current()): void {
    this.waiting.shift()?.resolve(sample);
  }

  fail(message: string): void {
    this.waiting.shift()?.reject(new Error(message));
  }

  close(): void {
    this.closed++;
  }
}

/** Lets promise callbacks (the source's answers) run. */
export const settle = () => new Promise<void>((resolve) => setImmediate(resolve));
