import { PresetSchema, type Preset, type PresetInput } from './preset.ts';

const raw: PresetInput[] = [
  {
    id: 'h264-fast',
    name: 'H.264 fast',
    description: 'Plays everywhere; quick encode, AAC audio, MP4.',
    codec: 'h264',
    quality: 23,
    speed: 'fast',
    audio: { mode: 'aac', bitrateKbps: 160 },
    container: 'mp4',
  },
  {
    id: 'h264-1080p',
    name: 'H.264 1080p',
    description: 'Downscaled to at most 1080 lines for sharing; AAC audio, MP4.',
    codec: 'h264',
    quality: 22,
    speed: 'medium',
    maxHeight: 1080,
    audio: { mode: 'aac', bitrateKbps: 192 },
    container: 'mp4',
  },
  {
    id: 'hevc-fast',
    name: 'HEVC fast',
    description: 'About half the size of H.264 at similar quality; AAC audio, MP4.',
    codec: 'hevc',
    quality: 26,
    speed: 'fast',
    audio: { mode: 'aac', bitrateKbps: 160 },
    container: 'mp4',
  },
  {
    id: 'hevc-archive',
    name: 'HEVC archive',
    description: 'High quality for keeping; audio copied untouched, MKV.',
    codec: 'hevc',
    quality: 20,
    speed: 'slow',
    audio: { mode: 'copy', bitrateKbps: 160 },
    container: 'mkv',
  },
  {
    id: 'av1-fast',
    name: 'AV1 fast',
    description: 'Smallest files; needs an RTX 40-series or newer GPU for NVENC, else SVT-AV1/libaom.',
    codec: 'av1',
    quality: 32,
    speed: 'fast',
    audio: { mode: 'aac', bitrateKbps: 128 },
    container: 'mp4',
  },
  {
    id: 'av1-archive',
    name: 'AV1 archive',
    description: 'High-quality AV1 for keeping; audio copied untouched, MKV.',
    codec: 'av1',
    quality: 24,
    speed: 'slow',
    audio: { mode: 'copy', bitrateKbps: 160 },
    container: 'mkv',
  },
];

/** The presets every installation has; user presets may not reuse these ids. */
export const BUILTIN_PRESETS: readonly Preset[] = raw.map((p) => PresetSchema.parse(p));

export function findBuiltinPreset(id: string): Preset | undefined {
  return BUILTIN_PRESETS.find((p) => p.id === id);
}
