import type { PresetEntry } from '../../../../core/shared/protocol/index.ts';
import type { Preset } from '../../../../core/shared/preset.ts';
import { ConfirmButton } from '../../components/confirm-button.tsx';

/** One line that says what a preset makes, e.g. "hevc · q28 · medium · ≤1080p · audio aac 160k · mkv". */
export function presetSummary(p: Preset): string {
  const audio = p.audio.mode === 'aac' ? `audio aac ${p.audio.bitrateKbps}k` : `audio ${p.audio.mode}`;
  return [p.codec, `q${p.quality}`, p.speed, p.maxHeight ? `≤${p.maxHeight}p` : 'source size', audio, p.container].join(' · ');
}

export interface PresetListProps {
  entries: readonly PresetEntry[];
  busy: boolean;
  onEdit(p: Preset): void;
  onDuplicate(p: Preset): void;
  onDelete(p: Preset): void;
}

/** The preset table: built-ins can only be duplicated, user presets edited and deleted too. */
export function PresetList({ entries, busy, onEdit, onDuplicate, onDelete }: PresetListProps) {
  return (
    <ul className="preset-list" aria-label="Presets">
      {entries.map(({ preset: p, builtin }) => (
        <li key={p.id} className="preset-row" data-testid="preset-row" data-preset-id={p.id} data-builtin={String(builtin)}>
          <div className="preset-row-text">
            <div className="preset-row-title">
              <strong>{p.name}</strong> <code>{p.id}</code>
              {builtin && (
                <span className="preset-builtin" title="Built-in presets cannot be changed; duplicate one to adjust it.">
                  built-in
                </span>
              )}
            </div>
            <div className="preset-row-summary">{presetSummary(p)}</div>
            {p.description && <div className="preset-row-description">{p.description}</div>}
          </div>
          <div className="preset-row-actions">
            {!builtin && (
              <button type="button" data-testid="preset-edit" disabled={busy} onClick={() => onEdit(p)}>
                Edit
              </button>
            )}
            <button type="button" data-testid="preset-duplicate" disabled={busy} onClick={() => onDuplicate(p)}>
              Duplicate
            </button>
            {!builtin && (
              <ConfirmButton
                testId="preset-delete"
                label="Delete"
                question={`Delete ${p.name}?`}
                confirmLabel="Delete"
                disabled={busy}
                onConfirm={() => onDelete(p)}
              />
            )}
          </div>
        </li>
      ))}
    </ul>
  );
}
