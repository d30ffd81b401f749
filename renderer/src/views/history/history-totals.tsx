import type { HistoryResponse } from '../../../../core/shared/protocol/index.ts';
import { formatBytes, formatDuration } from '../../lib/format.ts';

/** "1.2 GB (34%)": how much smaller the outputs are than their sources. */
export function savedText(saved: number, input: number): string {
  return input > 0 ? `${formatBytes(saved)} (${Math.round((saved / input) * 100)}%)` : formatBytes(saved);
}

/** The farm's record at a glance: outcomes, time spent encoding, bytes read and written, space saved. */
export function HistoryTotals({ totals: t }: { totals: HistoryResponse['totals'] }) {
  const items: [string, string, string][] = [
    ['done', 'Done', String(t.done)],
    ['failed', 'Failed', String(t.failed)],
    ['canceled', 'Canceled', String(t.canceled)],
    ['encode', 'Encode time', formatDuration(t.encodeMs / 1000)],
    ['in', 'Read', formatBytes(t.inputBytes)],
    ['out', 'Written', formatBytes(t.outputBytes)],
    ['saved', 'Space saved', savedText(t.savedBytes, t.inputBytes)],
  ];
  return (
    <dl className="history-totals" data-testid="history-totals">
      {items.map(([key, label, value]) => (
        <div key={key} className={`history-total history-total--${key}`} data-total={key}>
          <dt>{label}</dt>
          <dd>{value}</dd>
        </div>
      ))}
    </dl>
  );
}
