import path from 'node:path';
import type { Stats } from 'node:fs';
import type { FileFingerprint } from '../ports.ts';

/**
 * One spelling per file: absolute, `.`/`..` resolved, Unicode NFC (macOS hands out NFD names, a
 * copy from Linux NFC ones; the same name must not look like two files).
 */
export function normalisePath(p: string): string {
  return path.resolve(p).normalize('NFC');
}

export function fingerprintOf(p: string, st: Stats): FileFingerprint {
  return { path: normalisePath(p), size: st.size, mtimeMs: st.mtimeMs, inode: st.ino };
}

export function sameVersion(a: FileFingerprint, b: FileFingerprint): boolean {
  return a.path === b.path && a.size === b.size && a.mtimeMs === b.mtimeMs && a.inode === b.inode;
}
