import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { WebSocket } from 'ws';
import type { DeviceKind } from '../../core/shared/device.ts';
import { CoordinatorMessageSchema, PROTOCOL_VERSION, type AgentMessage, type Assign } from '../../core/shared/protocol/index.ts';
import { tempPathFor } from '../../core/shared/temp-names.ts';

export interface NullAgentOptions {
  /** `http://host:port` of the coordinator. */
  url: string;
  agentId: string;
  secret: string;
  kind: Extract<DeviceKind, 'simulated-gpu' | 'cpu'>;
  slots: number;
  /** Where each "slot freed → next job started" latency (ms) is pushed. */
  latencies: number[];
  /** How long each "encode" takes on average (jittered); 0 finishes at once, in the same turn as the assign. */
  holdMs: number;
}

/** What went wrong on the agent side; any non-zero count makes the bench fail. */
export interface AgentErrors {
  invalidMessages: number;
  conflicts: number;
  /** Sockets that closed before the bench closed them. */
  unexpectedCloses: number;
  socketErrors: number;
  /** Assigns that arrived while every slot of the device was already taken. */
  overAssigned: number;
}

/** Temp folders already created, shared by every agent of the process. */
const madeDirs = new Set<string>();

/**
 * A simulated agent with one null device that "finishes at once" (or after `holdMs`): on `assign`
 * it sends `started`, writes a few bytes at the lease's temp name (shared storage, so the
 * coordinator links that file into place), then `encoded` and a good `result`. It speaks protocol
 * v1 over a real WebSocket with real credentials, so the coordinator's side is what it is for a
 * real agent.
 */
export class NullAgent {
  readonly errors: AgentErrors = { invalidMessages: 0, conflicts: 0, unexpectedCloses: 0, socketErrors: 0, overAssigned: 0 };
  assigned = 0;
  private ws: WebSocket | undefined;
  /**
   * The device's free slots, oldest first: when each freed (agent clock, ms), or NaN for a slot
   * free since hello, whose first assign is a fill, not a reaction to a freed slot. An assign takes
   * the slot that has waited longest.
   */
  private freedAt: number[];
  private freedHead = 0;
  private heartbeat: NodeJS.Timeout | undefined;
  private closing = false;

  constructor(private readonly opts: NullAgentOptions) {
    this.freedAt = Array.from({ length: opts.slots }, () => NaN);
  }

  /** Opens the session, says hello, and resolves on the coordinator's `welcome`. */
  connect(): Promise<void> {
    const wsUrl = `${this.opts.url.replace(/^http/, 'ws')}/api/v1/agent`;
    const ws = new WebSocket(wsUrl, {
      headers: { Authorization: `Bearer ${this.opts.agentId}:${this.opts.secret}` },
      perMessageDeflate: false,
    });
    this.ws = ws;
    let welcomed = false;
    return new Promise((resolve, reject) => {
      ws.on('error', (err) => {
        // Before the welcome this fails the connect; after it, it is counted (and the close follows).
        if (!welcomed) return reject(err);
        this.errors.socketErrors++;
      });
      ws.once('open', () => this.hello());
      ws.on('message', (data) => {
        const type = this.onFrame(data.toString());
        if (type === 'welcome' && !welcomed) {
          welcomed = true;
          resolve();
        }
      });
      ws.on('close', () => {
        if (this.heartbeat) clearInterval(this.heartbeat);
        if (!this.closing) this.errors.unexpectedCloses++;
      });
    });
  }

  close(): Promise<void> {
    this.closing = true;
    if (this.heartbeat) clearInterval(this.heartbeat);
    const ws = this.ws;
    if (!ws || ws.readyState === WebSocket.CLOSED) return Promise.resolve();
    return new Promise((resolve) => {
      ws.once('close', () => resolve());
      ws.close(1000, 'bench done');
    });
  }

  private send(msg: AgentMessage): void {
    this.ws?.send(JSON.stringify(msg));
  }

  private hello(): void {
    this.send({
      v: PROTOCOL_VERSION,
      type: 'hello',
      agentId: this.opts.agentId,
      hostname: `bench-${this.opts.agentId}`,
      pid: process.pid,
      devices: [{ id: 'null0', kind: this.opts.kind, label: 'null device (bench, finishes at once)', slots: this.opts.slots, codecs: ['h264'], state: 'working' }],
      limitGroups: [],
      tags: [],
      files: 'shared',
      active: [],
    });
  }

  /** Every frame is checked against the protocol schema, as a real agent does. */
  private onFrame(text: string): string | undefined {
    let raw: unknown;
    try {
      raw = JSON.parse(text);
    } catch {
      raw = undefined;
    }
    const parsed = CoordinatorMessageSchema.safeParse(raw);
    if (!parsed.success) {
      this.errors.invalidMessages++;
      return undefined;
    }
    const msg = parsed.data;
    switch (msg.type) {
      case 'assign':
        this.onAssign(msg);
        break;
      case 'welcome':
        this.startHeartbeats(msg.heartbeatMs);
        break;
      case 'ack':
        if (msg.status === 'conflict') this.errors.conflicts++;
        break;
      default:
        break;
    }
    return msg.type;
  }

  private onAssign(a: Assign): void {
    const now = performance.now();
    this.assigned++;
    if (this.freedHead < this.freedAt.length) {
      const freed = this.freedAt[this.freedHead++]!;
      if (!Number.isNaN(freed)) this.opts.latencies.push(now - freed);
    } else this.errors.overAssigned++;
    const ref = { v: PROTOCOL_VERSION, jobId: a.jobId, epoch: a.epoch } as const;
    const tempPath = tempPathFor(a.output.path, a.jobId, a.epoch);
    this.send({ ...ref, type: 'started', tempPath, source: { durationS: 1, sizeBytes: 1 } });
    writeTemp(tempPath);
    const finish = () => {
      this.freedAt.push(performance.now());
      if (this.freedHead > 1024) this.compactFreed();
      this.send({ ...ref, type: 'encoded' });
      this.send({ ...ref, type: 'result', outcome: { ok: true, tempPath, outputSize: TEMP_BYTES.length, encodeMs: 0, avgFps: 0 } });
    };
    // Jittered (0.5–1.5 × holdMs) so that slots filled together do not all free together, wave after wave.
    if (this.opts.holdMs > 0) setTimeout(finish, this.opts.holdMs * (0.5 + Math.random()));
    else finish();
  }

  private compactFreed(): void {
    this.freedAt = this.freedAt.slice(this.freedHead);
    this.freedHead = 0;
  }

  /** The null device holds nothing between ticks, so a heartbeat renews no lease; it is sent all the same. */
  private startHeartbeats(ms: number): void {
    if (this.heartbeat) clearInterval(this.heartbeat);
    this.heartbeat = setInterval(() => this.send({ v: PROTOCOL_VERSION, type: 'heartbeat', leases: [] }), ms);
    this.heartbeat.unref();
  }
}

const TEMP_BYTES = Buffer.from('null\n');

/** Synchronously, so `encoded` and `result` are only sent once the file is there. */
function writeTemp(tempPath: string): void {
  const dir = path.dirname(tempPath);
  if (!madeDirs.has(dir)) {
    mkdirSync(dir, { recursive: true });
    madeDirs.add(dir);
  }
  writeFileSync(tempPath, TEMP_BYTES);
}
