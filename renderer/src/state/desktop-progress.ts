import { useEffect } from 'react';
import { ACTIVE_STATES, JOB_STATES, isTerminal, type JobState } from '../../../core/shared/job-state.ts';
import type { EncodeFarmBridge } from '../bridge.ts';
import type { ApiClient } from '../api/client.ts';
import type { EventsHub } from '../app-context.tsx';
import { baseName } from '../lib/format.ts';

/** The taskbar is redrawn at most this often, however many frames arrive. */
const PROGRESS_EVERY_MS = 1000;
/** A batch is checked for "finished" this long after its last job ended (jobs end in bursts). */
const BATCH_CHECK_MS = 1500;
const OPEN_STATES = JOB_STATES.filter((s) => !isTerminal(s));

/**
 * Electron only: the taskbar/dock progress (mean progress of the active jobs, hidden when none)
 * and OS notifications when a job fails or a batch finishes, both driven by the live frames.
 */
export function useDesktopProgress(bridge: EncodeFarmBridge | undefined, events: EventsHub, api: ApiClient): void {
  useEffect(() => {
    if (!bridge) return;
    const active = new Map<number, number>();
    const states = new Map<number, JobState>();
    const announced = new Set<number>();
    const batchTimers = new Map<number, ReturnType<typeof setTimeout>>();
    let shown: number | null | undefined;
    let progressTimer: ReturnType<typeof setTimeout> | undefined;

    const drawProgress = () => {
      progressTimer = undefined;
      const values = [...active.values()];
      const fraction = values.length ? values.reduce((a, b) => a + b, 0) / values.length / 100 : null;
      const rounded = fraction === null ? null : Math.round(fraction * 100) / 100;
      if (rounded !== shown) bridge.setProgress((shown = rounded));
    };

    // One row of the batch's unfinished jobs says whether any are left (cheap at any size); the
    // label and counts then come with the last job's detail.
    const checkBatch = async (batchId: number, jobId: number) => {
      batchTimers.delete(batchId);
      const open = await api.jobs({ batchId, states: OPEN_STATES, limit: 1 });
      if (open.total > 0 || announced.has(batchId)) return;
      announced.add(batchId);
      const { batch } = await api.job(jobId);
      const c = batch.counts;
      bridge.notify('Batch finished', `${batch.label}: ${c.done ?? 0} done, ${c.failed ?? 0} failed, ${c.canceled ?? 0} canceled`);
    };

    const off = events.onFrame((frame) => {
      if (frame.type !== 'jobs') return;
      for (const job of frame.jobs) {
        const before = states.get(job.id);
        states.set(job.id, job.state);
        if (ACTIVE_STATES.has(job.state)) active.set(job.id, job.percent);
        else active.delete(job.id);
        if (job.state === 'failed' && before !== 'failed') {
          bridge.notify('Encode failed', `${baseName(job.inputPath)}: ${job.errorMessage ?? job.errorKind ?? 'failed'}`);
        }
        if (isTerminal(job.state) && before !== job.state) {
          clearTimeout(batchTimers.get(job.batchId));
          batchTimers.set(
            job.batchId,
            setTimeout(() => void checkBatch(job.batchId, job.id).catch(() => undefined), BATCH_CHECK_MS),
          );
        }
      }
      progressTimer ??= setTimeout(drawProgress, PROGRESS_EVERY_MS);
    });
    return () => {
      off();
      clearTimeout(progressTimer);
      batchTimers.forEach((t) => clearTimeout(t));
      bridge.setProgress(null);
    };
  }, [bridge, events, api]);
}
