import { createHash } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createHashCache } from '../../../../core/coordinator/transfer/hash-cache.ts';
import { createTransferHandlers, parseRange, type TransferLease } from '../../../../core/coordinator/transfer/transfer-handlers.ts';
import { VerifyFailedError } from '../../../../core/shared/errors.ts';
import { silentLogger } from '../../../../core/shared/logger.ts';
import { AGENT, startTransferServer, tempDir, writeRandomFile, type TestServer } from '../../../integration/transfer/harness.ts';

interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

/** One raw request, with the agent's credentials; the body is sent whole. */
function call(server: TestServer, method: string, url: string, headers: http.OutgoingHttpHeaders = {}, body?: Buffer | string): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request(`${server.baseUrl}${url}`, {
      method,
      agent: false,
      headers: { authorization: `Bearer ${AGENT.agentId}:${AGENT.secret}`, ...headers },
    });
    req.on('error', reject);
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.end(body);
  });
}

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const json = (r: Reply) => JSON.parse(r.body.toString('utf8')) as { error?: { code?: string; kind?: string; message: string }; ok?: boolean };

let dir: string;
let input: { path: string; data: Buffer };
let lease: TransferLease | undefined;
let verified: string[];
let verifyFailure: Error | undefined;
let logged: string[];
let server: TestServer;

beforeEach(async () => {
  dir = tempDir('handlers');
  input = writeRandomFile(dir, 'in/clip.mp4', 100_000);
  lease = { inputPath: input.path, tempPath: path.join(dir, 'out', '.clip.mkv.ef-7-2.part') };
  verified = [];
  logged = [];
  verifyFailure = undefined;
  const handlers = createTransferHandlers({
    lease: (jobId, epoch, agentId) => (jobId === 7 && epoch === 2 && agentId === AGENT.agentId ? lease : undefined),
    // FAKE verifier: stands in for ffprobe + fsync, which the composition root injects.
    verifyUpload: async (_job, _epoch, tempPath) => {
      verified.push(tempPath);
      if (verifyFailure) throw verifyFailure;
    },
    hashes: createHashCache(),
    maxUploadBytes: 50_000,
    logger: { ...silentLogger, debug: (msg) => logged.push(msg) },
  });
  server = await startTransferServer(handlers);
});

afterEach(async () => {
  await server.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('transfer handlers: download', () => {
  it('serves the whole input with its size, sha256 and Accept-Ranges', async () => {
    const r = await call(server, 'GET', '/api/v1/transfer/7/2/input');
    expect(r.status).toBe(200);
    expect(r.headers['accept-ranges']).toBe('bytes');
    expect(r.headers['x-ef-size']).toBe('100000');
    expect(r.headers['x-ef-sha256']).toBe(sha(input.data));
    expect(r.body.equals(input.data)).toBe(true);
  });

  it('serves bytes=N- and bytes=N-M ranges as 206 with Content-Range', async () => {
    const open = await call(server, 'GET', '/api/v1/transfer/7/2/input', { range: 'bytes=60000-' });
    expect(open.status).toBe(206);
    expect(open.headers['content-range']).toBe('bytes 60000-99999/100000');
    expect(open.body.equals(input.data.subarray(60_000))).toBe(true);

    const closed = await call(server, 'GET', '/api/v1/transfer/7/2/input', { range: 'bytes=10-19' });
    expect(closed.status).toBe(206);
    expect(closed.body.equals(input.data.subarray(10, 20))).toBe(true);
    expect(closed.headers['x-ef-sha256']).toBe(sha(input.data));
  });

  it.each(['bytes=0-1,5-6', 'bytes=-500', 'bytes=100000-', 'bytes=50-10', 'items=0-', 'bytes=abc-'])('answers 416 to the range %s', async (range) => {
    const r = await call(server, 'GET', '/api/v1/transfer/7/2/input', { range });
    expect(r.status).toBe(416);
    expect(r.headers['content-range']).toBe('bytes */100000');
  });

  it('answers 422 input-invalid when the input is gone', async () => {
    fs.rmSync(input.path);
    const r = await call(server, 'GET', '/api/v1/transfer/7/2/input');
    expect(r.status).toBe(422);
    expect(json(r).error?.kind).toBe('input-invalid');
  });

  it('survives a client that goes away mid-body and closes the input file', async () => {
    const big = writeRandomFile(dir, 'in/big.mp4', 16 * 1024 * 1024);
    lease = { ...lease!, inputPath: big.path };
    await new Promise<void>((resolve) => {
      const req = http.request(`${server.baseUrl}/api/v1/transfer/7/2/input`, { agent: false, headers: { authorization: `Bearer ${AGENT.agentId}:${AGENT.secret}` } });
      req.on('error', () => {});
      req.on('response', (res) => {
        res.on('error', () => {});
        res.once('data', () => {
          req.destroy();
          resolve();
        });
      });
      req.end();
    });
    await server.settled();
    expect(logged).toContain('transfer download: client went away');
    expect(openFdsOn(big.path)).toBe(0);
    // The server still answers.
    expect((await call(server, 'GET', '/api/v1/transfer/7/2/input', { range: 'bytes=0-9' })).status).toBe(206);
  });
});

describe('transfer handlers: upload', () => {
  const patch = (offset: number, body: Buffer, extra: http.OutgoingHttpHeaders = {}) =>
    call(server, 'PATCH', '/api/v1/transfer/7/2/output', { 'upload-offset': String(offset), 'content-length': String(body.length), ...extra }, body);

  it('reports the offset, appends at it and reports the new one', async () => {
    const head = await call(server, 'HEAD', '/api/v1/transfer/7/2/output');
    expect(head.status).toBe(204);
    expect(head.headers['upload-offset']).toBe('0');

    const a = Buffer.from('hello ');
    const b = Buffer.from('world');
    expect((await patch(0, a)).headers['upload-offset']).toBe('6');
    const second = await patch(6, b);
    expect(second.status).toBe(204);
    expect(second.headers['upload-offset']).toBe('11');
    expect(fs.readFileSync(lease!.tempPath, 'utf8')).toBe('hello world');
    expect((await call(server, 'HEAD', '/api/v1/transfer/7/2/output')).headers['upload-offset']).toBe('11');
  });

  it('answers 409 with the current Upload-Offset when the offset is wrong, writing nothing', async () => {
    await patch(0, Buffer.from('abc'));
    const r = await patch(1, Buffer.from('zzz'));
    expect(r.status).toBe(409);
    expect(r.headers['upload-offset']).toBe('3');
    expect(json(r).error?.code).toBe('offset-mismatch');
    expect(fs.readFileSync(lease!.tempPath, 'utf8')).toBe('abc');
  });

  it('answers 413 past the upload limit, writing nothing', async () => {
    const r = await patch(0, Buffer.alloc(60_000));
    expect(r.status).toBe(413);
    expect(fs.existsSync(lease!.tempPath)).toBe(false);
  });

  it('answers 400 to a missing Upload-Offset', async () => {
    const r = await call(server, 'PATCH', '/api/v1/transfer/7/2/output', {}, 'x');
    expect(r.status).toBe(400);
    expect(fs.existsSync(lease!.tempPath)).toBe(false);
  });

  it('completes: checks size and sha256, has the file verified, answers ok', async () => {
    const data = Buffer.from('encoded bytes');
    await patch(0, data);
    const r = await call(server, 'POST', '/api/v1/transfer/7/2/output/complete', { 'content-type': 'application/json' }, JSON.stringify({ size: data.length, sha256: sha(data) }));
    expect(r.status).toBe(200);
    expect(json(r)).toEqual({ ok: true });
    expect(verified).toEqual([lease!.tempPath]);
  });

  it('answers 422 transfer-failed on a sha256 mismatch and drops the upload unverified', async () => {
    const data = Buffer.from('encoded bytes');
    await patch(0, data);
    const r = await call(server, 'POST', '/api/v1/transfer/7/2/output/complete', {}, JSON.stringify({ size: data.length, sha256: sha(Buffer.from('other')) }));
    expect(r.status).toBe(422);
    expect(json(r).error?.kind).toBe('transfer-failed');
    expect(verified).toEqual([]);
    expect(fs.existsSync(lease!.tempPath)).toBe(false);
  });

  it('answers 422 with the verifier\'s error kind when verification fails', async () => {
    const data = Buffer.from('not a video');
    await patch(0, data);
    verifyFailure = new VerifyFailedError('clip.mkv: no video stream');
    const r = await call(server, 'POST', '/api/v1/transfer/7/2/output/complete', {}, JSON.stringify({ size: data.length, sha256: sha(data) }));
    expect(r.status).toBe(422);
    expect(json(r).error).toEqual({ kind: 'verify-failed', message: 'clip.mkv: no video stream' });
  });

  it('answers 400 to a malformed completion and 413 to one over 4 KiB', async () => {
    expect((await call(server, 'POST', '/api/v1/transfer/7/2/output/complete', {}, '{"size":"12"}')).status).toBe(400);
    expect((await call(server, 'POST', '/api/v1/transfer/7/2/output/complete', {}, 'x'.repeat(5000))).status).toBe(413);
    expect(verified).toEqual([]);
  });
});

describe('transfer handlers: leases', () => {
  it.each([
    ['GET', '/api/v1/transfer/7/1/input'],
    ['HEAD', '/api/v1/transfer/7/1/output'],
    ['PATCH', '/api/v1/transfer/7/1/output'],
    ['POST', '/api/v1/transfer/7/1/output/complete'],
  ])('answers %s %s of a stale epoch with 409 stale-lease', async (method, url) => {
    const r = await call(server, method, url, { 'upload-offset': '0' }, method === 'GET' || method === 'HEAD' ? undefined : '{}');
    expect(r.status).toBe(409);
    if (method !== 'HEAD') expect(json(r).error?.code).toBe('stale-lease');
  });

  it('writes nothing for a PATCH once the lease is gone', async () => {
    lease = undefined;
    const r = await call(server, 'PATCH', '/api/v1/transfer/7/2/output', { 'upload-offset': '0' }, 'bytes that must not land');
    expect(r.status).toBe(409);
    expect(fs.readdirSync(dir)).toEqual(['in']);
  });
});

describe('parseRange', () => {
  it('reads single ranges and clamps an end past the file', () => {
    expect(parseRange(undefined, 10)).toBeUndefined();
    expect(parseRange('bytes=0-', 10)).toEqual({ start: 0, end: 9 });
    expect(parseRange('bytes=3-100', 10)).toEqual({ start: 3, end: 9 });
    expect(parseRange('bytes=3-3', 10)).toEqual({ start: 3, end: 3 });
  });

  it('refuses what a resuming agent never sends', () => {
    for (const h of ['bytes=10-', 'bytes=-1', 'bytes=1-2,4-5', 'bytes=5-4', 'bytes 0-', '']) expect(parseRange(h, 10)).toBe('invalid');
    expect(parseRange('bytes=0-', 0)).toBe('invalid');
  });
});

/** Open descriptors of this process on `file` (Linux /proc; 0 elsewhere, where it cannot be read). */
function openFdsOn(file: string): number {
  let n = 0;
  const fdDir = '/proc/self/fd';
  if (!fs.existsSync(fdDir)) return 0;
  for (const fd of fs.readdirSync(fdDir)) {
    try {
      if (fs.readlinkSync(path.join(fdDir, fd)) === file) n++;
    } catch {
      // closed between readdir and readlink
    }
  }
  return n;
}
