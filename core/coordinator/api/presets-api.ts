import { findBuiltinPreset } from '../../shared/builtin-presets.ts';
import { validatePreset, type Preset } from '../../shared/preset.ts';
import type { PresetEntry } from '../../shared/protocol/index.ts';
import type { JobStore } from '../ports.ts';
import type { PresetCatalog } from '../preset-catalog.ts';
import { ApiRequestError } from './farm-api.ts';

/** `field: text` lines of validatePreset as a field → text map. */
function fieldsOf(errors: readonly string[]): Record<string, string> {
  const fields: Record<string, string> = {};
  for (const line of errors) {
    const at = line.indexOf(': ');
    const [field, text] = at > 0 ? [line.slice(0, at), line.slice(at + 2)] : ['(preset)', line];
    fields[field] = fields[field] ? `${fields[field]}; ${text}` : text;
  }
  return fields;
}

function invalid(fields: Record<string, string>): ApiRequestError {
  const message = Object.entries(fields).map(([f, t]) => `${f}: ${t}`).join('; ');
  return new ApiRequestError(422, 'invalid-preset', `invalid preset: ${message}`, fields);
}

function refuseBuiltin(id: string): void {
  if (findBuiltinPreset(id)) throw new ApiRequestError(409, 'builtin-preset', `"${id}" is a built-in preset: it cannot be changed or deleted (duplicate it under another id)`);
}

/**
 * Preset management for the UI: the built-in and user presets, and create/update/delete of user
 * presets with a message per bad field. Agents get the new table (`changed`) after every change.
 */
export function createPresetsApi(deps: { presets: PresetCatalog; store: Pick<JobStore, 'countOpenJobsWithPreset'>; changed: () => void }) {
  const { presets } = deps;
  const isUserPreset = (id: string) => !findBuiltinPreset(id) && presets.get(id) !== undefined;

  /** The preset in `body`, or 422 with every bad field (and `id` when it is not `expectedId`). */
  function validated(body: unknown, expectedId?: string): Preset {
    const result = validatePreset(body);
    const fields = result.ok ? {} : fieldsOf(result.errors);
    const givenId = (body as { id?: unknown } | null)?.id;
    if (expectedId !== undefined && givenId !== expectedId) fields.id ??= `must be "${expectedId}", the preset this request changes`;
    if (!result.ok || Object.keys(fields).length) throw invalid(fields);
    return result.preset;
  }

  function save(preset: Preset): { preset: Preset } {
    const saved = presets.save(preset, 'API');
    deps.changed();
    return { preset: saved };
  }

  return {
    list: (): { presets: PresetEntry[] } => ({ presets: presets.list() }),

    /** POST /presets: a new user preset; 409 when the id is taken (built-in or user). */
    create(body: unknown): { preset: Preset } {
      const preset = validated(body);
      refuseBuiltin(preset.id);
      if (presets.get(preset.id)) throw new ApiRequestError(409, 'preset-exists', `a preset "${preset.id}" exists already (PUT /presets/${preset.id} changes it)`);
      return save(preset);
    },

    /** PUT /presets/:id: replaces a user preset; the body's id must be `id`. */
    update(id: string, body: unknown): { preset: Preset } {
      refuseBuiltin(id);
      if (!isUserPreset(id)) throw new ApiRequestError(404, 'no-such-preset', `no user preset "${id}" (POST /presets creates one)`);
      return save(validated(body, id));
    },

    /** DELETE /presets/:id: refused while unfinished jobs still use it (they would fail). */
    remove(id: string): { ok: true } {
      refuseBuiltin(id);
      if (!isUserPreset(id)) throw new ApiRequestError(404, 'no-such-preset', `no user preset "${id}"`);
      const open = deps.store.countOpenJobsWithPreset(id);
      if (open > 0) throw new ApiRequestError(409, 'preset-in-use', `${open} unfinished job(s) use preset "${id}": cancel them or let them finish first`);
      presets.remove(id);
      deps.changed();
      return { ok: true };
    },
  };
}
