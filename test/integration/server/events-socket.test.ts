import { EventEmitter } from 'node:events';
import { afterEach, describe, expect, it } from 'vitest';
import type { WebSocket } from 'ws';
import type { CoordinatorEvents } from '../../../core/coordinator/coordinator.ts';
import { DevicePool, type PoolDevice } from '../../../core/coordinator/device-pool.ts';
import { freshBudget } from '../../../core/coordinator/session-budget.ts';
import type { JobRow } from '../../../core/coordinator/ports.ts';
import { EventsFrameSchema, JobViewSchema } from '../../../core/shared/protocol/index.ts';
import { createEventsSocket, type EventsSocket } from '../../../core/coordinator/server/events-socket.ts';
import { allowedHostsFor } from '../../../core/coordinator/server/guards.ts';
import { createHttpServer, type FarmHttpServer } from '../../../core/coordinator/server/http-server.ts';
import { FakeClock } from '../../helpers/fake-clock.ts';
import { gpuFigures, gpuSample } from '../../helpers/gpu-sample.ts';
import { API_TOKEN, closed, fakeAuthenticateAgent, nextMessage, openSocket } from './harness.ts';

const INTERVAL_MS = 250;

function jobRow(id: number, overrides: Partial<JobRow> = {}): JobRow {
  return {
    id,
    batchId: 1,
    inputPath: `/in/${id}.mp4`,
    presetId: 'h264-fast',
    codec: 'h264',
    outputPath: `/out/${id}.mp4`,
    onExists: 'skip',
    priority: 0,
    state: 'queued',
    blockReason: null,
    attempts: 0,
    requeues: 0,
    epoch: 0,
    deviceId: null,
    agentId: null,
    leaseExpiresAt: null,
    notBefore: 0,
    percent: 0,
    fps: 0,
    speed: 0,
    etaS: null,
    outTimeS: 0,
    durationS: null,
    inputSize: null,
    outputSize: null,
    finalPath: null,
    errorKind: null,
    errorMessage: null,
    cancelRequested: false,
    createdAt: 0,
    startedAt: null,
    finishedAt: null,
    encodeMs: null,
    commitFileId: null,
    ...overrides,
  };
}

function poolDevice(agentId: string, id: string, busy: number[]): PoolDevice {
  const announcement = { id, kind: 'simulated-gpu' as const, label: `fake ${id}`, slots: 2, codecs: ['h264' as const], state: 'working' as const };
  return {
    key: `${agentId}/${id}`,
    agentId,
    id,
    kind: 'simulated-gpu',
    label: `fake ${id}`,
    codecs: ['h264'],
    announcedSlots: 2,
    slots: 2,
    limitGroup: undefined,
    state: 'working',
    busy: new Set(busy),
    faults: 0,
    reason: undefined,
    announcement,
    gpuIndex: undefined,
    budget: freshBudget(0),
    telemetry: null,
    telemetrySource: null,
  };
}

let server: FarmHttpServer;
let eventsSocket: EventsSocket;
let events: EventEmitter<CoordinatorEvents>;
let clock: FakeClock;

afterEach(async () => {
  eventsSocket.close();
  await server.close();
});

async function start(): Promise<number> {
  clock = new FakeClock();
  events = new EventEmitter<CoordinatorEvents>();
  eventsSocket = createEventsSocket({ events, clock, intervalMs: INTERVAL_MS });
  server = createHttpServer({
    routes: [],
    allowedHosts: ({ port }) => allowedHostsFor({ listenHost: '127.0.0.1', port }),
    apiToken: () => API_TOKEN,
    authenticateAgent: fakeAuthenticateAgent,
    upgrades: {
      '/api/v1/agent': (_req, socket) => socket.destroy(),
      '/api/v1/events': (req, socket, head) => eventsSocket.handleUpgrade(req, socket, head),
    },
    logger: { debug() {}, info() {}, warn() {}, error() {} },
  });
  return (await server.listen('127.0.0.1', 0)).port;
}

async function listen(port: number): Promise<WebSocket> {
  const outcome = await openSocket(`ws://127.0.0.1:${port}/api/v1/events`, ['encodefarm.v1', `bearer.${API_TOKEN}`], {});
  if (!outcome.ok) throw new Error(`refused: ${outcome.status}`);
  return outcome.ws;
}

describe('createEventsSocket', () => {
  it('coalesces a burst of job updates into one frame with each job’s latest row', async () => {
    const ws = await listen(await start());
    const frame = nextMessage(ws);
    events.emit('job', jobRow(1, { state: 'running', percent: 10 }));
    events.emit('job', jobRow(2, { state: 'queued' }));
    events.emit('job', jobRow(1, { state: 'running', percent: 20 }));
    events.emit('job', jobRow(1, { state: 'running', percent: 30 }));
    expect(clock.pending()).toBe(1);
    clock.advance(INTERVAL_MS);
    const got = await frame;
    expect(got.type).toBe('jobs');
    expect(got.jobs.map((j: JobRow) => [j.id, j.percent])).toEqual([
      [1, 30],
      [2, 0],
    ]);

    // The next interval carries only what changed since.
    const next = nextMessage(ws);
    events.emit('job', jobRow(2, { state: 'done', percent: 100 }));
    clock.advance(INTERVAL_MS);
    expect((await next).jobs.map((j: JobRow) => [j.id, j.state])).toEqual([[2, 'done']]);
  });

  it('sends devices (busy as job ids) and agent changes, coalesced per device and per agent', async () => {
    const ws = await listen(await start());
    const received: unknown[] = [];
    ws.on('message', (data) => received.push(JSON.parse(data.toString())));
    const third = new Promise<void>((resolve) => ws.on('message', () => received.length === 3 && resolve()));
    events.emit('agent', { agentId: 'agt-a', connected: true });
    events.emit('device', poolDevice('agt-a', 'gpu0', []));
    events.emit('device', poolDevice('agt-a', 'gpu0', [7]));
    events.emit('agent', { agentId: 'agt-a', connected: false });
    events.emit('job', jobRow(7, { state: 'running' }));
    clock.advance(INTERVAL_MS);
    await third;
    expect(received).toEqual([
      { type: 'jobs', jobs: [expect.objectContaining({ id: 7, state: 'running' })] },
      { type: 'devices', devices: [expect.objectContaining({ key: 'agt-a/gpu0', busy: [7], limitGroup: null })] },
      { type: 'agent', agentId: 'agt-a', connected: false },
    ]);
    // Every frame is what the shared schema (the UI's side) says, jobs as API job views.
    for (const frame of received) expect(EventsFrameSchema.safeParse(frame).success).toBe(true);
    expect(Object.keys((received[0] as { jobs: object[] }).jobs[0]!).sort()).toEqual(Object.keys(JobViewSchema.shape).sort());
  });

  it('sends a GPU device with its live figures and its learned session budget', async () => {
    const ws = await listen(await start());
    const frame = nextMessage(ws);
    const pool = new DevicePool(3, { now: () => clock.now(), budgetQuietMs: 600_000 });
    pool.register('agt-a', [{ id: 'gpu1', kind: 'nvenc', label: 'GPU 1 RTX 4090', gpuIndex: 1, slots: 4, codecs: ['h264'], state: 'working' }], []);
    pool.lowerSlots('agt-a/gpu1', 3, 'OpenEncodeSessionEx failed: out of memory');
    pool.setTelemetry('agt-a', gpuSample(clock.now(), [gpuFigures(0), gpuFigures(1, { temperatureC: 70, encoderSessions: 2 })]));
    events.emit('device', pool.get('agt-a/gpu1')!);
    clock.advance(INTERVAL_MS);
    const got = EventsFrameSchema.parse(await frame);
    expect(got.type === 'devices' && got.devices[0]).toMatchObject({
      key: 'agt-a/gpu1',
      slots: 2,
      announcedSlots: 4,
      // GPU index 1 of the sample, not index 0.
      telemetry: { index: 1, temperatureC: 70, encoderSessions: 2 },
      telemetrySource: { source: 'nvml', at: clock.now() - INTERVAL_MS, reason: null },
      budget: { source: 'learned', refusedAt: clock.now() - INTERVAL_MS, atBudgetMs: 0, raiseAfterMs: 600_000 },
    });
  });

  it('keeps no timer and no backlog while nobody listens', async () => {
    await start();
    events.emit('job', jobRow(1));
    events.emit('device', poolDevice('agt-a', 'gpu0', []));
    expect(clock.pending()).toBe(0);
  });

  it('sends every listener the same frames and stops when closed', async () => {
    const port = await start();
    const a = await listen(port);
    const b = await listen(port);
    const frames = Promise.all([nextMessage(a), nextMessage(b)]);
    events.emit('job', jobRow(3, { state: 'failed' }));
    clock.advance(INTERVAL_MS);
    const [fa, fb] = await frames;
    expect(fa).toEqual(fb);
    const gone = Promise.all([closed(a), closed(b)]);
    eventsSocket.close();
    await gone;
    events.emit('job', jobRow(3));
    expect(clock.pending()).toBe(0);
    expect(events.listenerCount('job')).toBe(0);
    const late = await openSocket(`ws://127.0.0.1:${port}/api/v1/events`, undefined, { headers: { Authorization: `Bearer ${API_TOKEN}` } });
    expect(late).toMatchObject({ ok: false, status: 503, body: { error: { code: 'shutting-down' } } });
  });
});
