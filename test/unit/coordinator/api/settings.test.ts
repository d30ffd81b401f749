import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ApiRequestError } from '../../../../core/coordinator/api/farm-api.ts';
import { createFarmSettings, DEFAULT_SETTINGS } from '../../../../core/coordinator/api/settings.ts';
import type { JobStore } from '../../../../core/coordinator/ports.ts';
import { openSqliteStore } from '../../../../core/coordinator/store/sqlite-store.ts';
import type { FarmSettings } from '../../../../core/shared/protocol/index.ts';

let dir: string;
let store: JobStore;
let changes: FarmSettings[];

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'encodefarm-settings-'));
  store = openSqliteStore({ file: path.join(dir, 'encodefarm.db') });
  changes = [];
});

afterEach(() => {
  store.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

const settings = () => createFarmSettings({ store, onChange: (s) => changes.push(s) });

function refusal(fn: () => unknown): ApiRequestError {
  try {
    fn();
  } catch (err) {
    if (err instanceof ApiRequestError) return err;
    throw err;
  }
  throw new Error('expected a refusal');
}

describe('createFarmSettings', () => {
  it('starts from the defaults and applies partial updates', () => {
    const s = settings();
    expect(s.get()).toEqual(DEFAULT_SETTINGS);
    expect(s.update({ defaultOutDir: '/media/out', concurrency: 2 })).toEqual({ defaultOutDir: '/media/out', onExists: 'skip', concurrency: 2 });
    expect(s.update({ onExists: 'suffix', concurrency: null })).toEqual({ defaultOutDir: '/media/out', onExists: 'suffix', concurrency: null });
    expect(settings().get()).toEqual({ defaultOutDir: '/media/out', onExists: 'suffix', concurrency: null });
    expect(changes).toHaveLength(2);
  });

  it('refuses bad values with a message per field and changes nothing', () => {
    const s = settings();
    const err = refusal(() => s.update({ defaultOutDir: 'relative/dir', concurrency: 65, onExists: 'overwrite' }));
    expect(err).toMatchObject({ status: 422, code: 'invalid-settings' });
    expect(err.fields).toEqual({
      defaultOutDir: 'must be an absolute path',
      concurrency: 'must be at most 64',
      onExists: 'must be skip or suffix',
    });
    expect(refusal(() => s.update({ concurrency: 1.5 })).fields).toEqual({ concurrency: 'must be a whole number' });
    expect(refusal(() => s.update({ colour: 'blue' })).fields).toEqual({ '(body)': 'unknown field(s) colour' });
    expect(refusal(() => s.update([])).code).toBe('invalid-settings');
    expect(s.get()).toEqual(DEFAULT_SETTINGS);
    expect(changes).toEqual([]);
  });

  it('accepts Windows absolute paths', () => {
    expect(settings().update({ defaultOutDir: 'D:\\Videos\\out' }).defaultOutDir).toBe('D:\\Videos\\out');
    expect(settings().update({ defaultOutDir: '\\\\nas\\share' }).defaultOutDir).toBe('\\\\nas\\share');
  });

  it('falls back to the default for a stored value that no longer passes', () => {
    store.writeSettings({ concurrency: 'lots', onExists: 'suffix' });
    expect(settings().get()).toEqual({ ...DEFAULT_SETTINGS, onExists: 'suffix' });
  });
});
