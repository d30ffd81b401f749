import type { AttemptView } from '../../../../core/shared/protocol/index.ts';
import { agentLabel, formatAgo, formatDuration } from '../../lib/format.ts';

/** Every try at this job: where it ran, how it ended and why. */
export function AttemptsTable({ attempts, now }: { attempts: readonly AttemptView[]; now: number }) {
  if (attempts.length === 0) {
    return (
      <p className="muted" data-testid="job-attempts">
        Not started yet.
      </p>
    );
  }
  return (
    <table className="table" data-testid="job-attempts">
      <thead>
        <tr>
          <th scope="col">#</th>
          <th scope="col">Device</th>
          <th scope="col">Agent</th>
          <th scope="col">Started</th>
          <th scope="col">Took</th>
          <th scope="col">Outcome</th>
          <th scope="col">Reason</th>
        </tr>
      </thead>
      <tbody>
        {attempts.map((a) => (
          <tr key={a.epoch} data-testid="job-attempt">
            <td>{a.epoch}</td>
            <td>{a.deviceId}</td>
            <td title={a.agentId}>{agentLabel(a.agentId)}</td>
            <td>{formatAgo(a.startedAt, now)}</td>
            <td>{formatDuration(((a.endedAt ?? now) - a.startedAt) / 1000)}</td>
            <td>{a.outcome ?? (a.endedAt === null ? 'running' : '—')}</td>
            <td>{[a.errorKind, a.errorMessage].filter(Boolean).join(': ') || '—'}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
