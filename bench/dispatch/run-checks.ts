import { promises as fsp } from 'node:fs';
import type { JobStore } from '../../core/coordinator/ports.ts';
import { isFarmTempName } from '../../core/shared/temp-names.ts';

/** What the end-of-run check found; `problems` empty means every job is done exactly once. */
export interface RunCheck {
  done: number;
  /** Jobs leased more than once (epoch > 1: a requeue on the way). */
  retried: number;
  outputs: number;
  problems: string[];
}

/**
 * Every job of the batch is done with its output at its planned path, the output folder holds
 * exactly one file per job, and no temp file is left behind.
 */
export async function checkRun(store: JobStore, batchId: number, jobs: number, outDir: string): Promise<RunCheck> {
  const rows = store.listJobs({ batchId });
  const problems: string[] = [];
  const notDone = rows.filter((j) => j.state !== 'done');
  if (rows.length !== jobs) problems.push(`${rows.length} jobs in the batch, expected ${jobs}`);
  if (notDone.length) problems.push(`${notDone.length} jobs not done (e.g. #${notDone[0]!.id} ${notDone[0]!.state} ${notDone[0]!.errorMessage ?? ''})`);
  const misplaced = rows.filter((j) => j.state === 'done' && j.finalPath !== j.outputPath);
  if (misplaced.length) problems.push(`${misplaced.length} outputs not at their planned path (e.g. ${misplaced[0]!.finalPath})`);

  const names = await fsp.readdir(outDir);
  const temps = names.filter(isFarmTempName);
  if (temps.length) problems.push(`${temps.length} temp files left in ${outDir} (e.g. ${temps[0]})`);
  const present = new Set(names.filter((n) => !isFarmTempName(n)).map((n) => `${outDir}/${n}`));
  const missing = rows.filter((j) => j.state === 'done' && !present.has(j.finalPath!));
  if (missing.length) problems.push(`${missing.length} done jobs without their output file (e.g. ${missing[0]!.finalPath})`);
  if (present.size !== jobs) problems.push(`${present.size} output files for ${jobs} jobs`);
  return { done: rows.length - notDone.length, retried: rows.filter((j) => j.epoch !== 1).length, outputs: present.size, problems };
}
