import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { DiskFullError, OutputUnwritableError, type FarmError } from '../../shared/errors.ts';
import { createKeyedLock } from '../../shared/keyed-lock.ts';

export type AppendResult =
  | { ok: true; offset: number }
  /** The client's offset is not what we hold; `offset` is what we hold. Nothing was written. */
  | { ok: false; reason: 'offset-mismatch'; offset: number }
  /** The upload would pass `maxBytes`; `offset` is what we hold (writing stopped there). */
  | { ok: false; reason: 'too-large'; offset: number };

/**
 * Resumable uploads into coordinator temp paths. Writes to one path are serialised, so a resumed
 * PATCH waits until the write of the connection it replaces has settled and sees its real size.
 */
export interface UploadStore {
  /** Bytes received so far for `tempPath` (0 when nothing yet). */
  offset(tempPath: string): Promise<number>;
  /**
   * Appends `body` when exactly `offset` bytes are already there. A body that breaks off (client
   * gone) rejects with its own error and keeps what was written; ENOSPC becomes DiskFullError
   * and an unwritable folder OutputUnwritableError.
   */
  append(tempPath: string, offset: number, body: AsyncIterable<Buffer>, declaredLength?: number): Promise<AppendResult>;
  /** Runs `fn` while no write to `tempPath` is in progress. */
  exclusive<T>(tempPath: string, fn: () => Promise<T>): Promise<T>;
}

export interface UploadStoreOptions {
  /** @default Infinity — the most bytes one upload may hold (an answer 413 beyond it) */
  maxBytes?: number;
}

export function createUploadStore(opts: UploadStoreOptions = {}): UploadStore {
  const maxBytes = opts.maxBytes ?? Infinity;
  const exclusive = createKeyedLock();

  return {
    offset: (tempPath) => exclusive(tempPath, () => sizeOf(tempPath)),
    append: (tempPath, offset, body, declaredLength) =>
      exclusive(tempPath, async (): Promise<AppendResult> => {
        const have = await sizeOf(tempPath);
        if (have !== offset) return { ok: false, reason: 'offset-mismatch', offset: have };
        if (declaredLength !== undefined && offset + declaredLength > maxBytes) return { ok: false, reason: 'too-large', offset };
        return write(tempPath, offset, body, maxBytes);
      }),
    exclusive,
  };
}

async function write(tempPath: string, offset: number, body: AsyncIterable<Buffer>, maxBytes: number): Promise<AppendResult> {
  let fh: fsp.FileHandle;
  try {
    await fsp.mkdir(path.dirname(tempPath), { recursive: true });
    // Append mode: every write lands at the end, which the size check above proved is `offset`.
    fh = await fsp.open(tempPath, 'a');
  } catch (err) {
    throw writeError(err, tempPath);
  }
  let at = offset;
  try {
    for await (const chunk of body) {
      if (at + chunk.length > maxBytes) return { ok: false, reason: 'too-large', offset: at };
      await fh.write(chunk).catch((err: unknown) => {
        throw writeError(err, tempPath);
      });
      at += chunk.length;
    }
    return { ok: true, offset: at };
  } finally {
    await fh.close();
  }
}

function writeError(err: unknown, file: string): FarmError | unknown {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'ENOSPC' || code === 'EDQUOT') return new DiskFullError(`${file}: no space left for the uploaded output`);
  // EEXIST: mkdir met a file where the output folder should be.
  if (['EACCES', 'EPERM', 'EROFS', 'ENOTDIR', 'EISDIR', 'EEXIST'].includes(code ?? '')) {
    return new OutputUnwritableError(`${file}: cannot write the uploaded output (${(err as Error).message})`);
  }
  return err;
}

async function sizeOf(file: string): Promise<number> {
  try {
    return (await fsp.stat(file)).size;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    // Nothing there yet; a file where a folder should be is reported by the write that needs it.
    if (code === 'ENOENT' || code === 'ENOTDIR') return 0;
    throw err;
  }
}
