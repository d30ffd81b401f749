import type { AgentRow, AgentState, JobStore } from '../ports.ts';
import { writeTx, type Db } from './db.ts';

type Agents = Pick<
  JobStore,
  | 'addJoinToken'
  | 'redeemJoinToken'
  | 'getAgent'
  | 'listAgents'
  | 'setAgentState'
  | 'revokeAgent'
  | 'touchAgent'
  | 'blockedAgentsFor'
>;

interface AgentRecord {
  id: string;
  name: string;
  secret_hash: string;
  tags: string;
  state: AgentState;
  created_at: number;
  revoked_at: number | null;
  last_seen_at: number | null;
}

/** Failures of one job on one agent after which that agent no longer gets the job. */
export const BLOCKLIST_AFTER = 3;

function toAgentRow(r: AgentRecord): AgentRow {
  return {
    id: r.id,
    name: r.name,
    secretHash: r.secret_hash,
    tags: JSON.parse(r.tags) as string[],
    state: r.state,
    createdAt: r.created_at,
    revokedAt: r.revoked_at,
    lastSeenAt: r.last_seen_at,
  };
}

/** Enrollment (join tokens, agent identities) and the per-agent job blocklist. */
export function agents(db: Db): Agents {
  const insertToken = db.prepare('INSERT INTO join_tokens (hash, created_at, expires_at) VALUES (?, ?, ?)');
  const spendToken = db.prepare(
    'UPDATE join_tokens SET used_at = @now, used_by = @id WHERE hash = @hash AND used_at IS NULL AND expires_at > @now',
  );
  const insertAgent = db.prepare(`
    INSERT INTO agents (id, name, secret_hash, tags, created_at) VALUES (@id, @name, @secretHash, @tags, @now)`);
  const byId = db.prepare<[string], AgentRecord>('SELECT * FROM agents WHERE id = ?');
  const all = db.prepare<[], AgentRecord>('SELECT * FROM agents ORDER BY created_at, id');
  const setState = db.prepare('UPDATE agents SET state = ? WHERE id = ? AND revoked_at IS NULL');
  const revoke = db.prepare('UPDATE agents SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL');
  const touch = db.prepare('UPDATE agents SET last_seen_at = ? WHERE id = ?');
  const blocked = db
    .prepare<[number, number], string>('SELECT agent_id FROM job_agent_failures WHERE job_id = ? AND failures >= ? ORDER BY agent_id')
    .pluck();

  return {
    addJoinToken: (hash, now, expiresAt) => void insertToken.run(hash, now, expiresAt),
    redeemJoinToken: writeTx(db, (hash: string, agent: { id: string; name: string; secretHash: string; tags: string[] }, now: number) => {
      if (spendToken.run({ hash, now, id: agent.id }).changes !== 1) return 'invalid' as const;
      insertAgent.run({ ...agent, tags: JSON.stringify(agent.tags), now });
      return 'ok' as const;
    }),
    getAgent: (id) => {
      const r = byId.get(id);
      return r && toAgentRow(r);
    },
    listAgents: () => all.all().map(toAgentRow),
    setAgentState: (id, state) => setState.run(state, id).changes === 1,
    revokeAgent: (id, now) => revoke.run(now, id).changes === 1,
    touchAgent: (id, now) => void touch.run(now, id),
    blockedAgentsFor: (jobId) => blocked.all(jobId, BLOCKLIST_AFTER),
  };
}
