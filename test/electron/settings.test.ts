import { afterEach, describe, expect, it } from 'vitest';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { DEFAULT_SETTINGS, loadSettings, remoteConnectionOf, saveSettings, settingsFileIn } from '../../electron/main/settings.ts';

const dirs: string[] = [];
async function file(): Promise<string> {
  const d = await mkdtemp(path.join(os.tmpdir(), 'encodefarm-settings-'));
  dirs.push(d);
  return settingsFileIn(path.join(d, 'userData'));
}
afterEach(async () => {
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});

describe('shell settings', () => {
  it('default to the local coordinator when there is no file', async () => {
    expect(await loadSettings(await file())).toEqual({ settings: DEFAULT_SETTINGS, problem: null });
    expect(remoteConnectionOf(DEFAULT_SETTINGS)).toBeNull();
  });

  it('keep a remote coordinator, privately', async () => {
    const f = await file();
    await saveSettings(f, { remote: { url: 'http://render-farm:8765/some/path', token: 'efa_abc' } });
    const { settings, problem } = await loadSettings(f);
    expect(problem).toBeNull();
    expect(remoteConnectionOf(settings)).toEqual({ url: 'http://render-farm:8765', token: 'efa_abc', local: false });
    expect((await stat(f)).mode & 0o077).toBe(0);
    expect(JSON.parse(await readFile(f, 'utf8'))).toEqual({ remote: { url: 'http://render-farm:8765/some/path', token: 'efa_abc' } });
  });

  it('fall back to the defaults, saying why, for a broken or invalid file', async () => {
    const f = await file();
    await saveSettings(f, DEFAULT_SETTINGS);
    await writeFile(f, '{ not json');
    expect(await loadSettings(f)).toMatchObject({ settings: DEFAULT_SETTINGS, problem: expect.stringContaining('is not JSON') });
    for (const remote of [{ url: 'file:///etc', token: 't' }, { url: 'http://user:pw@host:1', token: 't' }, { url: 'http://host:1', token: '' }, 'http://host:1']) {
      await writeFile(f, JSON.stringify({ remote }));
      const r = await loadSettings(f);
      expect(r.settings, JSON.stringify(remote)).toEqual(DEFAULT_SETTINGS);
      expect(r.problem).toMatch(/remote/);
    }
  });
});
