import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { isTempNameFor } from '../shared/temp-names.ts';

/** Deletes every temp file a job's attempts left beside its target (dead processes, lost leases). */
export async function removeJobTemps(outputPath: string, jobId: number, known: string | null): Promise<number> {
  let removed = 0;
  if (known) removed += (await rmIfThere(known)) ? 1 : 0;
  const dir = path.dirname(outputPath);
  let names: string[];
  try {
    names = await fsp.readdir(dir);
  } catch {
    return removed;
  }
  for (const name of names) {
    if (isTempNameFor(name, outputPath, jobId) && (await rmIfThere(path.join(dir, name)))) removed++;
  }
  return removed;
}

async function rmIfThere(p: string): Promise<boolean> {
  try {
    await fsp.unlink(p);
    return true;
  } catch {
    return false;
  }
}
