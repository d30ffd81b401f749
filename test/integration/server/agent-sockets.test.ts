import { once } from 'node:events';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { createAgentSockets, type AgentSockets, type AgentSocketsOptions } from '../../../core/coordinator/server/agent-sockets.ts';
import { allowedHostsFor } from '../../../core/coordinator/server/guards.ts';
import { createHttpServer, type FarmHttpServer } from '../../../core/coordinator/server/http-server.ts';
import type { Clock } from '../../../core/shared/clock.ts';
import { PROTOCOL_VERSION } from '../../../core/shared/protocol/index.ts';
import { FakeClock } from '../../helpers/fake-clock.ts';
import {
  AGENT_ID,
  AGENT_SECRET,
  closed,
  fakeAuthenticateAgent,
  fakeConnector,
  nextMessage,
  openSocket,
  recordingLogger,
  request,
  type SocketOutcome,
} from './harness.ts';

const PING_MS = 10_000;

interface Farm {
  server: FarmHttpServer;
  sockets: AgentSockets;
  connector: ReturnType<typeof fakeConnector>;
  logger: ReturnType<typeof recordingLogger>;
  port: number;
}

let farm: Farm | undefined;

afterEach(async () => {
  await farm?.sockets.close();
  await farm?.server.close();
  farm = undefined;
});

async function start(clock: Clock, overrides: Partial<AgentSocketsOptions> = {}): Promise<Farm> {
  const connector = fakeConnector();
  const logger = recordingLogger();
  const sockets = createAgentSockets({ connect: connector.connect, clock, logger, pingMs: PING_MS, ...overrides });
  const server = createHttpServer({
    routes: [{ method: 'GET', path: '/api/v1/public', auth: 'none', handler: (ctx) => ctx.send(200, { ok: true }) }],
    allowedHosts: ({ port }) => allowedHostsFor({ listenHost: '127.0.0.1', port }),
    apiToken: () => 'unused-api-token',
    authenticateAgent: fakeAuthenticateAgent,
    upgrades: {
      '/api/v1/agent': (req, socket, head, agentId) => sockets.handleUpgrade(req, socket, head, agentId),
      '/api/v1/events': (_req, socket) => socket.destroy(),
    },
    logger,
  });
  const { port } = await server.listen('127.0.0.1', 0);
  farm = { server, sockets, connector, logger, port };
  return farm;
}

function connect(f: Farm, agentId = AGENT_ID, options: { autoPong?: boolean } = {}): Promise<SocketOutcome> {
  return openSocket(`ws://127.0.0.1:${f.port}/api/v1/agent`, undefined, {
    headers: { Authorization: `Bearer ${agentId}:${AGENT_SECRET}` },
    ...options,
  });
}

async function connected(f: Farm, agentId = AGENT_ID, options: { autoPong?: boolean } = {}): Promise<WebSocket> {
  const outcome = await connect(f, agentId, options);
  if (!outcome.ok) throw new Error(`upgrade refused: ${outcome.status} ${JSON.stringify(outcome.body)}`);
  return outcome.ws;
}

const heartbeat = { v: PROTOCOL_VERSION, type: 'heartbeat', leases: [] };

/** A clock that reads FakeClock time but never fires timers: as if the pinger had not run yet. */
function timerlessClock(clock: FakeClock): Clock {
  return { now: () => clock.now(), setTimeout: () => ({ id: 'never' }), clearTimeout: () => {} };
}

describe('createAgentSockets', () => {
  it('hands JSON frames to the connection and sends its messages to the agent', async () => {
    const f = await start(new FakeClock());
    const ws = await connected(f);
    ws.send(JSON.stringify(heartbeat));
    await f.connector.until(() => f.connector.sessions[0]?.received.length === 1);
    expect(f.connector.sessions[0]!.received).toEqual([heartbeat]);

    const incoming = nextMessage(ws);
    f.connector.sessions[0]!.send({ v: PROTOCOL_VERSION, type: 'drain' });
    expect(await incoming).toEqual({ v: PROTOCOL_VERSION, type: 'drain' });
    expect(f.sockets.isLive(AGENT_ID)).toBe(true);
    expect(f.sockets.liveAgents()).toEqual([AGENT_ID]);
  });

  it('closes the connection when the socket closes, and sending afterwards is a no-op', async () => {
    const f = await start(new FakeClock());
    const ws = await connected(f);
    await f.connector.until(() => f.connector.sessions.length === 1);
    ws.close(1000);
    await f.connector.until(() => f.connector.sessions[0]!.closed);
    expect(() => f.connector.sessions[0]!.send({ v: PROTOCOL_VERSION, type: 'drain' })).not.toThrow();
    expect(f.sockets.isLive(AGENT_ID)).toBe(false);
  });

  it('refuses a second session for an agent whose session is live with 409 duplicate-session', async () => {
    const f = await start(new FakeClock());
    const first = await connected(f);
    const second = await connect(f);
    expect(second).toMatchObject({ ok: false, status: 409, body: { error: { code: 'duplicate-session' } } });
    expect(first.readyState).toBe(WebSocket.OPEN);
    expect(f.connector.sessions).toHaveLength(1);
  });

  it('replaces a session that went silent with the new one', async () => {
    const clock = new FakeClock();
    const f = await start(timerlessClock(clock));
    const first = await connected(f, AGENT_ID, { autoPong: false });
    const firstClosed = closed(first);
    clock.advance(2 * PING_MS);
    expect(f.sockets.isLive(AGENT_ID)).toBe(false);

    const second = await connected(f);
    expect((await firstClosed).code).toBe(1006);
    await f.connector.until(() => f.connector.sessions[0]!.closed);
    expect(f.connector.sessions).toHaveLength(2);
    expect(f.connector.sessions[1]!.closed).toBe(false);
    expect(f.sockets.isLive(AGENT_ID)).toBe(true);
    // The old session's close did not take the new one's place.
    second.send(JSON.stringify(heartbeat));
    await f.connector.until(() => f.connector.sessions[1]!.received.length === 1);
  });

  it('pings on the clock and terminates a socket that never answers', async () => {
    const clock = new FakeClock();
    const f = await start(clock);
    const ws = await connected(f, AGENT_ID, { autoPong: false });
    const pinged = once(ws, 'ping');
    clock.advance(PING_MS);
    await pinged;
    const gone = closed(ws);
    clock.advance(PING_MS);
    expect((await gone).code).toBe(1006);
    await f.connector.until(() => f.connector.sessions[0]!.closed);
  });

  it('keeps a socket that answers its pings', async () => {
    const clock = new FakeClock();
    const f = await start(clock);
    const ws = await connected(f);
    for (let round = 0; round < 3; round++) {
      const pinged = once(ws, 'ping');
      clock.advance(PING_MS);
      await pinged;
      // The auto-pong went out before this ping; the server's pong to it proves ours arrived first.
      const ponged = once(ws, 'pong');
      ws.ping();
      await ponged;
    }
    clock.advance(PING_MS);
    expect(f.sockets.isLive(AGENT_ID)).toBe(true);
    expect(ws.readyState).toBe(WebSocket.OPEN);
  });

  it('drops malformed frames and hands everything object-shaped to the coordinator to validate', async () => {
    const f = await start(new FakeClock());
    const ws = await connected(f);
    ws.send('not json {');
    ws.send(Buffer.from([0xde, 0xad, 0xbe, 0xef]), { binary: true });
    ws.send('[1,2,3]');
    ws.send('42');
    ws.send('{"type":"bogus","x":{"y":[null]}}');
    ws.send(JSON.stringify(heartbeat));
    await f.connector.until(() => f.connector.sessions[0]!.received.length === 2);
    expect(f.connector.sessions[0]!.received).toEqual([{ type: 'bogus', x: { y: [null] } }, heartbeat]);
    expect(f.logger.entries.filter((e) => e.msg === 'unparseable agent frame dropped')).toHaveLength(4);
    expect(ws.readyState).toBe(WebSocket.OPEN);
    expect((await request(f.port, { path: '/api/v1/public' })).status).toBe(200);
  });

  it('closes with 1008 after too many unparseable frames', async () => {
    const f = await start(new FakeClock());
    const ws = await connected(f);
    const gone = closed(ws);
    for (let i = 0; i < 25; i++) ws.send(`garbage ${i}`);
    expect((await gone).code).toBe(1008);
    await f.connector.until(() => f.connector.sessions[0]!.closed);
  });

  it('closes an oversized frame with 1009 without throwing and keeps serving', async () => {
    const f = await start(new FakeClock());
    const ws = await connected(f);
    const gone = closed(ws);
    ws.send(JSON.stringify({ type: 'log', pad: 'x'.repeat(1024 * 1024) }));
    expect((await gone).code).toBe(1009);
    await f.connector.until(() => f.connector.sessions[0]!.closed);
    expect(f.connector.sessions[0]!.received).toEqual([]);
    // The same agent may connect again at once: the closed session is no longer a duplicate.
    const again = await connected(f);
    expect(again.readyState).toBe(WebSocket.OPEN);
    expect((await request(f.port, { path: '/api/v1/public' })).status).toBe(200);
  });

  it('closes with 4003 when hello names another agent, and passes nothing on', async () => {
    const f = await start(new FakeClock());
    const ws = await connected(f);
    const gone = closed(ws);
    ws.send(JSON.stringify({ v: PROTOCOL_VERSION, type: 'hello', agentId: 'agt-someoneelse', hostname: 'h', pid: 1, devices: [] }));
    expect((await gone).code).toBe(4003);
    await f.connector.until(() => f.connector.sessions[0]!.closed);
    expect(f.connector.sessions[0]!.received).toEqual([]);
  });

  it('passes on a hello that names the authenticated agent', async () => {
    const f = await start(new FakeClock());
    const ws = await connected(f);
    const hello = { v: PROTOCOL_VERSION, type: 'hello', agentId: AGENT_ID, hostname: 'h', pid: 1, devices: [] };
    ws.send(JSON.stringify(hello));
    await f.connector.until(() => f.connector.sessions[0]!.received.length === 1);
    expect(f.connector.sessions[0]!.received).toEqual([hello]);
  });

  it('kicks an agent with the given close code', async () => {
    const f = await start(new FakeClock());
    const ws = await connected(f);
    const gone = closed(ws);
    expect(f.sockets.kick(AGENT_ID, 4001, 'revoked')).toBe(true);
    expect(await gone).toEqual({ code: 4001, reason: 'revoked' });
    expect(f.sockets.kick('agt-nobody000000', 4001, 'revoked')).toBe(false);
  });

  it('close() drops every session and waits for their connections to close', async () => {
    const f = await start(new FakeClock());
    const a = await connected(f, 'agt-aaaaaaaaaaaa');
    const b = await connected(f, 'agt-bbbbbbbbbbbb');
    const gone = Promise.all([closed(a), closed(b)]);
    await f.sockets.close();
    expect(f.connector.sessions.map((s) => s.closed)).toEqual([true, true]);
    expect(f.sockets.liveAgents()).toEqual([]);
    await gone;
  });

  it('refuses upgrades with 503 once closed', async () => {
    const f = await start(new FakeClock());
    await f.sockets.close();
    expect(await connect(f)).toMatchObject({ ok: false, status: 503, body: { error: { code: 'shutting-down' } } });
  });
});
