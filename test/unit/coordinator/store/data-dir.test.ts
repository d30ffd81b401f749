import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { dbFileIn, resolveDataDir } from '../../../../core/coordinator/store/data-dir.ts';

describe('resolveDataDir', () => {
  it('uses --data-dir over the environment and the OS default', () => {
    const env = { ENCODEFARM_DATA_DIR: '/from/env', XDG_DATA_HOME: '/xdg' };
    expect(resolveDataDir({ flag: '/from/flag', env, platform: 'linux', home: '/home/u' })).toBe('/from/flag');
  });

  it('uses ENCODEFARM_DATA_DIR over the OS default', () => {
    const env = { ENCODEFARM_DATA_DIR: '/from/env', XDG_DATA_HOME: '/xdg' };
    expect(resolveDataDir({ env, platform: 'linux', home: '/home/u' })).toBe('/from/env');
  });

  it('ignores an empty flag or variable', () => {
    expect(resolveDataDir({ flag: '', env: { ENCODEFARM_DATA_DIR: ' ' }, platform: 'linux', home: '/home/u' })).toBe(
      '/home/u/.local/share/encodefarm',
    );
  });

  it('makes a relative --data-dir absolute', () => {
    expect(resolveDataDir({ flag: 'data', env: {}, platform: 'linux', home: '/home/u' })).toBe(path.resolve('data'));
  });

  it('uses $XDG_DATA_HOME/encodefarm on Linux', () => {
    expect(resolveDataDir({ env: { XDG_DATA_HOME: '/xdg/data' }, platform: 'linux', home: '/home/u' })).toBe('/xdg/data/encodefarm');
  });

  it('falls back to ~/.local/share/encodefarm without a usable XDG_DATA_HOME', () => {
    expect(resolveDataDir({ env: {}, platform: 'linux', home: '/home/u' })).toBe('/home/u/.local/share/encodefarm');
    expect(resolveDataDir({ env: { XDG_DATA_HOME: 'relative' }, platform: 'linux', home: '/home/u' })).toBe(
      '/home/u/.local/share/encodefarm',
    );
  });

  it('uses %APPDATA%\\EncodeFarm on Windows', () => {
    const env = { APPDATA: 'C:\\Users\\u\\AppData\\Roaming' };
    expect(resolveDataDir({ env, platform: 'win32', home: 'C:\\Users\\u' })).toBe('C:\\Users\\u\\AppData\\Roaming\\EncodeFarm');
    expect(resolveDataDir({ env: {}, platform: 'win32', home: 'C:\\Users\\u' })).toBe('C:\\Users\\u\\AppData\\Roaming\\EncodeFarm');
  });

  it('uses ~/Library/Application Support/EncodeFarm on macOS', () => {
    expect(resolveDataDir({ env: { XDG_DATA_HOME: '/xdg' }, platform: 'darwin', home: '/Users/u' })).toBe(
      '/Users/u/Library/Application Support/EncodeFarm',
    );
  });
});

describe('dbFileIn', () => {
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'encodefarm-datadir-'));
  });
  afterEach(() => {
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('creates the data folder with its parents and names the database in it', () => {
    const dataDir = path.join(dir, 'a', 'b', 'encodefarm');
    expect(dbFileIn(dataDir)).toBe(path.join(dataDir, 'encodefarm.db'));
    expect(fs.statSync(dataDir).isDirectory()).toBe(true);
    expect(dbFileIn(dataDir)).toBe(path.join(dataDir, 'encodefarm.db'));
  });
});
