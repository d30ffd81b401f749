import type { JobStore } from '../../coordinator/ports.ts';
import { statusView } from '../../coordinator/api/farm-api.ts';
import { renderStatus } from '../status-view.ts';
import { openData, UsageError, type CommonOptions, type Terminal } from '../context.ts';
import { printable, renderTable } from '../format.ts';
import { EXIT, superviseBatch, withFarmSession, type FarmOptions } from '../farm-session.ts';

export function parseIds(raw: readonly string[], what: string): number[] {
  if (raw.length === 0) throw new UsageError(`give at least one ${what} id (see \`encodefarm status\`)`);
  return raw.map((r) => {
    const n = Number(r);
    if (!Number.isInteger(n) || n <= 0) throw new UsageError(`"${r}" is not a ${what} id`);
    return n;
  });
}

/** `encodefarm status`: recent batches with counts per state, then the jobs of one batch. */
export function runStatus(opts: CommonOptions & { batch?: string; limit?: string }, term: Terminal): number {
  const data = openData(opts, term);
  try {
    const batchId = opts.batch ? parseIds([opts.batch], 'batch')[0]! : undefined;
    if (batchId !== undefined && !data.store.getBatch(batchId)) throw new UsageError(`no batch ${batchId}`);
    term.out(renderStatus(statusView(data.store, { batchId, limit: Number(opts.limit ?? 10) })));
    return EXIT.ok;
  } finally {
    data.store.close();
    data.closeLog();
  }
}

type Action = 'cancel' | 'pause' | 'resume';

/** `encodefarm cancel|pause|resume <ids…> [--batch]`: a running `encode` picks the change up. */
export function runJobAction(action: Action, rawIds: readonly string[], opts: CommonOptions & { batch?: boolean }, term: Terminal): number {
  const ids = parseIds(rawIds, opts.batch ? 'batch' : 'job');
  const data = openData(opts, term);
  try {
    const jobIds = opts.batch ? batchJobs(data.store, ids) : ids;
    if (opts.batch) for (const id of ids) setBatch(data.store, id, action);
    const now = Date.now();
    const changed =
      action === 'cancel' ? data.store.cancelJobs(jobIds, now) : action === 'pause' ? data.store.pauseJobs(jobIds) : data.store.resumeJobs(jobIds, now);
    term.out(`${action}: ${changed.length} job(s) changed${changed.length ? ` (${changed.join(', ')})` : ''}\n`);
    // Name each job left as it was and say why, so an id that was already done reads differently from a typo.
    if (!opts.batch) {
      for (const id of jobIds.filter((j) => !changed.includes(j))) {
        const job = data.store.getJob(id);
        const why = job ? (job.cancelRequested ? 'cancel already requested' : `already ${job.state}`) : 'no such job';
        term.out(`job ${id}: ${why}, nothing to ${action}\n`);
      }
    }
    return changed.length > 0 || opts.batch ? EXIT.ok : EXIT.failed;
  } finally {
    data.store.close();
    data.closeLog();
  }
}

function batchJobs(store: JobStore, batchIds: readonly number[]): number[] {
  return batchIds.flatMap((b) => {
    if (!store.getBatch(b)) throw new UsageError(`no batch ${b}`);
    return store.listJobs({ batchId: b }).map((j) => j.id);
  });
}

function setBatch(store: JobStore, id: number, action: Action): void {
  store.setBatchState(id, action === 'cancel' ? 'canceled' : action === 'pause' ? 'paused' : 'active');
}

/** `encodefarm retry <ids…> [--batch]`: puts failed, canceled or blocked jobs back and runs them. */
export async function runRetry(rawIds: readonly string[], opts: FarmOptions & { batch?: boolean }, term: Terminal, signal?: AbortSignal): Promise<number> {
  const ids = parseIds(rawIds, opts.batch ? 'batch' : 'job');
  return withFarmSession(opts, term, async (session) => {
    const { store } = session.data;
    const jobIds = opts.batch ? batchJobs(store, ids) : ids;
    const batches = [...new Set(jobIds.map((id) => store.getJob(id)?.batchId).filter((b): b is number => b !== undefined))];
    if (batches.length === 0) throw new UsageError(`no such job: ${ids.join(', ')}`);
    let code: number = EXIT.ok;
    for (const batchId of batches) {
      const mine = jobIds.filter((id) => store.getJob(id)?.batchId === batchId);
      code = Math.max(
        code,
        await superviseBatch(
          session,
          term,
          () => {
            store.setBatchState(batchId, 'active');
            const changed = session.farm.coordinator.retryJobs(mine);
            term.err(`retrying ${changed.length} job(s) of batch ${batchId}\n`);
            return batchId;
          },
          [],
          signal,
        ),
      );
      if (code === EXIT.interrupted) break;
    }
    return code;
  });
}

/** `encodefarm log <job>`: the job's attempts (device, outcome, reason) and its ffmpeg log tail. */
export function runLog(rawId: string, opts: CommonOptions & { lines?: string }, term: Terminal): number {
  const [id] = parseIds([rawId], 'job');
  const data = openData(opts, term);
  try {
    const job = data.store.getJob(id!);
    if (!job) throw new UsageError(`no job ${id}`);
    term.out(`job ${job.id} (batch ${job.batchId}): ${printable(job.inputPath)} → ${printable(job.finalPath ?? job.outputPath)}\n`);
    term.out(`state ${job.state}${job.errorMessage ? `: ${printable(job.errorMessage)}` : ''}\n\n`);
    const rows = data.store.listAttempts(job.id).map((a) => [
      String(a.epoch),
      a.deviceId,
      new Date(a.startedAt).toISOString().slice(11, 19),
      a.outcome ?? 'in flight',
      printable(a.errorMessage ?? ''),
    ]);
    term.out(renderTable(['epoch', 'device', 'started', 'outcome', 'reason'], rows) + '\n\n');
    const lines = data.store.logTail(job.id, Number(opts.lines ?? 50));
    term.out(lines.length ? `ffmpeg log (last ${lines.length} lines):\n${lines.map(printable).join('\n')}\n` : 'ffmpeg log: empty\n');
    return EXIT.ok;
  } finally {
    data.store.close();
    data.closeLog();
  }
}
