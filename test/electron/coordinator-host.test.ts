import { afterEach, describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { RunningServe } from '../../core/cli/serve/run-serve.ts';
import { runHostOnPort, startCoordinatorHost, unpackedInstallerDirs, type ParentPortLike } from '../../electron/utility/host.ts';
import { HostMessageSchema, NO_FFMPEG_EXIT, type HostMessage } from '../../electron/utility/messages.ts';
import { SYSTEM_PATH } from '../helpers/cli.ts';

// The real thing in plain Node: `serve`'s code on 127.0.0.1:0 in a temp data dir, no Electron.
const dirs: string[] = [];
const running: RunningServe[] = [];
async function tempDir(): Promise<string> {
  const d = await mkdtemp(path.join(os.tmpdir(), 'encodefarm-host-'));
  dirs.push(d);
  return d;
}
const env = (extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv => ({ PATH: SYSTEM_PATH, HOME: os.homedir(), ...extra });
const quiet = () => {};

afterEach(async () => {
  for (const r of running.splice(0)) await r.stop();
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});

describe('startCoordinatorHost', () => {
  it("posts ready with a loopback URL that answers the API and the data dir's token", async () => {
    const dataDir = await tempDir();
    const posted: HostMessage[] = [];
    const r = await startCoordinatorHost({ env: env(), dataDir, gpus: 'none', log: quiet }, (m) => posted.push(m));
    expect(r).toBeDefined();
    running.push(r!);
    expect(posted).toHaveLength(1);
    const ready = HostMessageSchema.parse(posted[0]);
    if (ready.type !== 'ready') throw new Error(`expected ready, got ${JSON.stringify(ready)}`);
    expect(ready.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(ready.token).toBe((await readFile(path.join(dataDir, 'api-token'), 'utf8')).trim());

    const health = await fetch(`${ready.url}/api/v1/health`);
    expect(health.status).toBe(200);
    expect(await health.json()).toEqual({ ok: true });
    // The token works, and the API is not open without it.
    const agents = await fetch(`${ready.url}/api/v1/agents`, { headers: { authorization: `Bearer ${ready.token}` } });
    expect(agents.status).toBe(200);
    const body = (await agents.json()) as { agents: { id: string }[] };
    expect(body.agents.some((a) => a.id.startsWith('local:'))).toBe(true);
    expect((await fetch(`${ready.url}/api/v1/agents`)).status).toBe(401);
    // CLI commands on this machine find it as they find `serve`.
    expect(JSON.parse(await readFile(path.join(dataDir, 'serve.json'), 'utf8'))).toMatchObject({ url: ready.url, pid: process.pid });

    await r!.stop();
    expect(existsSync(path.join(dataDir, 'serve.json'))).toBe(false);
  });

  it('serves the UI from the folder it is given', async () => {
    const dataDir = await tempDir();
    const uiDir = await tempDir();
    await writeFile(path.join(uiDir, 'index.html'), '<!doctype html><title>EncodeFarm test UI</title>');
    let url = '';
    const r = await startCoordinatorHost({ env: env(), dataDir, uiDir, localAgent: false, log: quiet }, (m) => void (m.type === 'ready' && (url = m.url)));
    running.push(r!);
    const page = await fetch(`${url}/`);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('EncodeFarm test UI');
    expect(page.headers.get('content-security-policy')).toContain("script-src 'self'");
  });

  it('posts failed with no-ffmpeg when the configured ffmpeg does not exist', async () => {
    const dataDir = await tempDir();
    const posted: HostMessage[] = [];
    const r = await startCoordinatorHost({ env: env({ ENCODEFARM_FFMPEG: '/nonexistent/ffmpeg' }), dataDir, gpus: 'none', log: quiet }, (m) => posted.push(m));
    expect(r).toBeUndefined();
    expect(posted).toEqual([{ type: 'failed', reason: 'no-ffmpeg', message: expect.stringContaining('/nonexistent/ffmpeg') }]);
    // The data dir was closed again: a second host can open it.
    const again = await startCoordinatorHost({ env: env(), dataDir, localAgent: false, log: quiet }, () => {});
    expect(again).toBeDefined();
    running.push(again!);
  });
});

describe('runHostOnPort', () => {
  it('stops on the parent\'s stop message and exits 0, leaving no serve.json', async () => {
    const dataDir = await tempDir();
    const listeners: ((e: { data: unknown }) => void)[] = [];
    const posted: unknown[] = [];
    const port: ParentPortLike = { on: (_e, l) => listeners.push(l), postMessage: (m) => posted.push(m) };
    let exitCode: number | undefined;
    const exited = new Promise<void>((resolve) => {
      void runHostOnPort(port, { env: env(), dataDir, gpus: 'none', localAgent: false, log: quiet }, (code) => {
        exitCode = code;
        resolve();
      });
    });
    await expect.poll(() => posted.length, { timeout: 30_000 }).toBe(1);
    expect(posted[0]).toMatchObject({ type: 'ready' });
    for (const l of listeners) l({ data: { type: 'nonsense' } });
    expect(exitCode).toBeUndefined();
    for (const l of listeners) l({ data: { type: 'stop' } });
    await exited;
    expect(exitCode).toBe(0);
    expect(existsSync(path.join(dataDir, 'serve.json'))).toBe(false);
  });

  it('exits with the no-ffmpeg code when ffmpeg is missing', async () => {
    const dataDir = await tempDir();
    const posted: unknown[] = [];
    const port: ParentPortLike = { on: () => undefined, postMessage: (m) => posted.push(m) };
    const code = await new Promise<number>(
      (resolve) => void runHostOnPort(port, { env: env({ ENCODEFARM_FFMPEG: '/nonexistent/ffmpeg' }), dataDir, localAgent: false, log: quiet }, resolve),
    );
    expect(code).toBe(NO_FFMPEG_EXIT);
    expect(posted).toMatchObject([{ type: 'failed', reason: 'no-ffmpeg' }]);
  });
});

describe('unpackedInstallerDirs', () => {
  it('points packaged installer binaries at app.asar.unpacked, and leaves others alone', () => {
    const paths: Record<string, string> = {
      '@ffmpeg-installer/ffmpeg': '/opt/EncodeFarm/resources/app.asar/node_modules/@ffmpeg-installer/linux-x64/ffmpeg',
      '@ffprobe-installer/ffprobe': '/opt/EncodeFarm/resources/app.asar/node_modules/@ffprobe-installer/linux-x64/ffprobe',
    };
    const dirs = unpackedInstallerDirs((pkg) => paths[pkg]);
    expect(dirs).toEqual([
      '/opt/EncodeFarm/resources/app.asar.unpacked/node_modules/@ffmpeg-installer/linux-x64',
      '/opt/EncodeFarm/resources/app.asar.unpacked/node_modules/@ffprobe-installer/linux-x64',
    ]);
    expect(unpackedInstallerDirs(() => '/work/main/node_modules/@ffmpeg-installer/linux-x64/ffmpeg')).toEqual([]);
    expect(unpackedInstallerDirs(() => undefined)).toEqual([]);
  });
});
