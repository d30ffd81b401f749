import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { JobStore } from '../../../core/coordinator/ports.ts';
import { PresetValidationError, createPresetCatalog, type PresetCatalog } from '../../../core/coordinator/preset-catalog.ts';
import { openSqliteStore } from '../../../core/coordinator/store/sqlite-store.ts';
import { BUILTIN_PRESETS } from '../../../core/shared/builtin-presets.ts';

let dir: string;
let store: JobStore;
let catalog: PresetCatalog;

const mine = { id: 'my-h264', name: 'My H.264', codec: 'h264', quality: 20, speed: 'slow', container: 'mkv' };

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'encodefarm-presets-'));
  store = openSqliteStore({ file: path.join(dir, 'encodefarm.db') });
  catalog = createPresetCatalog(store, () => 1_700_000_000_000);
});

afterEach(() => {
  store.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

function saveError(data: unknown): PresetValidationError {
  try {
    catalog.save(data, 'my-preset.json');
  } catch (err) {
    if (err instanceof PresetValidationError) return err;
    throw err;
  }
  throw new Error('expected save to refuse the preset');
}

describe('createPresetCatalog', () => {
  it('lists the built-in presets, marked built in', () => {
    expect(catalog.list()).toEqual(BUILTIN_PRESETS.map((preset) => ({ preset, builtin: true })));
    expect(catalog.get('h264-fast')?.codec).toBe('h264');
    expect(catalog.get('nope')).toBeUndefined();
  });

  it('saves a valid user preset with its defaults filled in and finds it again', () => {
    const saved = catalog.save(mine, 'my-preset.json');
    expect(saved).toEqual({ ...mine, description: '', audio: { mode: 'copy', bitrateKbps: 160 }, nameTemplate: '{name}.{preset}' });
    expect(catalog.get('my-h264')).toEqual(saved);
    expect(catalog.list().at(-1)).toEqual({ preset: saved, builtin: false });
  });

  it('replaces a user preset saved again under the same id', () => {
    catalog.save(mine, 'a.json');
    catalog.save({ ...mine, quality: 30 }, 'b.json');
    expect(catalog.get('my-h264')?.quality).toBe(30);
    expect(catalog.list().filter((p) => !p.builtin)).toHaveLength(1);
  });

  it('refuses a bad preset with one message per bad field, naming the source', () => {
    const err = saveError({ ...mine, id: 'My Preset', codec: 'vp9', quality: 99, speed: 'warp', container: 'avi' });
    expect(err.source).toBe('my-preset.json');
    expect(err.errors).toEqual([
      'id: must be 1–64 lowercase letters, digits or dashes',
      'codec: must be one of h264, hevc, av1',
      'quality: must be at most 63',
      'speed: must be fast, medium or slow',
      'container: must be one of mp4, mkv, mov',
    ]);
    expect(err.message).toBe(`my-preset.json: invalid preset\n${err.errors.map((e) => `  - ${e}`).join('\n')}`);
    expect(catalog.get('My Preset')).toBeUndefined();
  });

  it('refuses fields that are not part of a preset, such as raw ffmpeg arguments', () => {
    const err = saveError({ ...mine, args: ['-vf', 'movie=/etc/passwd'] });
    expect(err.errors).toEqual(['(preset): unknown field(s) args']);
    expect(catalog.list().filter((p) => !p.builtin)).toEqual([]);
  });

  it('refuses the id of a built-in preset', () => {
    const err = saveError({ ...mine, id: 'h264-fast' });
    expect(err.errors).toEqual(['id: "h264-fast" is a built-in preset; choose another id']);
    expect(catalog.get('h264-fast')).toEqual(BUILTIN_PRESETS.find((p) => p.id === 'h264-fast'));
  });

  it('removes a user preset and says whether there was one', () => {
    catalog.save(mine, 'a.json');
    expect(catalog.remove('my-h264')).toBe(true);
    expect(catalog.remove('my-h264')).toBe(false);
    expect(catalog.get('my-h264')).toBeUndefined();
  });
});
