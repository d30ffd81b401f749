import { describe, expect, it, vi } from 'vitest';
import { build } from 'esbuild';
import { fileURLToPath } from 'node:url';
import { BRIDGE_KEYS } from '../../electron/preload/bridge.ts';
import { CHANNELS } from '../../electron/preload/channels.ts';
import { fakeElectron } from './fake-electron.ts';

vi.mock('electron', async () => (await import('./fake-electron.ts')).fakeElectron);

const PRELOAD = fileURLToPath(new URL('../../electron/preload/preload.ts', import.meta.url));

describe('preload', () => {
  it('exposes exactly the bridge as window.encodefarm, once', async () => {
    await import('../../electron/preload/preload.ts');
    const { exposed } = fakeElectron.contextBridge;
    expect(exposed.map((e) => e.key)).toEqual(['encodefarm']);
    expect(Object.keys(exposed[0]!.api).sort()).toEqual([...BRIDGE_KEYS].sort());
    expect([...BRIDGE_KEYS].sort()).toEqual(['getPathForFile', 'pickFiles', 'pickFolder']);
    expect(Object.values(exposed[0]!.api).every((v) => typeof v === 'function')).toBe(true);
  });

  it('maps each member to its channel with plain values', async () => {
    await import('../../electron/preload/preload.ts');
    const api = fakeElectron.contextBridge.exposed[0]!.api as Record<string, (...a: unknown[]) => unknown>;
    const { invoke, send } = fakeElectron.ipcRenderer;
    invoke.mockResolvedValueOnce(['/videos/a.mkv']);
    await expect(api.pickFiles!()).resolves.toEqual(['/videos/a.mkv']);
    expect(invoke).toHaveBeenLastCalledWith(CHANNELS.pickFiles);
    await api.pickFolder!();
    expect(invoke).toHaveBeenLastCalledWith(CHANNELS.pickFolder);
    expect(api.getPathForFile!({ name: 'clip.mov' })).toBe('/real/clip.mov');
    expect(fakeElectron.webUtils.getPathForFile).toHaveBeenCalledWith({ name: 'clip.mov' });
    // Nothing one-way: notifications and taskbar progress are main's own, not the page's.
    expect(send).not.toHaveBeenCalled();
  });

  it("bundles to CJS that requires nothing but 'electron' (a sandboxed preload can load nothing else)", async () => {
    const out = await build({ entryPoints: [PRELOAD], bundle: true, format: 'cjs', platform: 'node', external: ['electron'], write: false, logLevel: 'silent' });
    const code = out.outputFiles[0]!.text;
    expect([...code.matchAll(/require\(["']([^"']+)["']\)/g)].map((m) => m[1])).toEqual(['electron']);
    expect(code).not.toMatch(/\bimport\b\s*[{*\w]|import\(/);
  });
});
