import { EXIT, findFfmpegOrSay } from '../farm-session.ts';
import { discoverDevices, type CommonOptions, type DeviceOptions, type Terminal } from '../context.ts';
import { renderTable } from '../format.ts';
import type { GpuReport } from '../../agent/devices/device-set.ts';

const INTERESTING = ['h264_nvenc', 'hevc_nvenc', 'av1_nvenc', 'libx264', 'libx265', 'libsvtav1', 'libaom-av1'];

/** `encodefarm devices`: which ffmpeg, which encoders, which GPUs, and what actually works. */
export async function runDevices(opts: CommonOptions & DeviceOptions & { json?: boolean }, term: Terminal): Promise<number> {
  const ffmpeg = await findFfmpegOrSay(opts, term);
  if (!ffmpeg) return EXIT.noFfmpeg;
  const set = await discoverDevices(ffmpeg, opts, term);
  if (opts.json) {
    const devices = set.devices.map(({ encoderFor: _e, ...d }) => d);
    term.out(JSON.stringify({ ffmpeg: { ...ffmpeg, encoders: [...ffmpeg.encoders] }, gpus: set.gpus, devices, limitGroups: set.limitGroups, notices: set.notices }, null, 2) + '\n');
    return 0;
  }
  term.out(`ffmpeg   ${ffmpeg.ffmpegPath} (${ffmpeg.version}, from ${ffmpeg.source})\n`);
  term.out(`ffprobe  ${ffmpeg.ffprobePath} (${ffmpeg.ffprobeVersion})\n`);
  term.out(`encoders ${INTERESTING.map((e) => `${e} ${ffmpeg.encoders.has(e) ? 'yes' : 'no'}`).join(', ')}\n\n`);
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
