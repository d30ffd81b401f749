import type { BatchView } from '../../../../core/shared/protocol/index.ts';

/** Order of the states in a header's counts: what is happening first, what is over last. */
const COUNT_ORDER = ['running', 'verifying', 'leased', 'queued', 'paused', 'blocked', 'done', 'failed', 'canceled'];

export function countsText(counts: Record<string, number>): string {
  return COUNT_ORDER.filter((s) => (counts[s] ?? 0) > 0)
    .map((s) => `${counts[s]} ${s}`)
    .join(' · ');
}

/**
 * The band above the first row of a run of jobs from one batch (grouping on). Batch-wide actions
 * act on the whole batch, including its rows not loaded yet.
 */
export function BatchHeader({
  batchId,
  batch,
  onAction,
}: {
  batchId: number;
  batch: BatchView | undefined;
  onAction(action: 'pause' | 'resume' | 'cancel', batchId: number): void;
}) {
  const label = batch?.label ?? `Batch #${batchId}`;
  return (
    <div className="batch-header" data-testid="batch-header" data-batch-id={batchId} role="row">
      <span role="gridcell" className="batch-label" title={label}>
        {label}
      </span>
      <span role="gridcell" className="batch-counts">
        {batch ? countsText(batch.counts) : ''}
      </span>
      <span role="gridcell" className="batch-actions">
        {(['pause', 'resume', 'cancel'] as const).map((a) => (
          <button
            key={a}
            type="button"
            className="button-quiet"
            data-testid={`batch-${a}`}
            aria-label={`${a[0]!.toUpperCase()}${a.slice(1)} all of ${label}`}
            onClick={(e) => {
              e.stopPropagation();
              onAction(a, batchId);
            }}
          >
            {a[0]!.toUpperCase() + a.slice(1)}
          </button>
        ))}
      </span>
    </div>
  );
}
