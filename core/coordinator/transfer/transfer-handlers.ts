import { promises as fsp } from 'node:fs';
import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { FarmError, InputInvalidError, TransferFailedError } from '../../shared/errors.ts';
import type { Logger } from '../../shared/logger.ts';
import { sha256File, type HashCache } from './hash-cache.ts';
import { createUploadStore, type UploadStore } from './upload-store.ts';

/** The files of a live lease, in the coordinator's terms. */
export interface TransferLease {
  inputPath: string;
  /** tempPathFor(job.outputPath, job, epoch): the only place an upload is ever written. */
  tempPath: string;
}

/** Parsed and authenticated by the router. */
export interface TransferParams {
  jobId: number;
  epoch: number;
  agentId: string;
}

export type TransferHandler = (req: IncomingMessage, res: ServerResponse, params: TransferParams) => Promise<void>;

export interface TransferHandlers {
  /** `GET .../input`: the whole input (200) or from a single range (206). */
  download: TransferHandler;
  /** `HEAD .../output`: 204 with `Upload-Offset`. */
  uploadOffset: TransferHandler;
  /** `PATCH .../output`: appends the body at `Upload-Offset`. */
  uploadChunk: TransferHandler;
  /** `POST .../output/complete`: checks size and sha256, then has the file verified. */
  uploadComplete: TransferHandler;
}

export interface TransferHandlerDeps {
  /** The lease of (job, epoch) when `agentId` holds it now; otherwise undefined (answered 409). */
  lease(jobId: number, epoch: number, agentId: string): TransferLease | undefined;
  /** ffprobe verification and fsync of an uploaded temp file; throws a FarmError when it fails. */
  verifyUpload(jobId: number, epoch: number, tempPath: string): Promise<void>;
  hashes: HashCache;
  /** @default createUploadStore({ maxBytes: maxUploadBytes }) */
  uploads?: UploadStore;
  /** @default Infinity — bytes one upload may hold; more is answered 413 */
  maxUploadBytes?: number;
  logger: Logger;
  /** Bytes moved, per direction, as they move. */
  onBytes?(direction: 'download' | 'upload', n: number): void;
}

const COMPLETE_BODY_MAX = 4096;
const SHA256_HEX = /^[0-9a-f]{64}$/;

/**
 * The coordinator's half of file transfer for agents without shared storage. Every handler first
 * checks that the calling agent holds the live lease of (job, epoch); inputs are only ever read
 * from, and uploads only ever written to, the paths of that lease. Handlers answer every failure
 * themselves and never reject, and a client that goes away mid-stream costs nothing but a log line.
 */
export function createTransferHandlers(deps: TransferHandlerDeps): TransferHandlers {
  const uploads = deps.uploads ?? createUploadStore({ maxBytes: deps.maxUploadBytes });
  const guarded = (name: string, fn: (req: IncomingMessage, res: ServerResponse, lease: TransferLease, p: TransferParams) => Promise<void>): TransferHandler =>
    async (req, res, p) => {
      const lease = deps.lease(p.jobId, p.epoch, p.agentId);
      if (!lease) return staleLease(res);
      try {
        await fn(req, res, lease, p);
      } catch (err) {
        answerFailure(deps.logger, name, req, res, p, err);
      }
    };

  return {
    download: guarded('download', (req, res, lease) => serveInput(deps, req, res, lease)),
    uploadOffset: guarded('upload offset', async (_req, res, lease) => {
      const offset = await uploads.offset(lease.tempPath);
      res.writeHead(204, { 'upload-offset': String(offset), 'cache-control': 'no-store' }).end();
    }),
    uploadChunk: guarded('upload', (req, res, lease) => receiveChunk(deps, uploads, req, res, lease)),
    uploadComplete: guarded('upload complete', (req, res, lease, p) => completeUpload(deps, uploads, req, res, lease, p)),
  };
}

async function serveInput(deps: TransferHandlerDeps, req: IncomingMessage, res: ServerResponse, lease: TransferLease): Promise<void> {
  const fh = await fsp.open(lease.inputPath, 'r').catch((err: NodeJS.ErrnoException) => {
    throw new InputInvalidError(`${lease.inputPath}: cannot read the input (${err.code ?? err.message})`);
  });
  try {
    const st = await fh.stat();
    if (!st.isFile()) throw new InputInvalidError(`${lease.inputPath}: not a file`);
    const { size, sha256 } = await deps.hashes.hash(lease.inputPath);
    if (size !== st.size) return sendJson(res, 503, { error: { code: 'input-changing', message: 'the input is being written; try again' } }, { 'retry-after': '5' });
    const range = parseRange(req.headers.range, size);
    const common = { 'accept-ranges': 'bytes', 'x-ef-size': String(size), 'x-ef-sha256': sha256, 'cache-control': 'no-store' };
    if (range === 'invalid') {
      return sendJson(res, 416, { error: { code: 'bad-range', message: `range "${req.headers.range}" is not a single satisfiable bytes=N- or bytes=N-M of ${size} bytes` } }, { ...common, 'content-range': `bytes */${size}` });
    }
    const { start, end } = range ?? { start: 0, end: size - 1 };
    res.writeHead(range ? 206 : 200, {
      ...common,
      'content-type': 'application/octet-stream',
      'content-length': String(end - start + 1),
      ...(range ? { 'content-range': `bytes ${start}-${end}/${size}` } : {}),
    });
    if (size === 0) return void res.end();
    await pipeline(fh.createReadStream({ start, end, autoClose: false }), counter((n) => deps.onBytes?.('download', n)), res);
  } finally {
    // Waits for a read still in flight when the client went away, so the fd is never leaked.
    await fh.close();
  }
}

async function receiveChunk(deps: TransferHandlerDeps, uploads: UploadStore, req: IncomingMessage, res: ServerResponse, lease: TransferLease): Promise<void> {
  const offset = intHeader(req.headers['upload-offset']);
  if (offset === undefined) return refuseBody(res, 400, { code: 'bad-offset', message: 'Upload-Offset must be a non-negative integer' });
  const declared = intHeader(req.headers['content-length']);
  const r = await uploads.append(lease.tempPath, offset, counted(req, (n) => deps.onBytes?.('upload', n)), declared);
  if (r.ok) return void res.writeHead(204, { 'upload-offset': String(r.offset), 'cache-control': 'no-store' }).end();
  if (r.reason === 'offset-mismatch') {
    return refuseBody(res, 409, { code: 'offset-mismatch', message: `the coordinator holds ${r.offset} bytes, not ${offset}` }, r.offset);
  }
  return refuseBody(res, 413, { code: 'too-large', message: `uploads are limited to ${deps.maxUploadBytes} bytes` }, r.offset);
}

async function completeUpload(
  deps: TransferHandlerDeps,
  uploads: UploadStore,
  req: IncomingMessage,
  res: ServerResponse,
  lease: TransferLease,
  p: TransferParams,
): Promise<void> {
  const body = await readSmallBody(req, COMPLETE_BODY_MAX);
  if (body === 'too-large') return refuseBody(res, 413, { code: 'too-large', message: `the completion body is limited to ${COMPLETE_BODY_MAX} bytes` });
  const claim = parseClaim(body);
  if (!claim) return sendJson(res, 400, { error: { code: 'bad-request', message: 'expected {"size": <bytes>, "sha256": "<64 hex>"}' } });
  // Holding the upload lock: no PATCH can change the file between the checks and the verification.
  await uploads.exclusive(lease.tempPath, async () => {
    const got = await sha256File(lease.tempPath).catch(() => ({ size: 0, sha256: '' }));
    if (got.size !== claim.size || got.sha256 !== claim.sha256) {
      await fsp.rm(lease.tempPath, { force: true });
      throw new TransferFailedError(
        `job ${p.jobId}: upload does not match (received ${got.size} bytes, sha256 ${got.sha256 || 'none'}; agent sent ${claim.size} bytes, sha256 ${claim.sha256})`,
      );
    }
    await deps.verifyUpload(p.jobId, p.epoch, lease.tempPath);
  });
  sendJson(res, 200, { ok: true });
}

/**
 * The single range a resuming agent asks for: `bytes=N-` or `bytes=N-M` (M clamped to the end).
 * Anything else, multiple or suffix ranges included, is `invalid` (answered 416); no header is
 * undefined (the whole file).
 */
export function parseRange(header: string | undefined, size: number): { start: number; end: number } | 'invalid' | undefined {
  if (header === undefined) return undefined;
  const m = /^bytes=(\d+)-(\d*)$/.exec(header.trim());
  if (!m) return 'invalid';
  const start = Number(m[1]);
  const end = m[2] ? Math.min(Number(m[2]), size - 1) : size - 1;
  if (!Number.isSafeInteger(start) || start >= size || (m[2] && Number(m[2]) < start)) return 'invalid';
  return { start, end };
}

function parseClaim(body: Buffer): { size: number; sha256: string } | undefined {
  let v: unknown;
  try {
    v = JSON.parse(body.toString('utf8'));
  } catch {
    return undefined;
  }
  const { size, sha256 } = (v ?? {}) as { size?: unknown; sha256?: unknown };
  if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0 || typeof sha256 !== 'string') return undefined;
  const hex = sha256.toLowerCase();
  return SHA256_HEX.test(hex) ? { size, sha256: hex } : undefined;
}

async function readSmallBody(req: IncomingMessage, max: number): Promise<Buffer | 'too-large'> {
  if ((intHeader(req.headers['content-length']) ?? 0) > max) return 'too-large';
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    n += chunk.length;
    if (n > max) return 'too-large';
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

async function* counted(source: AsyncIterable<Buffer>, onBytes: (n: number) => void): AsyncGenerator<Buffer> {
  for await (const chunk of source) {
    onBytes(chunk.length);
    yield chunk;
  }
}

function counter(onBytes: (n: number) => void): Transform {
  return new Transform({
    transform(chunk: Buffer, _enc, done) {
      onBytes(chunk.length);
      done(null, chunk);
    },
  });
}

function intHeader(v: string | string[] | undefined): number | undefined {
  if (typeof v !== 'string' || !/^\d+$/.test(v.trim())) return undefined;
  const n = Number(v);
  return Number.isSafeInteger(n) ? n : undefined;
}

function staleLease(res: ServerResponse): void {
  // The request body (a PATCH's bytes) is never read: close rather than drain it.
  sendJson(res, 409, { error: { code: 'stale-lease', message: 'this job and epoch are not leased to this agent' } }, { connection: 'close' });
}

/** Answers before the body was read: the connection closes instead of draining unwanted bytes. */
function refuseBody(res: ServerResponse, status: number, error: { code: string; message: string }, offset?: number): void {
  const headers: OutgoingHttpHeaders = { connection: 'close', ...(offset === undefined ? {} : { 'upload-offset': String(offset) }) };
  sendJson(res, status, { error }, headers);
}

function sendJson(res: ServerResponse, status: number, body: unknown, headers: OutgoingHttpHeaders = {}): void {
  if (res.headersSent || res.destroyed) return;
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store', ...headers }).end(JSON.stringify(body));
}

function answerFailure(logger: Logger, name: string, req: IncomingMessage, res: ServerResponse, p: TransferParams, err: unknown): void {
  const fields = { jobId: p.jobId, epoch: p.epoch, agentId: p.agentId, error: (err as Error).message };
  if (err instanceof FarmError) {
    logger.warn(`transfer ${name} refused`, fields);
    return sendJson(res, 422, { error: err.toInfo() }, { connection: 'close' });
  }
  if (req.destroyed || res.destroyed || res.writableEnded) {
    // The agent went away mid-stream (a cut it will resume from, or a cancel): nothing to answer.
    logger.debug(`transfer ${name}: client went away`, fields);
    return;
  }
  logger.error(`transfer ${name} failed`, fields);
  if (res.headersSent) res.destroy();
  else sendJson(res, 500, { error: { code: 'internal', message: 'transfer failed on the coordinator' } }, { connection: 'close' });
}
