import { BUILTIN_PRESETS, findBuiltinPreset } from '../shared/builtin-presets.ts';
import { validatePreset, type Preset } from '../shared/preset.ts';
import type { JobStore } from './ports.ts';

export class PresetValidationError extends Error {
  constructor(
    readonly source: string,
    readonly errors: string[],
  ) {
    super(`${source}: invalid preset\n${errors.map((e) => `  - ${e}`).join('\n')}`);
    this.name = 'PresetValidationError';
  }
}

export type PresetCatalog = ReturnType<typeof createPresetCatalog>;

/** Built-in presets plus the user's, validated on the way in and on the way out of the store. */
export function createPresetCatalog(store: Pick<JobStore, 'listUserPresets' | 'saveUserPreset' | 'deleteUserPreset'>, now: () => number) {
  return {
    get(id: string): Preset | undefined {
      return findBuiltinPreset(id) ?? store.listUserPresets().find((p) => p.id === id);
    },
    list(): { preset: Preset; builtin: boolean }[] {
      return [
        ...BUILTIN_PRESETS.map((preset) => ({ preset, builtin: true })),
        ...store.listUserPresets().map((preset) => ({ preset, builtin: false })),
      ];
    },
    /** Validates untrusted data (a JSON file, an API body) and saves it as a user preset. */
    save(data: unknown, source: string): Preset {
      const result = validatePreset(data);
      if (!result.ok) throw new PresetValidationError(source, result.errors);
      if (findBuiltinPreset(result.preset.id)) {
        throw new PresetValidationError(source, [`id: "${result.preset.id}" is a built-in preset; choose another id`]);
      }
      store.saveUserPreset(result.preset, now());
      return result.preset;
    },
    remove(id: string): boolean {
      return store.deleteUserPreset(id);
    },
  };
}
