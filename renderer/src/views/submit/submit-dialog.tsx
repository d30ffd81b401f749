import { useEffect, useRef, useState, type FormEvent } from 'react';
import type { PresetEntry, SubmitResponse } from '../../../../core/shared/protocol/index.ts';
import { useApp } from '../../app-context.tsx';
import { errorText } from '../../components/error-banner.tsx';
import { ProgressBar } from '../../components/progress-bar.tsx';
import { formatBytes } from '../../lib/format.ts';
import type { PendingInput } from './pending-input.ts';
import { uploadInputs } from './upload-inputs.ts';

const LAST_PRESET_KEY = 'encodefarm.lastPreset';

type Phase = 'edit' | 'uploading' | 'submitting' | 'reported';

/**
 * Confirms a submission: the files, the preset, where outputs go. In a browser the files are
 * uploaded to the coordinator's inbox first; in Electron their real paths are sent as they are.
 */
export function SubmitDialog({
  inputs,
  onRemove,
  onClose,
  onSubmitted,
}: {
  inputs: readonly PendingInput[];
  onRemove(key: string): void;
  onClose(): void;
  /** The batch was created (possibly with some inputs refused, shown in the dialog first). */
  onSubmitted(res: SubmitResponse): void;
}) {
  const { api, bridge } = useApp();
  const ref = useRef<HTMLDialogElement>(null);
  const [presets, setPresets] = useState<PresetEntry[] | null>(null);
  const [presetId, setPresetId] = useState('');
  const [outDir, setOutDir] = useState('');
  const [phase, setPhase] = useState<Phase>('edit');
  const [progress, setProgress] = useState<Record<string, number>>({});
  const [errors, setErrors] = useState<string[]>([]);
  const [result, setResult] = useState<SubmitResponse | null>(null);
  const abort = useRef<AbortController | null>(null);

  useEffect(() => {
    const el = ref.current;
    // showModal traps focus and makes the page behind inert; happy-dom and old engines may lack it.
    if (el && !el.open && typeof el.showModal === 'function') el.showModal();
    return () => abort.current?.abort();
  }, []);

  useEffect(() => {
    let live = true;
    api.presets().then(
      (res) => {
        if (!live) return;
        setPresets(res.presets);
        const last = localStorage.getItem(LAST_PRESET_KEY);
        setPresetId((cur) => cur || (res.presets.some((p) => p.preset.id === last) ? last! : (res.presets[0]?.preset.id ?? '')));
      },
      (err: unknown) => live && setErrors([`Presets could not be loaded: ${errorText(err)}`]),
    );
    api.settings().then(
      (res) => live && setOutDir((cur) => cur || (res.settings.defaultOutDir ?? '')),
      () => undefined, // the folder stays empty: the coordinator then uses its own default
    );
    return () => {
      live = false;
    };
  }, [api]);

  const busy = phase === 'uploading' || phase === 'submitting';

  async function submit(e: FormEvent) {
    e.preventDefault();
    if (busy || inputs.length === 0 || !presetId) return;
    setErrors([]);
    abort.current = new AbortController();
    try {
      let paths: string[];
      if (bridge) {
        paths = inputs.map((i) => i.path ?? bridge.getPathForFile(i.file!));
      } else {
        setPhase('uploading');
        paths = await uploadInputs(api, inputs, (key, f) => setProgress((p) => ({ ...p, [key]: f })), abort.current.signal);
      }
      setPhase('submitting');
      localStorage.setItem(LAST_PRESET_KEY, presetId);
      const res = await api.submit({ inputs: paths, presetId, outDir: outDir.trim() || null });
      onSubmitted(res);
      if (res.errors.length === 0) return onClose();
      setResult(res);
      setErrors(res.errors);
      setPhase('reported');
    } catch (err) {
      setErrors([errorText(err)]);
      setPhase('edit');
    }
  }

  async function chooseFolder() {
    const dir = await bridge?.pickFolder();
    if (dir) setOutDir(dir);
  }

  function cancel() {
    abort.current?.abort();
    onClose();
  }

  return (
    <dialog
      ref={ref}
      className="submit-dialog"
      data-testid="submit-dialog"
      aria-labelledby="submit-title"
      onCancel={(e) => {
        e.preventDefault();
        if (!busy) cancel();
      }}
    >
      <form onSubmit={submit} className="dialog-form">
        <h2 id="submit-title">Encode {inputs.length === 1 ? '1 file' : `${inputs.length} files`}</h2>
        {inputs.length === 0 ? (
          <p className="muted">Nothing to encode: no video files were found in what was dropped.</p>
        ) : (
          <ul className="submit-files">
            {inputs.map((input) => (
              <li key={input.key} data-testid="submit-file">
                <span className="submit-file-name" title={input.path ?? input.label}>
                  {input.label}
                </span>
                {input.file && !input.folder && <span className="muted">{formatBytes(input.file.size)}</span>}
                {progress[input.key] !== undefined && (
                  <ProgressBar value={progress[input.key]! * 100} label={`Upload of ${input.label}`} testId="upload-progress" />
                )}
                {phase === 'edit' && (
                  <button type="button" className="button-quiet" aria-label={`Remove ${input.label}`} onClick={() => onRemove(input.key)}>
                    ×
                  </button>
                )}
              </li>
            ))}
          </ul>
        )}
        <label className="field">
          <span>Preset</span>
          <select
            className="input"
            data-testid="submit-preset"
            value={presetId}
            disabled={busy || phase === 'reported'}
            onChange={(e) => setPresetId(e.target.value)}
          >
            {presets === null && <option value="">Loading…</option>}
            {presets?.map(({ preset, builtin }) => (
              <option key={preset.id} value={preset.id}>
                {preset.name} ({preset.id}{builtin ? '' : ', custom'})
              </option>
            ))}
          </select>
        </label>
        <label className="field">
          <span>Output folder</span>
          <span className="field-row">
            <input
              className="input"
              data-testid="submit-outdir"
              value={outDir}
              placeholder="Default output folder (Settings)"
              disabled={busy || phase === 'reported'}
              onChange={(e) => setOutDir(e.target.value)}
            />
            {bridge && (
              <button type="button" className="button" disabled={busy} onClick={() => void chooseFolder()}>
                Choose…
              </button>
            )}
          </span>
        </label>
        {!bridge && <p className="hint muted">The files are uploaded to the coordinator, then encoded there.</p>}
        {errors.length > 0 && (
          <div className="error-banner" role="alert" data-testid="submit-error">
            {result && <p>{`Batch #${result.batchId}: ${result.jobIds.length} job${result.jobIds.length === 1 ? '' : 's'} added. Not added:`}</p>}
            <ul>
              {errors.map((line, i) => (
                <li key={i}>{line}</li>
              ))}
            </ul>
          </div>
        )}
        <p className="dialog-status" role="status">
          {phase === 'uploading' ? 'Uploading…' : phase === 'submitting' ? 'Submitting…' : ''}
        </p>
        <div className="dialog-actions">
          <button type="button" className="button" data-testid="submit-cancel" onClick={cancel}>
            {phase === 'reported' ? 'Close' : 'Cancel'}
          </button>
          {phase !== 'reported' && (
            <button type="submit" className="button button-primary" data-testid="submit-confirm" disabled={busy || inputs.length === 0 || !presetId}>
              {busy ? 'Working…' : 'Encode'}
            </button>
          )}
        </div>
      </form>
    </dialog>
  );
}
