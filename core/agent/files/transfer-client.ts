import { createHash } from 'node:crypto';
import { createReadStream, promises as fsp } from 'node:fs';
import http, { type IncomingMessage, type OutgoingHttpHeaders } from 'node:http';
import https from 'node:https';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { systemClock } from '../../shared/clock.ts';
import {
  DiskFullError,
  ERROR_KINDS,
  FarmError,
  LeaseLostError,
  OutputUnwritableError,
  TransferFailedError,
  errorFromInfo,
  type ErrorKind,
} from '../../shared/errors.ts';
import { FingerprintMismatchError, pinnedConnection } from '../client/pinned-tls.ts';
import type { CacheEntry, InputCache } from './input-cache.ts';

export interface TransferAuth {
  agentId: string;
  secret: string;
}

/** Where the coordinator is and who is asking. */
export interface TransferEndpoint {
  /** `http://host:port` or `https://host:port`. */
  baseUrl: string;
  auth: TransferAuth;
  /** The pinned certificate fingerprint (`AB:CD:…`) when `baseUrl` is https. */
  fingerprint?: string;
}

/** How a cut connection is retried inside one transfer (a FarmError is never retried here). */
export interface RetryPolicy {
  /** @default 5 — reconnects after a cut before giving up with TransferFailedError */
  retries?: number;
  /** @default 250 — first backoff in ms; doubles per retry, capped at 5000 */
  backoffMs?: number;
  /** @default a systemClock timer — how backoff waits (tests inject one that records) */
  sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
  /** @default 60000 — a connection silent for this long counts as cut */
  idleTimeoutMs?: number;
}

export interface JobTransfer extends TransferEndpoint, RetryPolicy {
  jobId: number;
  epoch: number;
  signal: AbortSignal;
  /** Bytes moved over the wire, as they move (for throughput and progress). */
  onBytes?(n: number): void;
}

export interface DownloadOptions extends JobTransfer {
  cache: InputCache;
}

export interface UploadOptions extends JobTransfer {
  filePath: string;
}

/** A verified input in the cache, pinned until the caller releases `key`. */
export interface DownloadedInput {
  path: string;
  key: string;
  size: number;
}

const SHA256_HEX = /^[0-9a-f]{64}$/;
/** The coordinator ffprobes and fsyncs before answering `complete`; give it time. */
const COMPLETE_TIMEOUT_MS = 600_000;

/** A status worth retrying (the coordinator is busy or restarting), as opposed to a FarmError. */
class RetryableStatusError extends Error {}

/**
 * Downloads a job's input into the cache, resuming from the bytes already on disk after a cut
 * (`Range: bytes=N-`), and checks size and sha256 against the coordinator's X-EF-Size and
 * X-EF-Sha256 before the file takes its final name. The entry stays pinned for the caller.
 */
export async function downloadInput(o: DownloadOptions): Promise<DownloadedInput> {
  const what = `job ${o.jobId}: input download`;
  const first = await withRetries(o, what, () => requestInput(o, 0));
  let entry: CacheEntry;
  try {
    entry = await o.cache.reserve(first.sha256, first.size);
  } catch (err) {
    first.res.destroy();
    throw err;
  }
  try {
    await o.cache.exclusive(entry.key, () => fill(o, entry, first));
    return { path: entry.path, key: entry.key, size: first.size };
  } catch (err) {
    o.cache.release(entry.key);
    throw err;
  }
}

interface OpenedInput {
  res: IncomingMessage;
  size: number;
  sha256: string;
  /** First byte of the body within the file (0 for a 200). */
  start: number;
}

async function fill(o: DownloadOptions, entry: CacheEntry, first: OpenedInput): Promise<void> {
  let spare: OpenedInput | undefined = first;
  if (o.cache.isComplete(entry.key)) return void first.res.destroy();
  await withRetries(o, `job ${o.jobId}: input download`, async () => {
    let offset = await sizeOf(entry.partPath);
    if (offset > first.size) offset = await restart(entry.partPath);
    // The first response serves as the body only when nothing is on disk yet and it is still open.
    const reuse = spare && offset === 0 && !spare.res.destroyed ? spare : undefined;
    if (!reuse) spare?.res.destroy();
    spare = undefined;
    if (offset === first.size) return;
    const opened = reuse ?? (await requestInput(o, offset));
    if (opened.sha256 !== entry.key || opened.size !== first.size) {
      opened.res.destroy();
      throw new TransferFailedError(`job ${o.jobId}: the input changed on the coordinator during the download`);
    }
    await appendBody(opened, entry.partPath, o);
    const have = await sizeOf(entry.partPath);
    // A body that ended cleanly but short is a cut too: resume rather than start over.
    if (have < first.size) throw new Error(`the connection ended at ${have} of ${first.size} bytes`);
  });
  await verifyPart(entry, first.size, o);
  await o.cache.commit(entry.key);
}

async function restart(partPath: string): Promise<number> {
  await fsp.rm(partPath, { force: true });
  return 0;
}

/** GET the input from `offset`; resolves once the headers say what is coming. */
async function requestInput(o: JobTransfer, offset: number): Promise<OpenedInput> {
  const res = await send(o, 'GET', `${jobPath(o)}/input`, offset > 0 ? { range: `bytes=${offset}-` } : {});
  if (res.statusCode !== 200 && res.statusCode !== 206) throw await failure(res, o, 'input download');
  // Until someone reads it, a cut would be an unhandled 'error'; readers see errors anyway.
  res.on('error', () => {});
  const size = Number(res.headers['x-ef-size']);
  const sha256 = String(res.headers['x-ef-sha256'] ?? '').toLowerCase();
  const range = /^bytes (\d+)-\d+\/\d+$/.exec(String(res.headers['content-range'] ?? ''));
  const start = res.statusCode === 206 ? Number(range?.[1] ?? NaN) : 0;
  if (!Number.isSafeInteger(size) || size < 0 || !SHA256_HEX.test(sha256) || (start !== 0 && start !== offset)) {
    res.destroy();
    throw new TransferFailedError(`job ${o.jobId}: the coordinator's input response lacks a valid X-EF-Size, X-EF-Sha256 or Content-Range`);
  }
  return { res, size, sha256, start };
}

/** Appends the body at its offset (a 200 rewrites from byte 0), counting bytes as they land. */
async function appendBody(opened: OpenedInput, partPath: string, o: JobTransfer): Promise<void> {
  let fh: fsp.FileHandle;
  try {
    fh = await fsp.open(partPath, opened.start === 0 ? 'w' : 'a');
  } catch (err) {
    opened.res.destroy();
    throw localWriteError(err, partPath);
  }
  try {
    for await (const chunk of opened.res as AsyncIterable<Buffer>) {
      await fh.write(chunk).catch((err: unknown) => {
        throw localWriteError(err, partPath);
      });
      o.onBytes?.(chunk.length);
    }
  } finally {
    opened.res.destroy();
    await fh.close();
  }
}

async function verifyPart(entry: CacheEntry, size: number, o: JobTransfer): Promise<void> {
  const got = await hashFile(entry.partPath, o.signal);
  if (got.size === size && got.sha256 === entry.key) return;
  await fsp.rm(entry.partPath, { force: true });
  throw new TransferFailedError(
    `job ${o.jobId}: downloaded input does not match the coordinator's (${got.size} bytes, sha256 ${got.sha256}; expected ${size} bytes, sha256 ${entry.key})`,
  );
}

/**
 * Uploads a verified output to the coordinator's temp path for (job, epoch): asks how much it
 * already holds (HEAD), sends the rest (PATCH), and after a cut resumes from whatever the
 * coordinator says it received. Then asks it to check size and sha256 and verify the file itself.
 */
export async function uploadOutput(o: UploadOptions): Promise<void> {
  const local = await hashFile(o.filePath, o.signal);
  const what = `job ${o.jobId}: output upload`;
  await withRetries(o, what, async () => {
    let offset = await uploadOffset(o);
    while (offset < local.size) offset = await sendChunk(o, offset, local.size);
    if (offset > local.size) throw new TransferFailedError(`${what}: the coordinator holds ${offset} bytes of a ${local.size}-byte output`);
  });
  await withRetries(o, what, () => complete(o, local));
}

async function uploadOffset(o: UploadOptions): Promise<number> {
  const res = await send(o, 'HEAD', `${jobPath(o)}/output`, {});
  // A HEAD answer has no body to name its reason; the only 409 it has is a stale lease.
  if (res.statusCode === 409) throw leaseLost(o);
  if (res.statusCode !== 204 && res.statusCode !== 200) throw await failure(res, o, 'upload offset');
  res.resume();
  return offsetHeader(res);
}

/** One PATCH from `offset`; returns the coordinator's offset afterwards (also after a 409 mismatch). */
async function sendChunk(o: UploadOptions, offset: number, size: number): Promise<number> {
  const body = [createReadStream(o.filePath, { start: offset, end: size - 1 }), counter(o.onBytes)] as const;
  const headers = { 'upload-offset': String(offset), 'content-length': String(size - offset), 'content-type': 'application/offset+octet-stream' };
  const res = await send(o, 'PATCH', `${jobPath(o)}/output`, headers, body);
  if (res.statusCode === 204) {
    res.resume();
    return offsetHeader(res);
  }
  if (res.statusCode !== 409) throw await failure(res, o, 'upload');
  const code = errorField(await readJson(res), 'code');
  if (code === 'stale-lease') throw leaseLost(o);
  const theirs = offsetHeader(res);
  // Same offset refused twice would loop forever; treat it as a cut and let the retry decide.
  if (theirs === offset) throw new Error(`coordinator refused offset ${offset} without saying where it is`);
  return theirs;
}

async function complete(o: UploadOptions, local: { size: number; sha256: string }): Promise<void> {
  const body = Buffer.from(JSON.stringify(local));
  const headers = { 'content-type': 'application/json', 'content-length': String(body.length) };
  const res = await send(o, 'POST', `${jobPath(o)}/output/complete`, headers, body, COMPLETE_TIMEOUT_MS);
  if (res.statusCode !== 200) throw await failure(res, o, 'upload completion');
  await readJson(res);
}

/** Runs `fn`, retrying what is not a FarmError (a cut, a refused connection, a 5xx) with backoff. */
async function withRetries<T>(o: JobTransfer, what: string, fn: () => Promise<T>): Promise<T> {
  const retries = o.retries ?? 5;
  const sleep = o.sleep ?? clockSleep;
  for (let attempt = 0; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      if (o.signal.aborted) throw o.signal.reason;
      if (err instanceof FarmError) throw err;
      // Not a flaky link: someone else answers for the coordinator. Retrying cannot help.
      if (err instanceof FingerprintMismatchError) throw new TransferFailedError(`${what}: ${err.message}`);
      if (attempt >= retries) throw new TransferFailedError(`${what} failed after ${attempt + 1} tries: ${(err as Error).message}`);
      await sleep(Math.min(5000, (o.backoffMs ?? 250) * 2 ** attempt), o.signal);
    }
  }
}

/** Resolves with the response once its headers arrive; the caller reads or destroys it. */
function send(
  o: JobTransfer,
  method: string,
  urlPath: string,
  headers: OutgoingHttpHeaders,
  body?: Buffer | readonly [Readable, Transform],
  idleMs?: number,
): Promise<IncomingMessage> {
  const url = new URL(urlPath, o.baseUrl);
  const tls = url.protocol === 'https:';
  return new Promise((resolve, reject) => {
    const req = (tls ? https : http).request(url, {
      method,
      signal: o.signal,
      headers: { authorization: `Bearer ${o.auth.agentId}:${o.auth.secret}`, ...headers },
      // One connection per request, never pooled: a pinned TLS socket is checked before the
      // request (and its secret) is written, and is never shared with a request that did not pin.
      ...(tls && o.fingerprint ? { createConnection: pinnedConnection(o.fingerprint) as unknown as https.RequestOptions['createConnection'] } : { agent: false }),
    });
    const idle = idleMs ?? o.idleTimeoutMs ?? 60_000;
    req.setTimeout(idle, () => req.destroy(new Error(`no data from the coordinator for ${idle} ms`)));
    req.on('error', reject);
    req.on('response', resolve);
    if (body === undefined || Buffer.isBuffer(body)) req.end(body);
    else pipeline(body[0], body[1], req).catch(reject);
  });
}

/** The error a refusal means: a FarmError when it says what happens next, else retryable or not. */
async function failure(res: IncomingMessage, o: JobTransfer, what: string): Promise<Error> {
  const body = await readJson(res).catch(() => undefined);
  const kind = errorField(body, 'kind');
  const message = errorField(body, 'message') ?? res.statusMessage ?? '';
  const status = res.statusCode ?? 0;
  if (status === 409 && errorField(body, 'code') === 'stale-lease') return leaseLost(o);
  if (status === 422 && kind && (ERROR_KINDS as string[]).includes(kind)) return errorFromInfo({ kind: kind as ErrorKind, message });
  if (status === 413) return new OutputUnwritableError(`job ${o.jobId}: the coordinator refuses an output this large (${message})`);
  const text = `job ${o.jobId}: ${what} answered HTTP ${status}${message ? ` (${message})` : ''}`;
  if (status >= 500 || status === 408 || status === 429) return new RetryableStatusError(text);
  return new TransferFailedError(text);
}

function leaseLost(o: JobTransfer): LeaseLostError {
  return new LeaseLostError(`job ${o.jobId} epoch ${o.epoch}: the coordinator says this agent no longer holds the lease`);
}

function errorField(body: unknown, field: 'code' | 'kind' | 'message'): string | undefined {
  const err = (body as { error?: Record<string, unknown> } | undefined)?.error;
  const v = err && typeof err === 'object' ? err[field] : undefined;
  return typeof v === 'string' ? v : undefined;
}

async function readJson(res: IncomingMessage, max = 64 * 1024): Promise<unknown> {
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const chunk of res as AsyncIterable<Buffer>) {
    n += chunk.length;
    if (n > max) break;
    chunks.push(chunk);
  }
  res.destroy();
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    return undefined;
  }
}

function offsetHeader(res: IncomingMessage): number {
  const n = Number(res.headers['upload-offset']);
  if (!Number.isSafeInteger(n) || n < 0) throw new Error(`coordinator sent no valid Upload-Offset (${res.headers['upload-offset']})`);
  return n;
}

function jobPath(o: JobTransfer): string {
  return `/api/v1/transfer/${o.jobId}/${o.epoch}`;
}

function counter(onBytes?: (n: number) => void): Transform {
  return new Transform({
    transform(chunk: Buffer, _enc, done) {
      onBytes?.(chunk.length);
      done(null, chunk);
    },
  });
}

function localWriteError(err: unknown, file: string): FarmError {
  const e = err as NodeJS.ErrnoException;
  if (e.code === 'ENOSPC') return new DiskFullError(`${file}: no space left for the downloaded input`);
  return new TransferFailedError(`${file}: cannot write the downloaded input (${e.message})`);
}

async function sizeOf(file: string): Promise<number> {
  return fsp.stat(file).then((s) => s.size, () => 0);
}

async function hashFile(file: string, signal: AbortSignal): Promise<{ size: number; sha256: string }> {
  const hash = createHash('sha256');
  let size = 0;
  await pipeline(
    createReadStream(file),
    async (source: AsyncIterable<Buffer>) => {
      for await (const chunk of source) {
        size += chunk.length;
        hash.update(chunk);
      }
    },
    { signal },
  ).catch((err: unknown) => {
    throw signal.aborted ? signal.reason : err;
  });
  return { size, sha256: hash.digest('hex') };
}

function clockSleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const onAbort = () => {
      systemClock.clearTimeout(timer);
      reject(signal.reason);
    };
    const timer = systemClock.setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}
