import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { tempEpochOf } from '../shared/temp-names.ts';

/**
 * Deletes the temp files of a job's attempts up to and including `upToEpoch` beside its target
 * (dead processes, lost leases, failed attempts). Later epochs belong to a live attempt and are
 * left alone. Names are derived, never taken from a message, so nothing else can be deleted.
 */
export async function removeJobTemps(outputPath: string, jobId: number, upToEpoch: number): Promise<number> {
  const dir = path.dirname(outputPath);
  let names: string[];
  try {
    names = await fsp.readdir(dir);
  } catch {
    return 0;
  }
  let removed = 0;
  for (const name of names) {
    const epoch = tempEpochOf(name, outputPath, jobId);
    if (epoch === undefined || epoch > upToEpoch) continue;
    try {
      await fsp.unlink(path.join(dir, name));
      removed++;
    } catch {
      // Already gone: another cleanup got there first.
    }
  }
  return removed;
}
