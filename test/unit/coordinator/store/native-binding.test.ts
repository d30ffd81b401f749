import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import { afterEach, describe, expect, it } from 'vitest';
import { openSqliteStore } from '../../../../core/coordinator/store/sqlite-store.ts';

const require = createRequire(import.meta.url);
const nodeBuild = path.join(path.dirname(require.resolve('better-sqlite3/package.json')), 'build', 'Release', 'better_sqlite3.node');
const dirs: string[] = [];
const tempDb = () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'encodefarm-binding-'));
  dirs.push(dir);
  return path.join(dir, 'encodefarm.db');
};
afterEach(() => dirs.splice(0).forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

// The desktop app in development points the store at an Electron build of the addon.
describe('openSqliteStore nativeBinding', () => {
  it('loads the addon from the given file', () => {
    const store = openSqliteStore({ file: tempDb(), nativeBinding: nodeBuild });
    expect(store.countJobsByState()).toEqual({});
    store.close();
  });

  it('fails naming the file when the addon is not there', () => {
    const missing = path.join(os.tmpdir(), 'no-such-dir', 'better_sqlite3.node');
    expect(() => openSqliteStore({ file: tempDb(), nativeBinding: missing })).toThrow(/no-such-dir/);
  });
});
