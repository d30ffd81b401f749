import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createUploadStore } from '../../../../core/coordinator/transfer/upload-store.ts';
import { OutputUnwritableError } from '../../../../core/shared/errors.ts';

let dir: string;
let temp: string;

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'encodefarm-upload-'));
  temp = path.join(dir, 'out', '.clip.mkv.ef-1-1.part');
});

afterEach(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

const body = (...parts: string[]) => Readable.from(parts.map((p) => Buffer.from(p)));

/** A body that delivers `first`, then breaks off like a dropped connection. */
async function* brokenBody(first: string): AsyncGenerator<Buffer> {
  yield Buffer.from(first);
  throw new Error('aborted');
}

describe('createUploadStore', () => {
  it('starts at offset 0 and creates the folder on the first append', async () => {
    const store = createUploadStore();
    expect(await store.offset(temp)).toBe(0);
    await expect(store.append(temp, 0, body('abc', 'def'))).resolves.toEqual({ ok: true, offset: 6 });
    await expect(store.append(temp, 6, body('gh'))).resolves.toEqual({ ok: true, offset: 8 });
    expect(fs.readFileSync(temp, 'utf8')).toBe('abcdefgh');
    expect(await store.offset(temp)).toBe(8);
  });

  it('refuses an offset other than the bytes held, writing nothing', async () => {
    const store = createUploadStore();
    await store.append(temp, 0, body('abc'));
    await expect(store.append(temp, 2, body('XYZ'))).resolves.toEqual({ ok: false, reason: 'offset-mismatch', offset: 3 });
    await expect(store.append(temp, 4, body('XYZ'))).resolves.toEqual({ ok: false, reason: 'offset-mismatch', offset: 3 });
    expect(fs.readFileSync(temp, 'utf8')).toBe('abc');
  });

  it('keeps what arrived before a body broke off, so the upload resumes from there', async () => {
    const store = createUploadStore();
    await expect(store.append(temp, 0, brokenBody('partial'))).rejects.toThrow('aborted');
    expect(await store.offset(temp)).toBe(7);
    await store.append(temp, 7, body(' rest'));
    expect(fs.readFileSync(temp, 'utf8')).toBe('partial rest');
  });

  it('serialises appends: of two at the same offset, one lands and the other is told the new offset', async () => {
    const store = createUploadStore();
    const results = await Promise.all([store.append(temp, 0, body('one')), store.append(temp, 0, body('two'))]);
    expect(results).toEqual([
      { ok: true, offset: 3 },
      { ok: false, reason: 'offset-mismatch', offset: 3 },
    ]);
    expect(fs.readFileSync(temp, 'utf8')).toBe('one');
  });

  it('refuses past maxBytes, up front from the declared length or while streaming', async () => {
    const store = createUploadStore({ maxBytes: 5 });
    await expect(store.append(temp, 0, body('123456'), 6)).resolves.toEqual({ ok: false, reason: 'too-large', offset: 0 });
    expect(fs.existsSync(temp)).toBe(false);
    await expect(store.append(temp, 0, body('123', '456'))).resolves.toEqual({ ok: false, reason: 'too-large', offset: 3 });
    expect(fs.readFileSync(temp, 'utf8')).toBe('123');
  });

  it('maps a folder that cannot be made to OutputUnwritableError', async () => {
    fs.writeFileSync(path.join(dir, 'out'), 'a file where the folder should be');
    await expect(createUploadStore().append(temp, 0, body('x'))).rejects.toBeInstanceOf(OutputUnwritableError);
  });
});
