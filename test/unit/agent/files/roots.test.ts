import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { assertUnderRoots } from '../../../../core/agent/files/roots.ts';
import { RootRefusedError } from '../../../../core/shared/errors.ts';

let dir: string;
let root: string;

beforeEach(() => {
  dir = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'encodefarm-roots-')));
  root = path.join(dir, 'media');
  fs.mkdirSync(path.join(root, 'in'), { recursive: true });
  fs.writeFileSync(path.join(root, 'in', 'a.mp4'), 'x');
  fs.mkdirSync(path.join(dir, 'secret'));
  fs.writeFileSync(path.join(dir, 'secret', 'key'), 'x');
});

afterEach(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

async function refusal(p: string, roots: string[], what: 'input' | 'output' = 'input'): Promise<RootRefusedError> {
  const err = await assertUnderRoots(p, roots, what).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(RootRefusedError);
  return err as RootRefusedError;
}

describe('assertUnderRoots', () => {
  it('accepts existing files and not-yet-written outputs inside a root', async () => {
    await expect(assertUnderRoots(path.join(root, 'in', 'a.mp4'), [root], 'input')).resolves.toBe(path.join(root, 'in', 'a.mp4'));
    await expect(assertUnderRoots(path.join(root, 'new', 'dir', '.b.mkv.ef-1-1.part'), [root], 'output')).resolves.toBe(
      path.join(root, 'new', 'dir', '.b.mkv.ef-1-1.part'),
    );
  });

  it('refuses a path outside, naming the path, its use and the roots', async () => {
    const err = await refusal(path.join(dir, 'secret', 'key'), [root, '/elsewhere'], 'output');
    expect(err.message).toContain(path.join(dir, 'secret', 'key'));
    expect(err.message).toContain('output');
    expect(err.message).toContain(`${root}, /elsewhere`);
  });

  it('refuses a sibling that only shares the prefix', async () => {
    fs.mkdirSync(`${root}2`);
    await refusal(path.join(`${root}2`, 'a.mp4'), [root]);
  });

  it('refuses ".." climbing out of a root', async () => {
    await refusal(`${root}/in/../../secret/key`, [root]);
  });

  it('refuses a symlink inside the root that points outside it', async () => {
    fs.symlinkSync(path.join(dir, 'secret'), path.join(root, 'escape'));
    const err = await refusal(path.join(root, 'escape', 'key'), [root]);
    expect(err.message).toContain(`resolves to ${path.join(dir, 'secret', 'key')}`);
    await refusal(path.join(root, 'escape', 'new-output.part'), [root], 'output');
  });

  it('refuses a dangling symlink, which a write would follow anywhere', async () => {
    fs.symlinkSync(path.join(dir, 'nowhere', 'file'), path.join(root, 'dangling'));
    await refusal(path.join(root, 'dangling'), [root], 'output');
  });

  it('accepts a symlink that stays inside, and a root reached through a symlink', async () => {
    fs.symlinkSync(path.join(root, 'in'), path.join(root, 'alias'));
    await expect(assertUnderRoots(path.join(root, 'alias', 'a.mp4'), [root], 'input')).resolves.toBe(path.join(root, 'in', 'a.mp4'));
    fs.symlinkSync(root, path.join(dir, 'linked-root'));
    await expect(assertUnderRoots(path.join(root, 'in', 'a.mp4'), [path.join(dir, 'linked-root')], 'input')).resolves.toBeTruthy();
  });

  it('refuses everything when the agent has no roots, saying so', async () => {
    const err = await refusal(path.join(root, 'in', 'a.mp4'), []);
    expect(err.message).toContain('no --root');
  });
});
