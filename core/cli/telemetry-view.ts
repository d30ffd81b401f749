import type { GpuTelemetry, TelemetrySample } from '../shared/telemetry.ts';
import { formatBytes, printable, renderTable } from './format.ts';

export const TELEMETRY_COLUMNS = ['gpu', 'name', 'temp', 'gpu%', 'enc%', 'dec%', 'sessions', 'enc fps', 'latency', 'memory', 'source'];

/** One table row per GPU; `-` where the source has no figure. */
export function telemetryRow(g: GpuTelemetry, source: TelemetrySample['source']): string[] {
  return [
    String(g.index),
    printable(g.name),
    g.temperatureC === null ? '-' : `${g.temperatureC}C`,
    percent(g.gpuUtil),
    percent(g.encoderUtil),
    percent(g.decoderUtil),
    g.encoderSessions === null ? '-' : String(g.encoderSessions),
    g.encoderFps === null ? '-' : String(g.encoderFps),
    g.encoderLatencyUs === null ? '-' : `${(g.encoderLatencyUs / 1000).toFixed(1)} ms`,
    memory(g.memoryUsedBytes, g.memoryTotalBytes),
    source,
  ];
}

/** A header line, the table (or why there is none) and the sample's reason, if any. */
export function renderTelemetryBlock(sample: TelemetrySample): string {
  const lines = [`GPU telemetry (${sample.source}) at ${new Date(sample.at).toISOString()}`];
  if (sample.gpus.length) lines.push(renderTable(TELEMETRY_COLUMNS, sample.gpus.map((g) => telemetryRow(g, sample.source))));
  else lines.push('no GPU figures');
  if (sample.reason) lines.push(`note: ${printable(sample.reason)}`);
  return lines.join('\n') + '\n';
}

/**
 * The `telemetry …` line of plain `encodefarm devices`: the source, and why it is not a better
 * one (`notes`) or why it has no figures (`reason`).
 */
export function describeTelemetry(sample: TelemetrySample, notes: readonly string[]): string {
  const driver = sample.gpus.find((g) => g.driverVersion)?.driverVersion;
  const what =
    sample.source === 'none'
      ? 'none'
      : `${sample.source}, ${sample.gpus.length} GPU${sample.gpus.length === 1 ? '' : 's'}${driver ? `, driver ${driver}` : ''}`;
  const why = [...(sample.source === 'none' ? [] : notes), ...(sample.reason ? [sample.reason] : [])];
  return `telemetry ${what}${why.length ? ` (${printable(why.join('; '))})` : ''}`;
}

export interface TelemetryWatchView {
  frame(sample: TelemetrySample): void;
  stop(): void;
}

/**
 * `devices --watch` output. On a terminal each frame replaces the previous one in place (cursor
 * up over the last frame, clear to the end of the screen); otherwise (pipes, logs, tests) each
 * frame is a block of its own, followed by a blank line.
 */
export function createTelemetryWatchView(opts: { tty: boolean; write: (s: string) => void }): TelemetryWatchView {
  let previousLines = 0;
  let hidden = false;
  return {
    frame(sample) {
      const block = renderTelemetryBlock(sample);
      if (!opts.tty) {
        opts.write(`${block}\n`);
        return;
      }
      const up = previousLines > 0 ? `\x1b[${previousLines}F` : '';
      opts.write(`${hidden ? '' : '\x1b[?25l'}${up}\x1b[J${block}`);
      hidden = true;
      previousLines = block.split('\n').length - 1;
    },
    stop() {
      if (hidden) opts.write('\x1b[?25h');
      hidden = false;
    },
  };
}

function percent(v: number | null): string {
  return v === null ? '-' : `${Math.round(v)}%`;
}

function memory(used: number | null, total: number | null): string {
  if (used === null && total === null) return '-';
  return `${formatBytes(used)} / ${formatBytes(total)}`;
}
