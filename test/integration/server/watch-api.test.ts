import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { locateFfmpeg } from '../../../core/agent/devices/locate-ffmpeg.ts';
import { WatchFolderResponseSchema, WatchFoldersResponseSchema, type WatchFolderCreate } from '../../../core/shared/protocol/index.ts';
import { waitFor } from '../../helpers/cli.ts';
import { request } from './harness.ts';
import { startUiFarm, type UiFarm } from './ui-api-harness.ts';

// GET/POST/DELETE /api/v1/watch through the real `serve` (its watch service included) on
// 127.0.0.1:0, each answer checked against the shared schemas the renderer uses.

let farm: UiFarm;
let incoming: string;
let out: string;

beforeAll(async () => {
  farm = await startUiFarm(await locateFfmpeg());
  incoming = path.join(farm.dir, 'incoming');
  out = path.join(farm.dir, 'encoded');
  fs.mkdirSync(incoming);
}, 60_000);

afterAll(async () => {
  await farm?.close();
});

const body = (extra: Partial<WatchFolderCreate> = {}): WatchFolderCreate => ({ path: incoming, presetId: 'h264-fast', outDir: out, ...extra });

async function list() {
  const reply = await farm.api('GET', '/api/v1/watch');
  expect(reply.status, reply.text).toBe(200);
  return WatchFoldersResponseSchema.parse(reply.json()).folders;
}

/** A refusal's status and its per-field messages. */
async function refused(b: unknown): Promise<{ status: number; code: string; fields: Record<string, string> }> {
  const reply = await farm.api('POST', '/api/v1/watch', b);
  const e = (reply.json() as { error: { code: string; fields?: Record<string, string> } }).error;
  return { status: reply.status, code: e.code, fields: e.fields ?? {} };
}

describe('watch folders API', () => {
  it('adds a folder, answers it in the view shape (looked at: online) and lists it', async () => {
    expect(await list()).toEqual([]);
    const archive = path.join(farm.dir, 'archive');
    const reply = await farm.api('POST', '/api/v1/watch', body({ recursive: true, include: ['*.mkv'], exclude: ['skip/**'], afterAction: 'archive', archiveDir: archive, stabilityMs: 2500 }));
    expect(reply.status, reply.text).toBe(200);
    const { folder } = WatchFolderResponseSchema.parse(reply.json());
    expect(folder).toEqual({
      id: expect.any(Number),
      path: incoming,
      presetId: 'h264-fast',
      outDir: out,
      recursive: true,
      include: ['*.mkv'],
      exclude: ['skip/**'],
      afterAction: 'archive',
      archiveDir: archive,
      stabilityMs: 2500,
      state: 'online',
      offlineReason: null,
      createdAt: expect.any(Number),
    });
    // Exactly the view's keys: nothing of the store's row (after, mountDev…) leaks out.
    expect(Object.keys(reply.json().folder).sort()).toEqual(Object.keys(folder).sort());
    expect(await list()).toEqual([folder]);
  });

  it('refuses the same folder twice with 409 naming the path', async () => {
    expect(await refused(body())).toEqual({ status: 409, code: 'watch-exists', fields: { path: expect.stringMatching(/is watched already/) } });
    expect(await list()).toHaveLength(1);
  });

  it('refuses a bad preset, a relative or missing path and a bad archive setting with 422 naming the field', async () => {
    const other = path.join(farm.dir, 'other');
    fs.mkdirSync(other);
    const cases: [unknown, string, RegExp][] = [
      [body({ path: other, presetId: 'no-such-preset' }), 'presetId', /unknown preset "no-such-preset"/],
      [body({ path: 'incoming' }), 'path', /absolute path/],
      [body({ path: other, outDir: 'encoded' }), 'outDir', /absolute path/],
      [body({ path: path.join(farm.dir, 'nowhere') }), 'path', /no such folder/],
      [body({ path: other, outDir: other }), 'outDir', /output folder is the watched folder/],
      [body({ path: other, afterAction: 'archive' }), 'archiveDir', /required when afterAction is archive/],
      [body({ path: other, afterAction: 'archive', archiveDir: other }), 'archiveDir', /archive folder must differ/],
      [body({ path: other, stabilityMs: 0 }), 'stabilityMs', /at least 1 ms/],
      [body({ path: other, include: ['[z-a].mp4'] }), 'include', /not a usable pattern/],
      [{ presetId: 'h264-fast', outDir: out }, 'path', /.+/],
    ];
    for (const [b, field, message] of cases) {
      const r = await refused(b);
      expect(r.status, JSON.stringify(b)).toBe(422);
      expect(r.code).toBe('invalid-watch-folder');
      expect(r.fields[field], `${JSON.stringify(b)} → ${JSON.stringify(r.fields)}`).toMatch(message);
    }
    const unknownKey = await refused({ ...body({ path: other }), preset: 'h264-fast' });
    expect(unknownKey.status).toBe(422);
    expect(Object.values(unknownKey.fields).join(' ')).toMatch(/unknown field\(s\) preset/);
    expect(await list()).toHaveLength(1);
  });

  it('shows a folder that went away as offline with its reason', async () => {
    const away = incoming + '.away';
    fs.renameSync(incoming, away);
    try {
      const [f] = await waitFor('offline', async () => {
        const l = await list();
        return l[0]?.state === 'offline' && l;
      }, 15_000);
      expect(f!.offlineReason).toMatch(/missing/);
    } finally {
      fs.renameSync(away, incoming);
    }
    await waitFor('online again', async () => (await list())[0]?.state === 'online', 15_000);
  }, 40_000);

  it('deletes a folder (404 for one that is not there)', async () => {
    const [f] = await list();
    const del = await farm.api('DELETE', `/api/v1/watch/${f!.id}`);
    expect(del.status, del.text).toBe(200);
    expect(del.json()).toEqual({ ok: true });
    expect(await list()).toEqual([]);
    const again = await farm.api('DELETE', `/api/v1/watch/${f!.id}`);
    expect(again.status).toBe(404);
    expect(again.json().error.code).toBe('no-such-watch-folder');
    // Removed means it can be added again.
    const re = await farm.api('POST', '/api/v1/watch', body());
    expect(re.status, re.text).toBe(200);
  });

  it('refuses every watch route without the API token', async () => {
    for (const [method, urlPath] of [
      ['GET', '/api/v1/watch'],
      ['POST', '/api/v1/watch'],
      ['DELETE', '/api/v1/watch/1'],
    ] as const) {
      const payload = JSON.stringify(body({ path: path.join(farm.dir, 'x') }));
      const none = await request(farm.port, { method, path: urlPath, body: payload, headers: { 'Content-Type': 'application/json' } });
      const wrong = await request(farm.port, { method, path: urlPath, body: payload, headers: { 'Content-Type': 'application/json', Authorization: 'Bearer nope' } });
      expect([none.status, wrong.status], `${method} ${urlPath}`).toEqual([401, 401]);
    }
    expect(await list()).toHaveLength(1);
  });
});
