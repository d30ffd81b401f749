import path from 'node:path';
import type { JobRow } from '../coordinator/ports.ts';
import { formatBytes, formatDuration, printable, renderTable } from './format.ts';

function result(job: JobRow): string {
  switch (job.state) {
    case 'done':
      return job.finalPath && job.finalPath !== job.outputPath ? `done → ${printable(path.basename(job.finalPath))}` : 'done';
    case 'failed':
      return job.errorKind === 'output-exists' ? 'skipped' : 'FAILED';
    case 'blocked':
      return 'BLOCKED';
    default:
      return job.state.toUpperCase();
  }
}

function speed(job: JobRow): string {
  if (!job.encodeMs || !job.durationS) return '-';
  return `${(job.durationS / (job.encodeMs / 1000)).toFixed(2)}x`;
}

/**
 * The final table of `encode`: one row per job (file, device, time, speed, size in → out,
 * result), then one line per file that did not end done with the reason, and a total.
 */
export function renderResults(jobs: readonly JobRow[], deviceLabel: (j: JobRow) => string, upfront: readonly string[] = []): string {
  const rows = jobs.map((j) => [
    printable(path.basename(j.inputPath)),
    j.state === 'done' ? deviceLabel(j) : '-',
    formatDuration(j.encodeMs),
    speed(j),
    `${formatBytes(j.inputSize)} → ${formatBytes(j.outputSize)}`,
    result(j),
  ]);
  const table = renderTable(['file', 'device', 'time', 'speed', 'size in → out', 'result'], rows);
  const problems = [
    ...upfront.map((e) => `✗ ${printable(e)}`),
    ...jobs.filter((j) => j.state !== 'done').map((j) => `✗ ${printable(j.inputPath)}: ${printable(j.errorMessage ?? j.blockReason ?? j.state)}`),
  ];
  const done = jobs.filter((j) => j.state === 'done').length;
  const summary = `${done}/${jobs.length + upfront.length} done and verified`;
  return [table, '', ...problems, ...(problems.length ? [''] : []), summary].join('\n');
}
