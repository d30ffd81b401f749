import { promises as fsp, type Stats } from 'node:fs';
import path from 'node:path';
import { isFarmTempName } from '../../shared/temp-names.ts';

/** Extensions picked up when a folder is scanned; files named explicitly are always taken. */
export const VIDEO_EXTENSIONS = new Set([
  '.mp4', '.m4v', '.mkv', '.mov', '.avi', '.webm', '.ts', '.mts', '.m2ts', '.mxf', '.flv',
  '.wmv', '.mpg', '.mpeg', '.vob', '.3gp', '.ogv', '.dv', '.y4m',
]);

export interface InputFile {
  /** Absolute path of the source. */
  path: string;
  /** Sub-folder relative to the folder argument it was found under ('' for explicit files). */
  relDir: string;
}

export interface ExpandedInputs {
  files: InputFile[];
  /** One line per argument that produced nothing (no match, empty folder). */
  errors: string[];
  /** Scanned files left out because the farm wrote them (earlier outputs). */
  ownOutputs: number;
}

/**
 * Turns CLI arguments into source files: explicit files (kept even if they turn out not to be
 * videos, so they get a per-file error), folders scanned recursively for video extensions, and
 * quoted globs (`*`, `?`, `**`). Folders listed in `exclude` (the output folder) are skipped, as
 * are the farm's own temp files and outputs, so running the same command again is safe.
 */
export async function expandInputs(
  args: readonly string[],
  cwd: string,
  exclude: readonly string[],
  farmOutputsAmong: (paths: readonly string[]) => ReadonlySet<string> = () => new Set(),
): Promise<ExpandedInputs> {
  const files: InputFile[] = [];
  const errors: string[] = [];
  let ownOutputs = 0;
  // A scan never feeds the farm its own outputs back (a second run over the same folder).
  const notOurs = (found: string[]) => {
    const ours = farmOutputsAmong(found);
    ownOutputs += ours.size;
    return found.filter((p) => !ours.has(p));
  };
  const seen = new Set<string>();
  const excluded = exclude.map((e) => path.resolve(cwd, e));
  const add = (f: InputFile) => {
    if (!seen.has(f.path)) {
      seen.add(f.path);
      files.push(f);
    }
  };
  for (const arg of args) {
    const abs = path.resolve(cwd, arg);
    const st = await lstatOrNull(abs);
    if (st?.isDirectory()) {
      const found = notOurs(await scanFolder(abs, excluded));
      if (found.length === 0) errors.push(`${arg}: is a directory with no video files in it`);
      for (const p of found) add({ path: p, relDir: path.relative(abs, path.dirname(p)) });
    } else if (!st && hasGlob(arg)) {
      const found = notOurs(await expandGlob(abs, excluded));
      if (found.length === 0) errors.push(`${arg}: no files match`);
      for (const p of found) add({ path: p, relDir: '' });
    } else {
      add({ path: abs, relDir: '' });
    }
  }
  return { files, errors, ownOutputs };
}

async function lstatOrNull(p: string): Promise<Stats | null> {
  try {
    return await fsp.stat(p);
  } catch {
    return null;
  }
}

function isUnder(p: string, dir: string): boolean {
  const rel = path.relative(dir, p);
  return rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel));
}

/**
 * Files under `root` (sorted, for a stable submission order) that `take` accepts, skipping the
 * excluded folders and the farm's own temp files; never follows symlinked folders.
 */
async function walkFiles(root: string, excluded: readonly string[], maxDepth: number, take: (p: string) => boolean): Promise<string[]> {
  const out: string[] = [];
  const walk = async (dir: string, depth: number) => {
    if (excluded.some((e) => isUnder(dir, e))) return;
    let entries;
    try {
      entries = await fsp.readdir(dir, { withFileTypes: true });
    } catch {
      return;
    }
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const e of entries) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) {
        if (depth < maxDepth) await walk(p, depth + 1);
      } else if (e.isFile() && !isFarmTempName(e.name) && take(p)) out.push(p);
    }
  };
  await walk(root, 0);
  return out;
}

function scanFolder(root: string, excluded: readonly string[]): Promise<string[]> {
  return walkFiles(root, excluded, Infinity, (p) => VIDEO_EXTENSIONS.has(path.extname(p).toLowerCase()));
}

function hasGlob(s: string): boolean {
  return /[*?[]/.test(s);
}

/** Minimal glob: `*` and `?` within a name, `**` across folders, `[abc]` classes. */
export function globToRegExp(pattern: string): RegExp {
  let re = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === '*' && pattern[i + 1] === '*') {
      re += '.*';
      i++;
      if (pattern[i + 1] === '/' || pattern[i + 1] === path.sep) i++;
    } else if (c === '*') re += '[^/\\\\]*';
    else if (c === '?') re += '[^/\\\\]';
    else if (c === '[') {
      const end = pattern.indexOf(']', i);
      if (end < 0) re += '\\[';
      else {
        re += `[${pattern.slice(i + 1, end).replace(/\\/g, '\\\\')}]`;
        i = end;
      }
    } else re += c.replace(/[.+^${}()|\\]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
}

function expandGlob(absPattern: string, excluded: readonly string[]): Promise<string[]> {
  const parts = absPattern.split(path.sep);
  const firstGlob = parts.findIndex(hasGlob);
  const base = parts.slice(0, firstGlob).join(path.sep) || path.sep;
  const re = globToRegExp(absPattern);
  // Without `**` a match can only be as deep as the pattern; don't scan a whole tree for `*.mp4`.
  const maxDepth = absPattern.includes('**') ? Infinity : parts.length - firstGlob - 1;
  return walkFiles(base, excluded, maxDepth, (p) => re.test(p));
}
