import { z } from 'zod';
import type { HistoryResponse } from '../../shared/protocol/index.ts';
import { HttpError } from '../server/http-errors.ts';
import type { JobStore } from '../ports.ts';
import { jobView } from './job-view.ts';
import { intParam, parseQuery } from './query-params.ts';

const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;
/** A chart has at most this many bars. */
export const MAX_BUCKETS = 500;

/** GET /history as the query string carries it; unknown parameters are ignored. */
const HistoryParamsSchema = z.object({
  offset: intParam(0, 1_000_000_000).optional(),
  limit: intParam(1, 1000).optional(),
  bucketMs: intParam(1000, 366 * DAY_MS).optional(),
  since: intParam(0, Number.MAX_SAFE_INTEGER).optional(),
});

/** Bucket-aligned start and bucket count from `since` to now (the current bucket included). */
function bucketsOf(since: number, bucketMs: number, now: number): { start: number; count: number } {
  if (since > now) throw new HttpError(400, 'invalid-query', 'since: must not be in the future', {}, { since: 'must not be in the future' });
  const start = Math.floor(since / bucketMs) * bucketMs;
  const count = Math.floor((now - start) / bucketMs) + 1;
  if (count > MAX_BUCKETS) {
    const message = `${count} buckets of ${bucketMs} ms since ${since}; at most ${MAX_BUCKETS} (use a larger bucketMs or a later since)`;
    throw new HttpError(400, 'invalid-query', `bucketMs: ${message}`, {}, { bucketMs: message });
  }
  return { start, count };
}

/**
 * GET /history: totals over every finished job (space saved included), one page of finished jobs
 * newest first, and done/failed counts per time bucket since `since` (default: the last 24 h, by hour).
 */
export function historyView(
  store: Pick<JobStore, 'historyTotals' | 'listFinished' | 'throughput'>,
  query: URLSearchParams,
  now: number,
): HistoryResponse {
  const p = parseQuery(query, HistoryParamsSchema);
  const bucketMs = p.bucketMs ?? HOUR_MS;
  const { start, count } = bucketsOf(p.since ?? now - DAY_MS, bucketMs, now);
  const totals = store.historyTotals();
  return {
    totals,
    total: totals.done + totals.failed + totals.canceled,
    jobs: store.listFinished(p.offset ?? 0, p.limit ?? 200).map(jobView),
    throughput: store.throughput(start, bucketMs, count),
  };
}
