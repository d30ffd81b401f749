import { findBuiltinPreset } from '../../core/shared/builtin-presets.ts';
import { PresetSchema, type Preset } from '../../core/shared/preset.ts';

/** A built-in preset, optionally changed, validated like any user preset. */
export function builtinPreset(id: string, patch: Partial<Preset> = {}): Preset {
  const p = findBuiltinPreset(id);
  if (!p) throw new Error(`no built-in preset ${id}`);
  return PresetSchema.parse({ ...p, ...patch });
}
