import { statSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import type { NewWatchFolder, WatchAfterAction } from '../ports.ts';
import { globToRegExp } from '../intake/inputs.ts';
import { normalisePath } from './fingerprint.ts';
import { WatchConfigError } from './watch-errors.ts';

/** A watch folder as the CLI and the API take it: `after` is `keep` or `archive:<dir>`. */
export const WatchFolderRequestSchema = z.object({
  path: z.string().min(1),
  preset: z.string().min(1),
  out: z.string().min(1),
  recursive: z.boolean().default(false),
  after: z.string().default('keep'),
  include: z.array(z.string().min(1)).default([]),
  exclude: z.array(z.string().min(1)).default([]),
  /** Seconds a file must stay unchanged; absent: 10 (30 on a network mount). */
  stableS: z.number().positive().max(86_400).optional(),
});
export type WatchFolderRequest = z.input<typeof WatchFolderRequestSchema>;

export function parseAfter(value: string, resolve: (p: string) => string, folder: string): WatchAfterAction {
  if (value === 'keep') return { kind: 'keep' };
  const m = /^archive:(.+)$/.exec(value);
  if (!m) throw new WatchConfigError(`${folder}: --after: expected keep or archive:<dir>, got "${value}"`, 'after');
  return { kind: 'archive', dir: resolve(m[1]!) };
}

/**
 * Checks a request against the farm (the preset exists, the folder is a folder, outputs and
 * archive never land on the watched folder itself) and resolves every path against `cwd`.
 * Throws WatchConfigError naming the folder and the field.
 */
export function validateWatchFolder(raw: unknown, ctx: { cwd: string; presetExists: (id: string) => boolean }): NewWatchFolder {
  const parsed = WatchFolderRequestSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const field = issue.path.join('.') || '(body)';
    const where = typeof (raw as { path?: unknown } | null)?.path === 'string' ? `${(raw as { path: string }).path}: ` : '';
    throw new WatchConfigError(`${where}${field}: ${issue.message}`, field);
  }
  const req = parsed.data;
  const resolve = (p: string) => normalisePath(path.resolve(ctx.cwd, p));
  const folder = resolve(req.path);
  let isDir = false;
  try {
    isDir = statSync(folder).isDirectory();
  } catch {
    throw new WatchConfigError(`${folder}: no such folder`, 'path');
  }
  if (!isDir) throw new WatchConfigError(`${folder}: not a folder`, 'path');
  if (!ctx.presetExists(req.preset)) throw new WatchConfigError(`${folder}: unknown preset "${req.preset}" (see \`encodefarm presets\`)`, 'preset');
  const outDir = resolve(req.out);
  if (outDir === folder) {
    throw new WatchConfigError(`${folder}: the output folder is the watched folder; outputs would be fed back in (use a sub-folder or another folder)`, 'out');
  }
  const after = parseAfter(req.after, resolve, folder);
  if (after.kind === 'archive' && (after.dir === folder || after.dir === outDir)) {
    throw new WatchConfigError(`${folder}: the archive folder must differ from the watched folder and the output folder`, 'after');
  }
  for (const [field, globs] of [['include', req.include], ['exclude', req.exclude]] as const) {
    for (const g of globs) {
      try {
        globToRegExp(g);
      } catch {
        throw new WatchConfigError(`${folder}: ${field}: "${g}" is not a usable pattern`, field);
      }
    }
  }
  return {
    path: folder,
    presetId: req.preset,
    outDir,
    recursive: req.recursive,
    include: req.include,
    exclude: req.exclude,
    after,
    stabilityMs: req.stableS === undefined ? null : Math.round(req.stableS * 1000),
  };
}

/** `keep` / `archive:<dir>`, as the CLI shows and takes it. */
export function afterLabel(after: WatchAfterAction): string {
  return after.kind === 'keep' ? 'keep' : `archive:${after.dir}`;
}
