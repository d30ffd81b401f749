import { link, mkdir, open, rename, stat, unlink } from 'node:fs/promises';
import path from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { InboxUploadResponseSchema } from '../../shared/protocol/index.ts';
import type { Logger } from '../../shared/logger.ts';
import type { z } from 'zod';
import { HttpError } from '../server/http-errors.ts';
import type { RouteContext } from '../server/router.ts';

/** @default 64 GiB per file */
export const DEFAULT_INBOX_MAX_BYTES = 64 * 1024 ** 3;

const UPLOAD_ID = /^[A-Za-z0-9_-]{8,64}$/;
// Characters Windows refuses in a file name; only checked there (a Linux "a:b.mp4" is fine).
const WINDOWS_RESERVED = /[<>:"|?*]/;

/** Why `name` is not a plain file name we accept, or undefined when it is. */
export function badUploadName(name: string, platform: NodeJS.Platform = process.platform): string | undefined {
  if (name === '') return 'must not be empty';
  if (Buffer.byteLength(name, 'utf8') > 255) return 'must be at most 255 bytes';
  if (/[/\\]/.test(name)) return 'must be a file name, without / or \\';
  if (name.includes('..')) return 'must not contain ..';
  if (name.startsWith('.')) return 'must not start with a dot';
  if (/[\u0000-\u001f\u007f]/.test(name)) return 'must not contain control characters';
  if (platform === 'win32' && WINDOWS_RESERVED.test(name)) return 'must not contain < > : " | ? *';
  return undefined;
}

async function exists(file: string): Promise<boolean> {
  return stat(file).then(
    () => true,
    (err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return false;
      throw err;
    },
  );
}

/** Counts the bytes going through and fails the stream once they pass `max`. */
function byteCounter(max: number): Transform & { bytes: number } {
  const counter = new Transform({
    transform(chunk: Buffer, _enc, done) {
      counter.bytes += chunk.length;
      if (counter.bytes > max) done(fileTooLarge(max));
      else done(null, chunk);
    },
  }) as Transform & { bytes: number };
  counter.bytes = 0;
  return counter;
}

function fileTooLarge(max: number): HttpError {
  // The rest of the body is never read: close the connection rather than drain it.
  return new HttpError(413, 'file-too-large', `a file may be at most ${max} bytes`, { Connection: 'close' });
}

/**
 * Puts the finished `.part` at its name without ever replacing a file: link() fails when the name
 * is taken, even by a file that appeared a moment ago. Where links are not supported, an existence
 * check and a rename do nearly as well.
 */
async function placeWithoutOverwrite(part: string, final: string): Promise<void> {
  try {
    await link(part, final);
    await unlink(part);
    return;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') throw new HttpError(409, 'file-exists', `${path.basename(final)} exists already in this upload`);
    if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'ENOSYS' && code !== 'EOPNOTSUPP') throw err;
  }
  if (await exists(final)) throw new HttpError(409, 'file-exists', `${path.basename(final)} exists already in this upload`);
  await rename(part, final);
}

/**
 * The browser's way to hand files to the coordinator (PUT /inbox/:uploadId/:name): the raw body is
 * streamed to `<dir>/<uploadId>/<name>.part` (never read whole, never held to the JSON body limit
 * or a request timeout), flushed, then moved to `<name>`. A name that exists is never
 * overwritten (409); a dropped connection or a file over the cap leaves no final file.
 */
export function createInbox(opts: { dir: string; maxBytes?: number; logger: Logger }) {
  const maxBytes = opts.maxBytes ?? DEFAULT_INBOX_MAX_BYTES;

  function target(ctx: RouteContext): { folder: string; final: string } {
    const uploadId = ctx.params.uploadId ?? '';
    const name = ctx.params.name ?? '';
    if (!UPLOAD_ID.test(uploadId)) {
      const why = 'must be 8–64 letters, digits, _ or -';
      throw new HttpError(400, 'bad-upload-id', `uploadId: ${why}`, {}, { uploadId: why });
    }
    const bad = badUploadName(name);
    if (bad) throw new HttpError(400, 'bad-file-name', `name: ${bad}`, {}, { name: bad });
    const folder = path.join(opts.dir, uploadId);
    return { folder, final: path.join(folder, name) };
  }

  async function receive(ctx: RouteContext, part: string): Promise<number> {
    const handle = await open(part, 'wx').catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'EEXIST') throw new HttpError(409, 'upload-in-progress', `${path.basename(part, '.part')} is being uploaded already`);
      throw err;
    });
    const counter = byteCounter(maxBytes);
    // The handle stays open for the sync below; without a close event the pipeline ends at finish.
    const out = handle.createWriteStream({ autoClose: false, emitClose: false });
    try {
      await pipeline(ctx.req, counter, out);
      // Durable before it gets its name: a crash then leaves a .part, never a short final file.
      await handle.sync();
      return counter.bytes;
    } catch (err) {
      await unlink(part).catch(() => {});
      if (err instanceof HttpError) throw err;
      if (!ctx.req.complete) {
        opts.logger.debug('inbox upload cut off', { file: path.basename(part), bytes: counter.bytes });
        throw new HttpError(400, 'upload-cut', 'the upload ended before the whole file arrived');
      }
      throw err;
    } finally {
      // The stream holds a reference on the handle until destroyed; close() would wait for it.
      out.destroy();
      await handle.close().catch(() => {});
    }
  }

  return {
    async upload(ctx: RouteContext): Promise<void> {
      const { folder, final } = target(ctx);
      const declared = Number(ctx.req.headers['content-length']);
      if (Number.isFinite(declared) && declared > maxBytes) throw fileTooLarge(maxBytes);
      await mkdir(folder, { recursive: true });
      if (await exists(final)) throw new HttpError(409, 'file-exists', `${path.basename(final)} exists already in this upload`);
      const part = `${final}.part`;
      const sizeBytes = await receive(ctx, part);
      try {
        await placeWithoutOverwrite(part, final);
      } catch (err) {
        await unlink(part).catch(() => {});
        throw err;
      }
      const body: z.infer<typeof InboxUploadResponseSchema> = { path: final, sizeBytes };
      ctx.send(200, body);
    },
  };
}
