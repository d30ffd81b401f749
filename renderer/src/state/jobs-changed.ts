/**
 * A window event saying "the job list changed because of something this page did" (a submit, an
 * action), so the queue refreshes even when the events socket is down and cannot tell it.
 */
const JOBS_CHANGED = 'encodefarm:jobs-changed';

export function announceJobsChanged(): void {
  window.dispatchEvent(new Event(JOBS_CHANGED));
}

export function onJobsChanged(fn: () => void): () => void {
  window.addEventListener(JOBS_CHANGED, fn);
  return () => window.removeEventListener(JOBS_CHANGED, fn);
}
