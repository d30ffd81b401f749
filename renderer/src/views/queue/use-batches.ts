import { useEffect, useState } from 'react';
import type { BatchView } from '../../../../core/shared/protocol/index.ts';
import { useApp } from '../../app-context.tsx';
import { onJobsChanged } from '../../state/jobs-changed.ts';

/** Batch counts move with every finished job; headers may lag this much. */
const BATCHES_POLL_MS = 5000;

/**
 * Labels and counts of the recent batches (`GET /status`), for the group headers; only fetched
 * while grouping is on. A batch not among them gets a header with its id alone.
 */
export function useBatches(enabled: boolean): ReadonlyMap<number, BatchView> {
  const { api } = useApp();
  const [batches, setBatches] = useState<ReadonlyMap<number, BatchView>>(new Map());
  useEffect(() => {
    if (!enabled) return;
    let live = true;
    const load = () =>
      void api.status(undefined, { withJobs: false, limit: 100 }).then(
        (s) => live && setBatches(new Map(s.batches.map((b) => [b.id, b]))),
        () => undefined, // headers fall back to "Batch #id"; the list shows the API error itself
      );
    load();
    const timer = setInterval(load, BATCHES_POLL_MS);
    const off = onJobsChanged(load);
    return () => {
      live = false;
      clearInterval(timer);
      off();
    };
  }, [api, enabled]);
  return batches;
}
