import { isAbsolutePath, type WatchFolderCreate } from '../../../../core/shared/protocol/index.ts';

/** The add-folder form as typed; the keys are the inputs' `name`s and the `field-error-<name>` ids. */
export interface WatchDraft {
  path: string;
  presetId: string;
  outDir: string;
  recursive: boolean;
  afterAction: 'keep' | 'archive';
  archiveDir: string;
  include: string;
  exclude: string;
  /** '' = the coordinator's default (longer on network mounts). */
  stabilitySeconds: string;
}

export const WATCH_FIELDS = ['path', 'presetId', 'outDir', 'recursive', 'afterAction', 'archiveDir', 'include', 'exclude', 'stabilitySeconds'] as const;
export type WatchField = (typeof WATCH_FIELDS)[number];

export function emptyWatchDraft(presetId: string): WatchDraft {
  return { path: '', presetId, outDir: '', recursive: false, afterAction: 'keep', archiveDir: '', include: '', exclude: '', stabilitySeconds: '' };
}

/** Globs typed one per line or comma-separated (globs here have no braces, so a comma never belongs to one). */
export function splitGlobs(text: string): string[] {
  return text
    .split(/[,\n]/)
    .map((g) => g.trim())
    .filter((g) => g !== '');
}

export type WatchBody = { ok: true; body: WatchFolderCreate } | { ok: false; fields: Partial<Record<WatchField, string>> };

/**
 * The POST body, or the messages for what cannot be sent. Only what needs no look at the disk is
 * checked here, so those messages come without a round trip; whether the folders exist is the
 * coordinator's to say, since the paths are on its machine.
 */
export function watchBodyOf(d: WatchDraft): WatchBody {
  const fields: Partial<Record<WatchField, string>> = {};
  const path = d.path.trim();
  const outDir = d.outDir.trim();
  const archiveDir = d.archiveDir.trim();
  // Absolute only: a relative path would resolve against the coordinator's working directory,
  // which means nothing to whoever types it here.
  const folder = (f: WatchField, p: string, missing: string) => {
    if (!p) fields[f] = missing;
    else if (!isAbsolutePath(p)) fields[f] = 'must be an absolute path';
  };
  folder('path', path, 'give the folder to watch');
  if (!d.presetId) fields.presetId = 'choose a preset';
  folder('outDir', outDir, 'give the folder the outputs go to');
  if (d.afterAction === 'archive') folder('archiveDir', archiveDir, 'give the folder originals are moved to');
  const text = d.stabilitySeconds.trim();
  const seconds = text === '' ? null : Number(text);
  if (seconds !== null && !(Number.isFinite(seconds) && seconds > 0 && seconds <= 86_400)) {
    fields.stabilitySeconds = 'must be a number of seconds above 0 (at most 86400), or empty for the default';
  }
  if (Object.keys(fields).length) return { ok: false, fields };
  return {
    ok: true,
    body: {
      path,
      presetId: d.presetId,
      outDir,
      recursive: d.recursive,
      include: splitGlobs(d.include),
      exclude: splitGlobs(d.exclude),
      afterAction: d.afterAction,
      archiveDir: d.afterAction === 'archive' ? archiveDir : null,
      stabilityMs: seconds === null ? null : Math.max(1, Math.round(seconds * 1000)),
    },
  };
}

/**
 * Which input a server field message belongs to. The coordinator names fields as its request does
 * (`preset`, `out`, `after`, `stableS` …), which need not be the form's names.
 */
export function formFieldOf(serverField: string, d: WatchDraft): WatchField | null {
  const head = serverField.split('.')[0] ?? serverField;
  if ((WATCH_FIELDS as readonly string[]).includes(head)) return head as WatchField;
  switch (head) {
    case 'preset':
      return 'presetId';
    case 'out':
      return 'outDir';
    case 'after':
      return d.afterAction === 'archive' ? 'archiveDir' : 'afterAction';
    case 'stable':
    case 'stableS':
    case 'stabilityMs':
      return 'stabilitySeconds';
    default:
      return null;
  }
}

/** Server field messages sorted onto the inputs; the rest are shown above the buttons. */
export function sortFieldErrors(fields: Record<string, string>, d: WatchDraft): { byField: Partial<Record<WatchField, string>>; other: string[] } {
  const byField: Partial<Record<WatchField, string>> = {};
  const other: string[] = [];
  for (const [k, msg] of Object.entries(fields)) {
    const f = formFieldOf(k, d);
    if (f && !byField[f]) byField[f] = msg;
    else if (!f) other.push(`${k}: ${msg}`);
  }
  return { byField, other };
}
