import { useCallback, useEffect, useState } from 'react';
import type { PresetEntry } from '../../../../core/shared/protocol/index.ts';
import type { Preset } from '../../../../core/shared/preset.ts';
import { useApp } from '../../app-context.tsx';
import { ErrorBanner } from '../../components/error-banner.tsx';
import { draftFromPreset, duplicateDraft, emptyDraft, type PresetDraft } from './preset-draft.ts';
import { PresetForm } from './preset-form.tsx';
import { PresetList } from './preset-list.tsx';
import './presets.css';

interface Editing {
  mode: 'new' | 'edit';
  draft: PresetDraft;
  /** Remounts the form for each new start, so its state never leaks from one preset to another. */
  key: number;
}

/** The preset table with a form to create, edit and duplicate presets. */
export function PresetsView() {
  const { api } = useApp();
  const [entries, setEntries] = useState<PresetEntry[] | null>(null);
  const [editing, setEditing] = useState<Editing | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [notice, setNotice] = useState<string | null>(null);

  const load = useCallback(async () => {
    try {
      setEntries((await api.presets()).presets);
      setError(null);
    } catch (err) {
      setError((err as Error).message);
    }
  }, [api]);
  useEffect(() => void load(), [load]);

  const open = (mode: Editing['mode'], draft: PresetDraft) => {
    setNotice(null);
    setEditing((e) => ({ mode, draft, key: (e?.key ?? 0) + 1 }));
  };

  const remove = async (p: Preset) => {
    setBusy(true);
    setNotice(null);
    try {
      await api.deletePreset(p.id);
      // Editing a preset that no longer exists would only end in a 404 on save.
      setEditing((e) => (e?.mode === 'edit' && e.draft.id === p.id ? null : e));
      setNotice(`Deleted ${p.name}.`);
      setError(null);
    } catch (err) {
      setError(`delete ${p.id}: ${(err as Error).message}`);
    } finally {
      setBusy(false);
      void load();
    }
  };

  const saved = (p: Preset) => {
    setEditing(null);
    setNotice(`Saved ${p.name}.`);
    void load();
  };

  return (
    <div className="presets-view">
      <header className="presets-header">
        <h1 className="view-title">Presets</h1>
        <button type="button" data-testid="preset-new" onClick={() => open('new', emptyDraft())}>
          New preset
        </button>
      </header>
      <ErrorBanner error={error} onDismiss={() => setError(null)} />
      {notice && (
        <p className="presets-notice" role="status">
          {notice}
        </p>
      )}
      <div className="presets-layout">
        {entries && (
          <PresetList
            entries={entries}
            busy={busy}
            onEdit={(p) => open('edit', draftFromPreset(p))}
            onDuplicate={(p) => open('new', duplicateDraft(p))}
            onDelete={(p) => void remove(p)}
          />
        )}
        {editing && <PresetForm key={editing.key} mode={editing.mode} initial={editing.draft} onSaved={saved} onCancel={() => setEditing(null)} />}
      </div>
    </div>
  );
}
