import { describe, expect, it } from 'vitest';
import { BUILTIN_PRESETS } from '../../../core/shared/builtin-presets.ts';
import { CONTAINER_FORMAT, outputFileName, validatePreset, type Preset } from '../../../core/shared/preset.ts';

const good = { id: 'my-preset', name: 'Mine', codec: 'h264', quality: 23, speed: 'fast', container: 'mp4' };

function errorsOf(data: unknown): string[] {
  const r = validatePreset(data);
  if (r.ok) throw new Error('expected the preset to be refused');
  return r.errors;
}

function preset(overrides: Partial<Preset> = {}): Preset {
  const r = validatePreset({ ...good, ...overrides });
  if (!r.ok) throw new Error(r.errors.join('; '));
  return r.preset;
}

describe('validatePreset', () => {
  it('accepts a minimal preset and fills in the defaults', () => {
    expect(validatePreset(good)).toEqual({
      ok: true,
      preset: { ...good, description: '', audio: { mode: 'copy', bitrateKbps: 160 }, nameTemplate: '{name}.{preset}' },
    });
  });

  it('accepts every built-in preset', () => {
    for (const p of BUILTIN_PRESETS) expect(validatePreset(p)).toEqual({ ok: true, preset: p });
  });

  it('gives one line per bad field, naming the field and the rule', () => {
    expect(errorsOf({ ...good, id: 'Bad ID', codec: 'vp9', speed: 'warp', container: 'avi' })).toEqual([
      'id: must be 1–64 lowercase letters, digits or dashes',
      'codec: must be one of h264, hevc, av1',
      'speed: must be fast, medium or slow',
      'container: must be one of mp4, mkv, mov',
    ]);
  });

  it('states the range of numeric fields', () => {
    expect(errorsOf({ ...good, codec: 'av1', quality: 64, maxHeight: 100, threads: 65 })).toEqual([
      'quality: must be at most 63',
      'maxHeight: must be at least 144',
      'threads: must be at most 64',
    ]);
    expect(errorsOf({ ...good, quality: -1, maxHeight: 5000, threads: 0 })).toEqual([
      'quality: must be at least 0',
      'maxHeight: must be at most 4320',
      'threads: must be at least 1',
    ]);
  });

  it('holds h264 and hevc to the quality range their encoders accept', () => {
    expect(errorsOf({ ...good, codec: 'h264', quality: 52 })).toEqual(['quality: must be at most 51 for h264 (63 is for av1 only)']);
    expect(errorsOf({ ...good, codec: 'hevc', quality: 60 })).toEqual(['quality: must be at most 51 for hevc (63 is for av1 only)']);
    expect(validatePreset({ ...good, codec: 'h264', quality: 51 }).ok).toBe(true);
    expect(validatePreset({ ...good, codec: 'av1', quality: 63 }).ok).toBe(true);
  });

  it('gives a quality above every codec’s range one line, not two', () => {
    expect(errorsOf({ ...good, codec: 'h264', quality: 64 }).filter((e) => e.startsWith('quality:'))).toHaveLength(1);
  });

  it('gives an empty name template one line, not two', () => {
    expect(errorsOf({ ...good, nameTemplate: '' })).toEqual(['nameTemplate: must not be empty']);
  });

  it('checks the audio settings field by field', () => {
    expect(errorsOf({ ...good, audio: { mode: 'mp3', bitrateKbps: 8 } })).toEqual([
      'audio.mode: must be copy, aac or none',
      'audio.bitrateKbps: must be at least 32',
    ]);
  });

  it('says which required fields are missing', () => {
    const { id: _id, quality: _q, ...rest } = good;
    expect(errorsOf(rest)).toEqual(['id: is required', 'quality: is required']);
  });

  it('says a field of the wrong type has the wrong type, not that it is missing', () => {
    expect(errorsOf({ ...good, quality: '23' })).toEqual(['quality: must be a number']);
    expect(errorsOf({ ...good, quality: 23.5 })).toEqual(['quality: must be a whole number']);
  });

  it('refuses unknown fields, so no preset can carry raw ffmpeg arguments', () => {
    expect(errorsOf({ ...good, args: ['-i', '/etc/passwd'], command: 'rm' })).toEqual(['(preset): unknown field(s) args, command']);
  });

  it('keeps the name template inside the output folder and on the known placeholders', () => {
    expect(errorsOf({ ...good, nameTemplate: 'out' })).toEqual(['nameTemplate: must contain {name} so outputs keep their source name']);
    expect(errorsOf({ ...good, nameTemplate: '../{name}' })).toEqual(['nameTemplate: must not contain / \\ or ..']);
    expect(errorsOf({ ...good, nameTemplate: 'sub/{name}' })).toEqual(['nameTemplate: must not contain / \\ or ..']);
    expect(errorsOf({ ...good, nameTemplate: 'sub\\{name}' })).toEqual(['nameTemplate: must not contain / \\ or ..']);
    expect(errorsOf({ ...good, nameTemplate: '{name}-{date}' })).toEqual(['nameTemplate: only {name}, {preset} and {codec} are allowed']);
    expect(errorsOf({ ...good, nameTemplate: `{name}${'x'.repeat(200)}` })).toEqual(['nameTemplate: must be at most 200 characters']);
  });

  it('refuses something that is not a preset object at all', () => {
    for (const data of [null, 'h264-fast', 42, []]) {
      const errors = errorsOf(data);
      expect(errors).toHaveLength(1);
      expect(errors[0]).toMatch(/^\(preset\): .*expected object/);
    }
  });
});

describe('outputFileName', () => {
  it('expands the default template to name.preset plus the container extension', () => {
    expect(outputFileName(preset(), 'holiday')).toBe('holiday.my-preset.mp4');
  });

  it('expands every placeholder, each as often as it appears', () => {
    const p = preset({ codec: 'hevc', container: 'mkv', nameTemplate: '{codec}_{name}_{preset}_{name}' });
    expect(outputFileName(p, 'clip')).toBe('hevc_clip_my-preset_clip.mkv');
  });

  it('keeps a source name with dots as it is', () => {
    expect(outputFileName(preset({ nameTemplate: '{name}' }), 'a.b.c')).toBe('a.b.c.mp4');
  });

  it('does not expand placeholders that are part of the source name', () => {
    expect(outputFileName(preset({ nameTemplate: '{name}' }), 'a.b {preset}')).toBe('a.b {preset}.mp4');
  });

  it('uses the extension of each container', () => {
    expect(Object.fromEntries(Object.entries(CONTAINER_FORMAT).map(([c, f]) => [c, f.ext]))).toEqual({ mp4: 'mp4', mkv: 'mkv', mov: 'mov' });
    expect(outputFileName(preset({ container: 'mov', nameTemplate: '{name}' }), 'x')).toBe('x.mov');
  });
});
