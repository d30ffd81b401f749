import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { startCoordinatorService, type CoordinatorService } from '../../../core/cli/serve/coordinator-service.ts';
import type { JobRow, JobStore } from '../../../core/coordinator/ports.ts';
import { METRICS_CONTENT_TYPE } from '../../../core/coordinator/server/metrics.ts';
import { dbFileIn } from '../../../core/coordinator/store/data-dir.ts';
import { openSqliteStore } from '../../../core/coordinator/store/sqlite-store.ts';
import { locateFfmpeg, type FfmpegInstall } from '../../../core/agent/devices/locate-ffmpeg.ts';
import { systemClock, type Clock, type TimerHandle } from '../../../core/shared/clock.ts';
import type { DeviceAnnouncement } from '../../../core/shared/device.ts';
import { tempPathFor } from '../../../core/shared/temp-names.ts';
import { makeClip } from '../../helpers/clips.ts';
import {
  closed,
  openSocket,
  parseRawResponse,
  rawExchange,
  recordingLogger,
  request,
  type Reply,
  type SocketOutcome,
} from '../server/harness.ts';

const MiB = 1024 * 1024;
const CPU: DeviceAnnouncement = { id: 'cpu', kind: 'cpu', label: 'CPU', slots: 1, codecs: ['h264'], state: 'working' };

/**
 * A clock with real timers whose `now()` a test can move forward: a FAKE for "an hour later"
 * against the real server, where a FakeClock's stopped timers would stall the sockets.
 */
class SkewedClock implements Clock {
  skew = 0;
  now(): number {
    return Date.now() + this.skew;
  }
  setTimeout(fn: () => void, ms: number): TimerHandle {
    return systemClock.setTimeout(fn, ms);
  }
  clearTimeout(handle: TimerHandle): void {
    systemClock.clearTimeout(handle);
  }
}

interface Farm {
  dir: string;
  store: JobStore;
  service: CoordinatorService;
  logger: ReturnType<typeof recordingLogger>;
  apiToken: string;
  port: number;
  /** Everything that must never reach a log line: tokens and secrets this test handled. */
  secrets: string[];
}

interface Credentials {
  agentId: string;
  secret: string;
}

let ffmpeg: FfmpegInstall;
const farms: Farm[] = [];

beforeAll(async () => {
  ffmpeg = await locateFfmpeg();
});

afterEach(async () => {
  for (const f of farms.splice(0)) {
    await f.service.close();
    f.store.close();
    // Whatever the test did, no token or secret reached the log.
    const logged = JSON.stringify(f.logger.entries);
    for (const s of f.secrets) expect(logged).not.toContain(s);
    fs.rmSync(f.dir, { recursive: true, force: true });
  }
});

/** The real `serve` in-process: real SQLite in its own temp dir, real sockets on 127.0.0.1:0, no local devices. */
async function startFarm(clock?: Clock): Promise<Farm> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'encodefarm-security-'));
  const store = openSqliteStore({ file: dbFileIn(dir) });
  const logger = recordingLogger();
  const apiToken = randomBytes(32).toString('base64url');
  const service = await startCoordinatorService({
    store,
    dataDir: dir,
    logger,
    ffmpeg,
    listen: { host: '127.0.0.1', port: 0 },
    apiToken,
    clock,
  });
  const farm: Farm = { dir, store, service, logger, apiToken, port: service.address.port, secrets: [apiToken] };
  farms.push(farm);
  return farm;
}

const bearer = (token: string) => ({ Authorization: `Bearer ${token}` });
const agentAuth = (c: Credentials) => bearer(`${c.agentId}:${c.secret}`);
const jsonHeaders = { 'Content-Type': 'application/json' };

function api(f: Farm, method: string, urlPath: string, body?: unknown, headers: Record<string, string> = {}): Promise<Reply> {
  return request(f.port, {
    method,
    path: urlPath,
    headers: { ...bearer(f.apiToken), ...(body === undefined ? {} : jsonHeaders), ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
}

async function joinToken(f: Farm): Promise<string> {
  const reply = await api(f, 'POST', '/api/v1/agents/join-tokens');
  expect(reply.status).toBe(200);
  const { token } = reply.json() as { token: string };
  f.secrets.push(token, token.split('.')[1]!);
  return token;
}

function enrollWith(f: Farm, token: string, name = 'render-1', tags: string[] = []): Promise<Reply> {
  return request(f.port, { method: 'POST', path: '/api/v1/agents/enroll', headers: jsonHeaders, body: JSON.stringify({ token, name, tags }) });
}

async function enroll(f: Farm, name = 'render-1', tags: string[] = []): Promise<Credentials> {
  const reply = await enrollWith(f, await joinToken(f), name, tags);
  expect(reply.status).toBe(200);
  const creds = reply.json() as Credentials;
  f.secrets.push(creds.secret);
  return creds;
}

function openAgentSocket(f: Farm, c: Credentials, options: { origin?: string } = {}): Promise<SocketOutcome> {
  return openSocket(`ws://127.0.0.1:${f.port}/api/v1/agent`, undefined, { headers: agentAuth(c), ...options });
}

/** A FAKE agent on the real wire: raw frames out, every coordinator message recorded. */
class WireAgent {
  readonly received: any[] = [];
  readonly closed: Promise<{ code: number; reason: string }>;
  private waiters: { check: () => boolean; resolve: () => void }[] = [];

  constructor(
    readonly ws: WebSocket,
    readonly creds: Credentials,
  ) {
    this.closed = closed(ws);
    // An error event with no listener would throw; the close code tells the tests what happened.
    ws.on('error', () => {});
    ws.on('message', (data) => {
      this.received.push(JSON.parse(data.toString()));
      for (const w of [...this.waiters]) {
        if (w.check()) {
          this.waiters.splice(this.waiters.indexOf(w), 1);
          w.resolve();
        }
      }
    });
  }

  send(msg: unknown): void {
    this.ws.send(JSON.stringify(msg));
  }

  hello(devices: DeviceAnnouncement[] = [CPU], extra: Record<string, unknown> = {}): void {
    this.send({ v: 1, type: 'hello', agentId: this.creds.agentId, hostname: 'fake-render', pid: 1, devices, ...extra });
  }

  ofType(type: string): any[] {
    return this.received.filter((m) => m.type === type);
  }

  /** Resolves once the messages received so far satisfy `check`; fails after 15 s (a bound, not a sleep). */
  until(check: (received: any[]) => boolean, what = 'a coordinator message'): Promise<void> {
    const test = () => check(this.received);
    if (test()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${this.creds.agentId}: no ${what} within 15 s (socket state ${this.ws.readyState})`)), 15_000);
      this.waiters.push({ check: test, resolve: () => (clearTimeout(timer), resolve()) });
    });
  }

  /** Says hello and waits for the welcome it is answered with: a round trip, so everything sent before is handled. */
  async helloAndWelcome(devices: DeviceAnnouncement[] = [CPU]): Promise<void> {
    const welcomes = this.ofType('welcome').length;
    this.hello(devices);
    await this.until(() => this.ofType('welcome').length > welcomes, 'welcome');
  }

  async assignOf(jobId: number): Promise<any> {
    await this.until((r) => r.some((m) => m.type === 'assign' && m.jobId === jobId), `assign of job ${jobId}`);
    return this.received.find((m) => m.type === 'assign' && m.jobId === jobId);
  }
}

async function connectAgent(f: Farm, c: Credentials): Promise<WireAgent> {
  const outcome = await openAgentSocket(f, c);
  if (!outcome.ok) throw new Error(`agent ${c.agentId} refused: ${outcome.status} ${JSON.stringify(outcome.body)}`);
  return new WireAgent(outcome.ws, c);
}

/** Submits one real small clip through the HTTP API; resolves with its job id. */
async function submitClip(f: Farm, name: string): Promise<number> {
  const inDir = path.join(f.dir, 'in', name);
  fs.mkdirSync(inDir, { recursive: true });
  const clip = await makeClip(inDir, `${name}.mp4`, { seconds: 1, audio: false });
  const reply = await api(f, 'POST', '/api/v1/batches', { inputs: [clip], presetId: 'h264-fast', outDir: path.join(f.dir, 'out', name), onExists: 'suffix' });
  expect(reply.status, reply.text).toBe(200);
  const { jobIds } = reply.json() as { jobIds: number[] };
  expect(jobIds).toHaveLength(1);
  return jobIds[0]!;
}

/** Resolves with the job once `pred` holds, checked now and on every job event. */
function jobWhen(f: Farm, id: number, pred: (j: JobRow) => boolean): Promise<JobRow> {
  return new Promise((resolve) => {
    const check = (): boolean => {
      const j = f.store.getJob(id);
      if (!j || !pred(j)) return false;
      f.service.coordinator.events.off('job', check);
      resolve(j);
      return true;
    };
    if (!check()) f.service.coordinator.events.on('job', check);
  });
}

function upgradeRequest(urlPath: string, headers: Record<string, string>): string {
  const lines = [
    `GET ${urlPath} HTTP/1.1`,
    'Upgrade: websocket',
    'Connection: Upgrade',
    `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}`,
    'Sec-WebSocket-Version: 13',
    ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`),
  ];
  return lines.join('\r\n') + '\r\n\r\n';
}

/** A seeded PRNG (mulberry32): random messages that reproduce run after run. */
function seeded(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function randomValue(rand: () => number, depth = 0): unknown {
  const pick = Math.floor(rand() * (depth > 2 ? 6 : 8));
  const numbers = [0, -1, 1, 1.5, -(2 ** 53), 2 ** 53, 1e308, -1e-308];
  switch (pick) {
    case 0:
      return null;
    case 1:
      return rand() < 0.5;
    case 2:
      return numbers[Math.floor(rand() * numbers.length)];
    case 3:
      return ['', 'hola', '../../etc/passwd', '\u0000', 'x'.repeat(5000), '__proto__', 'agt-000000000000'][Math.floor(rand() * 7)];
    case 4:
      return Math.floor(rand() * 1e9);
    case 5:
      return 'conflict';
    case 6:
      return Array.from({ length: Math.floor(rand() * 5) }, () => randomValue(rand, depth + 1));
    default:
      return randomObject(rand, depth + 1);
  }
}

function randomObject(rand: () => number, depth = 0): Record<string, unknown> {
  const keys = ['v', 'type', 'jobId', 'epoch', 'agentId', 'devices', 'leases', 'outcome', 'tempPath', 'lines', 'active', 'x', 'constructor'];
  const out: Record<string, unknown> = {};
  for (let i = Math.floor(rand() * 6); i > 0; i--) out[keys[Math.floor(rand() * keys.length)]!] = randomValue(rand, depth);
  return out;
}

const AGENT_TYPES = ['hello', 'heartbeat', 'device-update', 'started', 'progress', 'encoded', 'log', 'result'];

/**
 * Something shaped like an agent message, with a random field of the wrong type or out of range.
 * A hello always names the sender (a hello naming anyone else ends the session; tested apart).
 */
function randomProtocolMessage(rand: () => number, agentId: string, jobId: number): Record<string, unknown> {
  const types = [...AGENT_TYPES, 'assign', 'welcome', 'drain', 'toString', '__proto__', ''];
  const base: Record<string, unknown> = {
    v: rand() < 0.8 ? 1 : [2, 0, '1', null][Math.floor(rand() * 4)],
    type: types[Math.floor(rand() * types.length)],
    agentId,
    hostname: randomValue(rand),
    pid: [-1, 1.5, 'pid', 1][Math.floor(rand() * 4)],
    active: rand() < 0.5 ? [{ jobId, epoch: 1, deviceId: 'cpu' }] : randomValue(rand),
    maxJobs: [0, -1, 1001, 1][Math.floor(rand() * 4)],
    jobId: rand() < 0.5 ? jobId : randomValue(rand),
    epoch: rand() < 0.5 ? [-1, 0, 1, 2, 1e12, -(2 ** 31)][Math.floor(rand() * 6)] : randomValue(rand),
    leases: rand() < 0.3 ? Array.from({ length: 1001 }, () => ({ jobId, epoch: 1 })) : [{ jobId, epoch: -1 }],
    tempPath: randomValue(rand),
    percent: [101, -5, 50, 'half'][Math.floor(rand() * 4)],
    lines: rand() < 0.5 ? ['x'.repeat(4001)] : Array.from({ length: 201 }, () => 'line'),
    outcome: rand() < 0.5 ? { ok: 'yes' } : { ok: false, error: { kind: 'not-a-kind', message: 1 } },
    devices: rand() < 0.5 ? [{ id: '', kind: 'quantum', slots: -1, codecs: ['mpeg1'] }] : randomValue(rand),
  };
  // Drop a random field now and then (never the sender's id), so required-field checks are exercised too.
  const keys = Object.keys(base).filter((k) => k !== 'agentId');
  if (rand() < 0.5) delete base[keys[Math.floor(rand() * keys.length)]!];
  return base;
}

describe('remote agent security, through the real coordinator service', { timeout: 60_000 }, () => {
  describe('agent identity', () => {
    it('refuses a made-up agent with 401 on the agent socket and on a transfer endpoint', async () => {
      const f = await startFarm();
      const madeUp = { agentId: 'agt-0123456789ab', secret: randomBytes(32).toString('base64url') };
      f.secrets.push(madeUp.secret);

      expect(await openAgentSocket(f, madeUp)).toMatchObject({ ok: false, status: 401 });
      const transfer = await request(f.port, { path: '/api/v1/transfer/1/1/input', headers: agentAuth(madeUp) });
      expect(transfer.status).toBe(401);
      // No credentials, or the API token where agent credentials belong, fare no better.
      const bare = await openSocket(`ws://127.0.0.1:${f.port}/api/v1/agent`, undefined, {});
      expect(bare).toMatchObject({ ok: false, status: 401 });
      const apiAsAgent = await openSocket(`ws://127.0.0.1:${f.port}/api/v1/agent`, undefined, { headers: bearer(f.apiToken) });
      expect(apiAsAgent).toMatchObject({ ok: false, status: 401 });
      expect((await request(f.port, { path: '/api/v1/transfer/1/1/input' })).status).toBe(401);
    });

    it('lets an agent in that enrolled with a join token, and only with its own secret', async () => {
      const f = await startFarm();
      expect((await request(f.port, { method: 'POST', path: '/api/v1/agents/join-tokens' })).status).toBe(401);
      const creds = await enroll(f, 'render-ok', ['rtx']);
      expect(creds.agentId).toMatch(/^agt-[0-9a-f]{12}$/);
      expect(creds.secret).toMatch(/^[A-Za-z0-9_-]{43}$/);

      const wrong = { agentId: creds.agentId, secret: randomBytes(32).toString('base64url') };
      f.secrets.push(wrong.secret);
      expect(await openAgentSocket(f, wrong)).toMatchObject({ ok: false, status: 401 });

      const agent = await connectAgent(f, creds);
      await agent.helloAndWelcome();
      expect(agent.ofType('welcome')[0]).toMatchObject({ v: 1, type: 'welcome', leaseTtlMs: 60_000 });

      const listed = (await api(f, 'GET', '/api/v1/agents')).json().agents;
      expect(listed).toEqual([expect.objectContaining({ id: creds.agentId, name: 'render-ok', tags: ['rtx'], connected: true, revoked: false })]);
      // Agent credentials open agent endpoints only, never the operator's API.
      expect((await request(f.port, { path: '/api/v1/status', headers: agentAuth(creds) })).status).toBe(401);
      // And the transfer endpoints only for work the agent holds.
      const notHeld = await request(f.port, { path: '/api/v1/transfer/1/1/input', headers: agentAuth(creds) });
      expect(notHeld.status).toBe(409);
      expect(notHeld.json().error.code).toBe('stale-lease');
    });

    it('accepts a join token once', async () => {
      const f = await startFarm();
      const token = await joinToken(f);
      const first = await enrollWith(f, token, 'render-1');
      expect(first.status).toBe(200);
      f.secrets.push(first.json().secret);

      const second = await enrollWith(f, token, 'render-2');
      expect(second.status).toBe(401);
      expect(second.json().error.code).toBe('bad-token');
      const forged = await enrollWith(f, `ef1.${'A'.repeat(43)}`, 'render-3');
      expect(forged.status).toBe(401);
      expect(f.store.listAgents().map((a) => a.name)).toEqual(['render-1']);
    });

    it('refuses a join token after its hour is over', async () => {
      const clock = new SkewedClock();
      const f = await startFarm(clock);
      const stale = await joinToken(f);
      clock.skew += 60 * 60 * 1000;

      const late = await enrollWith(f, stale);
      expect(late.status).toBe(401);
      expect(late.json().error.code).toBe('bad-token');
      // A token issued now is good.
      const fresh = await enrollWith(f, await joinToken(f));
      expect(fresh.status).toBe(200);
      f.secrets.push(fresh.json().secret);
    });

    it('revokes an agent: its socket closes, its work is requeued at once, and it cannot come back', async () => {
      const f = await startFarm();
      const creds = await enroll(f, 'render-revoked');
      const agent = await connectAgent(f, creds);
      await agent.helloAndWelcome();
      const jobId = await submitClip(f, 'a');
      expect((await agent.assignOf(jobId)).epoch).toBe(1);

      const reply = await api(f, 'POST', `/api/v1/agents/${creds.agentId}/actions`, { action: 'revoke' });
      expect(reply.status).toBe(200);
      expect(reply.json()).toEqual({ ok: true });

      expect((await agent.closed).code).toBe(4001);
      const requeued = await jobWhen(f, jobId, (j) => j.state === 'queued');
      expect(requeued).toMatchObject({ agentId: null, errorKind: 'lease-lost', attempts: 0 });
      expect(f.store.listAttempts(jobId).map((a) => [a.agentId, a.outcome])).toEqual([[creds.agentId, 'lost']]);

      const back = await openAgentSocket(f, creds);
      expect(back).toMatchObject({ ok: false, status: 403, body: { error: { code: 'revoked' } } });
      expect((await request(f.port, { path: `/api/v1/transfer/${jobId}/1/input`, headers: agentAuth(creds) })).status).toBe(403);
      const listed = (await api(f, 'GET', '/api/v1/agents')).json().agents;
      expect(listed).toEqual([expect.objectContaining({ id: creds.agentId, revoked: true, connected: false })]);

      // The work goes to someone else under a new epoch.
      const other = await connectAgent(f, await enroll(f, 'render-other'));
      other.hello();
      expect((await other.assignOf(jobId)).epoch).toBe(2);
    });

    // A revoked agent is cut loose at once (coordinator.revokeAgent), not when its socket finally
    // closes: an agent that ignores the close must not get a result committed.
    it('applies nothing a revoked agent sends after the revoke, even when it ignores the close', async () => {
      const f = await startFarm();
      const creds = await enroll(f, 'render-stubborn');
      const agent = await connectAgent(f, creds);
      await agent.helloAndWelcome();
      const jobId = await submitClip(f, 'stubborn');
      const a = await agent.assignOf(jobId);
      const temp = tempPathFor(a.output.path, jobId, a.epoch);
      fs.mkdirSync(path.dirname(temp), { recursive: true });
      fs.writeFileSync(temp, 'an encode the farm no longer wants');
      agent.send({ v: 1, type: 'started', jobId, epoch: a.epoch, tempPath: temp, source: { durationS: 1, sizeBytes: 1000 } });
      await jobWhen(f, jobId, (j) => j.state === 'running');

      // The agent stops reading: it never sees (or answers) the close frame.
      (agent.ws as unknown as { _socket: { pause(): void } })._socket.pause();
      expect((await api(f, 'POST', `/api/v1/agents/${creds.agentId}/actions`, { action: 'revoke' })).status).toBe(200);
      agent.send({ v: 1, type: 'result', jobId, epoch: a.epoch, outcome: { ok: true, tempPath: temp, outputSize: 34, encodeMs: 10, avgFps: 25 } });

      const settled = await jobWhen(f, jobId, (j) => j.state !== 'running' && j.state !== 'leased' && j.state !== 'verifying');
      expect(settled.state).toBe('queued');
      expect(fs.existsSync(a.output.path)).toBe(false);
    });

    it('refuses a second session for an identity that has a live one with 409 duplicate-session', async () => {
      const f = await startFarm();
      const creds = await enroll(f);
      const first = await connectAgent(f, creds);
      await first.helloAndWelcome();

      const second = await openAgentSocket(f, creds);
      expect(second).toMatchObject({ ok: false, status: 409, body: { error: { code: 'duplicate-session' } } });

      // The live session is untouched.
      expect(first.ws.readyState).toBe(WebSocket.OPEN);
      await first.helloAndWelcome();
    });
  });

  describe('Host, Origin and API token', () => {
    it('refuses a foreign Host with 403 on the HTTP API and on the agent socket', async () => {
      const f = await startFarm();
      const creds = await enroll(f);
      const evil = `evil.example:${f.port}`;
      for (const urlPath of ['/api/v1/health', '/api/v1/status', '/metrics']) {
        const reply = await request(f.port, { path: urlPath, headers: { ...bearer(f.apiToken), Host: evil } });
        expect(reply.status, urlPath).toBe(403);
        expect(reply.json().error.code).toBe('bad-host');
      }
      const upgrade = parseRawResponse(await rawExchange(f.port, upgradeRequest('/api/v1/agent', { Host: evil, ...agentAuth(creds) })));
      expect(upgrade).toMatchObject({ status: 403, body: { error: { code: 'bad-host' } } });
      // Our own name passes the same gate.
      expect((await request(f.port, { path: '/api/v1/health', headers: { Host: `localhost:${f.port}` } })).status).toBe(200);
    });

    it('refuses a cross-site Origin with 403 on the HTTP API and on the agent socket', async () => {
      const f = await startFarm();
      const creds = await enroll(f);
      const reply = await request(f.port, { path: '/api/v1/status', headers: { ...bearer(f.apiToken), Origin: 'http://evil.example' } });
      expect(reply.status).toBe(403);
      expect(reply.json().error.code).toBe('bad-origin');
      const post = await api(f, 'POST', '/api/v1/agents/join-tokens', undefined, { Origin: 'http://evil.example' });
      expect(post.status).toBe(403);

      expect(await openAgentSocket(f, creds, { origin: 'http://evil.example' })).toMatchObject({
        ok: false,
        status: 403,
        body: { error: { code: 'bad-origin' } },
      });
      const own = await request(f.port, { path: '/api/v1/status', headers: { ...bearer(f.apiToken), Origin: `http://127.0.0.1:${f.port}` } });
      expect(own.status).toBe(200);
    });

    it('refuses the operator API without the token or with a wrong one', async () => {
      const f = await startFarm();
      const wrong = randomBytes(32).toString('base64url');
      f.secrets.push(wrong);
      const routes: [string, string][] = [
        ['GET', '/api/v1/status'],
        ['GET', '/api/v1/agents'],
        ['POST', '/api/v1/agents/join-tokens'],
        ['POST', '/api/v1/batches'],
        ['POST', '/api/v1/jobs/actions'],
        ['POST', '/api/v1/agents/agt-0123456789ab/actions'],
      ];
      for (const [method, urlPath] of routes) {
        const none = await request(f.port, { method, path: urlPath });
        expect(none.status, `${method} ${urlPath}`).toBe(401);
        const bad = await request(f.port, { method, path: urlPath, headers: bearer(wrong) });
        expect(bad.status, `${method} ${urlPath}`).toBe(401);
      }
      const events = await openSocket(`ws://127.0.0.1:${f.port}/api/v1/events`, undefined, { headers: bearer(wrong) });
      expect(events).toMatchObject({ ok: false, status: 401 });
      expect((await api(f, 'GET', '/api/v1/status')).status).toBe(200);
      // Nothing was enrolled or submitted by the refused requests.
      expect(f.store.listAgents()).toEqual([]);
    });

    it('serves /metrics in Prometheus text format, to the token only', async () => {
      const f = await startFarm();
      expect((await request(f.port, { path: '/metrics' })).status).toBe(401);
      expect((await request(f.port, { path: '/metrics', headers: bearer('not-the-token') })).status).toBe(401);

      const agent = await connectAgent(f, await enroll(f));
      await agent.helloAndWelcome();
      const reply = await request(f.port, { path: '/metrics', headers: bearer(f.apiToken) });
      expect(reply.status).toBe(200);
      expect(reply.headers['content-type']).toBe(METRICS_CONTENT_TYPE);
      expect(reply.text).toMatch(/^# HELP encodefarm_jobs /m);
      expect(reply.text).toMatch(/^# TYPE encodefarm_jobs gauge$/m);
      expect(reply.text).toMatch(/^encodefarm_agents_up 1$/m);
      expect(reply.text).toMatch(/^# TYPE encodefarm_queue_wait_seconds histogram$/m);
      // Every line is a comment or `name{labels} value`.
      for (const line of reply.text.trim().split('\n')) expect(line).toMatch(/^(# (HELP|TYPE) \w+ .+|\w+(\{[^}]*\})? -?[\d.e+]+|\w+(\{[^}]*\})? (\+Inf|NaN))$/);
    });
  });

  describe('request bodies', () => {
    it('refuses bodies over the limit with 413', async () => {
      const f = await startFarm();
      // Declared too long: refused before a byte of the body is read.
      const raw = await rawExchange(
        f.port,
        `POST /api/v1/batches HTTP/1.1\r\nHost: 127.0.0.1:${f.port}\r\nAuthorization: Bearer ${f.apiToken}\r\n` +
          `Content-Type: application/json\r\nContent-Length: ${MiB + 1}\r\n\r\n{"inputs":`,
      );
      expect(parseRawResponse(raw)).toMatchObject({ status: 413, body: { error: { code: 'body-too-large' } } });
      // Enrollment, open to anyone, takes only a few KiB, declared or streamed.
      const big = JSON.stringify({ token: 'ef1.x', name: 'n'.repeat(5000) });
      const declared = await request(f.port, { method: 'POST', path: '/api/v1/agents/enroll', headers: jsonHeaders, body: big });
      expect(declared.status).toBe(413);
      const chunked = await request(f.port, {
        method: 'POST',
        path: '/api/v1/agents/enroll',
        headers: { ...jsonHeaders, 'Transfer-Encoding': 'chunked' },
        body: big,
      });
      expect(chunked.status).toBe(413);
      expect((await request(f.port, { path: '/api/v1/health' })).status).toBe(200);
    });

    it('refuses malformed JSON with 400 and a body that fails the schema with 400', async () => {
      const f = await startFarm();
      const malformed = await request(f.port, { method: 'POST', path: '/api/v1/batches', headers: { ...bearer(f.apiToken), ...jsonHeaders }, body: '{"inputs": [' });
      expect(malformed.status).toBe(400);
      expect(malformed.json().error.code).toBe('bad-json');
      const enroll = await request(f.port, { method: 'POST', path: '/api/v1/agents/enroll', headers: jsonHeaders, body: '{token' });
      expect(enroll.status).toBe(400);
      const wrongShape = await api(f, 'POST', '/api/v1/agents/agt-0123456789ab/actions', { action: 'explode' });
      expect(wrongShape.status).toBe(400);
      expect(wrongShape.json().error.code).toBe('invalid-body');
      const notJson = await request(f.port, { method: 'POST', path: '/api/v1/batches', headers: { ...bearer(f.apiToken), 'Content-Type': 'text/plain' }, body: '{}' });
      expect(notJson.status).toBe(415);
    });
  });

  describe('hostile agent frames', () => {
    it('survives malformed, oversized and random frames from an enrolled agent and keeps serving others', async () => {
      const f = await startFarm();
      const victim = await connectAgent(f, await enroll(f, 'victim'));
      await victim.helloAndWelcome();
      const held = await submitClip(f, 'held');
      const heldAssign = await victim.assignOf(held);
      const heldTemp = tempPathFor(heldAssign.output.path, held, heldAssign.epoch);
      const bystander = path.join(f.dir, 'bystander.txt');
      fs.writeFileSync(bystander, 'must survive');

      // Session 1: garbage that parses as nothing, random objects, protocol look-alikes.
      const fuzzer = await connectAgent(f, await enroll(f, 'fuzzer'));
      await fuzzer.helloAndWelcome([]);
      for (const frame of ['{', 'not json', '[]', 'null', '42', '"text"', '', '{"a":'.repeat(5000) + '1' + '}'.repeat(5000)]) fuzzer.ws.send(frame);
      fuzzer.ws.send(Buffer.from([0xde, 0xad, 0xbe, 0xef]), { binary: true });
      const fuzzerId = fuzzer.creds.agentId;
      fuzzer.ws.send(`{"__proto__": {"polluted": true}, "type": "hello", "v": 1, "agentId": "${fuzzerId}"}`);
      fuzzer.ws.send(`{"constructor": {"prototype": {"polluted": true}}, "type": "heartbeat", "v": 1, "leases": []}`);
      const rand = seeded(20_240_601);
      for (let i = 0; i < 300; i++) fuzzer.send(randomObject(rand));
      for (let i = 0; i < 300; i++) fuzzer.send(randomProtocolMessage(rand, fuzzerId, held));
      // Well-formed messages about work this agent does not hold, and paths it should not touch.
      for (const epoch of [1, 2, 99]) {
        fuzzer.send({ v: 1, type: 'result', jobId: held, epoch, outcome: { ok: true, tempPath: bystander, outputSize: 1, encodeMs: 1, avgFps: 1 } });
        fuzzer.send({ v: 1, type: 'result', jobId: held, epoch, outcome: { ok: false, error: { kind: 'input-invalid', message: 'not yours' } } });
        fuzzer.send({ v: 1, type: 'encoded', jobId: held, epoch });
        // Fenced by epoch but not by sender today (see remote-agents.test.ts, "fencing by agent").
        fuzzer.send({ v: 1, type: 'heartbeat', leases: [{ jobId: held, epoch }] });
        fuzzer.send({ v: 1, type: 'progress', jobId: held, epoch, frame: 1, fps: 1, speed: 1, outTimeS: 1, percent: 1, etaS: null });
      }
      fuzzer.send({ v: 1, type: 'result', jobId: 424242, epoch: 1, outcome: { ok: true, tempPath: bystander, outputSize: 1, encodeMs: 1, avgFps: 1 } });
      fuzzer.send({ v: 1, type: 'hello', agentId: fuzzerId, hostname: 'h', pid: 1, devices: [], active: [{ jobId: held, epoch: 1, deviceId: 'cpu' }] });
      fuzzer.send({ v: 1, type: 'device-update', deviceId: 'no-such-device', slots: 99, state: 'working' });
      // Huge but valid: thousands of devices (none able to encode) in one hello, replaced by the next.
      const swarm = Array.from({ length: 5000 }, (_, i) => ({ id: `d${i}`, kind: 'simulated-gpu', label: `d${i}`, slots: 256, codecs: [] }));
      fuzzer.send({ v: 1, type: 'hello', agentId: fuzzerId, hostname: 'h', pid: 1, devices: swarm, limitGroups: [] });
      // A frame just under the 1 MiB limit is read (and refused by the schema).
      fuzzer.send({ v: 1, type: 'log', jobId: held, epoch: 1, lines: ['x'.repeat(MiB - 200)] });
      await fuzzer.helloAndWelcome([]);
      await f.service.coordinator.idle();

      expect(fuzzer.ws.readyState).toBe(WebSocket.OPEN);
      expect(({} as Record<string, unknown>).polluted).toBeUndefined();
      expect(fs.readFileSync(bystander, 'utf8')).toBe('must survive');
      expect(fuzzer.ofType('assign')).toEqual([]);
      expect(fuzzer.ofType('ack').every((a) => a.status === 'conflict')).toBe(true);
      expect(fuzzer.ofType('ack').some((a) => a.jobId === held)).toBe(true);
      // The victim's lease is still the victim's.
      expect(f.store.getJob(held)).toMatchObject({ agentId: victim.creds.agentId, epoch: 1, state: 'leased' });
      expect(f.store.listAttempts(held).map((a) => a.outcome)).toEqual([null]);
      expect(fs.existsSync(heldTemp)).toBe(false);

      // Session 1 again: too many unparseable frames end the session (1008).
      for (let i = 0; i < 25; i++) fuzzer.ws.send('}{');
      expect((await fuzzer.closed).code).toBe(1008);

      // Session 2: a frame over 1 MiB ends the session (1009).
      const big = await connectAgent(f, await enroll(f, 'oversized'));
      await big.helloAndWelcome([]);
      big.ws.send(JSON.stringify({ v: 1, type: 'log', jobId: held, epoch: 1, lines: ['x'.repeat(MiB)] }));
      expect((await big.closed).code).toBe(1009);

      // Session 3: a hello naming another agent (the victim, or a local one) ends the session (4003).
      for (const claimed of [victim.creds.agentId, 'local:this-machine']) {
        const impostor = await connectAgent(f, await enroll(f, `impostor-${claimed.slice(0, 5)}`));
        impostor.send({ v: 1, type: 'hello', agentId: claimed, hostname: 'h', pid: 1, devices: [CPU], active: [{ jobId: held, epoch: 1, deviceId: 'cpu' }] });
        expect((await impostor.closed).code).toBe(4003);
        expect(impostor.ofType('welcome')).toEqual([]);
      }

      // Session 4: a text frame that is not UTF-8 ends the session (1007).
      const mangled = await connectAgent(f, await enroll(f, 'mangled'));
      await mangled.helloAndWelcome([]);
      mangled.ws.send(Buffer.from([0x7b, 0xff, 0xfe, 0x7d]), { binary: false });
      expect((await mangled.closed).code).toBe(1007);

      // The coordinator is still up, and still schedules.
      const health = await request(f.port, { path: '/api/v1/health' });
      expect(health.status).toBe(200);
      expect(health.json()).toEqual({ ok: true });
      expect(victim.ws.readyState).toBe(WebSocket.OPEN);
      expect(f.store.getJob(held)).toMatchObject({ agentId: victim.creds.agentId, epoch: 1 });
      const fresh = await submitClip(f, 'fresh');
      const newcomer = await connectAgent(f, await enroll(f, 'newcomer'));
      newcomer.hello();
      expect(await newcomer.assignOf(fresh)).toMatchObject({ type: 'assign', jobId: fresh, epoch: 1, deviceId: 'cpu', presetId: 'h264-fast' });
      expect(f.logger.entries.filter((e) => e.level === 'error')).toEqual([]);
    });
  });

  describe('logs', () => {
    it('never logs the API token, a join token or an agent secret, even when they are refused', async () => {
      const f = await startFarm();
      const creds = await enroll(f, 'render-logged');
      const agent = await connectAgent(f, creds);
      await agent.helloAndWelcome();
      // Refusals log their reasons; the secrets they carried must not be among them.
      const wrongSecret = randomBytes(32).toString('base64url');
      const wrongToken = randomBytes(32).toString('base64url');
      f.secrets.push(wrongSecret, wrongToken);
      await openAgentSocket(f, { agentId: creds.agentId, secret: wrongSecret });
      await openAgentSocket(f, creds);
      await request(f.port, { path: '/api/v1/status', headers: bearer(wrongToken) });
      await request(f.port, { path: `/api/v1/status?token=${f.apiToken}`, headers: bearer(f.apiToken) });
      await rawExchange(f.port, upgradeRequest(`/api/v1/agent?secret=${creds.secret}`, { Host: 'evil.example', ...agentAuth(creds) }));
      await enrollWith(f, `ef1.${wrongToken.slice(0, 43)}`);
      await api(f, 'POST', `/api/v1/agents/${creds.agentId}/actions`, { action: 'revoke' });
      await agent.closed;

      expect(f.logger.entries.length).toBeGreaterThan(0);
      expect(f.logger.entries.some((e) => e.msg === 'WebSocket upgrade refused')).toBe(true);
      const logged = JSON.stringify(f.logger.entries);
      for (const s of f.secrets) expect(logged).not.toContain(s);
    });
  });
});
