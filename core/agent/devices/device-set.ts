import { CODECS, type Codec } from '../../shared/preset.ts';
import type { LimitGroup } from '../../shared/device.ts';
import type { AgentDevice, EncoderChoice } from '../ports.ts';
import { nvencEncoderFor, softwareEncoderFor } from '../encoder/argv.ts';
import { probeNvencCodec } from '../encoder/capability-probe.ts';
import type { FfmpegInstall } from './locate-ffmpeg.ts';
import { listNvidiaGpus, type GpuInfo } from './nvidia-smi.ts';

/** A device of this agent: what it announces plus the encoder it runs per codec. */
export type LocalDevice = AgentDevice;

export interface DeviceSetOptions {
  ffmpeg: FfmpegInstall;
  /** nvidia-smi indexes to use, or 'none' to skip GPU discovery. @default every GPU listed */
  gpus?: number[] | 'none';
  /** CPU encode slots; 0 turns the CPU device off. @default 1 when no GPU (real or simulated) works, else 0 */
  cpuSlots?: number;
  /** Named stand-in GPUs running software encoders with one thread each. @default 0 */
  simulateGpus?: number;
  /** Concurrent encodes per real GPU. @default 3 */
  gpuSessions?: number;
  /** NVENC sessions all GeForce cards of this host share (driver-enforced). @default 8 */
  geforceHostBudget?: number;
  /** Concurrent encodes per simulated GPU. @default 2 */
  simulatedSlots?: number;
  /** nvidia-smi binary. @default found on PATH */
  nvidiaSmi?: string;
  env?: NodeJS.ProcessEnv;
  /** Injected in tests. @default probeNvencCodec */
  probe?: typeof probeNvencCodec;
  /** Injected in tests. @default listNvidiaGpus */
  listGpus?: typeof listNvidiaGpus;
}

export interface CodecProbeReport {
  codec: Codec;
  encoder: string;
  ok: boolean;
  /** Why the test encode failed. */
  reason?: string;
}

/** One GPU nvidia-smi listed, whether it was selected and how its probes went. */
export interface GpuReport extends GpuInfo {
  selected: boolean;
  probes: CodecProbeReport[];
  /** The device it became (`gpu<index>`), when at least one codec passed. */
  deviceId?: string;
}

export interface DeviceSet {
  devices: LocalDevice[];
  limitGroups: LimitGroup[];
  gpus: GpuReport[];
  /** Plain sentences for the CLI and the devices view: fallbacks, failed probes, simulated devices. */
  notices: string[];
}

/** The limit group every GeForce/TITAN device of one host counts against. */
export const GEFORCE_LIMIT_GROUP = 'nvenc-geforce-host';

interface Settings {
  gpuSessions: number;
  geforceHostBudget: number;
  simulateGpus: number;
  simulatedSlots: number;
  cpuSlots: number | undefined;
}

/**
 * Discovers this host's devices: each selected NVIDIA GPU is test-encoded once per NVENC codec this
 * ffmpeg has (GPUs in parallel) and announced with the codecs that passed; simulated GPUs and the
 * CPU use software encoders. Never throws for missing hardware; `notices` says what was found.
 */
export async function buildLocalDevices(opts: DeviceSetOptions): Promise<DeviceSet> {
  const settings = validateOptions(opts);
  const notices: string[] = [];
  const { reports, whyNone } = await discoverGpus(opts, notices);
  const gpuDevices = reports.flatMap((r) => nvencDevice(r, settings));
  const software = softwareEncoders(opts.ffmpeg);
  const simulated = simulatedDevices(settings, software);
  const gpusCover = new Set([...gpuDevices, ...simulated].flatMap((d) => d.codecs));
  // With working GPUs the CPU stays out of the way, except for codecs no GPU here can encode
  // (AV1 before RTX 40): those still run, in software, instead of waiting forever.
  const uncovered = new Map([...software].filter(([codec]) => !gpusCover.has(codec)));
  const cpuCodecs = settings.cpuSlots === undefined && gpusCover.size > 0 ? uncovered : software;
  const cpuSlots = settings.cpuSlots ?? 1;
  const cpu = cpuSlots > 0 && cpuCodecs.size > 0 ? [cpuDevice(cpuSlots, cpuCodecs)] : [];
  if (cpu.length > 0 && gpusCover.size > 0 && settings.cpuSlots === undefined) {
    notices.push(`No GPU here encodes ${[...cpuCodecs.keys()].join(', ')}: the CPU does, with ${[...cpuCodecs.values()].join('/')}.`);
  }
  const devices = [...gpuDevices, ...simulated, ...cpu];
  notices.push(...fallbackNotices({ opts, settings, whyNone, gpuDevices, simulated, cpu, software, cpuSlots }));
  const geforce = gpuDevices.some((d) => d.limitGroup === GEFORCE_LIMIT_GROUP);
  return {
    devices,
    limitGroups: geforce ? [{ name: GEFORCE_LIMIT_GROUP, max: settings.geforceHostBudget }] : [],
    gpus: reports,
    notices,
  };
}

function validateOptions(opts: DeviceSetOptions): Settings {
  if (opts.gpus !== undefined && opts.gpus !== 'none') {
    if (!Array.isArray(opts.gpus) || !opts.gpus.every((i) => Number.isInteger(i) && i >= 0)) {
      throw new TypeError(`Expected gpus to be 'none' or a list of GPU indexes, got ${JSON.stringify(opts.gpus)}`);
    }
  }
  return {
    gpuSessions: integer('gpuSessions', opts.gpuSessions ?? 3, 1, 256),
    geforceHostBudget: integer('geforceHostBudget', opts.geforceHostBudget ?? 8, 1, 1024),
    simulateGpus: integer('simulateGpus', opts.simulateGpus ?? 0, 0, 64),
    simulatedSlots: integer('simulatedSlots', opts.simulatedSlots ?? 2, 1, 256),
    cpuSlots: opts.cpuSlots === undefined ? undefined : integer('cpuSlots', opts.cpuSlots, 0, 256),
  };
}

function integer(name: string, value: number, min: number, max: number): number {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new RangeError(`Expected ${name} to be an integer from ${min} to ${max}, got ${value}`);
  }
  return value;
}

/** Lists and probes the GPUs; `whyNone` is set when none of them can encode. */
async function discoverGpus(
  opts: DeviceSetOptions,
  notices: string[],
): Promise<{ reports: GpuReport[]; whyNone?: string }> {
  if (opts.gpus === 'none') return { reports: [], whyNone: 'GPUs are turned off by configuration' };
  const listGpus = opts.listGpus ?? listNvidiaGpus;
  const listed = await listGpus({ ...(opts.nvidiaSmi ? { nvidiaSmi: opts.nvidiaSmi } : {}), ...(opts.env ? { env: opts.env } : {}) });
  if (listed.error) return { reports: [], whyNone: listed.error };
  if (listed.gpus.length === 0) return { reports: [], whyNone: 'nvidia-smi lists no GPUs' };
  const wanted = opts.gpus;
  for (const index of wanted ?? []) {
    if (!listed.gpus.some((g) => g.index === index)) notices.push(`GPU ${index} was asked for, but nvidia-smi does not list it.`);
  }
  const nvenc = CODECS.filter((c) => opts.ffmpeg.encoders.has(nvencEncoderFor(c)));
  const reports = await Promise.all(
    listed.gpus.map(async (gpu): Promise<GpuReport> => {
      const selected = wanted === undefined || wanted.includes(gpu.index);
      const probes = selected ? await probeGpu(opts, gpu, nvenc) : [];
      const works = probes.some((p) => p.ok);
      return { ...gpu, selected, probes, ...(works ? { deviceId: `gpu${gpu.index}` } : {}) };
    }),
  );
  const used = reports.filter((r) => r.selected);
  if (used.length === 0) return { reports, whyNone: 'none of the requested GPUs is listed by nvidia-smi' };
  if (nvenc.length === 0) return { reports, whyNone: `${opts.ffmpeg.ffmpegPath} (${opts.ffmpeg.version}) has no NVENC encoders` };
  const working = used.filter((r) => r.probes.some((p) => p.ok));
  for (const r of used) notices.push(...probeNotices(r, working.length > 0));
  if (working.length > 0) return { reports };
  return { reports, whyNone: used.map((r) => `GPU ${r.index}: ${firstFailure(r)}`).join('; ') };
}

/** One GPU's codecs, one after another so a GPU never sees more than one probe session at once. */
async function probeGpu(opts: DeviceSetOptions, gpu: GpuInfo, codecs: readonly Codec[]): Promise<CodecProbeReport[]> {
  const probe = opts.probe ?? probeNvencCodec;
  const reports: CodecProbeReport[] = [];
  for (const codec of codecs) {
    const encoder = nvencEncoderFor(codec);
    const outcome = await probe(opts.ffmpeg.ffmpegPath, gpu.index, encoder, opts.env ? { env: opts.env } : {});
    reports.push(outcome.ok ? { codec, encoder, ok: true } : { codec, encoder, ok: false, reason: outcome.reason });
  }
  return reports;
}

function firstFailure(r: GpuReport): string {
  return r.probes.find((p) => !p.ok)?.reason ?? 'no NVENC codec passed its test encode';
}

/** Per-GPU sentences for partial failures; a total failure is summed up by the fallback notice. */
function probeNotices(r: GpuReport, othersWork: boolean): string[] {
  const passed = r.probes.filter((p) => p.ok).map((p) => p.codec);
  const failed = r.probes.filter((p) => !p.ok);
  if (failed.length === 0) return [];
  const name = `GPU ${r.index} ${r.name}`;
  if (passed.length === 0) {
    return othersWork ? [`${name} failed its NVENC test encode (${firstFailure(r)}) and is not used.`] : [];
  }
  const why = failed.map((p) => `${p.encoder}: ${p.reason ?? 'failed'}`).join('; ');
  return [`${name} encodes ${passed.join(', ')} only; its test encode failed for ${why}.`];
}

function nvencDevice(r: GpuReport, settings: Settings): LocalDevice[] {
  const codecs = r.probes.filter((p) => p.ok).map((p) => p.codec);
  if (r.deviceId === undefined || codecs.length === 0) return [];
  const gpuIndex = r.index;
  return [
    {
      id: r.deviceId,
      kind: 'nvenc',
      label: `GPU ${r.index} ${r.name}`.slice(0, 200),
      gpuIndex,
      slots: settings.gpuSessions,
      codecs,
      ...(r.geforce ? { limitGroup: GEFORCE_LIMIT_GROUP } : {}),
      state: 'working',
      encoderFor: (codec: Codec): EncoderChoice | undefined =>
        codecs.includes(codec) ? { family: 'nvenc', name: nvencEncoderFor(codec), gpuIndex } : undefined,
    },
  ];
}

/** Codec → software encoder among those this ffmpeg has (libx264, libx265, libsvtav1 or libaom-av1). */
function softwareEncoders(ffmpeg: FfmpegInstall): Map<Codec, string> {
  const map = new Map<Codec, string>();
  for (const codec of CODECS) {
    const name = softwareEncoderFor(codec, ffmpeg.encoders);
    if (name) map.set(codec, name);
  }
  return map;
}

function simulatedDevices(settings: Settings, software: Map<Codec, string>): LocalDevice[] {
  if (software.size === 0) return [];
  return Array.from({ length: settings.simulateGpus }, (_, i) => ({
    id: `sim${i}`,
    kind: 'simulated-gpu' as const,
    label: `simulated GPU ${i}`,
    gpuIndex: i,
    slots: settings.simulatedSlots,
    codecs: [...software.keys()],
    state: 'working' as const,
    encoderFor: (codec: Codec): EncoderChoice | undefined => {
      const name = software.get(codec);
      return name ? { family: 'software', name, threads: 1 } : undefined;
    },
  }));
}

function cpuDevice(slots: number, software: Map<Codec, string>): LocalDevice {
  return {
    id: 'cpu',
    kind: 'cpu',
    label: `CPU (${[...software.values()].join(', ')})`,
    slots,
    codecs: [...software.keys()],
    state: 'working',
    encoderFor: (codec: Codec): EncoderChoice | undefined => {
      const name = software.get(codec);
      return name ? { family: 'software', name } : undefined;
    },
  };
}

interface FallbackContext {
  opts: DeviceSetOptions;
  settings: Settings;
  whyNone: string | undefined;
  gpuDevices: LocalDevice[];
  simulated: LocalDevice[];
  cpu: LocalDevice[];
  software: Map<Codec, string>;
  cpuSlots: number;
}

/** What runs instead of real GPUs, and why nothing can encode when that is so. */
function fallbackNotices(ctx: FallbackContext): string[] {
  const notices: string[] = [];
  const encoders = [...ctx.software.values()].join('/');
  const noSoftware = `${ctx.opts.ffmpeg.ffmpegPath} has no software encoder (libx264, libx265, libsvtav1 or libaom-av1)`;
  if (ctx.simulated.length > 0) {
    const ids = ctx.simulated.map((d) => d.id).join(', ');
    notices.push(`Simulated GPUs (${ids}) are not real GPUs: each runs ${encoders} with one thread in a GPU's slots.`);
  } else if (ctx.settings.simulateGpus > 0) {
    notices.push(`No simulated GPU is announced: ${noSoftware}.`);
  }
  if (ctx.settings.cpuSlots !== undefined && ctx.settings.cpuSlots > 0 && ctx.cpu.length === 0) {
    notices.push(`The CPU device is not announced: ${noSoftware}.`);
  }
  if (ctx.gpuDevices.length > 0) return notices;
  const lead = ctx.opts.gpus === 'none' ? 'NVIDIA GPUs are turned off by configuration' : `No working NVIDIA GPU found (${ctx.whyNone ?? 'unknown reason'})`;
  const instead = [
    ...(ctx.simulated.length > 0 ? [`on ${ctx.simulated.length} simulated GPU${ctx.simulated.length === 1 ? '' : 's'}`] : []),
    ...(ctx.cpu.length > 0 ? ['on the CPU'] : []),
  ];
  if (instead.length > 0) {
    notices.push(`${lead}: encoding ${instead.join(' and ')} with ${encoders}.`);
    return notices;
  }
  const cpuWhy = ctx.software.size === 0 ? noSoftware : 'the CPU device is turned off (cpuSlots 0)';
  notices.push(`${lead}, and ${cpuWhy}: no device can encode.`);
  return notices;
}
