import { JOB_STATES, type JobState } from '../../../../core/shared/job-state.ts';
import { JOB_SORTS, type JobSort } from '../../../../core/shared/protocol/index.ts';

export type JobAction = 'pause' | 'resume' | 'cancel' | 'retry' | 'bump' | 'debump';

export interface QueueFilters {
  state: JobState | 'all';
  text: string;
  sort: JobSort;
  dir: 'asc' | 'desc';
  grouped: boolean;
}

const SORT_LABELS: Record<JobSort, string> = {
  queue: 'Queue order',
  id: 'Added',
  input: 'File name',
  state: 'State',
  progress: 'Progress',
  size: 'Size',
  finished: 'Finished',
};

const ACTIONS: { action: JobAction; label: string; title: string }[] = [
  { action: 'pause', label: 'Pause', title: 'Pause the selected jobs' },
  { action: 'resume', label: 'Resume', title: 'Resume the selected paused jobs' },
  { action: 'cancel', label: 'Cancel', title: 'Cancel the selected jobs (Delete)' },
  { action: 'retry', label: 'Retry', title: 'Queue the selected failed or canceled jobs again' },
  { action: 'bump', label: 'Bump', title: 'Move the selected queued jobs to the head of the queue' },
  { action: 'debump', label: 'Down', title: 'Move the selected queued jobs to the tail of the queue' },
];

/** Filters, sort, grouping and the actions on the selection, above the queue grid. */
export function QueueToolbar({
  filters,
  onChange,
  counts,
  total,
  selected,
  busy,
  onAction,
}: {
  filters: QueueFilters;
  onChange(patch: Partial<QueueFilters>): void;
  counts: Record<string, number>;
  total: number | null;
  selected: number;
  busy: boolean;
  onAction(action: JobAction): void;
}) {
  const all = JOB_STATES.reduce((n, s) => n + (counts[s] ?? 0), 0);
  return (
    <div className="queue-toolbar" role="toolbar" aria-label="Queue filters and actions">
      <div className="toolbar-group">
        <input
          type="search"
          className="input"
          placeholder="Filter by file name…"
          aria-label="Filter by file name"
          data-testid="queue-filter-text"
          value={filters.text}
          onChange={(e) => onChange({ text: e.target.value })}
        />
        <select
          className="input"
          aria-label="Filter by state"
          data-testid="queue-filter-state"
          value={filters.state}
          onChange={(e) => onChange({ state: e.target.value as QueueFilters['state'] })}
        >
          <option value="all">All states ({all})</option>
          {JOB_STATES.map((s) => (
            <option key={s} value={s}>
              {s} ({counts[s] ?? 0})
            </option>
          ))}
        </select>
        <select
          className="input"
          aria-label="Sort by"
          data-testid="queue-sort"
          value={filters.sort}
          onChange={(e) => onChange({ sort: e.target.value as JobSort })}
        >
          {JOB_SORTS.map((s) => (
            <option key={s} value={s}>
              {SORT_LABELS[s]}
            </option>
          ))}
        </select>
        <button
          type="button"
          className="button"
          data-testid="queue-sort-dir"
          aria-label={filters.dir === 'asc' ? 'Ascending; switch to descending' : 'Descending; switch to ascending'}
          onClick={() => onChange({ dir: filters.dir === 'asc' ? 'desc' : 'asc' })}
        >
          {filters.dir === 'asc' ? '↑' : '↓'}
        </button>
        <label className="toggle">
          <input
            type="checkbox"
            data-testid="queue-group-batches"
            checked={filters.grouped}
            onChange={(e) => onChange({ grouped: e.target.checked })}
          />
          Group by batch
        </label>
        <span className="queue-count" data-testid="queue-count" aria-live="polite">
          {total === null ? 'Loading…' : `${total} ${total === 1 ? 'job' : 'jobs'}`}
        </span>
      </div>
      <div className="toolbar-group">
        <span className="muted">{selected > 0 ? `${selected} selected` : 'Select jobs to act on them'}</span>
        {ACTIONS.map(({ action, label, title }) => (
          <button
            key={action}
            type="button"
            className={action === 'cancel' ? 'button button-danger' : 'button'}
            data-testid={`action-${action}`}
            title={title}
            disabled={selected === 0 || busy}
            onClick={() => onAction(action)}
          >
            {label}
          </button>
        ))}
      </div>
    </div>
  );
}
