import { useEffect, useId, useRef, useState, type FormEvent, type ReactNode } from 'react';
import type { PresetEntry, WatchFolderView } from '../../../../core/shared/protocol/index.ts';
import { ApiError } from '../../api/client.ts';
import { useApp } from '../../app-context.tsx';
import { errorText } from '../../components/error-banner.tsx';
import { emptyWatchDraft, sortFieldErrors, watchBodyOf, type WatchDraft, type WatchField } from './watch-folders-draft.ts';

/** What `encodefarm watch add` picks when no preset is given, so the two start out alike. */
const CLI_DEFAULT_PRESET = 'h264-fast';

type FieldErrors = Partial<Record<WatchField, string>>;

/** The add-folder form. Paths are the coordinator's: it checks them and answers per field. */
export function WatchFolderForm({ onAdded, onCancel }: { onAdded(folder: WatchFolderView): void; onCancel(): void }) {
  const { api, bridge } = useApp();
  const uid = useId();
  const formRef = useRef<HTMLFormElement>(null);
  const [presets, setPresets] = useState<PresetEntry[] | null>(null);
  const [draft, setDraft] = useState<WatchDraft>(() => emptyWatchDraft(''));
  const [fieldErrors, setFieldErrors] = useState<FieldErrors>({});
  const [formError, setFormError] = useState<{ title: string; lines: string[] } | null>(null);
  const [saving, setSaving] = useState(false);
  // Bumped on each refused save so focus moves to the first flagged field even if the set is unchanged.
  const [refusals, setRefusals] = useState(0);

  useEffect(() => {
    let live = true;
    api.presets().then(
      (res) => {
        if (!live) return;
        setPresets(res.presets);
        const ids = res.presets.map((p) => p.preset.id);
        setDraft((d) => (d.presetId ? d : { ...d, presetId: ids.includes(CLI_DEFAULT_PRESET) ? CLI_DEFAULT_PRESET : (ids[0] ?? '') }));
      },
      (err: unknown) => live && setFormError({ title: 'Presets could not be loaded', lines: [errorText(err)] }),
    );
    return () => void (live = false);
  }, [api]);

  useEffect(() => {
    if (refusals) formRef.current?.querySelector<HTMLElement>('[aria-invalid="true"]')?.focus();
  }, [refusals]);

  const edit = (patch: Partial<WatchDraft>) => {
    setDraft((d) => ({ ...d, ...patch }));
    setFieldErrors((f) => Object.fromEntries(Object.entries(f).filter(([k]) => !(k in patch))));
  };

  const pick = async (field: 'path' | 'outDir' | 'archiveDir') => {
    const dir = await bridge?.pickFolder();
    if (dir) edit(field === 'archiveDir' ? { archiveDir: dir, afterAction: 'archive' } : { [field]: dir });
  };

  const refuse = (fields: FieldErrors, error: { title: string; lines: string[] } | null) => {
    setFieldErrors(fields);
    setFormError(error);
    setRefusals((n) => n + 1);
  };

  const save = async (e: FormEvent) => {
    e.preventDefault();
    const check = watchBodyOf(draft);
    if (!check.ok) return refuse(check.fields, null);
    setSaving(true);
    setFormError(null);
    try {
      const res = await api.addWatchFolder(check.body);
      onAdded(res.folder);
    } catch (err) {
      if (!(err instanceof ApiError)) return refuse({}, { title: 'The folder was not added', lines: [errorText(err)] });
      const { byField, other } = sortFieldErrors(err.fields, draft);
      if (err.status === 409) {
        // One row per folder on the coordinator: say so plainly, next to the path and above the buttons.
        refuse({ ...byField, path: byField.path ?? err.message }, { title: 'This folder is watched already', lines: [err.message, 'Remove it first to change its settings.'] });
      } else {
        refuse(byField, Object.keys(byField).length && !other.length ? null : { title: 'The folder was not added', lines: other.length ? other : [err.message] });
      }
    } finally {
      setSaving(false);
    }
  };

  const errorId = (f: WatchField) => `${uid}-${f}-error`;
  const hintId = (f: WatchField) => `${uid}-${f}-hint`;
  const described = (f: WatchField, hint: boolean) => [hint && hintId(f), fieldErrors[f] && errorId(f)].filter(Boolean).join(' ') || undefined;
  const invalid = (f: WatchField) => (fieldErrors[f] ? true : undefined);
  const fieldError = (f: WatchField) =>
    fieldErrors[f] && (
      <span id={errorId(f)} className="field-error" data-testid={`field-error-${f}`}>
        {fieldErrors[f]}
      </span>
    );
  const hint = (f: WatchField, text: ReactNode) => (
    <small id={hintId(f)} className="muted">
      {text}
    </small>
  );
  const choose = (f: 'path' | 'outDir' | 'archiveDir', what: string) =>
    bridge && (
      <button type="button" data-testid={`watch-choose-${f}`} aria-label={`Choose ${what}`} onClick={() => void pick(f)}>
        Choose…
      </button>
    );
  const textInput = (f: 'path' | 'outDir' | 'archiveDir', placeholder: string, disabled = false) => (
    <input
      id={`${uid}-${f}`}
      name={f}
      type="text"
      value={draft[f]}
      placeholder={placeholder}
      spellCheck={false}
      disabled={disabled}
      aria-invalid={invalid(f)}
      aria-describedby={described(f, f !== 'archiveDir')}
      onChange={(e) => edit({ [f]: e.target.value })}
    />
  );
  const globs = (f: 'include' | 'exclude', label: string, placeholder: string, hintText: string) => (
    <div className="settings-field">
      <label htmlFor={`${uid}-${f}`}>{label}</label>
      <textarea
        id={`${uid}-${f}`}
        name={f}
        rows={2}
        value={draft[f]}
        placeholder={placeholder}
        spellCheck={false}
        aria-invalid={invalid(f)}
        aria-describedby={described(f, true)}
        onChange={(e) => edit({ [f]: e.target.value })}
      />
      {hint(f, hintText)}
      {fieldError(f)}
    </div>
  );

  return (
    <form ref={formRef} className="watch-form" data-testid="watch-form" noValidate aria-labelledby={`${uid}-title`} onSubmit={(e) => void save(e)}>
      <h3 id={`${uid}-title`}>Add a watch folder</h3>

      <div className="settings-field">
        <label htmlFor={`${uid}-path`}>Folder to watch</label>
        <div className="settings-row">
          {textInput('path', '/srv/media/incoming')}
          {choose('path', 'the folder to watch')}
        </div>
        {hint('path', 'A folder on the coordinator’s machine. A file is queued once it has stopped changing, so copies in progress are left alone.')}
        {fieldError('path')}
      </div>

      <div className="settings-field">
        <label htmlFor={`${uid}-presetId`}>Preset</label>
        <select
          id={`${uid}-presetId`}
          name="presetId"
          value={draft.presetId}
          disabled={!presets}
          aria-invalid={invalid('presetId')}
          aria-describedby={described('presetId', false)}
          onChange={(e) => edit({ presetId: e.target.value })}
        >
          {!presets && <option value="">Loading presets…</option>}
          {presets?.length === 0 && <option value="">No presets</option>}
          {presets?.map((p) => (
            <option key={p.preset.id} value={p.preset.id}>
              {`${p.preset.name} (${p.preset.id})`}
            </option>
          ))}
        </select>
        {fieldError('presetId')}
      </div>

      <div className="settings-field">
        <label htmlFor={`${uid}-outDir`}>Output folder</label>
        <div className="settings-row">
          {textInput('outDir', '/srv/media/encoded')}
          {choose('outDir', 'the output folder')}
        </div>
        {hint('outDir', 'Not the watched folder itself. A sub-folder of it is fine: the watcher never looks inside it.')}
        {fieldError('outDir')}
      </div>

      <div className="settings-field">
        <label className="settings-radio">
          <input type="checkbox" name="recursive" checked={draft.recursive} aria-describedby={described('recursive', false)} onChange={(e) => edit({ recursive: e.target.checked })} />
          <span>Watch subfolders too</span>
        </label>
        {fieldError('recursive')}
      </div>

      <fieldset className="settings-field" aria-describedby={described('afterAction', true)}>
        <legend>After a file is encoded</legend>
        <label className="settings-radio">
          <input type="radio" name="afterAction" value="keep" checked={draft.afterAction === 'keep'} onChange={() => edit({ afterAction: 'keep' })} />
          <span>Keep the original where it is</span>
        </label>
        <label className="settings-radio">
          <input type="radio" name="afterAction" value="archive" checked={draft.afterAction === 'archive'} onChange={() => edit({ afterAction: 'archive' })} />
          <span>Move the original to an archive folder</span>
        </label>
        <div className="settings-row watch-archive">
          {textInput('archiveDir', '/srv/media/originals', draft.afterAction !== 'archive')}
          {choose('archiveDir', 'the archive folder')}
        </div>
        {hint('afterAction', 'The original moves only after its output is verified; EncodeFarm never deletes it.')}
        {fieldError('afterAction')}
        {fieldError('archiveDir')}
      </fieldset>

      {globs('include', 'Include', '*.mkv, *.mp4', 'Globs, comma-separated or one per line; a glob with “/” matches the path inside the folder. Empty: all video files.')}
      {globs('exclude', 'Exclude', 'sample*, extras/**', 'Files and subfolders matching these are skipped. Partial downloads and hidden files always are.')}

      <div className="settings-field">
        <label htmlFor={`${uid}-stabilitySeconds`}>Stability window (seconds)</label>
        <input
          id={`${uid}-stabilitySeconds`}
          name="stabilitySeconds"
          type="number"
          inputMode="decimal"
          min={0}
          step="any"
          value={draft.stabilitySeconds}
          placeholder="default"
          aria-invalid={invalid('stabilitySeconds')}
          aria-describedby={described('stabilitySeconds', true)}
          onChange={(e) => edit({ stabilitySeconds: e.target.value })}
        />
        {hint('stabilitySeconds', 'How long a file’s size and date must stay unchanged before it is queued. Empty: 10 s, or 30 s on a network mount.')}
        {fieldError('stabilitySeconds')}
      </div>

      {formError && (
        <div className="settings-error" role="alert" data-testid="watch-form-error">
          <p>
            <strong>{formError.title}</strong>
          </p>
          {formError.lines.map((l) => (
            <p key={l}>{l}</p>
          ))}
        </div>
      )}
      <div className="settings-actions">
        <button type="submit" data-testid="watch-save" disabled={saving || !presets}>
          {saving ? 'Adding…' : 'Add folder'}
        </button>
        <button type="button" data-testid="watch-cancel" onClick={onCancel}>
          Cancel
        </button>
      </div>
    </form>
  );
}
