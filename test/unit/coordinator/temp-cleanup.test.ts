import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { removeJobTemps } from '../../../core/coordinator/temp-cleanup.ts';
import { tempPathFor } from '../../../core/shared/temp-names.ts';

let dir: string;
let target: string;

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'encodefarm-temps-'));
  target = path.join(dir, 'clip.mp4');
});

afterEach(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

function touch(name: string): string {
  const p = path.join(dir, name);
  fs.writeFileSync(p, 'x');
  return p;
}

describe('removeJobTemps', () => {
  it('deletes the temp files of the job’s attempts up to the given epoch', async () => {
    fs.writeFileSync(tempPathFor(target, 7, 1), 'x');
    fs.writeFileSync(tempPathFor(target, 7, 2), 'x');
    expect(await removeJobTemps(target, 7, 2)).toBe(2);
    expect(fs.readdirSync(dir)).toEqual([]);
  });

  it('leaves a later epoch (a live attempt) alone', async () => {
    fs.writeFileSync(tempPathFor(target, 7, 1), 'x');
    fs.writeFileSync(tempPathFor(target, 7, 2), 'x');
    expect(await removeJobTemps(target, 7, 1)).toBe(1);
    expect(fs.readdirSync(dir)).toEqual([path.basename(tempPathFor(target, 7, 2))]);
  });

  it('leaves the target, other jobs’ temps and other files alone', async () => {
    touch('clip.mp4');
    touch('.clip.mp4.ef-71-1.part');
    touch('.clip.mp4.ef-8-1.part');
    touch('.other.mp4.ef-7-1.part');
    touch('.clip.mp4.ef-7-x.part');
    touch('notes.txt');
    fs.writeFileSync(tempPathFor(target, 7, 3), 'x');

    expect(await removeJobTemps(target, 7, 3)).toBe(1);

    expect(fs.readdirSync(dir).sort()).toEqual(
      ['.clip.mp4.ef-7-x.part', '.clip.mp4.ef-71-1.part', '.clip.mp4.ef-8-1.part', '.other.mp4.ef-7-1.part', 'clip.mp4', 'notes.txt'].sort(),
    );
  });

  it('returns 0 when there is nothing to delete or the folder is gone', async () => {
    expect(await removeJobTemps(target, 7, 5)).toBe(0);
    expect(await removeJobTemps(path.join(dir, 'no-such-dir', 'clip.mp4'), 7, 5)).toBe(0);
  });
});
