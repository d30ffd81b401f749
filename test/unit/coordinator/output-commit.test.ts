import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { commitOutput, suffixed, targetTaken } from '../../../core/coordinator/output-commit.ts';
import { OutputExistsError } from '../../../core/shared/errors.ts';

let dir: string;
let temp: string;
let target: string;

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'encodefarm-commit-'));
  temp = path.join(dir, '.clip.mp4.ef-1-1.part');
  target = path.join(dir, 'clip.mp4');
  fs.writeFileSync(temp, 'new encode');
});

afterEach(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

const files = () => fs.readdirSync(dir).sort();

describe('commitOutput', () => {
  it('places the temp file at a free target and removes the temp name', async () => {
    await expect(commitOutput(temp, target, 'skip')).resolves.toBe(target);
    expect(fs.readFileSync(target, 'utf8')).toBe('new encode');
    expect(files()).toEqual(['clip.mp4']);
  });

  it('refuses a taken target under skip, leaving the existing bytes untouched and the temp gone', async () => {
    fs.writeFileSync(target, 'the original');
    const before = fs.statSync(target);

    const err = await commitOutput(temp, target, 'skip').catch((e: unknown) => e);

    expect(err).toBeInstanceOf(OutputExistsError);
    expect((err as OutputExistsError).message).toContain(target);
    expect(fs.readFileSync(target, 'utf8')).toBe('the original');
    expect(fs.statSync(target).mtimeMs).toBe(before.mtimeMs);
    expect(files()).toEqual(['clip.mp4']);
  });

  it('picks "name (1).ext" beside a taken target under suffix', async () => {
    fs.writeFileSync(target, 'the original');
    const placed = await commitOutput(temp, target, 'suffix');
    expect(placed).toBe(path.join(dir, 'clip (1).mp4'));
    expect(fs.readFileSync(placed, 'utf8')).toBe('new encode');
    expect(fs.readFileSync(target, 'utf8')).toBe('the original');
    expect(files()).toEqual(['clip (1).mp4', 'clip.mp4']);
  });

  it('counts up to the first free suffix', async () => {
    fs.writeFileSync(target, '0');
    fs.writeFileSync(path.join(dir, 'clip (1).mp4'), '1');
    fs.writeFileSync(path.join(dir, 'clip (2).mp4'), '2');
    const placed = await commitOutput(temp, target, 'suffix');
    expect(placed).toBe(path.join(dir, 'clip (3).mp4'));
    expect(['clip.mp4', 'clip (1).mp4', 'clip (2).mp4'].map((n) => fs.readFileSync(path.join(dir, n), 'utf8'))).toEqual(['0', '1', '2']);
    expect(fs.existsSync(temp)).toBe(false);
  });

  it('never replaces a directory or a link sitting at the target', async () => {
    fs.mkdirSync(target);
    const other = path.join(dir, 'other.mp4');
    fs.writeFileSync(other, 'other');
    fs.symlinkSync(other, path.join(dir, 'clip (1).mp4'));

    const placed = await commitOutput(temp, target, 'suffix');

    expect(placed).toBe(path.join(dir, 'clip (2).mp4'));
    expect(fs.statSync(target).isDirectory()).toBe(true);
    expect(fs.readFileSync(other, 'utf8')).toBe('other');
  });

  it('fails when the temp file is missing instead of reporting a commit', async () => {
    fs.rmSync(temp);
    await expect(commitOutput(temp, target, 'suffix')).rejects.toMatchObject({ code: 'ENOENT' });
    expect(files()).toEqual([]);
  });
});

describe('suffixed', () => {
  it('puts the number before the extension', () => {
    expect(suffixed('/out/clip.mp4', 1)).toBe('/out/clip (1).mp4');
    expect(suffixed('/out/my.clip.mkv', 12)).toBe('/out/my.clip (12).mkv');
  });

  it('appends the number to a name without an extension', () => {
    expect(suffixed('/out/clip', 2)).toBe('/out/clip (2)');
  });
});

describe('targetTaken', () => {
  it('says whether anything sits at the path', async () => {
    expect(await targetTaken(target)).toBe(false);
    fs.writeFileSync(target, 'x');
    expect(await targetTaken(target)).toBe(true);
    fs.symlinkSync(path.join(dir, 'missing'), path.join(dir, 'dangling.mp4'));
    expect(await targetTaken(path.join(dir, 'dangling.mp4'))).toBe(true);
  });
});
