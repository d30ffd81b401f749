import { useEffect, useId, useState, type FormEvent, type ReactNode } from 'react';
import type { SettingsResponse } from '../../../../core/shared/protocol/index.ts';
import { ApiError } from '../../api/client.ts';
import { useApp } from '../../app-context.tsx';
import { ErrorBanner } from '../../components/error-banner.tsx';
import { changedSettings, draftOf, type SettingsDraft } from './settings-draft.ts';
import { WatchFoldersSection } from './watch-folders.tsx';
import './settings.css';

const ON_EXISTS = [
  { value: 'skip', label: 'Skip', explain: 'Leave the existing output alone and do not encode that file again.' },
  { value: 'suffix', label: 'Add a suffix', explain: 'Encode anyway and write the new output as “name (1).mp4”, “name (2).mp4”…' },
] as const;

/** The coordinator's settings, plus where its ffmpeg and data live (read-only). */
export function SettingsView() {
  const { api, bridge } = useApp();
  const uid = useId();
  const [loaded, setLoaded] = useState<SettingsResponse | null>(null);
  const [draft, setDraft] = useState<SettingsDraft | null>(null);
  const [fieldErrors, setFieldErrors] = useState<Record<string, string>>({});
  const [error, setError] = useState<string | null>(null);
  const [saving, setSaving] = useState(false);
  const [saved, setSaved] = useState(false);

  useEffect(() => {
    let live = true;
    api.settings().then(
      (res) => {
        if (!live) return;
        setLoaded(res);
        setDraft(draftOf(res.settings));
      },
      (err: Error) => live && setError(err.message),
    );
    return () => void (live = false);
  }, [api]);

  // One frame for both the loading and the loaded page, so the watch folders (a list of their own)
  // stay mounted and keep polling while the settings load.
  const page = (settings: ReactNode, info?: ReactNode) => (
    <div className="settings-view">
      <h1 className="view-title">Settings</h1>
      {settings}
      <WatchFoldersSection />
      {info}
    </div>
  );

  if (!loaded || !draft) return page(error ? <ErrorBanner error={error} /> : <p className="muted">Loading…</p>);

  const edit = (patch: Partial<SettingsDraft>) => {
    setDraft({ ...draft, ...patch });
    setSaved(false);
    setFieldErrors((f) => Object.fromEntries(Object.entries(f).filter(([k]) => !(k in patch))));
  };

  const pick = async () => {
    const dir = await bridge?.pickFolder();
    if (dir) edit({ defaultOutDir: dir });
  };

  const check = changedSettings(loaded.settings, draft);
  const dirty = !check.ok || Object.keys(check.patch).length > 0;

  const save = async (e: FormEvent) => {
    e.preventDefault();
    setError(null);
    setSaved(false);
    if (!check.ok) return void setFieldErrors(check.fields);
    if (Object.keys(check.patch).length === 0) return;
    setSaving(true);
    try {
      const res = await api.updateSettings(check.patch);
      setLoaded(res);
      setDraft(draftOf(res.settings));
      setFieldErrors({});
      setSaved(true);
    } catch (err) {
      if (err instanceof ApiError) setFieldErrors(err.fields);
      setError((err as Error).message);
    } finally {
      setSaving(false);
    }
  };

  const fieldError = (f: string) =>
    fieldErrors[f] && (
      <span id={`${uid}-${f}-error`} className="field-error" data-testid={`field-error-${f}`}>
        {fieldErrors[f]}
      </span>
    );
  const described = (f: string, hint: boolean) => [hint && `${uid}-${f}-hint`, fieldErrors[f] && `${uid}-${f}-error`].filter(Boolean).join(' ') || undefined;
  const unknownErrors = Object.entries(fieldErrors).filter(([k]) => !['defaultOutDir', 'onExists', 'concurrency'].includes(k));

  return page(
    <form className="settings-form" data-testid="settings-form" noValidate onSubmit={(e) => void save(e)}>
      <div className="settings-field">
        <label htmlFor={`${uid}-defaultOutDir`}>Default output folder</label>
        <div className="settings-row">
          <input
            id={`${uid}-defaultOutDir`}
            name="defaultOutDir"
            type="text"
            value={draft.defaultOutDir}
            placeholder="next to each source file"
            spellCheck={false}
            aria-invalid={fieldErrors.defaultOutDir ? true : undefined}
            aria-describedby={described('defaultOutDir', true)}
            onChange={(e) => edit({ defaultOutDir: e.target.value })}
          />
          {bridge && (
            <button type="button" data-testid="settings-choose-outdir" onClick={() => void pick()}>
              Choose…
            </button>
          )}
        </div>
        <small id={`${uid}-defaultOutDir-hint`} className="muted">
          An absolute folder on the coordinator used when a submission names none; empty writes outputs next to their sources.
        </small>
        {fieldError('defaultOutDir')}
      </div>

      <fieldset className="settings-field" aria-describedby={described('onExists', false)}>
        <legend>When the output already exists</legend>
        {ON_EXISTS.map((o) => (
          <label key={o.value} className="settings-radio">
            <input type="radio" name="onExists" value={o.value} checked={draft.onExists === o.value} onChange={() => edit({ onExists: o.value })} />
            <span>
              <strong>{o.label}</strong> <span className="muted">— {o.explain}</span>
            </span>
          </label>
        ))}
        {fieldError('onExists')}
      </fieldset>

      <div className="settings-field">
        <label htmlFor={`${uid}-concurrency`}>Concurrent encodes on this machine</label>
        <input
          id={`${uid}-concurrency`}
          name="concurrency"
          type="number"
          inputMode="numeric"
          min={1}
          max={64}
          step={1}
          value={draft.concurrency}
          placeholder="automatic"
          aria-invalid={fieldErrors.concurrency ? true : undefined}
          aria-describedby={described('concurrency', true)}
          onChange={(e) => edit({ concurrency: e.target.value })}
        />
        <small id={`${uid}-concurrency-hint`} className="muted">
          1–64, or empty for automatic (as many as this machine’s devices allow). Applies to this computer’s own agent only.
        </small>
        {fieldError('concurrency')}
      </div>

      {(error || unknownErrors.length > 0) && (
        <div className="settings-error" role="alert">
          {error && <p>{error}</p>}
          {unknownErrors.map(([k, m]) => (
            <p key={k}>{`${k}: ${m}`}</p>
          ))}
        </div>
      )}
      <div className="settings-actions">
        <button type="submit" data-testid="settings-save" disabled={saving || !dirty}>
          {saving ? 'Saving…' : 'Save'}
        </button>
        <span role="status">{saved && <span data-testid="settings-saved">Saved.</span>}</span>
      </div>
    </form>,
    <section className="settings-info" aria-labelledby={`${uid}-info`}>
      <h2 id={`${uid}-info`}>This coordinator</h2>
      <dl>
        <dt>ffmpeg</dt>
        <dd data-testid="settings-ffmpeg">
          <code>{loaded.ffmpeg.path}</code> <span className="muted">{loaded.ffmpeg.version}</span>
        </dd>
        <dt>ffprobe</dt>
        <dd data-testid="settings-ffprobe">
          <code>{loaded.ffmpeg.ffprobePath}</code>
        </dd>
        <dt>Data folder</dt>
        <dd data-testid="settings-data-dir">
          <code>{loaded.dataDir}</code>
        </dd>
        <dt>Upload inbox</dt>
        <dd data-testid="settings-inbox-dir">
          <code>{loaded.inboxDir}</code>
        </dd>
      </dl>
    </section>,
  );
}
