import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { expandInputs, globToRegExp } from '../../../../core/coordinator/intake/inputs.ts';

let dir: string;

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'encodefarm-inputs-'));
});

afterEach(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

function touch(rel: string): string {
  const p = path.join(dir, rel);
  fs.mkdirSync(path.dirname(p), { recursive: true });
  fs.writeFileSync(p, 'x');
  return p;
}

describe('expandInputs', () => {
  it('scans folders recursively for video extensions and keeps their sub-folders', async () => {
    touch('a.mp4');
    touch('sub/b.MKV');
    touch('sub/notes.txt');
    touch('sub/.b.mp4.ef-3-1.part');
    const r = await expandInputs(['.'], dir, []);
    expect(r.files).toEqual([
      { path: path.join(dir, 'a.mp4'), relDir: '' },
      { path: path.join(dir, 'sub', 'b.MKV'), relDir: 'sub' },
    ]);
    expect(r.errors).toEqual([]);
  });

  it('keeps explicit files whatever they are, so each gets its own error later', async () => {
    const r = await expandInputs(['missing.mp4', 'notes.txt'], dir, []);
    expect(r.files.map((f) => f.path)).toEqual([path.join(dir, 'missing.mp4'), path.join(dir, 'notes.txt')]);
  });

  it('reports a folder with no videos, such as a directory named x.mp4', async () => {
    fs.mkdirSync(path.join(dir, 'x.mp4'));
    const r = await expandInputs(['x.mp4'], dir, []);
    expect(r.files).toEqual([]);
    expect(r.errors).toEqual(['x.mp4: is a directory with no video files in it']);
  });

  it('skips the excluded output folder and files the farm wrote', async () => {
    touch('a.mp4');
    const own = touch('a.h264-fast.mp4');
    touch('out/a.h264-fast.mp4');
    const r = await expandInputs(['.'], dir, [path.join(dir, 'out')], (paths) => new Set(paths.filter((p) => p === own)));
    expect(r.files.map((f) => f.path)).toEqual([path.join(dir, 'a.mp4')]);
    expect(r.ownOutputs).toBe(1);
  });

  it('expands quoted globs, with ** across folders and * within one', async () => {
    touch('a.mp4');
    touch('b.mov');
    touch('deep/c.mp4');
    expect((await expandInputs(['*.mp4'], dir, [])).files.map((f) => path.relative(dir, f.path))).toEqual(['a.mp4']);
    expect((await expandInputs(['**/*.mp4'], dir, [])).files.map((f) => path.relative(dir, f.path)).sort()).toEqual(['a.mp4', 'deep/c.mp4']);
    expect((await expandInputs(['*.avi'], dir, [])).errors).toEqual(['*.avi: no files match']);
  });

  it('lists a file named by two arguments once', async () => {
    touch('a.mp4');
    expect((await expandInputs(['a.mp4', '.'], dir, [])).files).toHaveLength(1);
  });
});

describe('globToRegExp', () => {
  it('matches names, classes and nested folders', () => {
    expect(globToRegExp('/m/*.mp4').test('/m/a.mp4')).toBe(true);
    expect(globToRegExp('/m/*.mp4').test('/m/x/a.mp4')).toBe(false);
    expect(globToRegExp('/m/**/*.mp4').test('/m/x/y/a.mp4')).toBe(true);
    expect(globToRegExp('/m/clip[12].mp4').test('/m/clip2.mp4')).toBe(true);
    expect(globToRegExp('/m/a?.mp4').test('/m/ab.mp4')).toBe(true);
    expect(globToRegExp('/m/a.mp4').test('/m/aXmp4')).toBe(false);
  });
});
