import { TERMINAL_STATES, type JobState } from '../../core/shared/job-state.ts';
import type { FarmClient } from './farm-client.ts';

const hasWorkLeft = (counts: Record<string, number>) => Object.entries(counts).some(([s, n]) => n > 0 && !TERMINAL_STATES.has(s as JobState));

/** Batches looked at by the tray's pause/resume; older ones are long finished. */
const RECENT_BATCHES = 200;

/**
 * The tray's "pause all" and "resume all", as the API's batch actions: pausing a batch holds its
 * queued jobs while running encodes finish (no work thrown away); resuming releases paused
 * batches and any job paused on its own.
 */
export function createFarmActions(client: Pick<FarmClient, 'batches' | 'jobs' | 'jobAction'>) {
  return {
    /** Returns how many batches it paused. */
    async pauseAll(): Promise<number> {
      const ids = (await client.batches(RECENT_BATCHES)).filter((b) => b.state === 'active' && hasWorkLeft(b.counts)).map((b) => b.id);
      if (ids.length) await client.jobAction({ action: 'pause', ids, batch: true });
      return ids.length;
    },
    /** Returns how many batches and paused jobs it resumed. */
    async resumeAll(): Promise<number> {
      const ids = (await client.batches(RECENT_BATCHES)).filter((b) => b.state === 'paused').map((b) => b.id);
      if (ids.length) await client.jobAction({ action: 'resume', ids, batch: true });
      let resumed = ids.length;
      // Pages of paused jobs until none is left (each resume takes them out of the filter); the
      // cap stops a coordinator that keeps answering with the same jobs from looping forever.
      for (let i = 0; i < 100; i++) {
        const page = await client.jobs({ states: ['paused'], limit: 1000 });
        if (page.jobs.length === 0) break;
        const changed = await client.jobAction({ action: 'resume', ids: page.jobs.map((j) => j.id) });
        resumed += changed.length;
        if (changed.length === 0) break;
      }
      return resumed;
    },
  };
}

export type FarmActions = ReturnType<typeof createFarmActions>;
