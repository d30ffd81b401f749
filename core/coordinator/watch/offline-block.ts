import type { JobStore } from '../ports.ts';

/** Every version of a watch folder's files gets its own batch: `watch:<folder>:v<version>`. */
export function watchBatchKeyPrefix(folderId: number): string {
  return `watch:${folderId}:v`;
}

export function watchBatchKey(folderId: number, version: number): string {
  return `${watchBatchKeyPrefix(folderId)}${version}`;
}

/** The start of every block reason an offline folder writes; how its jobs are found again. */
export function offlineReasonPrefix(root: string): string {
  return `watch folder offline: ${root} (`;
}

/** The block reason of a job held back because its folder is offline: names the folder and why. */
export function offlineReason(root: string, why: string): string {
  return `${offlineReasonPrefix(root)}${why})`;
}

export interface OfflineHoldDeps {
  store: Pick<JobStore, 'blockWatchFolderJobs' | 'listWatchFolderBlocked'>;
  /**
   * blocked → queued without touching attempts (the store's resume transition; in a running farm
   * the coordinator's, which also tells the UI and dispatches at once).
   */
  resumeJobs(ids: readonly number[]): number[];
}

/**
 * The queued jobs of an offline watch folder wait as `blocked` rather than being claimed and
 * failed on a missing source; when the folder returns exactly those go back to queued. Jobs in
 * flight are not touched: their lease and fencing decide what becomes of them, and one requeued
 * while the folder is still offline is held at the next look.
 */
export function createOfflineHold(folderId: number, root: string, deps: OfflineHoldDeps) {
  const scope = { batchKeyPrefix: watchBatchKeyPrefix(folderId), root };
  const prefix = offlineReasonPrefix(root);
  return {
    /** Blocks the folder's queued jobs (and re-words those it blocked before); returns the ids newly blocked. */
    hold: (why: string): number[] => deps.store.blockWatchFolderJobs(scope, prefix, offlineReason(root, why)),
    /** Queues again the jobs this folder blocked; returns their ids. */
    release(): number[] {
      const ids = deps.store.listWatchFolderBlocked(scope, prefix);
      return ids.length ? deps.resumeJobs(ids) : [];
    },
  };
}
