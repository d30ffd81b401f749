import { lstatSync, promises as fsp } from 'node:fs';
import path from 'node:path';
import { OutputExistsError, OutputUnwritableError } from '../shared/errors.ts';
import type { OnExists } from './ports.ts';

/** Errors where hard links are unavailable (FAT/exFAT, some SMB mounts) and we fall back. */
const NO_LINK = new Set(['EPERM', 'ENOTSUP', 'EOPNOTSUPP', 'EXDEV', 'ENOSYS', 'EMLINK']);

/**
 * Moves a verified, fsynced temp file to its final name without ever replacing an existing file.
 * `link()` fails with EEXIST instead of overwriting, which makes the no-clobber check atomic; on
 * filesystems without hard links we fall back to an exclusive check + rename.
 * Returns the path actually used (a suffixed one when the policy is `suffix`).
 */
export async function commitOutput(tempPath: string, target: string, onExists: OnExists): Promise<string> {
  for (let n = 0; n < 1000; n++) {
    const candidate = n === 0 ? target : suffixed(target, n);
    const placed = await placeNoClobber(tempPath, candidate);
    if (placed) {
      await fsp.rm(tempPath, { force: true });
      await fsyncDir(path.dirname(candidate));
      return candidate;
    }
    if (onExists === 'skip') {
      await fsp.rm(tempPath, { force: true });
      throw new OutputExistsError(`${target}: already exists, left untouched (use --on-exists suffix to keep both)`);
    }
  }
  throw new OutputUnwritableError(`${target}: no free name after 1000 suffixes`);
}

/** `clip.mp4` → `clip (1).mp4` */
export function suffixed(target: string, n: number): string {
  const ext = path.extname(target);
  return `${target.slice(0, target.length - ext.length)} (${n})${ext}`;
}

async function placeNoClobber(tempPath: string, candidate: string): Promise<boolean> {
  try {
    await fsp.link(tempPath, candidate);
    return true;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? '';
    if (code === 'EEXIST') return false;
    if (!NO_LINK.has(code)) throw err;
  }
  if (await exists(candidate)) return false;
  await fsp.rename(tempPath, candidate);
  return true;
}

async function exists(p: string): Promise<boolean> {
  try {
    await fsp.lstat(p);
    return true;
  } catch {
    return false;
  }
}

async function fsyncDir(dir: string): Promise<void> {
  // Makes the new directory entry durable; not supported on Windows, where rename is journaled.
  if (process.platform === 'win32') return;
  const fh = await fsp.open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/**
 * True when something already sits at the target, a dangling symlink included: exactly when the
 * no-clobber link above would refuse it, so a job can be skipped before an encode is spent on it.
 */
export function targetTaken(target: string): boolean {
  try {
    lstatSync(target);
    return true;
  } catch {
    return false;
  }
}
