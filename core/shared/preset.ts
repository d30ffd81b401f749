import { z } from 'zod';

/** Video codecs a preset can ask for; each has an NVENC and a software encoder. */
export const CODECS = ['h264', 'hevc', 'av1'] as const;
export type Codec = (typeof CODECS)[number];

export const CONTAINERS = ['mp4', 'mkv', 'mov'] as const;
export type Container = (typeof CONTAINERS)[number];

const nameTemplate = z
  .string()
  .min(1, 'must not be empty')
  .max(200, 'must be at most 200 characters')
  .refine((t) => t === '' || t.includes('{name}'), 'must contain {name} so outputs keep their source name')
  .refine((t) => !/[\\/]/.test(t) && !t.includes('..'), 'must not contain / \\ or ..')
  .refine((t) => /^(?:[^{}]|\{(?:name|preset|codec)\})*$/.test(t), 'only {name}, {preset} and {codec} are allowed');

/**
 * A preset is declarative data: what to make, never how to invoke ffmpeg. The agent turns it into
 * argv from its own table, so no preset, local or from the network, can smuggle in arguments.
 */
export const PresetSchema = z
  .object({
    id: z
      .string()
      .regex(/^[a-z0-9][a-z0-9-]{0,63}$/, 'must be 1–64 lowercase letters, digits or dashes'),
    name: z.string().min(1, 'must not be empty').max(100),
    description: z.string().max(500).default(''),
    codec: z.enum(CODECS, { error: `must be one of ${CODECS.join(', ')}` }),
    /** Constant-quality level: NVENC `-cq`, x264/x265/SVT-AV1/libaom `-crf`. Lower is better. */
    quality: z
      .number({ error: 'must be a number' })
      .int('must be a whole number')
      .min(0, 'must be at least 0')
      .max(63, 'must be at most 63'),
    /** Encoder effort: NVENC p2/p4/p6, x264/x265 veryfast/medium/slow, SVT-AV1 10/8/5. */
    speed: z.enum(['fast', 'medium', 'slow'], { error: 'must be fast, medium or slow' }),
    /** Downscale so the height is at most this; never upscales. */
    maxHeight: z
      .number({ error: 'must be a number' })
      .int('must be a whole number')
      .min(144, 'must be at least 144')
      .max(4320, 'must be at most 4320')
      .optional(),
    audio: z
      .object({
        mode: z.enum(['copy', 'aac', 'none'], { error: 'must be copy, aac or none' }),
        bitrateKbps: z
          .number({ error: 'must be a number' })
          .int('must be a whole number')
          .min(32, 'must be at least 32')
          .max(512, 'must be at most 512')
          .default(160),
      })
      .default({ mode: 'copy', bitrateKbps: 160 }),
    container: z.enum(CONTAINERS, { error: `must be one of ${CONTAINERS.join(', ')}` }),
    /** Output file name without extension; `{name}` is the source name without extension. */
    nameTemplate: nameTemplate.default('{name}.{preset}'),
    /** Software encoder threads (`-threads N`); NVENC ignores it. */
    threads: z
      .number({ error: 'must be a number' })
      .int('must be a whole number')
      .min(1, 'must be at least 1')
      .max(64, 'must be at most 64')
      .optional(),
  })
  .strict()
  .superRefine((p, ctx) => {
    // NVENC -cq and x264/x265 -crf stop at 51; only AV1 encoders go to 63.
    if (p.codec !== 'av1' && p.quality > 51 && p.quality <= 63) {
      ctx.addIssue({ code: 'custom', path: ['quality'], message: `must be at most 51 for ${p.codec} (63 is for av1 only)` });
    }
  });

export type Preset = z.infer<typeof PresetSchema>;
export type PresetInput = z.input<typeof PresetSchema>;

export type PresetValidation = { ok: true; preset: Preset } | { ok: false; errors: string[] };

/** Validates untrusted preset data; each bad field gets one line naming the field and the rule. */
export function validatePreset(data: unknown): PresetValidation {
  const parsed = PresetSchema.safeParse(data, { reportInput: true });
  if (parsed.success) return { ok: true, preset: parsed.data };
  // One line per field: a field that breaks several rules lists them together.
  const byField = new Map<string, string[]>();
  for (const issue of parsed.error.issues) {
    const field = issue.path.length ? issue.path.join('.') : '(preset)';
    const text =
      issue.code === 'unrecognized_keys'
        ? `unknown field(s) ${issue.keys.join(', ')}`
        : issue.code === 'invalid_type' && issue.input === undefined
          ? 'is required'
          : issue.message;
    const list = byField.get(field) ?? [];
    if (!list.includes(text)) list.push(text);
    byField.set(field, list);
  }
  const errors = [...byField].map(([field, texts]) => `${field}: ${texts.join('; ')}`);
  return { ok: false, errors };
}

/** Container → file extension and ffmpeg muxer name. */
export const CONTAINER_FORMAT: Record<Container, { ext: string; muxer: string }> = {
  mp4: { ext: 'mp4', muxer: 'mp4' },
  mkv: { ext: 'mkv', muxer: 'matroska' },
  mov: { ext: 'mov', muxer: 'mov' },
};

/** Expands the name template for one source file (base name without extension). */
export function outputFileName(preset: Preset, sourceBase: string): string {
  // One pass, so a `{preset}` that is part of the source name stays as it is.
  const values: Record<string, string> = { name: sourceBase, preset: preset.id, codec: preset.codec };
  const stem = preset.nameTemplate.replace(/\{(name|preset|codec)\}/g, (_, key: string) => values[key]!);
  return `${stem}.${CONTAINER_FORMAT[preset.container].ext}`;
}
