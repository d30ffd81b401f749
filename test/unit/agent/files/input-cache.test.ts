import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createInputCache, type CacheEntry, type InputCache } from '../../../../core/agent/files/input-cache.ts';
import { DiskFullError, TransferFailedError } from '../../../../core/shared/errors.ts';

let dir: string;

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'encodefarm-cache-'));
});

afterEach(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

const key = (c: string) => c.repeat(64);

/** Reserves, writes `size` bytes as a finished download, and commits: what downloadInput does. */
async function download(cache: InputCache, k: string, size: number): Promise<CacheEntry> {
  const e = await cache.reserve(k, size);
  fs.writeFileSync(e.partPath, Buffer.alloc(size));
  await cache.commit(k);
  return e;
}

describe('createInputCache', () => {
  it('names entries after their key inside the folder', async () => {
    const cache = createInputCache({ dir, maxBytes: 100 });
    const e = await cache.reserve(key('a'), 10);
    expect(e).toEqual({ key: key('a'), partPath: path.join(dir, `${key('a')}.part`), path: path.join(dir, key('a')) });
    expect(cache.isComplete(key('a'))).toBe(false);
    fs.writeFileSync(e.partPath, Buffer.alloc(10));
    await cache.commit(key('a'));
    expect(cache.isComplete(key('a'))).toBe(true);
    expect(fs.readdirSync(dir)).toEqual([key('a')]);
  });

  it('evicts the least recently used released entries to make room', async () => {
    const cache = createInputCache({ dir, maxBytes: 30 });
    for (const c of ['a', 'b', 'c']) {
      await download(cache, key(c), 10);
      cache.release(key(c));
    }
    // Using a again makes b the oldest.
    await cache.reserve(key('a'), 10);
    cache.release(key('a'));
    await download(cache, key('d'), 10);
    expect(fs.readdirSync(dir).sort()).toEqual([key('a'), key('c'), key('d')].sort());
    expect(cache.usedBytes()).toBe(30);
  });

  it('never evicts an entry still in use, however old', async () => {
    const cache = createInputCache({ dir, maxBytes: 20 });
    const pinned = await download(cache, key('a'), 10);
    await download(cache, key('b'), 10);
    cache.release(key('b'));
    await download(cache, key('c'), 10);
    expect(fs.existsSync(pinned.path)).toBe(true);
    expect(fs.existsSync(path.join(dir, key('b')))).toBe(false);
  });

  it('refuses with TransferFailedError when everything that could go is in use', async () => {
    const cache = createInputCache({ dir, maxBytes: 20 });
    await download(cache, key('a'), 10);
    await download(cache, key('b'), 10);
    await expect(cache.reserve(key('c'), 5)).rejects.toBeInstanceOf(TransferFailedError);
    cache.release(key('a'));
    await expect(cache.reserve(key('c'), 5)).resolves.toBeTruthy();
  });

  it('refuses an input larger than the whole cache with DiskFullError', async () => {
    const cache = createInputCache({ dir, maxBytes: 20 });
    const err = await cache.reserve(key('a'), 21).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DiskFullError);
    expect((err as Error).message).toContain('21 bytes');
  });

  it('counts an entry once however many jobs use it', async () => {
    const cache = createInputCache({ dir, maxBytes: 20 });
    await download(cache, key('a'), 10);
    await cache.reserve(key('a'), 10);
    expect(cache.usedBytes()).toBe(10);
    cache.release(key('a'));
    // Still pinned by the first reservation.
    await download(cache, key('b'), 10);
    await expect(cache.reserve(key('c'), 10)).rejects.toBeInstanceOf(TransferFailedError);
  });

  it('adopts what an earlier run left, oldest first, and drops a .part beside its complete copy', async () => {
    fs.writeFileSync(path.join(dir, key('a')), Buffer.alloc(10));
    fs.utimesSync(path.join(dir, key('a')), 1000, 1000);
    fs.writeFileSync(path.join(dir, key('b')), Buffer.alloc(10));
    fs.writeFileSync(path.join(dir, `${key('b')}.part`), Buffer.alloc(3));
    fs.writeFileSync(path.join(dir, 'unrelated.txt'), 'kept');
    const cache = createInputCache({ dir, maxBytes: 25 });
    await cache.reserve(key('c'), 5);
    expect(cache.isComplete(key('b'))).toBe(true);
    expect(fs.existsSync(path.join(dir, `${key('b')}.part`))).toBe(false);
    await cache.reserve(key('d'), 10);
    expect(fs.readdirSync(dir).sort()).toEqual([key('b'), 'unrelated.txt'].sort());
  });

  it('refuses a key that is not a sha256 digest', async () => {
    const cache = createInputCache({ dir, maxBytes: 20 });
    await expect(cache.reserve('../../etc/passwd', 1)).rejects.toBeInstanceOf(TypeError);
  });

  it('runs exclusive sections for one key one at a time', async () => {
    const cache = createInputCache({ dir, maxBytes: 20 });
    const order: string[] = [];
    let openFirst!: () => void;
    const firstMayEnd = new Promise<void>((r) => (openFirst = r));
    const first = cache.exclusive(key('a'), async () => {
      order.push('first in');
      await firstMayEnd;
      order.push('first out');
    });
    const second = cache.exclusive(key('a'), async () => void order.push('second'));
    const other = cache.exclusive(key('b'), async () => void order.push('other key'));
    await other;
    openFirst();
    await Promise.all([first, second]);
    expect(order).toEqual(['first in', 'other key', 'first out', 'second']);
  });
});
