import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Clock } from '../shared/clock.ts';
import type { JobStore } from './ports.ts';

/** @default 1 hour — how long a join token can be used (once). */
export const JOIN_TOKEN_TTL_MS = 60 * 60 * 1000;

/** The join token is unknown, already used or expired: the agent must get a new one. */
export class JoinTokenRefusedError extends Error {
  constructor() {
    super('join token is unknown, already used or expired: run `encodefarm agents join-token` on the coordinator for a new one');
    this.name = 'JoinTokenRefusedError';
  }
}

export type AgentAuth = { ok: true } | { ok: false; status: 401 | 403; code: string; message: string };

const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');
const secret32 = () => randomBytes(32).toString('base64url');

/**
 * Enrollment: single-use, short-lived join tokens turn into agent identities with their own
 * 256-bit secret. Only hashes of tokens and secrets are stored; secrets are compared in constant
 * time and appear in no log.
 */
export function createEnrollment(deps: {
  store: Pick<JobStore, 'addJoinToken' | 'redeemJoinToken' | 'getAgent'>;
  clock: Clock;
  /** TLS certificate fingerprint (`AB:CD:…`) when the coordinator serves HTTPS: the agent pins it. */
  fingerprint?: string;
  tokenTtlMs?: number;
}) {
  const { store, clock } = deps;
  const ttl = deps.tokenTtlMs ?? JOIN_TOKEN_TTL_MS;

  return {
    /** `ef1.<secret>` or, with TLS, `ef1.<secret>.<first 32 hex of the fingerprint>`. */
    issueJoinToken(): { token: string; expiresAt: number } {
      const secret = secret32();
      const now = clock.now();
      store.addJoinToken(sha256(secret), now, now + ttl);
      const pin = deps.fingerprint ? `.${deps.fingerprint.replace(/:/g, '').slice(0, 32).toUpperCase()}` : '';
      return { token: `ef1.${secret}${pin}`, expiresAt: now + ttl };
    },

    enroll(token: string, name: string, tags: string[]): { agentId: string; secret: string } {
      const secretPart = /^ef1\.([A-Za-z0-9_-]{43})(\.[0-9A-Fa-f]{32})?$/.exec(token)?.[1];
      if (!secretPart) throw new JoinTokenRefusedError();
      const agentId = `agt-${randomBytes(6).toString('hex')}`;
      const secret = secret32();
      const agent = { id: agentId, name, secretHash: sha256(secret), tags };
      if (store.redeemJoinToken(sha256(secretPart), agent, clock.now()) !== 'ok') throw new JoinTokenRefusedError();
      return { agentId, secret };
    },

    authenticate(agentId: string, secret: string): AgentAuth {
      const agent = store.getAgent(agentId);
      const presented = Buffer.from(sha256(secret), 'hex');
      // Compared even for an unknown id, so timing does not tell which ids exist.
      const expected = Buffer.from(agent?.secretHash ?? sha256(`unknown:${agentId}`), 'hex');
      const matches = timingSafeEqual(presented, expected);
      if (!agent || !matches) return { ok: false, status: 401, code: 'unknown-agent', message: 'unknown agent or wrong secret' };
      if (agent.revokedAt !== null) return { ok: false, status: 403, code: 'revoked', message: `agent ${agentId} was revoked` };
      return { ok: true };
    },
  };
}

export type Enrollment = ReturnType<typeof createEnrollment>;
