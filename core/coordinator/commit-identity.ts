import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { suffixed } from './output-commit.ts';

/** `dev:ino` of a file: stays the same through link(), so it identifies a committed output. */
export async function fileIdOf(p: string): Promise<string> {
  const st = await fsp.stat(p, { bigint: true });
  return `${st.dev}:${st.ino}`;
}

/**
 * Where a job's verified output ended up, if the commit got as far as linking it: the target or
 * one of its suffixed names holding the file with identity `fileId`.
 */
export async function findCommitted(target: string, fileId: string): Promise<{ path: string; size: number } | undefined> {
  const ext = path.extname(target);
  const stem = path.basename(target, ext);
  let names: string[];
  try {
    names = await fsp.readdir(path.dirname(target));
  } catch {
    return undefined;
  }
  const candidates = [target, ...names.filter((n) => isSuffixedOf(n, stem, ext)).map((n) => path.join(path.dirname(target), n))];
  for (const candidate of candidates) {
    try {
      const st = await fsp.stat(candidate, { bigint: true });
      if (`${st.dev}:${st.ino}` === fileId) return { path: candidate, size: Number(st.size) };
    } catch {
      // Not there (the target itself may be missing): try the next name.
    }
  }
  return undefined;
}

function isSuffixedOf(name: string, stem: string, ext: string): boolean {
  if (!name.startsWith(`${stem} (`) || !name.endsWith(`)${ext}`)) return false;
  const n = name.slice(stem.length + 2, name.length - ext.length - 1);
  return /^\d+$/.test(n) && path.basename(suffixed(`${stem}${ext}`, Number(n))) === name;
}
