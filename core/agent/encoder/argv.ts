import path from 'node:path';
import { EncodeFailedError } from '../../shared/errors.ts';
import { CONTAINER_FORMAT, type Codec, type Preset } from '../../shared/preset.ts';
import type { EncodeRequest, EncoderChoice } from '../ports.ts';

type Speed = Preset['speed'];

interface EncoderSpec {
  codec: Codec;
  family: EncoderChoice['family'];
  /** Private and rate-control options that follow `-c:v <name>`. */
  options(preset: Preset, choice: EncoderChoice): string[];
}

const NVENC_PRESET: Record<Speed, string> = { fast: 'p2', medium: 'p4', slow: 'p6' };
const X26X_PRESET: Record<Speed, string> = { fast: 'veryfast', medium: 'medium', slow: 'slow' };
const SVT_PRESET: Record<Speed, string> = { fast: '10', medium: '8', slow: '5' };
const AOM_CPU_USED: Record<Speed, string> = { fast: '8', medium: '6', slow: '4' };

function nvencOptions(preset: Preset, choice: EncoderChoice): string[] {
  if (choice.gpuIndex === undefined) {
    throw new EncodeFailedError(`${choice.name} needs a GPU index (-gpu N); none was given`);
  }
  return [
    '-gpu', String(choice.gpuIndex),
    '-preset', NVENC_PRESET[preset.speed],
    '-tune', 'hq',
    '-rc', 'vbr',
    '-cq', String(preset.quality),
    '-b:v', '0',
  ];
}

function threadsOf(preset: Preset, choice: EncoderChoice): number | undefined {
  return choice.threads ?? preset.threads;
}

/** `-threads N` where the software encoder honours it. */
function threadArgs(preset: Preset, choice: EncoderChoice): string[] {
  const n = threadsOf(preset, choice);
  return n === undefined ? [] : ['-threads', String(n)];
}

const ENCODERS: Record<string, EncoderSpec> = {
  h264_nvenc: { codec: 'h264', family: 'nvenc', options: nvencOptions },
  hevc_nvenc: { codec: 'hevc', family: 'nvenc', options: nvencOptions },
  av1_nvenc: { codec: 'av1', family: 'nvenc', options: nvencOptions },
  libx264: {
    codec: 'h264',
    family: 'software',
    options: (p, c) => ['-preset', X26X_PRESET[p.speed], '-crf', String(p.quality), ...threadArgs(p, c)],
  },
  libx265: {
    codec: 'hevc',
    family: 'software',
    options: (p, c) => {
      // x265 logs to stderr on its own (ignoring -loglevel) and ignores -threads: its worker
      // pool is sized by `pools`.
      const n = threadsOf(p, c);
      const params = n === undefined ? 'log-level=error' : `log-level=error:pools=${n}`;
      return ['-preset', X26X_PRESET[p.speed], '-crf', String(p.quality), ...threadArgs(p, c), '-x265-params', params];
    },
  },
  libsvtav1: {
    codec: 'av1',
    family: 'software',
    options: (p, c) => {
      // ffmpeg 5.1's libsvtav1 ignores -threads; SVT-AV1 takes its core count as `lp`.
      const n = threadsOf(p, c);
      const lp = n === undefined ? [] : ['-svtav1-params', `lp=${n}`];
      return ['-preset', SVT_PRESET[p.speed], '-crf', String(p.quality), ...threadArgs(p, c), ...lp];
    },
  },
  'libaom-av1': {
    codec: 'av1',
    family: 'software',
    options: (p, c) => [
      '-cpu-used', AOM_CPU_USED[p.speed],
      '-crf', String(p.quality),
      '-b:v', '0',
      '-row-mt', '1',
      ...threadArgs(p, c),
    ],
  },
};

function specFor(preset: Preset, choice: EncoderChoice): EncoderSpec {
  const spec = ENCODERS[choice.name];
  if (!spec) throw new EncodeFailedError(`unsupported video encoder ${choice.name}`);
  if (spec.family !== choice.family) {
    throw new EncodeFailedError(`${choice.name} is a ${spec.family} encoder, not ${choice.family}`);
  }
  if (spec.codec !== preset.codec) {
    throw new EncodeFailedError(`${choice.name} encodes ${spec.codec}, but preset ${preset.id} asks for ${preset.codec}`);
  }
  return spec;
}

/**
 * The options that follow `-c:v <name>` for this preset and encoder (effort, quality, rate
 * control, GPU, threads). Exported so tests can check each against `ffmpeg -h encoder=<name>`.
 */
export function encoderOptions(preset: Preset, choice: EncoderChoice): string[] {
  return specFor(preset, choice).options(preset, choice);
}

function audioArgs(preset: Preset): string[] {
  switch (preset.audio.mode) {
    case 'none':
      return ['-an'];
    case 'copy':
      return ['-c:a', 'copy'];
    case 'aac':
      return ['-c:a', 'aac', '-b:a', `${preset.audio.bitrateKbps}k`];
  }
}

function containerArgs(preset: Preset): string[] {
  const args = ['-f', CONTAINER_FORMAT[preset.container].muxer];
  // Index up front so a partly downloaded file starts playing.
  if (preset.container === 'mp4' || preset.container === 'mov') args.push('-movflags', '+faststart');
  return args;
}

/**
 * 4:2:0 needs even dimensions, so odd sizes are rounded down to even (a no-op for even sources);
 * with `maxHeight` the height is capped, never upscaled. `,` inside min() is escaped for ffmpeg's
 * filtergraph parser (there is no shell).
 */
export function scaleFilter(maxHeight: number | undefined): string {
  return maxHeight === undefined ? 'scale=trunc(iw/2)*2:trunc(ih/2)*2' : `scale=-2:trunc(min(ih\\,${maxHeight})/2)*2`;
}

/**
 * The ffmpeg argv (without the binary) for one encode. Paths become `file:` + absolute path, so a
 * name like `-x.mp4`, `concat:a|b.mp4` or `a:b.mp4` is always a plain local file, and
 * `-protocol_whitelist file` keeps a crafted input (playlist, concat list) from opening anything
 * else. Every element is one argument for spawn; nothing here is ever parsed by a shell.
 */
export function buildEncodeArgv(req: EncodeRequest): string[] {
  const { preset, encoder } = req;
  const options = encoderOptions(preset, encoder);
  const hwaccel =
    encoder.family === 'nvenc' ? ['-hwaccel', 'cuda', '-hwaccel_device', String(encoder.gpuIndex)] : [];
  const scale = ['-vf', scaleFilter(preset.maxHeight)];
  return [
    '-hide_banner', '-nostdin', '-n', '-nostats', '-loglevel', 'warning', '-progress', 'pipe:1',
    ...hwaccel,
    '-protocol_whitelist', 'file',
    '-i', `file:${path.resolve(req.inputPath)}`,
    '-map', '0:v:0',
    ...(preset.audio.mode === 'none' ? [] : ['-map', '0:a?']),
    ...scale,
    '-c:v', encoder.name, ...options,
    // The 2018 static ffmpeg bundled via npm still marks libaom-av1 experimental.
    ...(encoder.name === 'libaom-av1' ? ['-strict', 'experimental'] : []),
    // Every preset makes 8-bit 4:2:0, the format every player decodes.
    '-pix_fmt', 'yuv420p',
    ...audioArgs(preset),
    '-sn', '-dn',
    ...containerArgs(preset),
    `file:${path.resolve(req.tempPath)}`,
  ];
}

/** The software encoder for a codec among those this ffmpeg has, preferring SVT-AV1 over libaom. */
export function softwareEncoderFor(codec: Codec, available: ReadonlySet<string>): string | undefined {
  const candidates: Record<Codec, string[]> = {
    h264: ['libx264'],
    hevc: ['libx265'],
    av1: ['libsvtav1', 'libaom-av1'],
  };
  return candidates[codec].find((name) => available.has(name));
}

/** The NVENC encoder for a codec (av1_nvenc needs an RTX 40-series or newer and ffmpeg ≥ 6). */
export function nvencEncoderFor(codec: Codec): string {
  return `${codec}_nvenc`;
}
