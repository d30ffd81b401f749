import { createHash } from 'node:crypto';
import { createReadStream, promises as fsp } from 'node:fs';
import { pipeline } from 'node:stream/promises';

export interface FileHash {
  size: number;
  /** Lower-case hex. */
  sha256: string;
}

/** sha256 of files that are served again and again (an input downloaded by several agents). */
export interface HashCache {
  hash(path: string): Promise<FileHash>;
}

export interface HashCacheOptions {
  /** @default 1000 — files remembered; the least recently hashed are forgotten first */
  maxEntries?: number;
  /** @default sha256File — how a file is read and hashed */
  hashFile?: (path: string) => Promise<FileHash>;
}

/** The file changed while it was being hashed, every time we tried. */
export class FileChangingError extends Error {
  constructor(path: string) {
    super(`${path} keeps changing while it is hashed`);
    this.name = 'FileChangingError';
  }
}

/** Streams `path` through sha256 (never the whole file in memory). */
export async function sha256File(path: string, signal?: AbortSignal): Promise<FileHash> {
  const hash = createHash('sha256');
  let size = 0;
  await pipeline(
    createReadStream(path),
    async (source: AsyncIterable<Buffer>) => {
      for await (const chunk of source) {
        size += chunk.length;
        hash.update(chunk);
      }
    },
    signal ? { signal } : {},
  );
  return { size, sha256: hash.digest('hex') };
}

/** What makes two looks at a path the same file with the same bytes, short of reading it. */
async function identity(path: string): Promise<string> {
  const st = await fsp.stat(path);
  return `${st.size}:${st.mtimeMs}:${st.ino}`;
}

/**
 * Hashes are remembered per path with the file's (size, mtime, inode), so an unchanged file is
 * read once however many agents download it, and a replaced or rewritten one is read again.
 * Concurrent requests for the same file share one read.
 */
export function createHashCache(opts: HashCacheOptions = {}): HashCache {
  const max = opts.maxEntries ?? 1000;
  const hashFile = opts.hashFile ?? sha256File;
  const known = new Map<string, { id: string; value: FileHash }>();
  const running = new Map<string, Promise<FileHash>>();

  async function compute(path: string, id: string): Promise<FileHash> {
    for (let tries = 0; tries < 3; tries++) {
      const value = await hashFile(path);
      const after = await identity(path);
      if (after === id) {
        known.delete(path);
        known.set(path, { id, value });
        if (known.size > max) known.delete(known.keys().next().value!);
        return value;
      }
      id = after;
    }
    throw new FileChangingError(path);
  }

  return {
    async hash(path) {
      const id = await identity(path);
      const hit = known.get(path);
      if (hit?.id === id) return hit.value;
      const key = `${path}\0${id}`;
      let p = running.get(key);
      if (!p) {
        p = compute(path, id).finally(() => running.delete(key));
        running.set(key, p);
      }
      return p;
    },
  };
}
