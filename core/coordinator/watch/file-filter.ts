import path from 'node:path';
import { isFarmTempName } from '../../shared/temp-names.ts';
import { VIDEO_EXTENSIONS, globToRegExp } from '../intake/inputs.ts';

/**
 * Names that are never a finished file: downloads and copies in progress (browsers, torrent
 * clients, rsync, Office locks), hidden files (which covers the farm's own `.x.ef-1-1.part`
 * temp outputs, checked again by name to be explicit) and editor temp files.
 */
const PARTIAL_NAME = [/\.part$/i, /\.crdownload$/i, /\.tmp$/i, /\.!qB$/i, /^~\$/, /^\./, /\.partial$/i, /\.download$/i];

export function isPartialName(name: string): boolean {
  return isFarmTempName(name) || PARTIAL_NAME.some((re) => re.test(name));
}

/** True when `p` is `dir` or inside it. */
export function isUnder(p: string, dir: string): boolean {
  const rel = path.relative(dir, p);
  return rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel));
}

export interface FileFilter {
  /** Whether a file (absolute path under the root) may become a job, judged by its name alone. */
  takesFile(abs: string): boolean;
  /** Whether a folder under the root is scanned (the output and archive folders never are). */
  entersDir(abs: string): boolean;
}

/**
 * What a watch folder looks at. A glob without `/` matches a base name, one with `/` the path
 * relative to the root (`/`-separated on every OS). No include globs: the video extensions.
 */
export function createFileFilter(opts: { root: string; include: readonly string[]; exclude: readonly string[]; excludedDirs: readonly string[] }): FileFilter {
  const compile = (g: string) => ({ re: globToRegExp(g), onPath: g.includes('/') });
  const include = opts.include.map(compile);
  const exclude = opts.exclude.map(compile);
  const rel = (abs: string) => path.relative(opts.root, abs).split(path.sep).join('/');
  const matches = (globs: typeof include, abs: string) => globs.some((g) => g.re.test(g.onPath ? rel(abs) : path.basename(abs)));
  return {
    takesFile(abs) {
      const name = path.basename(abs);
      if (isPartialName(name)) return false;
      if (opts.excludedDirs.some((d) => isUnder(abs, d))) return false;
      if (matches(exclude, abs)) return false;
      return include.length ? matches(include, abs) : VIDEO_EXTENSIONS.has(path.extname(name).toLowerCase());
    },
    entersDir(abs) {
      if (abs === opts.root) return true;
      if (path.basename(abs).startsWith('.')) return false;
      if (opts.excludedDirs.some((d) => isUnder(abs, d))) return false;
      return !matches(exclude, abs);
    },
  };
}
