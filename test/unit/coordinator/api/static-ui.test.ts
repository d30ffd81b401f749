import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { defaultUiDir, findPackageRoot } from '../../../../core/coordinator/api/static-ui.ts';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../..');
let dir: string;

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'encodefarm-pkgroot-'));
});

afterEach(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('findPackageRoot', () => {
  it('finds the encodefarm package from the source tree (the default) and from a bundle in dist/', () => {
    expect(findPackageRoot()).toBe(repoRoot);
    expect(defaultUiDir()).toBe(path.join(repoRoot, 'dist', 'renderer'));
    expect(findPackageRoot(path.join(repoRoot, 'dist', 'cli.mjs'))).toBe(repoRoot);
  });

  it('walks past package.json files of other packages', () => {
    const root = path.join(dir, 'app');
    const nested = path.join(root, 'node_modules', 'dep', 'lib');
    fs.mkdirSync(nested, { recursive: true });
    fs.writeFileSync(path.join(root, 'package.json'), JSON.stringify({ name: 'encodefarm' }));
    fs.writeFileSync(path.join(root, 'node_modules', 'dep', 'package.json'), JSON.stringify({ name: 'dep' }));
    fs.writeFileSync(path.join(nested, 'broken-sibling.json'), '{');
    expect(findPackageRoot(path.join(nested, 'index.js'))).toBe(root);
  });

  it('is undefined outside any encodefarm package', () => {
    expect(findPackageRoot(path.join(dir, 'x', 'y.js'))).toBeUndefined();
  });
});
