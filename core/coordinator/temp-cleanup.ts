import { promises as fsp } from 'node:fs';
import path from 'node:path';

/**
 * Deletes the temp files of a job's attempts up to and including `upToEpoch` beside its target
 * (dead processes, lost leases, failed attempts). Later epochs belong to a live attempt and are
 * left alone. Names are derived, never taken from a message, so nothing else can be deleted.
 */
export async function removeJobTemps(outputPath: string, jobId: number, upToEpoch: number): Promise<number> {
  const dir = path.dirname(outputPath);
  const prefix = `.${path.basename(outputPath)}.ef-${jobId}-`;
  let names: string[];
  try {
    names = await fsp.readdir(dir);
  } catch {
    return 0;
  }
  let removed = 0;
  for (const name of names) {
    if (!name.startsWith(prefix) || !name.endsWith('.part')) continue;
    const epoch = name.slice(prefix.length, -'.part'.length);
    if (!/^\d+$/.test(epoch) || Number(epoch) > upToEpoch) continue;
    try {
      await fsp.unlink(path.join(dir, name));
      removed++;
    } catch {
      // Already gone: another cleanup got there first.
    }
  }
  return removed;
}
