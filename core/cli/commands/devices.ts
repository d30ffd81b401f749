import { setTimeout as sleep } from 'node:timers/promises';
import { EXIT, findFfmpegOrSay } from '../farm-session.ts';
import { discoverDevices, UsageError, type CommonOptions, type DeviceOptions, type Terminal } from '../context.ts';
import { renderTable } from '../format.ts';
import { openTelemetry } from '../telemetry.ts';
import { createTelemetryWatchView, describeTelemetry } from '../telemetry-view.ts';
import { systemClock } from '../../shared/clock.ts';
import type { TelemetrySample } from '../../shared/telemetry.ts';
import type { GpuReport } from '../../agent/devices/device-set.ts';

const INTERESTING = ['h264_nvenc', 'hevc_nvenc', 'av1_nvenc', 'libx264', 'libx265', 'libsvtav1', 'libaom-av1'];

export interface DevicesOptions extends CommonOptions, DeviceOptions {
  json?: boolean;
  watch?: boolean;
  /** Seconds between `--watch` frames. @default 1 */
  interval?: string;
}

/** `encodefarm devices`: which ffmpeg, which encoders, which GPUs, and what actually works. */
export async function runDevices(opts: DevicesOptions, term: Terminal, signal?: AbortSignal): Promise<number> {
  if (opts.watch) return watchTelemetry(opts, term, signal);
  const ffmpeg = await findFfmpegOrSay(opts, term);
  if (!ffmpeg) return EXIT.noFfmpeg;
  const set = await discoverDevices(ffmpeg, opts, term);
  const telemetry = await sampleTelemetryOnce(term);
  if (opts.json) {
    const devices = set.devices.map(({ encoderFor: _e, ...d }) => d);
    term.out(
      JSON.stringify(
        { ffmpeg: { ...ffmpeg, encoders: [...ffmpeg.encoders] }, gpus: set.gpus, devices, limitGroups: set.limitGroups, notices: set.notices, telemetry },
        null,
        2,
      ) + '\n',
    );
    return 0;
  }
  term.out(`ffmpeg   ${ffmpeg.ffmpegPath} (${ffmpeg.version}, from ${ffmpeg.source})\n`);
  term.out(`ffprobe  ${ffmpeg.ffprobePath} (${ffmpeg.ffprobeVersion})\n`);
  term.out(`encoders ${INTERESTING.map((e) => `${e} ${ffmpeg.encoders.has(e) ? 'yes' : 'no'}`).join(', ')}\n`);
  term.out(`${describeTelemetry(telemetry.sample, telemetry.notes)}\n\n`);
  if (set.gpus.length) {
    term.out('NVIDIA GPUs (each NVENC codec test-encoded on its GPU):\n');
    term.out(renderTable(['gpu', 'name', 'codec probes'], set.gpus.map(gpuRow)) + '\n\n');
  }
  const rows = set.devices.map((d) => [
    d.id,
    d.kind === 'simulated-gpu' ? `${d.label} (simulated)` : d.label,
    d.kind,
    String(d.slots),
    d.codecs.join(',') || '-',
    d.state,
  ]);
  term.out('Devices the farm will use:\n');
  term.out(renderTable(['device', 'label', 'kind', 'slots', 'codecs', 'state'], rows) + '\n');
  for (const g of set.limitGroups) term.out(`shared limit ${g.name}: at most ${g.max} sessions at once\n`);
  for (const n of set.notices) term.out(`\n${n}\n`);
  return 0;
}

function gpuRow(g: GpuReport): string[] {
  const probes = g.probes.map((r) => (r.ok ? `${r.encoder} ok` : `${r.encoder} failed (${r.reason ?? 'unknown'})`)).join('; ');
  return [String(g.index), `${g.name}${g.selected ? '' : ' (not selected)'}`, probes || 'no NVENC encoder in this ffmpeg'];
}

/** One reading from the best telemetry source, for plain `devices`; the source is closed at once. */
async function sampleTelemetryOnce(term: Terminal): Promise<{ sample: TelemetrySample; notes: readonly string[] }> {
  const telemetry = await openTelemetry({ env: term.env, clock: systemClock });
  try {
    return { sample: await telemetry.sample(), notes: telemetry.notes };
  } finally {
    telemetry.close();
  }
}

/**
 * `devices --watch`: a live table of the GPUs' figures every `--interval` seconds until Ctrl-C
 * (exit 130). Needs no ffmpeg: it only reads telemetry.
 */
async function watchTelemetry(opts: DevicesOptions, term: Terminal, signal?: AbortSignal): Promise<number> {
  const intervalMs = intervalOption(opts.interval);
  const telemetry = await openTelemetry({ env: term.env, clock: systemClock, intervalMs });
  try {
    if (telemetry.kind === 'none') {
      const sample = await telemetry.sample();
      term.err(`encodefarm: no GPU telemetry to watch: ${sample.reason ?? 'no source'}\n`);
      return EXIT.failed;
    }
    for (const note of telemetry.notes) term.err(`${note}\n`);
    const view = createTelemetryWatchView({ tty: term.tty, write: term.out });
    try {
      while (!signal?.aborted) {
        view.frame(await telemetry.sample());
        try {
          await sleep(intervalMs, undefined, signal ? { signal } : undefined);
        } catch {
          break; // aborted: Ctrl-C
        }
      }
    } finally {
      view.stop();
    }
    return EXIT.interrupted;
  } finally {
    telemetry.close();
  }
}

/** `--interval <s>`: seconds, fractions allowed, at least 0.1. */
function intervalOption(value: string | undefined): number {
  if (value === undefined) return 1000;
  const s = Number(value);
  if (!Number.isFinite(s) || s < 0.1 || s > 3600) throw new UsageError(`--interval: expected seconds between 0.1 and 3600, got "${value}"`);
  return Math.round(s * 1000);
}
