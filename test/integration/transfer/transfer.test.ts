import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createInputCache, type InputCache } from '../../../core/agent/files/input-cache.ts';
import { downloadInput, uploadOutput } from '../../../core/agent/files/transfer-client.ts';
import { createTransferFileAccess } from '../../../core/agent/files/transfer-files.ts';
import { loadOrCreateCertificate } from '../../../core/coordinator/server/tls.ts';
import { createHashCache, type HashCache } from '../../../core/coordinator/transfer/hash-cache.ts';
import { createTransferHandlers, type TransferLease } from '../../../core/coordinator/transfer/transfer-handlers.ts';
import { LeaseLostError, TransferFailedError, VerifyFailedError } from '../../../core/shared/errors.ts';
import { silentLogger } from '../../../core/shared/logger.ts';
import type { Assign } from '../../../core/shared/protocol/index.ts';
import { tempPathFor } from '../../../core/shared/temp-names.ts';
import { AGENT, startCutProxy, startTransferServer, tempDir, writeRandomFile, type CutProxy, type TestServer } from './harness.ts';

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const live = () => new AbortController().signal;

let dir: string;
let input: { path: string; data: Buffer };
let lease: TransferLease | undefined;
let verified: string[];
let verifyFailure: Error | undefined;
let server: TestServer;
let proxy: CutProxy | undefined;
let cache: InputCache;
let sleeps: number[];

/** Backoff that records what it was asked to wait and returns at once (no real time passes). */
const recordSleep = async (ms: number) => void sleeps.push(ms);

async function serve(hashes: HashCache = createHashCache(), tls?: { key: string; cert: string }): Promise<void> {
  const handlers = createTransferHandlers({
    lease: (jobId, epoch, agentId) => (jobId === 3 && epoch === 1 && agentId === AGENT.agentId ? lease : undefined),
    // FAKE verifier: stands in for the coordinator's ffprobe + fsync of the upload.
    verifyUpload: async (_j, _e, tempPath) => {
      verified.push(tempPath);
      if (verifyFailure) throw verifyFailure;
    },
    hashes,
    logger: silentLogger,
  });
  server = await startTransferServer(handlers, tls);
}

const target = (baseUrl = server.baseUrl) => ({ baseUrl, auth: AGENT, jobId: 3, epoch: 1, sleep: recordSleep });

beforeEach(async () => {
  dir = tempDir('transfer');
  input = writeRandomFile(dir, 'coord/in/clip.mp4', 1024 * 1024);
  lease = { inputPath: input.path, tempPath: tempPathFor(path.join(dir, 'coord', 'out', 'clip.mkv'), 3, 1) };
  verified = [];
  verifyFailure = undefined;
  sleeps = [];
  proxy = undefined;
  cache = createInputCache({ dir: path.join(dir, 'agent', 'cache'), maxBytes: 64 * 1024 * 1024 });
});

afterEach(async () => {
  await proxy?.close();
  await server.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('downloadInput', () => {
  it('downloads the input into the cache under its sha256, verified', async () => {
    await serve();
    let counted = 0;
    const got = await downloadInput({ ...target(), cache, signal: live(), onBytes: (n) => (counted += n) });
    expect(got.key).toBe(sha(input.data));
    expect(got.size).toBe(input.data.length);
    expect(fs.readFileSync(got.path).equals(input.data)).toBe(true);
    expect(counted).toBe(input.data.length);
    expect(fs.readdirSync(path.dirname(got.path))).toEqual([got.key]);
    expect(server.seen).toHaveLength(1);
    expect(sleeps).toEqual([]);
  });

  it('resumes from the bytes on disk after the connection is cut mid-body', async () => {
    // Big enough that the cut lands while the agent is reading, past what socket buffers hold.
    input = writeRandomFile(dir, 'coord/in/big.mp4', 24 * 1024 * 1024);
    lease = { ...lease!, inputPath: input.path };
    await serve();
    proxy = await startCutProxy(server.port, 'response', 12 * 1024 * 1024);
    const got = await downloadInput({ ...target(proxy.baseUrl), cache, signal: live() });

    expect(proxy.cuts).toBe(1);
    expect(sha(fs.readFileSync(got.path))).toBe(sha(input.data));
    const resumed = server.seen.filter((r) => r.range);
    expect(resumed).toHaveLength(1);
    const from = Number(/^bytes=(\d+)-$/.exec(resumed[0]!.range!)?.[1]);
    expect(from).toBeGreaterThan(0);
    expect(from).toBeLessThan(12 * 1024 * 1024);
    expect(sleeps).toHaveLength(1);
  });

  it('detects a hash mismatch, deletes the partial copy and fails the transfer', async () => {
    // FAKE hash cache that lies about the input's digest, as a corrupted transfer would look.
    const lying: HashCache = { hash: async () => ({ size: input.data.length, sha256: 'f'.repeat(64) }) };
    await serve(lying);
    const err = await downloadInput({ ...target(), cache, signal: live() }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TransferFailedError);
    expect((err as Error).message).toContain('does not match');
    expect(fs.readdirSync(path.join(dir, 'agent', 'cache'))).toEqual([]);
  });

  it('downloads an input shared by two jobs once', async () => {
    await serve();
    let counted = 0;
    const onBytes = (n: number) => (counted += n);
    const [a, b] = await Promise.all([
      downloadInput({ ...target(), cache, signal: live(), onBytes }),
      downloadInput({ ...target(), cache, signal: live(), onBytes }),
    ]);
    expect(a.path).toBe(b.path);
    expect(counted).toBe(input.data.length);
    expect(fs.readFileSync(a.path).equals(input.data)).toBe(true);
  });

  it('throws LeaseLostError for a lease the coordinator no longer knows', async () => {
    await serve();
    lease = undefined;
    await expect(downloadInput({ ...target(), cache, signal: live() })).rejects.toBeInstanceOf(LeaseLostError);
  });

  it('gives up with TransferFailedError after its retries when the coordinator is unreachable', async () => {
    await serve();
    const port = server.port;
    await server.close();
    server = await startTransferServer(createTransferHandlers({ lease: () => undefined, verifyUpload: async () => {}, hashes: createHashCache(), logger: silentLogger }));
    const err = await downloadInput({ ...target(`http://127.0.0.1:${port}`), cache, signal: live(), retries: 2 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TransferFailedError);
    expect(sleeps).toEqual([250, 500]);
  });

  it('stops mid-body with the abort reason, keeping the partial bytes for a later resume', async () => {
    input = writeRandomFile(dir, 'coord/in/big.mp4', 16 * 1024 * 1024);
    lease = { ...lease!, inputPath: input.path };
    await serve();
    const ac = new AbortController();
    const err = await downloadInput({ ...target(), cache, signal: ac.signal, onBytes: () => ac.abort(new Error('user canceled')) }).catch((e: unknown) => e);
    expect((err as Error).message).toBe('user canceled');
    const left = fs.readdirSync(path.join(dir, 'agent', 'cache'));
    expect(left).toEqual([`${sha(input.data)}.part`]);
    await server.settled();
  });

  it('stops with the abort reason when canceled before it starts', async () => {
    await serve();
    const ac = new AbortController();
    ac.abort(new Error('user canceled'));
    await expect(downloadInput({ ...target(), cache, signal: ac.signal })).rejects.toThrow('user canceled');
  });
});

describe('transfers over TLS', () => {
  it('download and upload through the pinned certificate, and refuse another one without retrying', async () => {
    const cert = await loadOrCreateCertificate(path.join(dir, 'coord', 'data'), ['localhost']);
    await serve(createHashCache(), cert);
    const pinned = { ...target(), fingerprint: cert.fingerprint256 };
    const got = await downloadInput({ ...pinned, cache, signal: live() });
    expect(sha(fs.readFileSync(got.path))).toBe(sha(input.data));
    const output = writeRandomFile(dir, 'agent/work/.clip.mkv.ef-3-1.part', 100_000);
    await uploadOutput({ ...pinned, filePath: output.path, signal: live() });
    expect(fs.readFileSync(lease!.tempPath).equals(output.data)).toBe(true);

    const wrong = { ...pinned, fingerprint: 'AB:'.repeat(31) + 'AB' };
    const err = await uploadOutput({ ...wrong, filePath: output.path, signal: live() }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TransferFailedError);
    expect((err as Error).message).toContain('certificate changed');
    expect(sleeps).toEqual([]);
  });
});

describe('uploadOutput', () => {
  let output: { path: string; data: Buffer };
  beforeEach(() => {
    output = writeRandomFile(dir, 'agent/work/.clip.mkv.ef-3-1.part', 1024 * 1024);
  });

  it('uploads the output to the lease\'s temp path and has it verified', async () => {
    await serve();
    let counted = 0;
    await uploadOutput({ ...target(), filePath: output.path, signal: live(), onBytes: (n) => (counted += n) });
    expect(fs.readFileSync(lease!.tempPath).equals(output.data)).toBe(true);
    expect(verified).toEqual([lease!.tempPath]);
    expect(counted).toBe(output.data.length);
  });

  it('resumes from the coordinator\'s offset after the connection is cut mid-upload', async () => {
    output = writeRandomFile(dir, 'agent/work/.big.mkv.ef-3-1.part', 24 * 1024 * 1024);
    await serve();
    proxy = await startCutProxy(server.port, 'request', 12 * 1024 * 1024);
    await uploadOutput({ ...target(proxy.baseUrl), filePath: output.path, signal: live() });

    expect(proxy.cuts).toBe(1);
    expect(sha(fs.readFileSync(lease!.tempPath))).toBe(sha(output.data));
    const patches = server.seen.filter((r) => r.method === 'PATCH').map((r) => Number(r.uploadOffset));
    expect(patches[0]).toBe(0);
    expect(patches.at(-1)).toBeGreaterThan(0);
    expect(verified).toEqual([lease!.tempPath]);
  });

  it('throws the verifier\'s error when the coordinator rejects the file', async () => {
    await serve();
    verifyFailure = new VerifyFailedError('clip.mkv: duration 0.0 s');
    const err = await uploadOutput({ ...target(), filePath: output.path, signal: live() }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(VerifyFailedError);
    expect((err as Error).message).toBe('clip.mkv: duration 0.0 s');
  });

  it('throws LeaseLostError and writes nothing for a stale lease', async () => {
    await serve();
    const leased = lease!;
    lease = undefined;
    await expect(uploadOutput({ ...target(), filePath: output.path, signal: live() })).rejects.toBeInstanceOf(LeaseLostError);
    expect(fs.existsSync(leased.tempPath)).toBe(false);
    expect(fs.existsSync(path.dirname(leased.tempPath))).toBe(false);
  });
});

describe('createTransferFileAccess', () => {
  function assign(): Assign {
    return {
      v: 1, type: 'assign', jobId: 3, epoch: 1, deviceId: 'gpu0', input: { path: 'C:\\Media\\clip.mp4' }, transfer: true,
      presetId: 'p', output: { path: 'C:\\Media\\out\\clip.mkv' }, leaseExpiresAt: 0, leaseTtlMs: 30_000,
    };
  }

  it('downloads on open, writes in the work folder, uploads on deliver and then tidies up', async () => {
    await serve();
    const workDir = path.join(dir, 'agent', 'work');
    const moved: Record<string, number> = { download: 0, upload: 0 };
    const access = createTransferFileAccess({
      baseUrl: server.baseUrl, auth: AGENT, cache, workDir, logger: silentLogger, sleep: recordSleep,
      onBytes: (d, n) => (moved[d]! += n),
    });
    const a = assign();
    const files = await access.open(a, tempPathFor(a.output.path, 3, 1), live());

    expect(fs.readFileSync(files.inputPath).equals(input.data)).toBe(true);
    expect(files.tempPath).toBe(path.join(workDir, '.clip.mkv.ef-3-1.part'));
    fs.mkdirSync(workDir, { recursive: true });
    fs.writeFileSync(files.tempPath, 'the encoded output');
    await files.deliver(live());

    expect(fs.readFileSync(lease!.tempPath, 'utf8')).toBe('the encoded output');
    expect(fs.existsSync(files.tempPath)).toBe(false);
    expect(moved).toEqual({ download: input.data.length, upload: 18 });
    await files.cleanup();
    expect(fs.existsSync(files.inputPath)).toBe(true);
  });

  it('refuses a coordinator temp path that is not a farm temp name', async () => {
    await serve();
    const access = createTransferFileAccess({ baseUrl: server.baseUrl, auth: AGENT, cache, workDir: dir, logger: silentLogger });
    await expect(access.open(assign(), 'C:\\Media\\..', live())).rejects.toBeInstanceOf(TransferFailedError);
    expect(server.seen).toEqual([]);
  });
});
