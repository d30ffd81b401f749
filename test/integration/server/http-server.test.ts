import crypto from 'node:crypto';
import { EventEmitter } from 'node:events';
import os from 'node:os';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import type { CoordinatorEvents } from '../../../core/coordinator/coordinator.ts';
import { createAgentSockets, type AgentSockets } from '../../../core/coordinator/server/agent-sockets.ts';
import { createEventsSocket, type EventsSocket } from '../../../core/coordinator/server/events-socket.ts';
import { allowedHostsFor } from '../../../core/coordinator/server/guards.ts';
import { HttpError } from '../../../core/coordinator/server/http-errors.ts';
import { createHttpServer, type FarmHttpServer } from '../../../core/coordinator/server/http-server.ts';
import type { Route } from '../../../core/coordinator/server/router.ts';
import { FakeClock } from '../../helpers/fake-clock.ts';
import {
  AGENT_ID,
  AGENT_SECRET,
  API_TOKEN,
  REVOKED_AGENT_ID,
  closed,
  fakeAuthenticateAgent,
  fakeConnector,
  openSocket,
  parseRawResponse,
  rawExchange,
  recordingLogger,
  request,
} from './harness.ts';

const EchoSchema = z.object({ name: z.string(), count: z.number().int() });

const routes: Route[] = [
  { method: 'GET', path: '/api/v1/ping', auth: 'api', handler: (ctx) => ctx.send(200, { principal: ctx.principal }) },
  {
    method: 'POST',
    path: '/api/v1/echo',
    auth: 'api',
    handler: async (ctx) => ctx.send(200, await ctx.readJson(EchoSchema, 1024)),
  },
  { method: 'GET', path: '/api/v1/mine', auth: 'agent', handler: (ctx) => ctx.send(200, { principal: ctx.principal }) },
  { method: 'GET', path: '/api/v1/public', auth: 'none', handler: (ctx) => ctx.send(200, { principal: ctx.principal }) },
  {
    method: 'GET',
    path: '/api/v1/items/:id/:part',
    auth: 'none',
    handler: (ctx) => ctx.send(200, { params: ctx.params, q: ctx.query.get('q') }),
  },
  {
    method: 'GET',
    path: '/api/v1/boom',
    auth: 'none',
    handler: () => {
      throw new Error('kaboom');
    },
  },
  {
    method: 'GET',
    path: '/api/v1/stale',
    auth: 'none',
    handler: () => {
      throw new HttpError(409, 'stale-lease', 'not your lease', { 'Upload-Offset': '42' });
    },
  },
];

let server: FarmHttpServer;
let port: number;
let logger: ReturnType<typeof recordingLogger>;
let agentSockets: AgentSockets;
let eventsSocket: EventsSocket;
let connector: ReturnType<typeof fakeConnector>;

beforeEach(async () => {
  logger = recordingLogger();
  const clock = new FakeClock();
  connector = fakeConnector();
  agentSockets = createAgentSockets({ connect: connector.connect, clock, logger });
  eventsSocket = createEventsSocket({ events: new EventEmitter<CoordinatorEvents>(), clock, logger });
  server = createHttpServer({
    routes,
    allowedHosts: ({ port: bound }) => allowedHostsFor({ listenHost: '127.0.0.1', port: bound }),
    apiToken: () => API_TOKEN,
    authenticateAgent: fakeAuthenticateAgent,
    upgrades: {
      '/api/v1/agent': (req, socket, head, agentId) => agentSockets.handleUpgrade(req, socket, head, agentId),
      '/api/v1/events': (req, socket, head) => eventsSocket.handleUpgrade(req, socket, head),
    },
    logger,
  });
  ({ port } = await server.listen('127.0.0.1', 0));
});

afterEach(async () => {
  await agentSockets.close();
  eventsSocket.close();
  await server.close();
  // Whatever happened, no token or secret reached the log.
  const logged = JSON.stringify(logger.entries);
  expect(logged).not.toContain(API_TOKEN);
  expect(logged).not.toContain(AGENT_SECRET);
});

const api = { Authorization: `Bearer ${API_TOKEN}` };
const agent = (id = AGENT_ID, secret = AGENT_SECRET) => ({ Authorization: `Bearer ${id}:${secret}` });

function upgradeRequest(path: string, headers: Record<string, string>): string {
  const lines = [
    `GET ${path} HTTP/1.1`,
    'Upgrade: websocket',
    'Connection: Upgrade',
    `Sec-WebSocket-Key: ${crypto.randomBytes(16).toString('base64')}`,
    'Sec-WebSocket-Version: 13',
    ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`),
  ];
  return lines.join('\r\n') + '\r\n\r\n';
}

describe('createHttpServer: Host and Origin', () => {
  it('refuses a foreign Host with 403 bad-host, even with a valid token', async () => {
    const reply = await request(port, { path: '/api/v1/ping', headers: { ...api, Host: 'evil.example' } });
    expect(reply.status).toBe(403);
    expect(reply.json()).toEqual({ error: { code: 'bad-host', message: expect.any(String) } });
  });

  it('refuses a request without any Host', async () => {
    const text = await rawExchange(port, `GET /api/v1/public HTTP/1.0\r\n\r\n`);
    expect(parseRawResponse(text)).toMatchObject({ status: 403, body: { error: { code: 'bad-host' } } });
  });

  it('answers to localhost and the machine name with our port', async () => {
    for (const host of [`localhost:${port}`, `127.0.0.1:${port}`, `${os.hostname()}:${port}`, 'LOCALHOST']) {
      const reply = await request(port, { path: '/api/v1/public', headers: { Host: host } });
      expect(reply.status, host).toBe(200);
    }
  });

  it('refuses a foreign or null Origin with 403 bad-origin and accepts our own', async () => {
    for (const origin of ['http://evil.example', 'null', `http://evil.example:${port}`, `ftp://127.0.0.1:${port}`]) {
      const reply = await request(port, { path: '/api/v1/ping', headers: { ...api, Origin: origin } });
      expect(reply.status, origin).toBe(403);
      expect(reply.json().error.code).toBe('bad-origin');
    }
    const own = await request(port, { path: '/api/v1/ping', headers: { ...api, Origin: `http://127.0.0.1:${port}` } });
    expect(own.status).toBe(200);
  });

  it('refuses a WebSocket upgrade with a foreign Host before looking at credentials', async () => {
    const text = await rawExchange(port, upgradeRequest('/api/v1/agent', { Host: 'evil.example', ...agent() }));
    expect(parseRawResponse(text)).toMatchObject({ status: 403, body: { error: { code: 'bad-host' } } });
    expect(connector.sessions).toHaveLength(0);
  });

  it('refuses a WebSocket upgrade from a foreign Origin', async () => {
    const outcome = await openSocket(`ws://127.0.0.1:${port}/api/v1/events`, undefined, {
      headers: api,
      origin: 'http://evil.example',
    });
    expect(outcome).toMatchObject({ ok: false, status: 403, body: { error: { code: 'bad-origin' } } });
  });
});

describe('createHttpServer: credentials', () => {
  it('refuses API routes without the token or with a wrong one', async () => {
    const none = await request(port, { path: '/api/v1/ping' });
    const wrong = await request(port, { path: '/api/v1/ping', headers: { Authorization: 'Bearer nope' } });
    const basic = await request(port, { path: '/api/v1/ping', headers: { Authorization: `Basic ${API_TOKEN}` } });
    for (const reply of [none, wrong, basic]) {
      expect(reply.status).toBe(401);
      expect(reply.headers['www-authenticate']).toBe('Bearer');
      expect(reply.json().error.code).toBe('unauthorized');
    }
  });

  it('admits the API token and tells the handler who called', async () => {
    const reply = await request(port, { path: '/api/v1/ping', headers: api });
    expect(reply.status).toBe(200);
    expect(reply.json()).toEqual({ principal: { kind: 'api' } });
  });

  it('admits nobody when the API token is empty', async () => {
    const empty = createHttpServer({
      routes,
      allowedHosts: ({ port: p }) => allowedHostsFor({ listenHost: '127.0.0.1', port: p }),
      apiToken: () => '',
      authenticateAgent: fakeAuthenticateAgent,
      upgrades: { '/api/v1/agent': () => {}, '/api/v1/events': () => {} },
      logger,
    });
    const { port: p } = await empty.listen('127.0.0.1', 0);
    try {
      const reply = await request(p, { path: '/api/v1/ping', headers: { Authorization: 'Bearer ' } });
      expect(reply.status).toBe(401);
    } finally {
      await empty.close();
    }
  });

  it('checks agent routes with agent credentials: 401 bad, 403 revoked, the agent id on success', async () => {
    const ok = await request(port, { path: '/api/v1/mine', headers: agent() });
    expect(ok.json()).toEqual({ principal: { kind: 'agent', agentId: AGENT_ID } });
    const wrongSecret = await request(port, { path: '/api/v1/mine', headers: agent(AGENT_ID, 'wrong') });
    expect(wrongSecret.status).toBe(401);
    const apiToken = await request(port, { path: '/api/v1/mine', headers: api });
    expect(apiToken.status).toBe(401);
    const revoked = await request(port, { path: '/api/v1/mine', headers: agent(REVOKED_AGENT_ID) });
    expect(revoked.status).toBe(403);
    expect(revoked.json().error.code).toBe('revoked');
  });

  it('refuses agent and events upgrades without valid credentials, with a JSON reason', async () => {
    const url = `ws://127.0.0.1:${port}`;
    const noCreds = await openSocket(`${url}/api/v1/agent`, undefined, {});
    expect(noCreds).toMatchObject({ ok: false, status: 401, body: { error: { code: 'unauthorized' } } });
    const revoked = await openSocket(`${url}/api/v1/agent`, undefined, { headers: agent(REVOKED_AGENT_ID) });
    expect(revoked).toMatchObject({ ok: false, status: 403, body: { error: { code: 'revoked' } } });
    const badEvents = await openSocket(`${url}/api/v1/events`, ['encodefarm.v1', 'bearer.wrong'], {});
    expect(badEvents).toMatchObject({ ok: false, status: 401 });
    const nowhere = await openSocket(`${url}/api/v1/nowhere`, undefined, { headers: api });
    expect(nowhere).toMatchObject({ ok: false, status: 404, body: { error: { code: 'not-found' } } });
    expect(connector.sessions).toHaveLength(0);
  });

  it('opens the events socket with the token as a subprotocol and echoes only encodefarm.v1', async () => {
    const outcome = await openSocket(`ws://127.0.0.1:${port}/api/v1/events`, ['encodefarm.v1', `bearer.${API_TOKEN}`], {});
    if (!outcome.ok) throw new Error(`refused: ${outcome.status}`);
    expect(outcome.ws.protocol).toBe('encodefarm.v1');
    outcome.ws.close();
  });

  it('opens the events socket with the token as a Bearer header', async () => {
    const outcome = await openSocket(`ws://127.0.0.1:${port}/api/v1/events`, undefined, { headers: api });
    expect(outcome.ok).toBe(true);
    if (outcome.ok) outcome.ws.close();
  });
});

describe('createHttpServer: bodies and routing', () => {
  const json = { ...api, 'Content-Type': 'application/json' };

  it('parses and validates a JSON body', async () => {
    const reply = await request(port, { method: 'POST', path: '/api/v1/echo', headers: json, body: '{"name":"a","count":2}' });
    expect(reply.status).toBe(200);
    expect(reply.json()).toEqual({ name: 'a', count: 2 });
  });

  it('refuses a body over the limit with 413 (declared length and chunked)', async () => {
    const big = JSON.stringify({ name: 'x'.repeat(2000), count: 1 });
    const declared = await request(port, { method: 'POST', path: '/api/v1/echo', headers: json, body: big });
    expect(declared.status).toBe(413);
    expect(declared.json().error.code).toBe('body-too-large');
    const chunked = await request(port, {
      method: 'POST',
      path: '/api/v1/echo',
      headers: { ...json, 'Transfer-Encoding': 'chunked' },
      body: big,
    });
    expect(chunked.status).toBe(413);
  });

  it('refuses malformed JSON with 400 bad-json and a wrong content type with 415', async () => {
    const bad = await request(port, { method: 'POST', path: '/api/v1/echo', headers: json, body: '{"name": "a",' });
    expect(bad.status).toBe(400);
    expect(bad.json().error.code).toBe('bad-json');
    const text = await request(port, {
      method: 'POST',
      path: '/api/v1/echo',
      headers: { ...api, 'Content-Type': 'text/plain' },
      body: '{"name":"a","count":2}',
    });
    expect(text.status).toBe(415);
  });

  it('refuses a body the schema rejects with 400 naming the field', async () => {
    const reply = await request(port, { method: 'POST', path: '/api/v1/echo', headers: json, body: '{"name":"a","count":1.5}' });
    expect(reply.status).toBe(400);
    expect(reply.json().error).toMatchObject({ code: 'invalid-body', message: expect.stringContaining('count') });
  });

  it('decodes path parameters and passes the query', async () => {
    const reply = await request(port, { path: '/api/v1/items/a%20b/c?q=1' });
    expect(reply.json()).toEqual({ params: { id: 'a b', part: 'c' }, q: '1' });
  });

  it('answers unknown paths with 404 and wrong methods with 405 and Allow, as JSON', async () => {
    const missing = await request(port, { path: '/api/v1/nothing' });
    expect(missing.status).toBe(404);
    expect(missing.json().error.code).toBe('not-found');
    const method = await request(port, { method: 'DELETE', path: '/api/v1/ping', headers: api });
    expect(method.status).toBe(405);
    expect(method.headers.allow).toBe('GET');
  });

  it('sends an HttpError with its headers', async () => {
    const reply = await request(port, { path: '/api/v1/stale' });
    expect(reply.status).toBe(409);
    expect(reply.headers['upload-offset']).toBe('42');
    expect(reply.json()).toEqual({ error: { code: 'stale-lease', message: 'not your lease' } });
  });

  it('turns a handler crash into a logged 500 and keeps serving', async () => {
    const reply = await request(port, { path: '/api/v1/boom' });
    expect(reply.status).toBe(500);
    expect(reply.json()).toEqual({ error: { code: 'internal', message: 'internal error' } });
    expect(logger.entries.some((e) => e.level === 'error' && String(e.fields?.error).includes('kaboom'))).toBe(true);
    expect((await request(port, { path: '/api/v1/public' })).status).toBe(200);
  });
});

describe('createHttpServer: hostile bytes', () => {
  it('survives random garbage, bad request lines and oversized headers, then serves the next request', async () => {
    const payloads: (string | Buffer)[] = [
      crypto.randomBytes(4096),
      '\x00\x01\x02GARBAGE\r\n\r\n',
      'GET / HTTP/9.9\r\n\r\n',
      `GET /api/v1/public HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nX-Big: ${'a'.repeat(64 * 1024)}\r\n\r\n`,
      `GET /api/v1/public HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n`,
      `GET http://evil.example/api/v1/public HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nConnection: close\r\n\r\n`,
    ];
    for (const bytes of payloads) {
      const text = await rawExchange(port, bytes);
      // Either a 4xx status line or a plain disconnect; never a 2xx, never a crash.
      if (text) expect(text).toMatch(/^HTTP\/1\.1 4\d\d /);
    }
    expect((await request(port, { path: '/api/v1/public' })).status).toBe(200);
  });

  it('closes upgraded sockets too when it closes', async () => {
    const outcome = await openSocket(`ws://127.0.0.1:${port}/api/v1/events`, undefined, { headers: api });
    if (!outcome.ok) throw new Error('refused');
    const gone = closed(outcome.ws);
    await server.close();
    expect((await gone).code).toBe(1006);
  });
});
