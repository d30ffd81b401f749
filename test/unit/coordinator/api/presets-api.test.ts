import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ApiRequestError } from '../../../../core/coordinator/api/farm-api.ts';
import { createPresetsApi } from '../../../../core/coordinator/api/presets-api.ts';
import type { JobStore } from '../../../../core/coordinator/ports.ts';
import { createPresetCatalog } from '../../../../core/coordinator/preset-catalog.ts';
import { openSqliteStore } from '../../../../core/coordinator/store/sqlite-store.ts';
import { BUILTIN_PRESETS } from '../../../../core/shared/builtin-presets.ts';

let dir: string;
let store: JobStore;
let changed: number;
let api: ReturnType<typeof createPresetsApi>;

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'encodefarm-presets-api-'));
  store = openSqliteStore({ file: path.join(dir, 'encodefarm.db') });
  changed = 0;
  api = createPresetsApi({ presets: createPresetCatalog(store, () => 1), store, changed: () => changed++ });
});

afterEach(() => {
  store.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

const mine = { id: 'mine', name: 'Mine', codec: 'hevc', quality: 24, speed: 'medium', container: 'mkv' };

function refusal(fn: () => unknown): ApiRequestError {
  try {
    fn();
  } catch (err) {
    if (err instanceof ApiRequestError) return err;
    throw err;
  }
  throw new Error('expected a refusal');
}

describe('createPresetsApi', () => {
  it('lists the built-ins then the user presets, each marked', () => {
    api.create(mine);
    const list = api.list().presets;
    expect(list.slice(0, BUILTIN_PRESETS.length).every((p) => p.builtin)).toBe(true);
    expect(list.at(-1)).toMatchObject({ builtin: false, preset: { id: 'mine', nameTemplate: '{name}.{preset}' } });
  });

  it('creates, updates and deletes a user preset, telling agents each time', () => {
    expect(api.create(mine).preset).toMatchObject({ id: 'mine', quality: 24 });
    expect(api.update('mine', { ...mine, quality: 30 }).preset.quality).toBe(30);
    expect(api.remove('mine')).toEqual({ ok: true });
    expect(api.list().presets.some((p) => p.preset.id === 'mine')).toBe(false);
    expect(changed).toBe(3);
  });

  it('answers 422 with a message per bad field', () => {
    const err = refusal(() => api.create({ ...mine, quality: 99, codec: 'vp9', extra: 1 }));
    expect(err).toMatchObject({ status: 422, code: 'invalid-preset' });
    expect(err.fields).toMatchObject({ quality: 'must be at most 63', codec: 'must be one of h264, hevc, av1' });
    expect(Object.keys(err.fields!)).toContain('(preset)');
    expect(refusal(() => api.create({ ...mine, name: undefined })).fields).toEqual({ name: 'is required' });
    expect(changed).toBe(0);
  });

  it('requires the body id to be the one in the URL', () => {
    api.create(mine);
    const err = refusal(() => api.update('mine', { ...mine, id: 'other' }));
    expect(err).toMatchObject({ status: 422, fields: { id: 'must be "mine", the preset this request changes' } });
  });

  it('refuses to change built-ins and to create a preset twice', () => {
    const builtin = BUILTIN_PRESETS[0]!;
    expect(refusal(() => api.create({ ...builtin }))).toMatchObject({ status: 409, code: 'builtin-preset' });
    expect(refusal(() => api.update(builtin.id, { ...builtin }))).toMatchObject({ status: 409, code: 'builtin-preset' });
    expect(refusal(() => api.remove(builtin.id))).toMatchObject({ status: 409, code: 'builtin-preset' });
    api.create(mine);
    expect(refusal(() => api.create(mine))).toMatchObject({ status: 409, code: 'preset-exists' });
    expect(refusal(() => api.update('nope', { ...mine, id: 'nope' }))).toMatchObject({ status: 404, code: 'no-such-preset' });
    expect(refusal(() => api.remove('nope'))).toMatchObject({ status: 404, code: 'no-such-preset' });
  });

  it('keeps a preset that unfinished jobs still use', () => {
    api.create(mine);
    const b = store.createBatch({ key: 'k', label: 'l', presetId: 'mine', outDir: null, onExists: 'skip', priority: 0 }, 1);
    const [id] = store.addJobs(b.id, [{ inputPath: '/in/a.mov', presetId: 'mine', codec: 'hevc', outputPath: '/out/a.mkv' }], 1);
    expect(refusal(() => api.remove('mine'))).toMatchObject({ status: 409, code: 'preset-in-use' });
    store.cancelJobs([id!], 2);
    expect(api.remove('mine')).toEqual({ ok: true });
  });
});
