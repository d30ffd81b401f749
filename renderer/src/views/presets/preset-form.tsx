import { useId, useState, type FormEvent, type ReactNode } from 'react';
import { CODECS, CONTAINERS, type Preset } from '../../../../core/shared/preset.ts';
import { ApiError } from '../../api/client.ts';
import { useApp } from '../../app-context.tsx';
import { clientFieldErrors, PRESET_FIELDS, presetData, type FieldErrors, type PresetDraft, type PresetField } from './preset-draft.ts';

const SPEEDS = ['fast', 'medium', 'slow'] as const satisfies readonly Preset['speed'][];
const AUDIO_MODES = ['copy', 'aac', 'none'] as const satisfies readonly Preset['audio']['mode'][];

export interface PresetFormProps {
  /** `edit` keeps the id fixed: the server refuses a PUT whose body id differs from the URL's. */
  mode: 'new' | 'edit';
  initial: PresetDraft;
  onSaved(preset: Preset): void;
  onCancel(): void;
}

/** Creates or edits a user preset, with each field's problem shown next to it as the user types. */
export function PresetForm({ mode, initial, onSaved, onCancel }: PresetFormProps) {
  const { api } = useApp();
  const uid = useId();
  const [draft, setDraft] = useState(initial);
  // Messages appear for fields the user touched, and for all of them after a save attempt, so
  // a fresh form does not open covered in "is required".
  const [touched, setTouched] = useState<ReadonlySet<string>>(new Set());
  const [submitted, setSubmitted] = useState(false);
  const [serverErrors, setServerErrors] = useState<FieldErrors>({});
  const [formError, setFormError] = useState<string | null>(null);
  const [saving, setSaving] = useState(false);

  const clientErrors = clientFieldErrors(draft);
  const errorOf = (f: string) => ((submitted || touched.has(f)) && clientErrors[f]) || serverErrors[f];
  const otherErrors = Object.entries({ ...(submitted ? clientErrors : {}), ...serverErrors }).filter(([f]) => !(PRESET_FIELDS as readonly string[]).includes(f));

  const set = (f: PresetField, value: string) => {
    setDraft((d) => ({ ...d, [f]: value }));
    setTouched((t) => new Set(t).add(f));
    // The server's verdict was about the old value.
    setServerErrors(({ [f]: _gone, ...rest }) => rest);
  };

  const save = async (e: FormEvent) => {
    e.preventDefault();
    setSubmitted(true);
    setFormError(null);
    if (Object.keys(clientFieldErrors(draft)).length > 0) return;
    setSaving(true);
    try {
      const data = presetData(draft);
      const { preset } = mode === 'new' ? await api.createPreset(data) : await api.updatePreset(initial.id, data);
      onSaved(preset);
    } catch (err) {
      if (err instanceof ApiError) setServerErrors(err.fields);
      setFormError((err as Error).message);
    } finally {
      setSaving(false);
    }
  };

  const field = (f: PresetField, label: string, input: (props: InputProps) => ReactNode, hint?: string) => {
    const id = `${uid}-${f}`;
    const error = errorOf(f);
    const describedBy = [hint && `${id}-hint`, error && `${id}-error`].filter(Boolean).join(' ') || undefined;
    return (
      <div className="preset-field">
        <label htmlFor={id}>{label}</label>
        {input({
          id,
          name: f,
          value: draft[f],
          'aria-invalid': error ? true : undefined,
          'aria-describedby': describedBy,
          onChange: (e) => set(f, e.target.value),
          onBlur: () => setTouched((t) => (t.has(f) ? t : new Set(t).add(f))),
        })}
        {hint && (
          <small id={`${id}-hint`} className="preset-hint">
            {hint}
          </small>
        )}
        {error && (
          <span id={`${id}-error`} className="field-error" data-testid={`field-error-${f}`}>
            {error}
          </span>
        )}
      </div>
    );
  };

  const options = (values: readonly string[]) => values.map((v) => <option key={v} value={v}>{v}</option>);
  return (
    <form className="preset-form" data-testid="preset-form" noValidate onSubmit={(e) => void save(e)} aria-label={mode === 'new' ? 'New preset' : `Edit preset ${initial.id}`}>
      <h2>{mode === 'new' ? 'New preset' : `Edit ${initial.name}`}</h2>
      <div className="preset-fields">
        {field('id', 'ID', (p) => <input {...p} type="text" readOnly={mode === 'edit'} autoComplete="off" spellCheck={false} />, mode === 'edit' ? 'The id of a saved preset stays fixed; duplicate it to get a new one.' : 'Lowercase letters, digits and dashes; used in file names and on the command line.')}
        {field('name', 'Name', (p) => <input {...p} type="text" autoComplete="off" />)}
        {field('description', 'Description', (p) => <textarea {...p} rows={2} />)}
        {field('codec', 'Codec', (p) => <select {...p}>{options(CODECS)}</select>)}
        {field('quality', 'Quality', (p) => <input {...p} type="number" inputMode="numeric" min={0} max={63} step={1} />, 'Constant quality (CQ/CRF): lower is better and bigger; 0–51, or 0–63 for av1.')}
        {field('speed', 'Speed', (p) => <select {...p}>{options(SPEEDS)}</select>, 'Encoder effort: slow gives smaller files.')}
        {field('maxHeight', 'Max height', (p) => <input {...p} type="number" inputMode="numeric" min={144} max={4320} step={1} placeholder="source" />, 'Downscale to at most this many lines; empty keeps the source size. Never upscales.')}
        {field('audio.mode', 'Audio', (p) => <select {...p}>{options(AUDIO_MODES)}</select>, 'copy keeps the audio as it is, aac re-encodes it, none drops it.')}
        {field('audio.bitrateKbps', 'Audio bitrate (kbit/s)', (p) => <input {...p} type="number" inputMode="numeric" min={32} max={512} step={1} />, 'Used when audio is aac.')}
        {field('container', 'Container', (p) => <select {...p}>{options(CONTAINERS)}</select>)}
        {field('nameTemplate', 'Output name', (p) => <input {...p} type="text" autoComplete="off" spellCheck={false} />, 'Without extension; {name} is the source name, {preset} and {codec} are allowed too.')}
        {field('threads', 'Threads', (p) => <input {...p} type="number" inputMode="numeric" min={1} max={64} step={1} placeholder="automatic" />, 'Software encoders only; empty lets the encoder decide.')}
      </div>
      {(formError || otherErrors.length > 0) && (
        <div className="preset-form-error" role="alert" data-testid="preset-form-error">
          {formError && <p>{formError}</p>}
          {otherErrors.map(([f, m]) => (
            <p key={f}>{f === '(preset)' ? m : `${f}: ${m}`}</p>
          ))}
        </div>
      )}
      <div className="preset-form-actions">
        <button type="submit" data-testid="preset-save" disabled={saving}>
          {saving ? 'Saving…' : 'Save'}
        </button>
        <button type="button" data-testid="preset-cancel" onClick={onCancel}>
          Cancel
        </button>
      </div>
    </form>
  );
}

interface InputProps {
  id: string;
  name: string;
  value: string;
  'aria-invalid': true | undefined;
  'aria-describedby': string | undefined;
  onChange(e: { target: { value: string } }): void;
  onBlur(): void;
}
