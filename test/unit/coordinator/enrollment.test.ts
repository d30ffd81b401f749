import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createEnrollment, JOIN_TOKEN_TTL_MS, JoinTokenRefusedError, type Enrollment } from '../../../core/coordinator/enrollment.ts';
import type { JobStore } from '../../../core/coordinator/ports.ts';
import { openDb } from '../../../core/coordinator/store/db.ts';
import { openSqliteStore } from '../../../core/coordinator/store/sqlite-store.ts';
import { FakeClock } from '../../helpers/fake-clock.ts';

// A certificate fingerprint as node's X509Certificate.fingerprint256 writes it.
const FINGERPRINT = '3A:4B:5C:6D:7E:8F:90:A1:B2:C3:D4:E5:F6:07:18:29:3A:4B:5C:6D:7E:8F:90:A1:B2:C3:D4:E5:F6:07:18:29';

let dir: string;
let file: string;
let store: JobStore;
let clock: FakeClock;
let enrollment: Enrollment;

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'encodefarm-enrollment-'));
  file = path.join(dir, 'encodefarm.db');
  store = openSqliteStore({ file });
  clock = new FakeClock();
  enrollment = createEnrollment({ store, clock });
});

afterEach(() => {
  store.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

function joined(name = 'render-1', tags: string[] = []): { agentId: string; secret: string } {
  return enrollment.enroll(enrollment.issueJoinToken().token, name, tags);
}

describe('createEnrollment', () => {
  describe('join tokens', () => {
    it('issues ef1.<43 base64url chars> valid for an hour on a plain-HTTP coordinator', () => {
      const { token, expiresAt } = enrollment.issueJoinToken();
      expect(token).toMatch(/^ef1\.[A-Za-z0-9_-]{43}$/);
      expect(expiresAt).toBe(clock.now() + JOIN_TOKEN_TTL_MS);
      expect(JOIN_TOKEN_TTL_MS).toBe(60 * 60 * 1000);
    });

    it('adds the first 32 hex digits of the certificate fingerprint, upper-case without colons, under TLS', () => {
      const tls = createEnrollment({ store, clock, fingerprint: FINGERPRINT });
      const { token } = tls.issueJoinToken();
      expect(token).toMatch(/^ef1\.[A-Za-z0-9_-]{43}\.[0-9A-F]{32}$/);
      expect(token.split('.')[2]).toBe('3A4B5C6D7E8F90A1B2C3D4E5F6071829');
      // The pinned part travels with the token; enrolling with the whole token works.
      expect(tls.enroll(token, 'render-1', []).agentId).toMatch(/^agt-[0-9a-f]{12}$/);
    });

    it('issues a different token each time', () => {
      const tokens = new Set(Array.from({ length: 20 }, () => enrollment.issueJoinToken().token));
      expect(tokens.size).toBe(20);
    });

    it('stores only a hash of the token', () => {
      const { token } = enrollment.issueJoinToken();
      const secretPart = token.split('.')[1]!;
      const db = openDb(file);
      try {
        const hashes = db.prepare('SELECT hash FROM join_tokens').pluck().all() as string[];
        expect(hashes).toEqual([sha256(secretPart)]);
        expect(hashes.some((h) => h.includes(secretPart))).toBe(false);
      } finally {
        db.close();
      }
    });
  });

  describe('enroll', () => {
    it('turns a join token into an agt-<12 hex> identity with a 256-bit base64url secret, and keeps the tags', () => {
      const { agentId, secret } = joined('render-1', ['gpu', 'room-a']);
      expect(agentId).toMatch(/^agt-[0-9a-f]{12}$/);
      expect(secret).toMatch(/^[A-Za-z0-9_-]{43}$/);
      expect(Buffer.from(secret, 'base64url')).toHaveLength(32);
      expect(store.getAgent(agentId)).toMatchObject({ id: agentId, name: 'render-1', tags: ['gpu', 'room-a'], state: 'active', revokedAt: null });
    });

    it('stores only a hash of the secret', () => {
      const { agentId, secret } = joined();
      const row = store.getAgent(agentId)!;
      expect(row.secretHash).not.toBe(secret);
      expect(row.secretHash).not.toContain(secret);
      expect(row.secretHash).toBe(sha256(secret));
    });

    it('accepts a token once: a second enrollment with it is refused', () => {
      const { token } = enrollment.issueJoinToken();
      const first = enrollment.enroll(token, 'render-1', []);
      expect(() => enrollment.enroll(token, 'render-2', [])).toThrow(JoinTokenRefusedError);
      expect(store.listAgents().map((a) => a.id)).toEqual([first.agentId]);
    });

    it('refuses a token once its hour is over, and accepts it just before', () => {
      const early = enrollment.issueJoinToken().token;
      const late = enrollment.issueJoinToken().token;
      clock.advance(JOIN_TOKEN_TTL_MS - 1);
      expect(enrollment.enroll(early, 'render-1', []).agentId).toMatch(/^agt-/);
      clock.advance(1);
      expect(() => enrollment.enroll(late, 'render-2', [])).toThrow(JoinTokenRefusedError);
    });

    it('honours a shorter token lifetime', () => {
      const short = createEnrollment({ store, clock, tokenTtlMs: 1000 });
      const { token, expiresAt } = short.issueJoinToken();
      expect(expiresAt).toBe(clock.now() + 1000);
      clock.advance(1000);
      expect(() => short.enroll(token, 'render-1', [])).toThrow(JoinTokenRefusedError);
    });

    it('refuses tokens it never issued and malformed ones, with a message that says what to do', () => {
      const { token } = enrollment.issueJoinToken();
      const forged = `ef1.${'A'.repeat(43)}`;
      for (const bad of [forged, 'ef1.short', token.slice(0, -1), `ef2.${token.slice(4)}`, `${token}.nothex`, '']) {
        expect(() => enrollment.enroll(bad, 'render-1', [])).toThrow(JoinTokenRefusedError);
      }
      expect(() => enrollment.enroll(forged, 'render-1', [])).toThrow(/agents join-token/);
      expect(store.listAgents()).toEqual([]);
      // The good token was never spent by the failures.
      expect(enrollment.enroll(token, 'render-1', []).agentId).toMatch(/^agt-/);
    });
  });

  describe('authenticate', () => {
    it('accepts an enrolled agent with its secret', () => {
      const { agentId, secret } = joined();
      expect(enrollment.authenticate(agentId, secret)).toEqual({ ok: true });
    });

    it('refuses a wrong secret and an unknown id alike, with 401', () => {
      const { agentId, secret } = joined();
      const wrong = enrollment.authenticate(agentId, `${secret.slice(0, -1)}x`);
      const unknown = enrollment.authenticate('agt-000000000000', secret);
      expect(wrong).toMatchObject({ ok: false, status: 401 });
      // The answer does not tell which ids exist.
      expect(unknown).toEqual(wrong);
      expect(enrollment.authenticate(agentId, '')).toMatchObject({ ok: false, status: 401 });
    });

    it('refuses a revoked agent with 403 revoked, but only with its right secret', () => {
      const { agentId, secret } = joined();
      expect(store.revokeAgent(agentId, clock.now())).toBe(true);
      expect(enrollment.authenticate(agentId, secret)).toMatchObject({ ok: false, status: 403, code: 'revoked' });
      expect(enrollment.authenticate(agentId, 'not-the-secret')).toMatchObject({ ok: false, status: 401 });
    });

    it('keeps two agents apart: one agent secret does not open another identity', () => {
      const a = joined('render-a');
      const b = joined('render-b');
      expect(enrollment.authenticate(a.agentId, b.secret)).toMatchObject({ ok: false, status: 401 });
      expect(enrollment.authenticate(b.agentId, b.secret)).toEqual({ ok: true });
    });
  });
});
