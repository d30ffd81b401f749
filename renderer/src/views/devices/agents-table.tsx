import type { AgentView } from '../../../../core/shared/protocol/index.ts';
import { formatAgo } from '../../lib/format.ts';
import { ConfirmButton } from '../../components/confirm-button.tsx';

export type AgentAction = 'pause' | 'drain' | 'resume' | 'revoke';

export interface AgentsTableProps {
  agents: readonly AgentView[];
  now: number;
  /** Id of the agent whose action is in flight: its buttons wait. */
  pendingId: string | null;
  onAction(id: string, action: AgentAction): void;
}

function AgentActions({ agent: a, pending, onAction }: { agent: AgentView; pending: boolean; onAction: AgentsTableProps['onAction'] }) {
  if (a.revoked) return <span className="muted">revoked</span>;
  // This machine's own agent is not enrolled: it pauses and resumes, and stops with `serve`.
  const local = a.id.startsWith('local:');
  return (
    <div className="agent-actions">
      <button type="button" data-testid="agent-pause" disabled={pending || a.state === 'paused'} onClick={() => onAction(a.id, 'pause')}>
        Pause
      </button>
      <button type="button" data-testid="agent-drain" disabled={pending || local || a.state === 'draining'} onClick={() => onAction(a.id, 'drain')}>
        Drain
      </button>
      <button type="button" data-testid="agent-resume" disabled={pending || a.state === 'active'} onClick={() => onAction(a.id, 'resume')}>
        Resume
      </button>
      <ConfirmButton
        testId="agent-revoke"
        label="Revoke"
        question={`Revoke ${a.name}? It can no longer connect until it joins again.`}
        confirmLabel="Revoke"
        disabled={pending || local}
        onConfirm={() => onAction(a.id, 'revoke')}
      />
    </div>
  );
}

/** The agents of the farm with the controls an operator needs: pause, drain, resume, revoke. */
export function AgentsTable({ agents, now, pendingId, onAction }: AgentsTableProps) {
  return (
    <table className="agents-table">
      <thead>
        <tr>
          <th scope="col">Name</th>
          <th scope="col">ID</th>
          <th scope="col">Connection</th>
          <th scope="col">Tags</th>
          <th scope="col">Busy</th>
          <th scope="col">Last seen</th>
          <th scope="col">State</th>
          <th scope="col">Actions</th>
        </tr>
      </thead>
      <tbody>
        {agents.map((a) => {
          const slots = a.devices.reduce((n, d) => n + d.slots, 0);
          return (
            <tr key={a.id} data-testid="agent-row" data-agent-id={a.id} data-connected={String(a.connected)}>
              <th scope="row">{a.name}</th>
              <td className="mono">{a.id}</td>
              <td>
                <span className={a.connected ? 'agent-online' : 'agent-offline'}>{a.connected ? 'online' : 'offline'}</span>
              </td>
              <td>{a.tags.length ? a.tags.join(', ') : '—'}</td>
              <td>
                {a.busy} / {slots}
              </td>
              <td>{a.connected ? 'now' : formatAgo(a.lastSeenAt, now)}</td>
              <td data-testid="agent-state">{a.revoked ? 'revoked' : a.state}</td>
              <td>
                <AgentActions agent={a} pending={pendingId === a.id} onAction={onAction} />
              </td>
            </tr>
          );
        })}
      </tbody>
    </table>
  );
}
