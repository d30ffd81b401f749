import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createHashCache, sha256File, type FileHash } from '../../../../core/coordinator/transfer/hash-cache.ts';

let dir: string;
let file: string;
let reads: string[];
const countingHash = (p: string): Promise<FileHash> => {
  reads.push(p);
  return sha256File(p);
};

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'encodefarm-hash-'));
  file = path.join(dir, 'clip.mp4');
  fs.writeFileSync(file, 'first content');
  reads = [];
});

afterEach(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

const sha = (s: string) => createHash('sha256').update(s).digest('hex');

describe('sha256File', () => {
  it('streams a file through sha256', async () => {
    await expect(sha256File(file)).resolves.toEqual({ size: 13, sha256: sha('first content') });
  });
});

describe('createHashCache', () => {
  it('reads an unchanged file once', async () => {
    const cache = createHashCache({ hashFile: countingHash });
    const a = await cache.hash(file);
    const b = await cache.hash(file);
    expect(a).toEqual({ size: 13, sha256: sha('first content') });
    expect(b).toEqual(a);
    expect(reads).toEqual([file]);
  });

  it('shares one read between concurrent requests for the same file', async () => {
    const cache = createHashCache({ hashFile: countingHash });
    const all = await Promise.all([cache.hash(file), cache.hash(file), cache.hash(file)]);
    expect(new Set(all.map((h) => h.sha256)).size).toBe(1);
    expect(reads).toEqual([file]);
  });

  it('hashes again when the file was rewritten', async () => {
    const cache = createHashCache({ hashFile: countingHash });
    await cache.hash(file);
    fs.writeFileSync(file, 'second, longer content');
    await expect(cache.hash(file)).resolves.toEqual({ size: 22, sha256: sha('second, longer content') });
    expect(reads).toHaveLength(2);
  });

  it('hashes again when the file was replaced by another of the same size', async () => {
    const cache = createHashCache({ hashFile: countingHash });
    await cache.hash(file);
    const other = path.join(dir, 'other');
    fs.writeFileSync(other, 'other content');
    fs.renameSync(other, file);
    await expect(cache.hash(file)).resolves.toEqual({ size: 13, sha256: sha('other content') });
  });

  it('forgets the oldest entries beyond maxEntries', async () => {
    const cache = createHashCache({ hashFile: countingHash, maxEntries: 1 });
    const second = path.join(dir, 'b.mp4');
    fs.writeFileSync(second, 'b');
    await cache.hash(file);
    await cache.hash(second);
    await cache.hash(file);
    expect(reads).toEqual([file, second, file]);
  });

  it('rejects for a missing file', async () => {
    await expect(createHashCache().hash(path.join(dir, 'nope'))).rejects.toMatchObject({ code: 'ENOENT' });
  });
});
