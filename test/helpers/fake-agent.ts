import { promises as fsp } from 'node:fs';
import path from 'node:path';
import type { AgentConnection, Coordinator } from '../../core/coordinator/coordinator.ts';
import type { DeviceAnnouncement, LimitGroup } from '../../core/shared/device.ts';
import type { ErrorKind } from '../../core/shared/errors.ts';
import {
  CoordinatorMessageSchema,
  PROTOCOL_VERSION,
  type Ack,
  type Assign,
  type Cancel,
  type CoordinatorMessage,
} from '../../core/shared/protocol/index.ts';
import { tempPathFor } from '../../core/shared/temp-names.ts';

/** A device announcement with test defaults: one working h264/hevc/av1 GPU slot. */
export function fakeDevice(id: string, overrides: Partial<DeviceAnnouncement> = {}): DeviceAnnouncement {
  return {
    id,
    kind: 'simulated-gpu',
    label: `fake ${id}`,
    slots: 1,
    codecs: ['h264', 'hevc', 'av1'],
    state: 'working',
    ...overrides,
  };
}

export interface FakeAgentOptions {
  /** @default 'fake-agent' */
  agentId?: string;
  devices: DeviceAnnouncement[];
  limitGroups?: LimitGroup[];
}

type MessageOf<T extends CoordinatorMessage['type']> = Extract<CoordinatorMessage, { type: T }>;

interface Waiter {
  type: CoordinatorMessage['type'];
  match: (msg: CoordinatorMessage) => boolean;
  resolve: (msg: CoordinatorMessage) => void;
}

/**
 * A FAKE, scripted agent: it speaks protocol v1 straight into `coordinator.connectAgent(...)`,
 * with no encoder behind it. It records every message the coordinator sends (checked against the
 * protocol schema) and sends `hello`, `started`, `progress`, `result` and `heartbeat` only when
 * the test says so, which lets a test play any interleaving an agent could produce.
 */
export class FakeAgent {
  readonly agentId: string;
  /** Everything the coordinator sent, in order. */
  readonly received: CoordinatorMessage[] = [];
  /** Messages that did not pass `CoordinatorMessageSchema` (should stay empty). */
  readonly invalid: unknown[] = [];
  private readonly connection: AgentConnection;
  private waiters: Waiter[] = [];

  private constructor(coordinator: Pick<Coordinator, 'connectAgent'>, private readonly opts: FakeAgentOptions) {
    this.agentId = opts.agentId ?? 'fake-agent';
    this.connection = coordinator.connectAgent((msg) => this.onMessage(msg));
  }

  /** Connects to the coordinator and sends `hello` with the given devices. */
  static connect(coordinator: Pick<Coordinator, 'connectAgent'>, opts: FakeAgentOptions): FakeAgent {
    const agent = new FakeAgent(coordinator, opts);
    agent.hello();
    return agent;
  }

  hello(devices: DeviceAnnouncement[] = this.opts.devices): void {
    this.send({
      v: PROTOCOL_VERSION,
      type: 'hello',
      agentId: this.agentId,
      hostname: 'fake-host',
      pid: 4242,
      devices,
      limitGroups: this.opts.limitGroups ?? [],
      tags: [],
    });
  }

  get assigns(): Assign[] {
    return this.ofType('assign');
  }

  get cancels(): Cancel[] {
    return this.ofType('cancel');
  }

  /** Conflicts only: the `ack ok` that settles every applied result is in `applied`. */
  get acks(): Ack[] {
    return this.ofType('ack').filter((a) => a.status === 'conflict');
  }

  /** Results the coordinator acknowledged as applied. */
  get applied(): Ack[] {
    return this.ofType('ack').filter((a) => a.status === 'ok');
  }

  /** The latest assign of a job; throws when the job was never assigned here. */
  assignOf(jobId: number): Assign {
    const found = this.assigns.filter((a) => a.jobId === jobId).at(-1);
    if (!found) throw new Error(`${this.agentId}: job ${jobId} was never assigned here`);
    return found;
  }

  /** Resolves with the next message of `type` (matching `match`) that arrives after this call. */
  next<T extends CoordinatorMessage['type']>(type: T, match: (msg: MessageOf<T>) => boolean = () => true): Promise<MessageOf<T>> {
    return new Promise((resolve) => {
      this.waiters.push({
        type,
        match: (m) => match(m as MessageOf<T>),
        resolve: (m) => resolve(m as MessageOf<T>),
      });
    });
  }

  /** Sends anything, valid or not, as if it came over the wire. */
  send(raw: unknown): void {
    this.connection.receive(raw);
  }

  /** Where a real agent writes this attempt's output: the temp name beside the target. */
  tempPathOf(a: Assign): string {
    return tempPathFor(a.output.path, a.jobId, a.epoch);
  }

  /** Writes `bytes` to the attempt's temp path (creating the folder), as an encode would. */
  async writeTemp(a: Assign, bytes = 'encoded bytes'): Promise<string> {
    const tempPath = this.tempPathOf(a);
    await fsp.mkdir(path.dirname(tempPath), { recursive: true });
    await fsp.writeFile(tempPath, bytes);
    return tempPath;
  }

  started(jobId: number, epoch: number, opts: { tempPath?: string; durationS?: number; sizeBytes?: number } = {}): void {
    const tempPath = opts.tempPath ?? this.defaultTemp(jobId, epoch);
    this.send({
      v: PROTOCOL_VERSION,
      type: 'started',
      jobId,
      epoch,
      tempPath,
      source: { durationS: opts.durationS ?? 10, sizeBytes: opts.sizeBytes ?? 1000 },
    });
  }

  progress(jobId: number, epoch: number, p: { percent: number; outTimeS?: number; fps?: number; speed?: number; etaS?: number | null }): void {
    this.send({
      v: PROTOCOL_VERSION,
      type: 'progress',
      jobId,
      epoch,
      frame: Math.round((p.outTimeS ?? 0) * 25),
      fps: p.fps ?? 50,
      speed: p.speed ?? 2,
      outTimeS: p.outTimeS ?? p.percent / 10,
      percent: p.percent,
      etaS: p.etaS ?? null,
    });
  }

  resultOk(jobId: number, epoch: number, opts: { tempPath?: string; outputSize?: number; encodeMs?: number } = {}): void {
    this.send({
      v: PROTOCOL_VERSION,
      type: 'result',
      jobId,
      epoch,
      outcome: {
        ok: true,
        tempPath: opts.tempPath ?? this.defaultTemp(jobId, epoch),
        outputSize: opts.outputSize ?? 13,
        encodeMs: opts.encodeMs ?? 500,
        avgFps: 50,
      },
    });
  }

  resultError(jobId: number, epoch: number, kind: ErrorKind, message = `fake ${kind}`): void {
    this.send({ v: PROTOCOL_VERSION, type: 'result', jobId, epoch, outcome: { ok: false, error: { kind, message } } });
  }

  heartbeat(...leases: { jobId: number; epoch: number }[]): void {
    this.send({ v: PROTOCOL_VERSION, type: 'heartbeat', leases });
  }

  /** The transport went away. */
  close(): Promise<void> {
    return this.connection.close();
  }

  private defaultTemp(jobId: number, epoch: number): string {
    const a = this.assigns.find((x) => x.jobId === jobId && x.epoch === epoch);
    return a ? this.tempPathOf(a) : `/nowhere/.job-${jobId}.ef-${jobId}-${epoch}.part`;
  }

  private ofType<T extends CoordinatorMessage['type']>(type: T): MessageOf<T>[] {
    return this.received.filter((m): m is MessageOf<T> => m.type === type);
  }

  private onMessage(raw: CoordinatorMessage): void {
    const parsed = CoordinatorMessageSchema.safeParse(raw);
    if (!parsed.success) {
      this.invalid.push(raw);
      return;
    }
    const msg = parsed.data;
    this.received.push(msg);
    const hit = this.waiters.find((w) => w.type === msg.type && w.match(msg));
    if (hit) {
      this.waiters = this.waiters.filter((w) => w !== hit);
      hit.resolve(msg);
    }
  }
}
