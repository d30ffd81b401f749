import { once } from 'node:events';
import { X509Certificate } from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { generate } from 'selfsigned';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { enroll, EnrollError } from '../../../core/agent/client/enroll.ts';

const SECRET = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMN-_0';
const TOKEN = `ef1.${SECRET}`;
const CREDS = { agentId: 'agt-00112233aabb', secret: 'Zz'.repeat(21) + 'q' };

type Handler = (body: unknown, res: http.ServerResponse) => void;

/** A stand-in enroll endpoint; records what it received. */
function enrollHandler(answer: Handler) {
  const seen: unknown[] = [];
  const listener = (req: http.IncomingMessage, res: http.ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (req.method !== 'POST' || req.url !== '/api/v1/agents/enroll') {
        res.writeHead(404).end();
        return;
      }
      const body: unknown = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      seen.push(body);
      answer(body, res);
    });
  };
  return { seen, listener };
}

const json = (res: http.ServerResponse, status: number, body: unknown) => {
  res.writeHead(status, { 'Content-Type': 'application/json' }).end(JSON.stringify(body));
};

/** Accepts exactly the token it was made for, once, like the coordinator. */
const oneTimeToken: Handler = (body, res) => {
  const token = (body as { token?: string }).token ?? '';
  if (token.split('.')[1] === SECRET) json(res, 200, CREDS);
  else json(res, 401, { error: { code: 'bad-token', message: 'unknown, used or expired join token' } });
};

const servers: http.Server[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) {
    s.closeAllConnections();
    await new Promise((r) => s.close(r));
  }
});

async function listen(server: http.Server): Promise<number> {
  servers.push(server);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return (server.address() as AddressInfo).port;
}

describe('enroll over http', () => {
  it('exchanges the token for credentials', async () => {
    const h = enrollHandler(oneTimeToken);
    const port = await listen(http.createServer(h.listener));
    const creds = await enroll({ coordinator: `http://127.0.0.1:${port}`, token: `${TOKEN}\n`, name: 'render-01', tags: ['gpu'] });
    expect(creds).toEqual(CREDS);
    expect(h.seen).toEqual([{ token: TOKEN, name: 'render-01', tags: ['gpu'] }]);
  });

  it('says the token was refused on 401, naming the coordinator', async () => {
    const h = enrollHandler(oneTimeToken);
    const port = await listen(http.createServer(h.listener));
    const coordinator = `http://127.0.0.1:${port}`;
    const err = await enroll({ coordinator, token: `ef1.${'x'.repeat(43)}`, name: 'a' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(EnrollError);
    expect((err as EnrollError).status).toBe(401);
    expect((err as EnrollError).code).toBe('bad-token');
    expect((err as Error).message).toContain(coordinator);
    expect((err as Error).message).toMatch(/refused.*used or expired/);
  });

  it('rejects an answer that does not match the schema', async () => {
    const h = enrollHandler((_b, res) => json(res, 200, { agentId: 'agt-1', secret: 'short' }));
    const port = await listen(http.createServer(h.listener));
    await expect(enroll({ coordinator: `http://127.0.0.1:${port}`, token: TOKEN, name: 'a' })).rejects.toThrow(/unexpected answer/);
  });

  it('reports other HTTP errors with their status', async () => {
    const h = enrollHandler((_b, res) => json(res, 500, { error: { code: 'internal', message: 'db locked' } }));
    const port = await listen(http.createServer(h.listener));
    await expect(enroll({ coordinator: `http://127.0.0.1:${port}`, token: TOKEN, name: 'a' })).rejects.toThrow(/HTTP 500 \(internal\): db locked/);
  });

  it('says "connection refused" when nothing listens, naming the coordinator', async () => {
    const port = await listen(http.createServer());
    const closed = servers.pop()!;
    await new Promise((r) => closed.close(r));
    const coordinator = `http://127.0.0.1:${port}`;
    const err = await enroll({ coordinator, token: TOKEN, name: 'a' }).catch((e: unknown) => e);
    expect((err as Error).message).toContain(coordinator);
    expect((err as Error).message).toMatch(/connection refused/);
  });

  it('times out when the coordinator never answers', async () => {
    const port = await listen(http.createServer(() => {}));
    await expect(enroll({ coordinator: `http://127.0.0.1:${port}`, token: TOKEN, name: 'a', timeoutMs: 200 })).rejects.toThrow(/no answer within/);
  });

  it('refuses to send a TLS token over plain HTTP', async () => {
    const h = enrollHandler(oneTimeToken);
    const port = await listen(http.createServer(h.listener));
    const token = `${TOKEN}.${'A'.repeat(32)}`;
    await expect(enroll({ coordinator: `http://127.0.0.1:${port}`, token, name: 'a' })).rejects.toThrow(/made for an HTTPS coordinator/);
    expect(h.seen).toEqual([]);
  });

  it('rejects a coordinator address that is not http(s)', async () => {
    await expect(enroll({ coordinator: 'ftp://127.0.0.1:1', token: TOKEN, name: 'a' })).rejects.toThrow(/http:\/\/ or https:\/\//);
  });
});

describe('enroll over https', () => {
  let tlsOpts: { key: string; cert: string };
  let fingerprint: string;
  beforeAll(async () => {
    const pems = await generate([{ name: 'commonName', value: 'encodefarm-test' }], { keyType: 'ec', algorithm: 'sha256' });
    tlsOpts = { key: pems.private, cert: pems.cert };
    // selfsigned's own `fingerprint` is SHA-1; the pin is SHA-256.
    fingerprint = new X509Certificate(pems.cert).fingerprint256;
  });

  const prefixOf = (fp: string) => fp.replace(/:/g, '').slice(0, 32);

  it('returns the full fingerprint when the certificate matches the token', async () => {
    const h = enrollHandler(oneTimeToken);
    const port = await listen(https.createServer(tlsOpts, h.listener));
    const creds = await enroll({ coordinator: `https://127.0.0.1:${port}`, token: `${TOKEN}.${prefixOf(fingerprint).toLowerCase()}`, name: 'a' });
    expect(creds).toEqual({ ...CREDS, fingerprint });
  });

  it('refuses a certificate that does not match, before sending the token', async () => {
    const h = enrollHandler(oneTimeToken);
    const port = await listen(https.createServer(tlsOpts, h.listener));
    const wrong = (prefixOf(fingerprint).startsWith('0') ? '1' : '0') + prefixOf(fingerprint).slice(1);
    const coordinator = `https://127.0.0.1:${port}`;
    const err = await enroll({ coordinator, token: `${TOKEN}.${wrong}`, name: 'a' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(EnrollError);
    expect((err as Error).message).toContain(coordinator);
    expect((err as Error).message).toMatch(/does not match the join token/);
    expect(h.seen).toEqual([]);
  });

  it('says a token without a fingerprint is for a plain-HTTP coordinator', async () => {
    const h = enrollHandler(oneTimeToken);
    const port = await listen(https.createServer(tlsOpts, h.listener));
    await expect(enroll({ coordinator: `https://127.0.0.1:${port}`, token: TOKEN, name: 'a' })).rejects.toThrow(
      /this join token was made for a plain-HTTP coordinator/,
    );
    expect(h.seen).toEqual([]);
  });
});
