import { useCallback, useMemo, useState } from 'react';
import { useApp } from '../../app-context.tsx';
import { EmptyState } from '../../components/empty-state.tsx';
import { ErrorBanner } from '../../components/error-banner.tsx';
import { navigate, useHashRoute } from '../../state/hash-route.ts';
import { useDebounced } from '../../state/use-debounced.ts';
import { QueueList } from './queue-list.tsx';
import { QueueToolbar, type JobAction, type QueueFilters } from './queue-toolbar.tsx';
import { useBatches } from './use-batches.ts';
import { useJobPages, type JobListQuery } from './use-job-pages.ts';
import { useSelection } from './use-selection.ts';

/** Typing in the filter box asks the API once the user pauses this long. */
const FILTER_DEBOUNCE_MS = 250;

const PAST: Record<JobAction, string> = {
  pause: 'Paused',
  resume: 'Resumed',
  cancel: 'Canceled',
  retry: 'Queued again',
  bump: 'Moved to the head',
  debump: 'Moved to the tail',
};

/** The job queue: filters and actions over a virtualised, live-updating grid of every job. */
export function QueueView() {
  const { api } = useApp();
  const route = useHashRoute();
  const [filters, setFilters] = useState<QueueFilters>({ state: 'all', text: '', sort: 'queue', dir: 'asc', grouped: false });
  const text = useDebounced(filters.text.trim(), FILTER_DEBOUNCE_MS);
  const query = useMemo<JobListQuery>(
    () => ({ states: filters.state === 'all' ? [] : [filters.state], q: text, sort: filters.sort, dir: filters.dir }),
    [filters.state, filters.sort, filters.dir, text],
  );
  const pages = useJobPages(query);
  const batches = useBatches(filters.grouped);
  const rowAt = useCallback((i: number) => pages.cache.get(i), [pages.cache]);
  const selection = useSelection(rowAt, JSON.stringify(query));
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [notice, setNotice] = useState('');

  /** Selected ids in list order (bump/debump keep the order the user sees). */
  const selectedIds = () =>
    [...selection.ids].sort((a, b) => (pages.cache.indexOf(a) ?? Infinity) - (pages.cache.indexOf(b) ?? Infinity));

  async function run(what: () => Promise<{ changed: number[] }>, done: (changed: number) => string) {
    setBusy(true);
    setError(null);
    try {
      const res = await what();
      setNotice(done(res.changed.length));
      pages.refresh();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  }

  function act(action: JobAction, ids = selectedIds()) {
    if (ids.length === 0) return;
    void run(() => api.jobAction({ action, ids }), (n) => `${PAST[action]}: ${n} of ${ids.length} job${ids.length === 1 ? '' : 's'}`);
  }

  function cancelFromKeyboard() {
    const active = pages.cache.get(selection.active);
    act('cancel', selection.ids.size > 0 ? selectedIds() : active ? [active.id] : []);
  }

  const filtered = filters.state !== 'all' || text !== '';
  const empty = filtered ? (
    <EmptyState title="No jobs match these filters">
      <button type="button" className="button" onClick={() => setFilters((f) => ({ ...f, state: 'all', text: '' }))}>
        Clear filters
      </button>
    </EmptyState>
  ) : (
    <EmptyState title="No jobs yet">Drop video files or folders here, or use Add files…</EmptyState>
  );

  return (
    <section className="queue-view" aria-label="Queue">
      <QueueToolbar
        filters={filters}
        onChange={(patch) => setFilters((f) => ({ ...f, ...patch }))}
        counts={pages.counts}
        total={pages.total}
        selected={selection.ids.size}
        busy={busy}
        onAction={(a) => act(a)}
      />
      <ErrorBanner error={error ?? pages.error} onDismiss={error ? () => setError(null) : undefined} />
      <p className="queue-notice" role="status">
        {notice}
      </p>
      <QueueList
        pages={pages}
        selection={selection}
        grouped={filters.grouped}
        batches={batches}
        reorderable={filters.sort === 'queue' && filters.dir === 'asc'}
        openJobId={route.jobId}
        onOpen={(jobId) => navigate({ view: 'queue', jobId })}
        onCancel={cancelFromKeyboard}
        onMove={(ids, before) => void run(() => api.moveJobs(ids, before), (n) => `Moved ${n} job${n === 1 ? '' : 's'}`)}
        onBatchAction={(action, batchId) =>
          void run(() => api.jobAction({ action, ids: [batchId], batch: true }), (n) => `${PAST[action]}: ${n} job${n === 1 ? '' : 's'} of the batch`)
        }
        empty={empty}
      />
    </section>
  );
}
