import type { FarmSettings } from '../../../../core/shared/protocol/index.ts';

/** The settings form as typed: '' stands for null (no default folder / automatic concurrency). */
export interface SettingsDraft {
  defaultOutDir: string;
  onExists: FarmSettings['onExists'];
  concurrency: string;
}

export function draftOf(s: FarmSettings): SettingsDraft {
  return { defaultOutDir: s.defaultOutDir ?? '', onExists: s.onExists, concurrency: s.concurrency === null ? '' : String(s.concurrency) };
}

export type SettingsPatch =
  | { ok: true; patch: Partial<FarmSettings> }
  | { ok: false; fields: Record<string, string> };

/**
 * Only the fields the user changed, so a save never overwrites a setting someone else changed
 * meanwhile. Concurrency is checked here because a typo would otherwise go out as NaN → null,
 * silently meaning "automatic".
 */
export function changedSettings(saved: FarmSettings, d: SettingsDraft): SettingsPatch {
  const patch: Partial<FarmSettings> = {};
  const outDir = d.defaultOutDir.trim() === '' ? null : d.defaultOutDir.trim();
  if (outDir !== saved.defaultOutDir) patch.defaultOutDir = outDir;
  if (d.onExists !== saved.onExists) patch.onExists = d.onExists;
  const text = d.concurrency.trim();
  const concurrency = text === '' ? null : Number(text);
  if (concurrency !== null && !(Number.isInteger(concurrency) && concurrency >= 1 && concurrency <= 64)) {
    return { ok: false, fields: { concurrency: 'must be a whole number from 1 to 64, or empty for automatic' } };
  }
  if (concurrency !== saved.concurrency) patch.concurrency = concurrency;
  return { ok: true, patch };
}
