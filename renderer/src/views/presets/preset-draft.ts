import { validatePreset, type Preset } from '../../../../core/shared/preset.ts';

/** The form's fields, named by their dotted path in a preset (also the server's 422 `fields` keys). */
export const PRESET_FIELDS = [
  'id',
  'name',
  'description',
  'codec',
  'quality',
  'speed',
  'maxHeight',
  'audio.mode',
  'audio.bitrateKbps',
  'container',
  'nameTemplate',
  'threads',
] as const;
export type PresetField = (typeof PRESET_FIELDS)[number];

/** What the inputs hold: text as typed, so a half-typed number is kept rather than rejected. */
export type PresetDraft = Record<PresetField, string>;
export type FieldErrors = Partial<Record<string, string>>;

export function emptyDraft(): PresetDraft {
  return {
    id: '',
    name: '',
    description: '',
    codec: 'h264',
    quality: '23',
    speed: 'medium',
    maxHeight: '',
    'audio.mode': 'copy',
    'audio.bitrateKbps': '160',
    container: 'mp4',
    nameTemplate: '{name}.{preset}',
    threads: '',
  };
}

const text = (n: number | undefined) => (n === undefined ? '' : String(n));

export function draftFromPreset(p: Preset): PresetDraft {
  return {
    id: p.id,
    name: p.name,
    description: p.description,
    codec: p.codec,
    quality: String(p.quality),
    speed: p.speed,
    maxHeight: text(p.maxHeight),
    'audio.mode': p.audio.mode,
    'audio.bitrateKbps': String(p.audio.bitrateKbps),
    container: p.container,
    nameTemplate: p.nameTemplate,
    threads: text(p.threads),
  };
}

/** A copy of a preset under a new id and name, ready to be saved as a user preset. */
export function duplicateDraft(p: Preset): PresetDraft {
  return { ...draftFromPreset(p), id: `${p.id}-copy`, name: `${p.name} (copy)` };
}

// Empty = not given (the schema then applies its default or says "is required"); anything else
// goes through Number so "abc" becomes NaN and the schema answers "must be a number".
const num = (s: string) => (s.trim() === '' ? undefined : Number(s));

/** The draft as preset data, in the shape PresetSchema (and the server) validates. */
export function presetData(d: PresetDraft): Record<string, unknown> {
  const data: Record<string, unknown> = {
    id: d.id,
    name: d.name,
    description: d.description,
    codec: d.codec,
    quality: num(d.quality),
    speed: d.speed,
    maxHeight: num(d.maxHeight),
    audio: { mode: d['audio.mode'], bitrateKbps: num(d['audio.bitrateKbps']) },
    container: d.container,
    nameTemplate: d.nameTemplate,
    threads: num(d.threads),
  };
  for (const k of Object.keys(data)) if (data[k] === undefined) delete data[k];
  return data;
}

/**
 * The same messages the server gives, computed here while the user types: validatePreset's
 * lines are `<dotted field>: <message>`, so the field is everything before the first ": ".
 */
export function clientFieldErrors(d: PresetDraft): FieldErrors {
  const v = validatePreset(presetData(d));
  if (v.ok) return {};
  const out: FieldErrors = {};
  for (const line of v.errors) {
    const at = line.indexOf(': ');
    if (at > 0) out[line.slice(0, at)] = line.slice(at + 2);
    else out['(preset)'] = line;
  }
  return out;
}
