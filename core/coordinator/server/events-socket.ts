import type { EventEmitter } from 'node:events';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocket, WebSocketServer } from 'ws';
import type { Clock, TimerHandle } from '../../shared/clock.ts';
import { silentLogger, type Logger } from '../../shared/logger.ts';
import type { CoordinatorEvents } from '../coordinator.ts';
import { raiseAfterMs, type PoolDevice } from '../device-pool.ts';
import type { JobRow } from '../ports.ts';
import { EVENTS_SUBPROTOCOL, type DeviceView, type EventsFrame } from '../../shared/protocol/index.ts';
import { jobView } from '../api/job-view.ts';
import { writeSocketError } from './http-errors.ts';

export interface EventsSocketOptions {
  /** coordinator.events */
  events: EventEmitter<CoordinatorEvents>;
  clock: Clock;
  /** @default 250 — at most one frame of each kind per interval. */
  intervalMs?: number;
  logger?: Logger;
  /** @default 8 MiB — a client that lets this much pile up unread is dropped. */
  maxBufferedBytes?: number;
}

export interface EventsSocket {
  /** Completes an upgrade the server has already authenticated. */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void;
  close(): void;
}

export function deviceView(d: PoolDevice): DeviceView {
  return {
    key: d.key,
    agentId: d.agentId,
    id: d.id,
    kind: d.kind,
    label: d.label,
    codecs: d.codecs,
    slots: d.slots,
    announcedSlots: d.announcedSlots,
    limitGroup: d.limitGroup ?? null,
    state: d.state,
    busy: [...d.busy],
    faults: d.faults,
    reason: d.reason ?? null,
    telemetry: d.telemetry,
    telemetrySource: d.telemetrySource,
    budget: {
      source: d.slots < d.announcedSlots ? 'learned' : 'configured',
      refusedAt: d.budget.refusedAt,
      atBudgetMs: d.budget.atBudgetMs,
      raiseAfterMs: raiseAfterMs(d),
    },
  };
}

/**
 * Live updates for UIs: coordinator events coalesced per job / device / agent and flushed at most
 * once per interval, so a burst of progress updates costs one frame with each job's latest row.
 */
export function createEventsSocket(opts: EventsSocketOptions): EventsSocket {
  const { clock, events } = opts;
  const logger = opts.logger ?? silentLogger;
  const intervalMs = opts.intervalMs ?? 250;
  const maxBuffered = opts.maxBufferedBytes ?? 8 * 1024 * 1024;
  const wss = new WebSocketServer({
    noServer: true,
    maxPayload: 4096,
    clientTracking: false,
    perMessageDeflate: false,
    // The one subprotocol this endpoint speaks; the `bearer.<token>` one is never echoed back.
    handleProtocols: (offered) => (offered.has(EVENTS_SUBPROTOCOL) ? EVENTS_SUBPROTOCOL : false),
  });
  const clients = new Set<WebSocket>();
  const jobs = new Map<number, JobRow>();
  const devices = new Map<string, PoolDevice>();
  const agents = new Map<string, boolean>();
  let timer: TimerHandle | undefined;
  let stopped = false;

  function frames(): EventsFrame[] {
    const out: EventsFrame[] = [];
    if (jobs.size) out.push({ type: 'jobs', jobs: [...jobs.values()].map(jobView) });
    if (devices.size) out.push({ type: 'devices', devices: [...devices.values()].map(deviceView) });
    for (const [agentId, connected] of agents) out.push({ type: 'agent', agentId, connected });
    jobs.clear();
    devices.clear();
    agents.clear();
    return out;
  }

  function flush(): void {
    timer = undefined;
    const texts = frames().map((f) => JSON.stringify(f));
    for (const ws of clients) {
      if (ws.readyState !== WebSocket.OPEN) continue;
      if (ws.bufferedAmount > maxBuffered) {
        logger.warn('events client is not reading, dropping it', { buffered: ws.bufferedAmount });
        ws.terminate();
        continue;
      }
      for (const text of texts) ws.send(text);
    }
  }

  /** Records an update; nothing accumulates while nobody listens. */
  function queue(record: () => void): void {
    if (clients.size === 0) return;
    record();
    timer ??= clock.setTimeout(flush, intervalMs);
  }

  const onJob = (job: JobRow) => queue(() => jobs.set(job.id, job));
  const onDevice = (device: PoolDevice) => queue(() => devices.set(device.key, device));
  const onAgent = (a: { agentId: string; connected: boolean }) => queue(() => agents.set(a.agentId, a.connected));
  // Subscribed only while someone listens: the coordinator reads a job's row back for each change
  // only when there is a listener for it.
  function listen(on: boolean): void {
    const method = on ? events.on.bind(events) : events.off.bind(events);
    method('job', onJob);
    method('device', onDevice);
    method('agent', onAgent);
  }

  function attach(ws: WebSocket): void {
    if (clients.size === 0) listen(true);
    clients.add(ws);
    ws.on('error', (err) => logger.debug('events socket error', { error: err.message }));
    ws.on('close', () => {
      clients.delete(ws);
      if (clients.size === 0 && !stopped) listen(false);
    });
    // Clients only listen; anything they send is ignored.
  }

  return {
    handleUpgrade(req, socket, head) {
      if (stopped) return writeSocketError(socket, 503, 'shutting-down', 'the coordinator is stopping');
      wss.handleUpgrade(req, socket, head, attach);
    },
    close() {
      if (!stopped && clients.size > 0) listen(false);
      stopped = true;
      if (timer) clock.clearTimeout(timer);
      timer = undefined;
      for (const ws of clients) ws.terminate();
      clients.clear();
      wss.close();
    },
  };
}
