import { useCallback, useEffect, useRef, useState } from 'react';
import type { HistoryResponse } from '../../../../core/shared/protocol/index.ts';
import { TERMINAL_STATES } from '../../../../core/shared/job-state.ts';
import { useApp, useFrames, usePoll } from '../../app-context.tsx';
import { EmptyState } from '../../components/empty-state.tsx';
import { ErrorBanner } from '../../components/error-banner.tsx';
import { HistoryTable } from './history-table.tsx';
import { HistoryTotals } from './history-totals.tsx';
import { ThroughputChart } from './throughput-chart.tsx';
import './history.css';

const HOUR = 3_600_000;
/** Time spans the chart can show, each with a bucket size that keeps it to a readable 24–30 bars. */
const RANGES = [
  { key: '24h', label: 'Last 24 hours', spanMs: 24 * HOUR, bucketMs: HOUR },
  { key: '7d', label: 'Last 7 days', spanMs: 7 * 24 * HOUR, bucketMs: 6 * HOUR },
  { key: '30d', label: 'Last 30 days', spanMs: 30 * 24 * HOUR, bucketMs: 24 * HOUR },
] as const;
type Range = (typeof RANGES)[number];

export const HISTORY_PAGE = 50;
/** Finishing jobs arrive in bursts; one refetch per this many ms is enough for totals and chart. */
const REFRESH_THROTTLE_MS = 2000;

/** Totals, a throughput chart and the finished jobs, refreshed as jobs finish. */
export function HistoryView() {
  const { api, now } = useApp();
  const [range, setRange] = useState<Range>(RANGES[0]);
  const [offset, setOffset] = useState(0);
  const [data, setData] = useState<{ res: HistoryResponse; from: number; to: number } | null>(null);
  const [error, setError] = useState<string | null>(null);
  // Only the newest request may land: paging quickly must not show an older page last.
  const seq = useRef(0);
  const lastLoad = useRef(0);
  const pending = useRef<ReturnType<typeof setTimeout> | undefined>(undefined);

  const load = useCallback(async () => {
    const mine = ++seq.current;
    lastLoad.current = Date.now();
    const to = now();
    const from = to - range.spanMs;
    try {
      const res = await api.history({ limit: HISTORY_PAGE, offset, bucketMs: range.bucketMs, since: from });
      if (mine !== seq.current) return;
      setData({ res, from, to });
      setError(null);
    } catch (err) {
      if (mine === seq.current) setError((err as Error).message);
    }
  }, [api, now, offset, range]);

  usePoll(() => void load(), 10_000);
  // usePoll already loaded on mount; this reloads when the page or the range changes.
  const first = useRef(true);
  useEffect(() => {
    if (first.current) first.current = false;
    else void load();
  }, [load]);
  useEffect(() => () => clearTimeout(pending.current), []);

  useFrames((f) => {
    if (f.type !== 'jobs') return;
    const shown = new Set(data?.res.jobs.map((j) => j.id));
    // A job that finished, or one on this page that left history (retried).
    if (!f.jobs.some((j) => TERMINAL_STATES.has(j.state) || shown.has(j.id)) || pending.current) return;
    const wait = Math.max(0, lastLoad.current + REFRESH_THROTTLE_MS - Date.now());
    pending.current = setTimeout(() => {
      pending.current = undefined;
      void load();
    }, wait);
  });

  const res = data?.res;
  return (
    <div className="history-view">
      <header className="history-header">
        <h1 className="view-title">History</h1>
        <label className="history-range">
          Chart{' '}
          <select
            name="range"
            data-testid="history-range"
            value={range.key}
            onChange={(e) => setRange(RANGES.find((r) => r.key === e.target.value) ?? RANGES[0])}
          >
            {RANGES.map((r) => (
              <option key={r.key} value={r.key}>
                {r.label}
              </option>
            ))}
          </select>
        </label>
      </header>
      <ErrorBanner error={error} />
      {res && res.total === 0 && offset === 0 && (
        <EmptyState title="Finished jobs appear here">
          <p>When encodes complete, fail or are canceled they are listed here with the space they saved.</p>
        </EmptyState>
      )}
      {res && (res.total > 0 || offset > 0) && data && (
        <>
          <HistoryTotals totals={res.totals} />
          <ThroughputChart buckets={res.throughput} bucketMs={range.bucketMs} from={data.from} to={data.to} />
          <HistoryTable jobs={res.jobs} now={now()} />
          <nav className="history-pager" aria-label="History pages">
            <button type="button" data-testid="history-prev" disabled={offset === 0} onClick={() => setOffset(Math.max(0, offset - HISTORY_PAGE))}>
              Newer
            </button>
            <span data-testid="history-page">
              {res.total === 0 ? 0 : offset + 1}–{Math.min(offset + res.jobs.length, res.total)} of {res.total}
            </span>
            <button type="button" data-testid="history-next" disabled={offset + HISTORY_PAGE >= res.total} onClick={() => setOffset(offset + HISTORY_PAGE)}>
              Older
            </button>
          </nav>
        </>
      )}
    </div>
  );
}
