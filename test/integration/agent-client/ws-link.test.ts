import { EventEmitter, once } from 'node:events';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { X509Certificate } from 'node:crypto';
import { generate } from 'selfsigned';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket, WebSocketServer } from 'ws';
import type { Duplex } from 'node:stream';
import { FingerprintMismatchError } from '../../../core/agent/client/pinned-tls.ts';
import { AgentRefusedError, createAgentLink } from '../../../core/agent/client/ws-link.ts';
import type { AgentLink, AgentLinkOptions } from '../../../core/agent/client/ws-link.ts';
import type { Logger } from '../../../core/shared/logger.ts';
import type { AgentMessage } from '../../../core/shared/protocol/index.ts';
import { FakeClock } from '../../helpers/fake-clock.ts';

const AGENT_ID = 'agt-0123456789ab';
const SECRET = 'S3cr3t-S3cr3t-S3cr3t-S3cr3t-S3cr3t-S3cr3t-x';

type Mode = 'accept' | { status: number; code: string };

/** Resolves once `check()` holds, re-checking on each `event`; no polling, no sleeps. */
function until(emitter: EventEmitter, event: string, check: () => boolean): Promise<void> {
  if (check()) return Promise.resolve();
  return new Promise((resolve) => {
    const on = () => {
      if (!check()) return;
      emitter.off(event, on);
      resolve();
    };
    emitter.on(event, on);
  });
}

/** A stand-in coordinator: a real http(s) server with a real ws server behind a raw 'upgrade' handler. */
class TestCoordinator extends EventEmitter {
  mode: Mode = 'accept';
  attempts = 0;
  connections = 0;
  readonly received: Array<{ type: string } & Record<string, unknown>> = [];
  readonly sockets: WebSocket[] = [];
  readonly wss: WebSocketServer;
  port = 0;

  constructor(
    readonly server: http.Server,
    autoPong = true,
  ) {
    super();
    this.wss = new WebSocketServer({ noServer: true, autoPong, maxPayload: 1024 * 1024 });
    server.on('upgrade', (req, socket, head) => this.onUpgrade(req, socket, head));
  }

  get base(): string {
    return `${this.server instanceof https.Server ? 'https' : 'http'}://127.0.0.1:${this.port}`;
  }

  async up(): Promise<void> {
    this.server.listen(this.port, '127.0.0.1');
    await once(this.server, 'listening');
    this.port = (this.server.address() as AddressInfo).port;
  }

  /** Stops listening and cuts every connection: to the agent, the coordinator is gone. */
  async down(): Promise<void> {
    for (const ws of this.wss.clients) ws.terminate();
    const closed = once(this.server, 'close');
    this.server.close();
    this.server.closeAllConnections();
    await closed;
  }

  private onUpgrade(req: http.IncomingMessage, socket: Duplex, head: Buffer): void {
    this.attempts++;
    this.emit('attempt');
    if (req.url !== '/api/v1/agent') return refuse(socket, 404, 'not-found');
    if (req.headers.authorization !== `Bearer ${AGENT_ID}:${SECRET}`) return refuse(socket, 401, 'bad-credentials');
    if (this.mode !== 'accept') return refuse(socket, this.mode.status, this.mode.code);
    this.wss.handleUpgrade(req, socket, head, (ws) => this.onConnection(ws));
  }

  private onConnection(ws: WebSocket): void {
    this.connections++;
    this.sockets.push(ws);
    ws.on('message', (data) => {
      this.received.push(JSON.parse(String(data)));
      this.emit('message');
    });
    ws.on('ping', () => this.emit('ping'));
    ws.on('close', () => this.emit('disconnect'));
    this.emit('connection');
  }
}

function refuse(socket: Duplex, status: number, code: string): void {
  const body = JSON.stringify({ error: { code, message: `refused: ${code}` } });
  socket.end(
    `HTTP/1.1 ${status} ${http.STATUS_CODES[status]}\r\nContent-Type: application/json\r\n` +
      `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  );
}

async function startCoordinator(opts: { autoPong?: boolean; tls?: { key: string; cert: string } } = {}): Promise<TestCoordinator> {
  const server = opts.tls ? https.createServer(opts.tls) : http.createServer();
  const c = new TestCoordinator(server, opts.autoPong ?? true);
  await c.up();
  return c;
}

interface LogEntry {
  level: string;
  msg: string;
  fields: Record<string, unknown> | undefined;
}

/** Logger that records and announces every entry, so tests can wait on what the link says. */
function recordingLogger() {
  const entries: LogEntry[] = [];
  const events = new EventEmitter();
  const at = (level: string) => (msg: string, fields?: Record<string, unknown>) => {
    entries.push({ level, msg, fields });
    events.emit('log');
  };
  const logger: Logger = { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
  return { logger, entries, logEvents: events };
}

const hello: AgentMessage = {
  v: 1, type: 'hello', agentId: AGENT_ID, hostname: 'test', pid: 1, devices: [], limitGroups: [], tags: [], files: 'shared', active: [],
};
const started = (jobId: number): AgentMessage => ({
  v: 1, type: 'started', jobId, epoch: 1, tempPath: `/out/${jobId}.part`, source: { durationS: 10, sizeBytes: 100 },
});
const progress = (jobId: number, percent: number): AgentMessage => ({
  v: 1, type: 'progress', jobId, epoch: 1, frame: percent, fps: 30, speed: 1, outTimeS: percent / 10, percent, etaS: null,
});
const log = (jobId: number, line: string): AgentMessage => ({ v: 1, type: 'log', jobId, epoch: 1, lines: [line] });
const result = (jobId: number): AgentMessage => ({
  v: 1, type: 'result', jobId, epoch: 1, outcome: { ok: false, error: { kind: 'encode-failed', message: 'boom' } },
});

const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** A link wired to a fake clock and recorders; it sends `hello` from onOpen, as the agent does. */
function makeLink(base: string, overrides: Partial<AgentLinkOptions> = {}) {
  const clock = new FakeClock();
  const rec = recordingLogger();
  const received: unknown[] = [];
  const fatals: Error[] = [];
  const events = new EventEmitter();
  let link: AgentLink | undefined;
  link = createAgentLink({
    url: base,
    agentId: AGENT_ID,
    secret: SECRET,
    clock,
    random: () => 0,
    logger: rec.logger,
    backoff: { baseMs: 100, maxMs: 1000 },
    // Far beyond what the tests advance, except where the dead-link check is under test.
    deadAfterMs: 1_000_000_000,
    onOpen: () => link!.send(hello),
    onMessage: (raw) => {
      received.push(raw);
      events.emit('message');
    },
    onFatal: (err) => {
      fatals.push(err);
      events.emit('fatal');
    },
    ...overrides,
  });
  cleanups.push(() => link!.close());
  return { link, clock, ...rec, received, fatals, events };
}

/** Waits for the link to log its next reconnect and returns the delay it chose. */
async function nextRetry(entries: LogEntry[], logEvents: EventEmitter): Promise<number> {
  const seen = entries.filter((e) => e.fields?.retryInMs !== undefined).length;
  await until(logEvents, 'log', () => entries.filter((e) => e.fields?.retryInMs !== undefined).length > seen);
  return entries.filter((e) => e.fields?.retryInMs !== undefined)[seen]!.fields!.retryInMs as number;
}

/** Registers the coordinator for shutdown after the test. */
async function tracked(c: TestCoordinator): Promise<TestCoordinator> {
  cleanups.push(async () => {
    if (c.server.listening) await c.down();
  });
  return c;
}

describe('createAgentLink', () => {
  it('connects with the bearer header, sends hello first, then sends immediately', async () => {
    const c = await tracked(await startCoordinator());
    const { link, entries } = makeLink(c.base);
    link.start();
    await until(c, 'message', () => c.received.length >= 1);
    expect(link.connected()).toBe(true);
    link.send(started(1));
    await until(c, 'message', () => c.received.length >= 2);
    expect(c.received.map((m) => m.type)).toEqual(['hello', 'started']);
    expect(JSON.stringify(entries)).not.toContain(SECRET);
  });

  it('buffers while the coordinator is down and flushes in order after hello on reconnect', async () => {
    const c = await tracked(await startCoordinator());
    const { link, clock, entries, logEvents } = makeLink(c.base);
    link.start();
    await until(c, 'message', () => c.received.length === 1);

    const retry = nextRetry(entries, logEvents);
    await c.down();
    const firstDelay = await retry;
    expect(link.connected()).toBe(false);
    const buffered = [started(1), log(1, 'frame=1'), progress(1, 10), { v: 1, type: 'heartbeat', leases: [] } as AgentMessage, result(1)];
    for (const m of buffered) link.send(m);

    // Still down: the retry fails and backs off further.
    const second = nextRetry(entries, logEvents);
    clock.advance(firstDelay);
    const secondDelay = await second;

    await c.up();
    clock.advance(secondDelay);
    await until(c, 'message', () => c.received.length === 6);
    expect(c.received.map((m) => m.type)).toEqual(['hello', 'hello', 'started', 'log', 'progress', 'result']);
    expect(JSON.stringify(entries)).not.toContain(SECRET);
  });

  it('keeps only the newest buffered progress of a job, after its started', async () => {
    const c = await tracked(await startCoordinator());
    const { link, clock, entries, logEvents } = makeLink(c.base);
    link.start();
    await until(c, 'message', () => c.received.length === 1);
    const retry = nextRetry(entries, logEvents);
    await c.down();
    const delay = await retry;

    link.send(progress(1, 10));
    link.send(started(2));
    link.send(progress(1, 20));
    link.send(progress(1, 30));
    await c.up();
    clock.advance(delay);
    await until(c, 'message', () => c.received.length === 4);
    expect(c.received.slice(1).map((m) => [m.type, m.percent])).toEqual([
      ['hello', undefined],
      ['started', undefined],
      ['progress', 30],
    ]);
  });

  it('stops for good with AgentRefusedError on 401 and never retries', async () => {
    const c = await tracked(await startCoordinator());
    const { link, clock, fatals, events, entries } = makeLink(c.base, { secret: 'wrong-wrong-wrong-wrong-wrong-wrong-wrong-w' });
    link.start();
    await until(events, 'fatal', () => fatals.length === 1);
    expect(fatals[0]).toBeInstanceOf(AgentRefusedError);
    expect((fatals[0] as AgentRefusedError).status).toBe(401);
    expect(fatals[0]!.message).toContain('bad-credentials');
    expect(clock.pending()).toBe(0);
    clock.advance(60_000);
    expect(c.attempts).toBe(1);
    expect(link.connected()).toBe(false);
    expect(JSON.stringify(entries)).not.toContain('wrong-wrong');
  });

  it('reports a revoked agent (403) as fatal', async () => {
    const c = await tracked(await startCoordinator());
    c.mode = { status: 403, code: 'revoked' };
    const { link, clock, fatals, events } = makeLink(c.base);
    link.start();
    await until(events, 'fatal', () => fatals.length === 1);
    expect(fatals[0]!.message).toMatch(/revoked/);
    expect(clock.pending()).toBe(0);
  });

  it('retries a 409 duplicate-session refusal with growing backoff until accepted', async () => {
    const c = await tracked(await startCoordinator());
    c.mode = { status: 409, code: 'duplicate-session' };
    const { link, clock, entries, logEvents, fatals } = makeLink(c.base);
    const delays: number[] = [];
    let retry = nextRetry(entries, logEvents);
    link.start();
    for (let i = 0; i < 3; i++) {
      const delay = await retry;
      delays.push(delay);
      retry = nextRetry(entries, logEvents);
      // Nothing happens one tick early; the reconnect fires exactly at the chosen delay.
      expect(clock.advance(delay - 1)).toBe(0);
      const attempts = c.attempts;
      expect(clock.advance(1)).toBe(1);
      await until(c, 'attempt', () => c.attempts === attempts + 1);
    }
    expect(delays).toEqual([50, 100, 200]);
    expect(entries.some((e) => String(e.fields?.reason).includes('duplicate-session'))).toBe(true);

    c.mode = 'accept';
    clock.advance(await retry);
    await until(c, 'message', () => c.received.length === 1);
    expect(c.received[0]!.type).toBe('hello');
    expect(fatals).toEqual([]);
  });

  it('caps the backoff at maxMs and resets it after a connection that stayed open', async () => {
    const c = await tracked(await startCoordinator());
    c.mode = { status: 409, code: 'duplicate-session' };
    const { link, clock, entries, logEvents } = makeLink(c.base, { random: () => 0.999, stableAfterMs: 5000 });
    let retry = nextRetry(entries, logEvents);
    link.start();
    const delays: number[] = [];
    for (let i = 0; i < 6; i++) {
      const delay = await retry;
      delays.push(delay);
      retry = nextRetry(entries, logEvents);
      clock.advance(delay);
    }
    expect(Math.max(...delays)).toBe(1000);
    c.mode = 'accept';
    await until(c, 'message', () => c.received.length === 1);
    clock.advance(5000);
    await c.down();
    expect(await retry).toBe(100);
  });

  it('drops an invalid JSON frame and keeps delivering the next ones', async () => {
    const c = await tracked(await startCoordinator());
    const { link, received, events, entries } = makeLink(c.base);
    link.start();
    await until(c, 'message', () => c.received.length === 1);
    const ws = c.sockets[0]!;
    ws.send('{not json');
    ws.send(Buffer.from([1, 2, 3]), { binary: true });
    ws.send(JSON.stringify({ v: 1, type: 'drain' }));
    await until(events, 'message', () => received.length === 1);
    expect(received).toEqual([{ v: 1, type: 'drain' }]);
    expect(entries.some((e) => e.level === 'warn' && /not JSON/.test(e.msg))).toBe(true);
    expect(link.connected()).toBe(true);
  });

  it('pings a quiet link and drops it when nothing comes back for deadAfterMs', async () => {
    const c = await tracked(await startCoordinator({ autoPong: false }));
    const { link, clock, entries, logEvents } = makeLink(c.base, { deadAfterMs: 3000 });
    link.start();
    await until(c, 'message', () => c.received.length === 1);

    let pings = 0;
    c.on('ping', () => pings++);
    clock.advance(1000);
    await until(c, 'ping', () => pings === 1);
    expect(link.connected()).toBe(true);

    const retry = nextRetry(entries, logEvents);
    clock.advance(2000);
    expect(entries.some((e) => /silent/.test(e.msg))).toBe(true);
    clock.advance(await retry);
    await until(c, 'connection', () => c.connections === 2);
  });

  it('drops a quiet link after the dead-link time set later (setDeadAfter)', async () => {
    const c = await tracked(await startCoordinator({ autoPong: false }));
    const { link, clock, entries } = makeLink(c.base, { deadAfterMs: 30_000 });
    link.start();
    await until(c, 'message', () => c.received.length === 1);
    link.setDeadAfter(3000);

    // The watch that was running (every 10 s, for 30 s) fires at 10 s: 10 s of silence now exceeds
    // the new 3 s, where the old 30 s would have kept the link.
    clock.advance(9_999);
    expect(entries.some((e) => /silent/.test(e.msg))).toBe(false);
    clock.advance(1);
    expect(entries.some((e) => /silent/.test(e.msg))).toBe(true);
    expect(() => link.setDeadAfter(0)).toThrow();
  });

  it('counts any frame from the coordinator as a sign of life', async () => {
    const c = await tracked(await startCoordinator({ autoPong: false }));
    const { link, clock, received, events, entries } = makeLink(c.base, { deadAfterMs: 3000 });
    link.start();
    await until(c, 'message', () => c.received.length === 1);
    clock.advance(2000);
    c.sockets[0]!.send(JSON.stringify({ v: 1, type: 'drain' }));
    await until(events, 'message', () => received.length === 1);
    clock.advance(2000);
    expect(link.connected()).toBe(true);
    expect(entries.some((e) => /silent/.test(e.msg))).toBe(false);
  });

  it('close() closes the socket, resolves, and stops reconnecting', async () => {
    const c = await tracked(await startCoordinator());
    const { link, clock } = makeLink(c.base);
    link.start();
    await until(c, 'message', () => c.received.length === 1);
    const gone = once(c.sockets[0]!, 'close');
    await link.close();
    await gone;
    expect(link.connected()).toBe(false);
    expect(clock.pending()).toBe(0);
    link.send(started(9));
    expect(c.connections).toBe(1);
  });

  it('close() during a backoff wait cancels the pending reconnect', async () => {
    const c = await tracked(await startCoordinator());
    c.mode = { status: 409, code: 'duplicate-session' };
    const { link, clock, entries, logEvents } = makeLink(c.base);
    const retry = nextRetry(entries, logEvents);
    link.start();
    await retry;
    await link.close();
    expect(clock.pending()).toBe(0);
  });
});

describe('createAgentLink over https', () => {
  async function tlsCoordinator() {
    const pems = await generate([{ name: 'commonName', value: 'encodefarm-test' }], { keyType: 'ec', algorithm: 'sha256' });
    const fingerprint = new X509Certificate(pems.cert).fingerprint256;
    const c = await tracked(await startCoordinator({ tls: { key: pems.private, cert: pems.cert } }));
    return { c, fingerprint };
  }

  it('connects when the certificate matches the pinned fingerprint', async () => {
    const { c, fingerprint } = await tlsCoordinator();
    const { link } = makeLink(c.base, { fingerprint: fingerprint.toLowerCase() });
    link.start();
    await until(c, 'message', () => c.received.length === 1);
    expect(c.received[0]!.type).toBe('hello');
  });

  it('refuses a changed certificate before sending anything, and stops', async () => {
    const { c, fingerprint } = await tlsCoordinator();
    const wrong = fingerprint.replace(/^../, fingerprint.startsWith('00') ? '11' : '00');
    const { link, fatals, events, clock } = makeLink(c.base, { fingerprint: wrong });
    link.start();
    await until(events, 'fatal', () => fatals.length === 1);
    expect(fatals[0]).toBeInstanceOf(FingerprintMismatchError);
    // The upgrade request (and with it the secret) never reached the server.
    expect(c.attempts).toBe(0);
    expect(clock.pending()).toBe(0);
  });

  it('refuses an https URL without a fingerprint at creation', () => {
    expect(() =>
      createAgentLink({
        url: 'https://127.0.0.1:1',
        agentId: AGENT_ID,
        secret: SECRET,
        clock: new FakeClock(),
        logger: recordingLogger().logger,
        onOpen() {},
        onMessage() {},
        onFatal() {},
      }),
    ).toThrow(/fingerprint/);
  });
});
