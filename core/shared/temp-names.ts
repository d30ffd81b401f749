// No node:path here: core/shared is also compiled for the browser.
function splitPath(p: string): { dir: string; base: string; sep: string } {
  const i = Math.max(p.lastIndexOf('/'), p.lastIndexOf('\\'));
  const sep = i >= 0 ? p[i]! : '/';
  return { dir: i >= 0 ? p.slice(0, i) || sep : '.', base: p.slice(i + 1), sep };
}

/**
 * The temp name an attempt writes to, beside its final target: hidden, ends in `.part` (which
 * watch folders and other tools ignore), and derived from (job, epoch) so the coordinator can find
 * and delete the leftovers of a dead attempt even if it never heard of them.
 */
export function tempPathFor(outputPath: string, jobId: number, epoch: number): string {
  const { dir, base, sep } = splitPath(outputPath);
  return `${dir.endsWith(sep) ? dir : dir + sep}.${base}.ef-${jobId}-${epoch}.part`;
}

/** The epoch of `name` (a base name) when it is a temp file of `jobId` for `outputPath`. */
export function tempEpochOf(name: string, outputPath: string, jobId: number): number | undefined {
  const prefix = `.${splitPath(outputPath).base}.ef-${jobId}-`;
  if (!name.startsWith(prefix) || !name.endsWith('.part')) return undefined;
  const epoch = name.slice(prefix.length, -'.part'.length);
  return /^\d+$/.test(epoch) ? Number(epoch) : undefined;
}

/** True when `name` (a base name) is a temp file of `jobId` for `outputPath`, any epoch. */
export function isTempNameFor(name: string, outputPath: string, jobId: number): boolean {
  return tempEpochOf(name, outputPath, jobId) !== undefined;
}

/** True for any EncodeFarm temp output name. */
export function isFarmTempName(name: string): boolean {
  return /^\..+\.ef-\d+-\d+\.part$/.test(name);
}

/** `.clip.mp4.ef-3-1.part` → `clip.mp4`; any other name is returned as it is. */
export function finalNameOfTemp(name: string): string {
  const m = /^\.(.+)\.ef-\d+-\d+\.part$/.exec(name);
  return m ? m[1]! : name;
}
