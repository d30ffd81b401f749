import { FarmSettingsSchema, SettingsUpdateSchema, type FarmSettings } from '../../shared/protocol/index.ts';
import type { JobStore } from '../ports.ts';
import { fieldErrors, summarise } from '../server/router.ts';
import { ApiRequestError } from './farm-api.ts';

/** What a farm that was never configured does. */
export const DEFAULT_SETTINGS: FarmSettings = { defaultOutDir: null, onExists: 'skip', concurrency: null };

/** One stored value if it still passes its schema (a newer version or a hand edit may differ). */
function storedOr<K extends keyof FarmSettings>(raw: Record<string, unknown>, key: K): FarmSettings[K] {
  if (!Object.hasOwn(raw, key)) return DEFAULT_SETTINGS[key];
  const parsed = FarmSettingsSchema.shape[key].safeParse(raw[key]);
  return parsed.success ? (parsed.data as FarmSettings[K]) : DEFAULT_SETTINGS[key];
}

/**
 * The farm settings (default output folder, on-exists policy, this machine's concurrency), kept
 * in the store and validated on the way in and on the way out. `onChange` runs after every update,
 * so the service can apply the concurrency to the local agent live.
 */
export function createFarmSettings(deps: { store: Pick<JobStore, 'readSettings' | 'writeSettings'>; onChange?: (s: FarmSettings) => void }) {
  function get(): FarmSettings {
    const raw = deps.store.readSettings();
    return { defaultOutDir: storedOr(raw, 'defaultOutDir'), onExists: storedOr(raw, 'onExists'), concurrency: storedOr(raw, 'concurrency') };
  }

  /** Applies a partial update (PUT /settings); 422 `invalid-settings` with a message per bad field. */
  function update(body: unknown): FarmSettings {
    const parsed = SettingsUpdateSchema.safeParse(body);
    if (!parsed.success) {
      throw new ApiRequestError(422, 'invalid-settings', summarise(parsed.error.issues), fieldErrors(parsed.error.issues));
    }
    const patch = Object.fromEntries(Object.entries(parsed.data).filter(([, v]) => v !== undefined));
    deps.store.writeSettings(patch);
    const next = get();
    deps.onChange?.(next);
    return next;
  }

  return { get, update };
}

export type FarmSettingsStore = ReturnType<typeof createFarmSettings>;
