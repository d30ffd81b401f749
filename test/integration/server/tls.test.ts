import crypto from 'node:crypto';
import fs from 'node:fs';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { PeerCertificate } from 'node:tls';
import { FingerprintMismatchError, normalizeFingerprint, pinnedConnection, verifiedTlsConnection } from '../../../core/agent/client/pinned-tls.ts';
import { allowedHostsFor } from '../../../core/coordinator/server/guards.ts';
import { createHttpServer, type FarmHttpServer } from '../../../core/coordinator/server/http-server.ts';
import { CertificateUnreadableError, loadOrCreateCertificate } from '../../../core/coordinator/server/tls.ts';
import { createAgentSockets, type AgentSockets } from '../../../core/coordinator/server/agent-sockets.ts';
import { PROTOCOL_VERSION } from '../../../core/shared/protocol/index.ts';
import { FakeClock } from '../../helpers/fake-clock.ts';
import {
  AGENT_ID,
  AGENT_SECRET,
  API_TOKEN,
  fakeAuthenticateAgent,
  fakeConnector,
  nextMessage,
  openSocket,
  rawExchange,
  recordingLogger,
} from './harness.ts';

let dir: string;
let server: FarmHttpServer | undefined;
let connector: ReturnType<typeof fakeConnector>;
let agentSockets: AgentSockets;

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'encodefarm-tls-'));
  connector = fakeConnector();
  agentSockets = createAgentSockets({ connect: connector.connect, clock: new FakeClock(), logger: recordingLogger() });
});

afterEach(async () => {
  await agentSockets.close();
  await server?.close();
  server = undefined;
  fs.rmSync(dir, { recursive: true, force: true });
});

type Pinning = 'options' | 'connection';

/** Refuses any certificate but the pinned one (what the agent's verifiedTlsConnection is given). */
function pinTo(fingerprint: string) {
  const expected = normalizeFingerprint(fingerprint);
  return (cert: PeerCertificate) => {
    const actual = normalizeFingerprint(cert.fingerprint256 ?? '');
    return actual === expected ? undefined : new FingerprintMismatchError(expected, actual);
  };
}

/**
 * GET over HTTPS trusting only the pinned fingerprint, pinned either with pinnedConnection or
 * with verifiedTlsConnection and a verifier; resolves with status and body.
 */
function pinnedGet(port: number, fingerprint: string, how: Pinning = 'connection'): Promise<{ status: number; body: string }> {
  // A createConnection is only used when no agent is given (not even `agent: false`).
  const pinning =
    how === 'options'
      ? { createConnection: pinnedConnection(fingerprint) }
      : { createConnection: verifiedTlsConnection(pinTo(fingerprint)) };
  return new Promise((resolve, reject) => {
    const req = https.request(
      { host: '127.0.0.1', port, path: '/api/v1/public', ...pinning } as https.RequestOptions,
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

describe('loadOrCreateCertificate', () => {
  it('creates a ten-year certificate for the hostnames, loopback and localhost, with a private key file', async () => {
    const made = await loadOrCreateCertificate(dir, ['farm.example', '10.1.2.3']);
    const x509 = new crypto.X509Certificate(made.cert);
    expect(x509.subjectAltName?.split(', ').sort()).toEqual(
      ['DNS:farm.example', 'DNS:localhost', 'IP Address:10.1.2.3', 'IP Address:127.0.0.1'].sort(),
    );
    const years = (Date.parse(x509.validTo) - Date.parse(x509.validFrom)) / (365.25 * 24 * 3600 * 1000);
    expect(Math.round(years)).toBe(10);
    expect(made.fingerprint256).toBe(x509.fingerprint256);
    expect(made.fingerprint256).toMatch(/^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
    expect(fs.statSync(path.join(dir, 'tls', 'key.pem')).mode & 0o777).toBe(0o600);
    expect(fs.readFileSync(path.join(dir, 'tls', 'cert.pem'), 'utf8')).toBe(made.cert);
  });

  it('reuses the certificate already on disk, so pinned agents keep trusting it', async () => {
    const first = await loadOrCreateCertificate(dir, ['a.example']);
    const second = await loadOrCreateCertificate(dir, ['b.example']);
    expect(second).toEqual(first);
  });

  it('refuses a damaged certificate instead of silently replacing it', async () => {
    await loadOrCreateCertificate(dir, ['a.example']);
    fs.writeFileSync(path.join(dir, 'tls', 'cert.pem'), 'not a certificate');
    await expect(loadOrCreateCertificate(dir, ['a.example'])).rejects.toBeInstanceOf(CertificateUnreadableError);
  });
});

describe('createHttpServer over TLS', () => {
  async function startTls(): Promise<{ port: number; fingerprint: string; url: string }> {
    const cert = await loadOrCreateCertificate(dir, ['localhost']);
    server = createHttpServer({
      routes: [{ method: 'GET', path: '/api/v1/public', auth: 'none', handler: (ctx) => ctx.send(200, { ok: true }) }],
      allowedHosts: ({ port }) => allowedHostsFor({ listenHost: '127.0.0.1', port }),
      apiToken: () => API_TOKEN,
      authenticateAgent: fakeAuthenticateAgent,
      upgrades: {
        '/api/v1/agent': (req, socket, head, agentId) => agentSockets.handleUpgrade(req, socket, head, agentId),
        '/api/v1/events': (_r, s) => s.destroy(),
      },
      tls: { key: cert.key, cert: cert.cert },
      logger: recordingLogger(),
    });
    const { port, url } = await server.listen('127.0.0.1', 0);
    return { port, fingerprint: cert.fingerprint256, url };
  }

  it('serves a client that pinned its fingerprint', async () => {
    const { port, fingerprint, url } = await startTls();
    expect(url).toBe(`https://127.0.0.1:${port}`);
    expect(await pinnedGet(port, fingerprint, 'connection')).toEqual({ status: 200, body: '{"ok":true}' });
    expect(await pinnedGet(port, fingerprint, 'options')).toEqual({ status: 200, body: '{"ok":true}' });
  });

  it('is refused by a client that pinned another certificate (verifiedTlsConnection)', async () => {
    const { port } = await startTls();
    const other = 'AB:'.repeat(31) + 'AB';
    await expect(pinnedGet(port, other, 'connection')).rejects.toBeInstanceOf(FingerprintMismatchError);
  });

  it('is refused by a client that pinned another certificate (pinnedConnection)', async () => {
    const { port } = await startTls();
    const other = 'AB:'.repeat(31) + 'AB';
    await expect(pinnedGet(port, other, 'options')).rejects.toBeInstanceOf(FingerprintMismatchError);
  });

  it('survives plain-text bytes on the TLS port and keeps serving', async () => {
    const { port, fingerprint } = await startTls();
    await rawExchange(port, 'GET / HTTP/1.1\r\nHost: x\r\n\r\n');
    await rawExchange(port, crypto.randomBytes(2048));
    expect((await pinnedGet(port, fingerprint)).status).toBe(200);
  });

  it('accepts an agent WebSocket over TLS', async () => {
    const { port } = await startTls();
    const outcome = await openSocket(`wss://127.0.0.1:${port}/api/v1/agent`, undefined, {
      headers: { Authorization: `Bearer ${AGENT_ID}:${AGENT_SECRET}` },
      // This test is about the server; pinning is covered above.
      rejectUnauthorized: false,
    });
    if (!outcome.ok) throw new Error(`refused: ${outcome.status}`);
    await connector.until(() => connector.sessions.length > 0);
    const incoming = nextMessage(outcome.ws);
    connector.sessions.at(-1)!.send({ v: PROTOCOL_VERSION, type: 'drain' });
    expect(await incoming).toEqual({ v: PROTOCOL_VERSION, type: 'drain' });
  });
});
