import type { JobView } from '../../../../core/shared/protocol/index.ts';
import { baseName, formatAgo, formatDuration, formatSizes } from '../../lib/format.ts';
import { savedText } from './history-totals.tsx';

function saved(j: JobView): string {
  return j.state === 'done' && j.inputSize !== null && j.outputSize !== null ? savedText(j.inputSize - j.outputSize, j.inputSize) : '—';
}

/** One page of finished jobs, newest first. */
export function HistoryTable({ jobs, now }: { jobs: readonly JobView[]; now: number }) {
  return (
    <table className="history-table">
      <thead>
        <tr>
          <th scope="col">File</th>
          <th scope="col">State</th>
          <th scope="col">Device</th>
          <th scope="col">Encode time</th>
          <th scope="col">Size</th>
          <th scope="col">Saved</th>
          <th scope="col">Finished</th>
          <th scope="col">Error</th>
        </tr>
      </thead>
      <tbody>
        {jobs.map((j) => (
          <tr key={j.id} data-testid="history-row" data-job-id={j.id} data-state={j.state}>
            <th scope="row" title={j.inputPath} className="history-file">
              {baseName(j.inputPath)}
            </th>
            <td className={`history-state history-state--${j.state}`}>{j.state}</td>
            <td title={j.agentId ?? undefined}>{j.deviceId ?? '—'}</td>
            <td>{formatDuration(j.encodeMs === null ? null : j.encodeMs / 1000)}</td>
            <td>{formatSizes(j.inputSize, j.outputSize)}</td>
            <td>{saved(j)}</td>
            <td title={j.finishedAt === null ? undefined : new Date(j.finishedAt).toLocaleString()}>{formatAgo(j.finishedAt, now)}</td>
            <td className="history-error">{j.state === 'failed' ? (j.errorMessage ?? j.errorKind ?? 'failed') : ''}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
