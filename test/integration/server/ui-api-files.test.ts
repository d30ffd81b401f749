import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { locateFfmpeg, type FfmpegInstall } from '../../../core/agent/devices/locate-ffmpeg.ts';
import { UI_CSP } from '../../../core/coordinator/api/static-ui.ts';
import { InboxUploadResponseSchema } from '../../../core/shared/protocol/index.ts';
import { request, type Reply } from './harness.ts';
import { startUiFarm, type UiFarm } from './ui-api-harness.ts';

let ffmpeg: FfmpegInstall;
let farm: UiFarm;
const builds: string[] = [];

beforeAll(async () => {
  ffmpeg = await locateFfmpeg();
});

afterEach(async () => {
  await farm?.close();
  for (const d of builds.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

const UPLOAD = 'upload-0123456789';
const inbox = (...parts: string[]) => path.join(farm.dir, 'inbox', ...parts);

function put(name: string, body: Buffer, uploadId = UPLOAD): Promise<Reply> {
  return farm.api('PUT', `/api/v1/inbox/${uploadId}/${name}`, body, { 'Content-Type': 'application/octet-stream' });
}

/** A PUT whose body goes in chunks with no Content-Length (chunked transfer encoding). */
function putChunked(name: string, chunks: Buffer[]): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: '127.0.0.1', port: farm.port, method: 'PUT', path: `/api/v1/inbox/${UPLOAD}/${name}`, headers: { Authorization: `Bearer ${farm.token}` }, agent: false },
      (res) => {
        const data: Buffer[] = [];
        res.on('data', (c: Buffer) => data.push(c));
        res.on('end', () => {
          const text = Buffer.concat(data).toString('utf8');
          resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json: () => JSON.parse(text) });
        });
      },
    );
    // The server may answer and close before every chunk is out.
    req.on('error', (err: NodeJS.ErrnoException) => (err.code === 'EPIPE' || err.code === 'ECONNRESET' ? undefined : reject(err)));
    for (const c of chunks) req.write(c);
    req.end();
  });
}

async function until(check: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('inbox upload', () => {
  it('streams a file bigger than the JSON body limit into the inbox, ready to submit', async () => {
    farm = await startUiFarm(ffmpeg);
    const bytes = randomBytes(3 * 1024 * 1024 + 17);
    const reply = await put('My%20Clip%20%C3%A9t%C3%A9.mp4', bytes);
    expect(reply.status, reply.text).toBe(200);
    const uploaded = InboxUploadResponseSchema.parse(reply.json());
    expect(uploaded).toEqual({ path: inbox(UPLOAD, 'My Clip été.mp4'), sizeBytes: bytes.length });
    expect(fs.readFileSync(uploaded.path).equals(bytes)).toBe(true);
    expect(fs.readdirSync(inbox(UPLOAD))).toEqual(['My Clip été.mp4']);

    const submitted = await farm.api('POST', '/api/v1/batches', { inputs: [uploaded.path], presetId: 'h264-fast' });
    expect(submitted.status, submitted.text).toBe(200);
    expect(farm.store.getJob(submitted.json().jobIds[0])?.inputPath).toBe(uploaded.path);
  });

  it('never overwrites a file already there', async () => {
    farm = await startUiFarm(ffmpeg);
    expect((await put('a.mp4', Buffer.from('first'))).status).toBe(200);
    const again = await put('a.mp4', Buffer.from('second'));
    expect([again.status, again.json().error.code]).toEqual([409, 'file-exists']);
    expect(fs.readFileSync(inbox(UPLOAD, 'a.mp4'), 'utf8')).toBe('first');
    // Another upload id is another folder.
    expect((await put('a.mp4', Buffer.from('third'), 'upload-other-1')).status).toBe(200);
  });

  it('refuses names that are not plain file names and malformed upload ids', async () => {
    farm = await startUiFarm(ffmpeg);
    const cases: [string, string, string][] = [
      [`${UPLOAD}/..%2Fescape.mp4`, 'bad-file-name', 'name'],
      [`${UPLOAD}/sub%2Fdir.mp4`, 'bad-file-name', 'name'],
      [`${UPLOAD}/.hidden.mp4`, 'bad-file-name', 'name'],
      [`${UPLOAD}/a%0Ab.mp4`, 'bad-file-name', 'name'],
      [`${UPLOAD}/${'x'.repeat(256)}`, 'bad-file-name', 'name'],
      ['short/a.mp4', 'bad-upload-id', 'uploadId'],
      ['bad.id.12345/a.mp4', 'bad-upload-id', 'uploadId'],
    ];
    for (const [tail, code, field] of cases) {
      const reply = await farm.api('PUT', `/api/v1/inbox/${tail}`, Buffer.from('x'));
      expect([reply.status, reply.json().error.code, Object.keys(reply.json().error.fields)], tail).toEqual([400, code, [field]]);
    }
    expect(fs.existsSync(path.join(farm.dir, 'escape.mp4'))).toBe(false);
    expect(fs.existsSync(inbox())).toBe(false);
  });

  it('refuses a file over the cap, declared or streamed, and keeps nothing of it', async () => {
    farm = await startUiFarm(ffmpeg, { inboxMaxBytes: 1000 });
    const declared = await put('big.mp4', randomBytes(2000));
    expect([declared.status, declared.json().error.code]).toEqual([413, 'file-too-large']);
    const streamed = await putChunked('big.mp4', [randomBytes(600), randomBytes(600)]);
    expect([streamed.status, streamed.json().error.code]).toEqual([413, 'file-too-large']);
    expect(fs.readdirSync(inbox(UPLOAD))).toEqual([]);
    expect((await putChunked('small.mp4', [randomBytes(500), randomBytes(500)])).status).toBe(200);
  });

  it('leaves no file behind when the connection drops mid-upload', async () => {
    farm = await startUiFarm(ffmpeg);
    const socket = net.connect(farm.port, '127.0.0.1');
    await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
    socket.write(
      [
        `PUT /api/v1/inbox/${UPLOAD}/cut.mp4 HTTP/1.1`,
        `Host: 127.0.0.1:${farm.port}`,
        `Authorization: Bearer ${farm.token}`,
        'Content-Length: 100000',
        '',
        '',
      ].join('\r\n'),
    );
    socket.write(randomBytes(5000));
    await until(() => fs.existsSync(inbox(UPLOAD, 'cut.mp4.part')), 'the .part file');
    socket.destroy();
    await until(() => !fs.existsSync(inbox(UPLOAD, 'cut.mp4.part')), 'the .part file to go');
    expect(fs.readdirSync(inbox(UPLOAD))).toEqual([]);
  });
});

describe('static UI', () => {
  /** A built UI in a temp folder, with a file beside it that must never be served. */
  function buildUi(): string {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'encodefarm-ui-build-'));
    builds.push(root);
    const ui = path.join(root, 'renderer');
    fs.mkdirSync(path.join(ui, 'assets'), { recursive: true });
    fs.writeFileSync(path.join(ui, 'index.html'), '<!doctype html><script type="module" src="./assets/app-Ab12.js"></script>');
    fs.writeFileSync(path.join(ui, 'assets', 'app-Ab12.js'), 'console.log("ui");');
    fs.writeFileSync(path.join(ui, 'assets', 'app-Cd34.css'), 'body{}');
    fs.writeFileSync(path.join(root, 'secret.txt'), 'not for the web');
    return ui;
  }

  const expectUiHeaders = (reply: Reply) =>
    expect(reply.headers).toMatchObject({ 'content-security-policy': UI_CSP, 'x-content-type-options': 'nosniff', 'referrer-policy': 'no-referrer' });

  it('serves the built UI without a token, with the CSP and cache headers', async () => {
    farm = await startUiFarm(ffmpeg, { uiDir: buildUi() });
    for (const urlPath of ['/', '/index.html']) {
      const page = await request(farm.port, { path: urlPath });
      expect(page.status).toBe(200);
      expect(page.text).toContain('./assets/app-Ab12.js');
      expectUiHeaders(page);
      expect(page.headers).toMatchObject({ 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
    }
    const js = await request(farm.port, { path: '/assets/app-Ab12.js' });
    expect([js.status, js.text]).toEqual([200, 'console.log("ui");']);
    expectUiHeaders(js);
    expect(js.headers).toMatchObject({ 'content-type': 'text/javascript; charset=utf-8', 'cache-control': 'public, max-age=31536000, immutable' });
    expect((await request(farm.port, { path: '/assets/app-Cd34.css' })).headers['content-type']).toBe('text/css; charset=utf-8');
  });

  it('serves nothing outside assets/', async () => {
    farm = await startUiFarm(ffmpeg, { uiDir: buildUi() });
    for (const urlPath of ['/assets/..%2F..%2Fsecret.txt', '/assets/..%5C..%5Csecret.txt', '/assets/..%2Findex.html', '/assets/.hidden', '/assets/missing.js']) {
      const reply = await request(farm.port, { path: urlPath });
      expect(reply.status, urlPath).toBe(404);
      expect(reply.text).not.toContain('not for the web');
      expectUiHeaders(reply);
    }
    // Dot segments are resolved before routing: these name paths with no route at all.
    for (const urlPath of ['/secret.txt', '/assets/%2e%2e/%2e%2e/secret.txt', '/assets/../../secret.txt']) {
      const reply = await request(farm.port, { path: urlPath });
      expect([reply.status, reply.text.includes('not for the web')], urlPath).toEqual([404, false]);
    }
    expect((await request(farm.port, { path: '/assets/sub/app-Ab12.js' })).status).toBe(404);
    // The server's gate still applies to the public pages.
    expect((await request(farm.port, { path: '/', headers: { Host: 'evil.example' } })).status).toBe(403);
  });

  it('says how to build the UI when it is not built', async () => {
    farm = await startUiFarm(ffmpeg, { uiDir: path.join('/nonexistent', `ui-${Date.now()}`) });
    const page = await request(farm.port, { path: '/' });
    expect(page.status).toBe(200);
    expect(page.text).toMatch(/The UI is not built: run <code>npm run build<\/code>/);
    expectUiHeaders(page);
    expect((await request(farm.port, { path: '/assets/app.js' })).status).toBe(404);
  });
});
