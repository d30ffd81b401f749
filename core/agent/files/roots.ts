import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { RootRefusedError } from '../../shared/errors.ts';

/** What the path is for, named in the refusal. */
export type RootUse = 'input' | 'output';

/**
 * The real location of `p`: symlinks resolved for the part that exists, the rest (a temp file not
 * yet written, a folder the encode will create) appended as it is. A dangling symlink is refused
 * outright: writing through it would create a file wherever it points.
 */
async function realLocation(p: string): Promise<string> {
  const missing: string[] = [];
  let at = path.resolve(p);
  for (;;) {
    let isLink = false;
    try {
      isLink = (await fsp.lstat(at)).isSymbolicLink();
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT' && (err as NodeJS.ErrnoException).code !== 'ENOTDIR') throw err;
      const parent = path.dirname(at);
      if (parent === at) return path.join(at, ...missing);
      missing.unshift(path.basename(at));
      at = parent;
      continue;
    }
    try {
      return path.join(await fsp.realpath(at), ...missing);
    } catch (err) {
      if (isLink) throw new Error(`${at} is a dangling symbolic link`);
      throw err;
    }
  }
}

function isInside(p: string, root: string): boolean {
  const rel = path.relative(root, p);
  return rel === '' || (rel !== '..' && !rel.startsWith('..' + path.sep) && !path.isAbsolute(rel));
}

/**
 * Throws RootRefusedError unless `p` lies inside one of `roots` (the agent's `--root` folders)
 * once both are resolved and, where they exist, their symlinks followed: a link inside a root that
 * points outside it is outside. No roots means the agent was given none, so nothing is allowed.
 * Returns the real location that was checked.
 */
export async function assertUnderRoots(p: string, roots: readonly string[], what: RootUse): Promise<string> {
  if (roots.length === 0) {
    throw new RootRefusedError(`${what} ${p}: refused, this agent has no --root (give it --root <folder> for the folders it may use)`);
  }
  let real: string;
  try {
    real = await realLocation(p);
  } catch (err) {
    throw new RootRefusedError(`${what} ${p}: refused, cannot resolve it (${(err as Error).message})`);
  }
  for (const root of roots) {
    const realRoot = await realLocation(root).catch(() => path.resolve(root));
    if (isInside(real, realRoot)) return real;
  }
  const shown = real === path.resolve(p) ? '' : ` (resolves to ${real})`;
  throw new RootRefusedError(`${what} ${p}${shown}: refused, outside this agent's roots (${roots.join(', ')})`);
}
