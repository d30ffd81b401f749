import { promises as fsp } from 'node:fs';
import path from 'node:path';
import type { EncodeHooks, EncodeRequest, EncodeSummary, Encoder, ProbeResult, Prober } from '../../core/agent/ports.ts';
import { InputInvalidError } from '../../core/shared/errors.ts';
import type { Codec } from '../../core/shared/preset.ts';
import { AgentMessageSchema, type AgentMessage, type Assign, type Result } from '../../core/shared/protocol/index.ts';

/** One call of the FAKE encoder, held open until the test finishes it or the signal aborts it. */
export class EncodeCall {
  readonly result: Promise<EncodeSummary>;
  private settle!: { resolve: (s: EncodeSummary) => void; reject: (e: unknown) => void };

  constructor(
    readonly req: EncodeRequest,
    readonly hooks: EncodeHooks,
  ) {
    this.result = new Promise((resolve, reject) => {
      this.settle = { resolve, reject };
    });
    // Like the real encoder: an abort ends the encode with the signal's reason.
    const onAbort = () => this.settle.reject(hooks.signal.reason);
    if (hooks.signal.aborted) onAbort();
    else hooks.signal.addEventListener('abort', onAbort, { once: true });
  }

  progress(outTimeS: number): void {
    const percent = Math.min(100, (outTimeS / this.req.durationS) * 100);
    this.hooks.onProgress({ frame: Math.round(outTimeS * 25), fps: 100, speed: 4, outTimeS, percent, etaS: 1 });
  }

  finish(summary: Partial<EncodeSummary> = {}): void {
    this.settle.resolve({ stderrTail: [], encodeMs: 1200, avgFps: 100, ...summary });
  }

  fail(err: unknown): void {
    this.settle.reject(err);
  }
}

/**
 * A FAKE Encoder (implements the agent's Encoder port): it writes a few bytes to the temp path as
 * ffmpeg would, then waits for the test to script progress and the end.
 */
export class FakeEncoder implements Encoder {
  readonly calls: EncodeCall[] = [];
  private waiters: { n: number; resolve: (c: EncodeCall) => void }[] = [];

  async encode(req: EncodeRequest, hooks: EncodeHooks): Promise<EncodeSummary> {
    await fsp.writeFile(req.tempPath, `encoded ${path.basename(req.inputPath)}`);
    const call = new EncodeCall(req, hooks);
    this.calls.push(call);
    for (const w of this.waiters.filter((x) => x.n <= this.calls.length)) w.resolve(this.calls[w.n - 1]!);
    this.waiters = this.waiters.filter((x) => x.n > this.calls.length);
    return call.result;
  }

  /** Resolves with the n-th call (1-based) once it has been made. */
  call(n: number): Promise<EncodeCall> {
    const made = this.calls[n - 1];
    if (made) return Promise.resolve(made);
    return new Promise((resolve) => this.waiters.push({ n, resolve }));
  }
}

/**
 * A FAKE Prober (implements the agent's Prober port): the source is a 10 s clip with one audio
 * stream; a temp output probes as the configured codec with the same duration and audio, so it
 * passes verifyOutput unless a test changes `outputCodec`.
 */
export class FakeProber implements Prober {
  readonly probed: string[] = [];
  invalidInputs = new Set<string>();
  outputCodec: Codec = 'h264';

  /** When set, probing an output waits for this (holds verification open). */
  holdOutputs: Promise<void> | undefined;

  async probe(p: string): Promise<ProbeResult> {
    this.probed.push(p);
    if (p.endsWith('.part') && this.holdOutputs) await this.holdOutputs;
    if (this.invalidInputs.has(p)) throw new InputInvalidError(`${path.basename(p)}: moov atom not found`);
    if (p.endsWith('.part')) {
      const { size } = await fsp.stat(p);
      return { durationS: 10, sizeBytes: size, formatName: 'mov,mp4', video: { codec: this.outputCodec, width: 320, height: 240 }, audioStreams: 1 };
    }
    return { durationS: 10, sizeBytes: 5000, formatName: 'mov,mp4', video: { codec: 'h264', width: 320, height: 240 }, audioStreams: 1 };
  }
}

/** What the agent sent, with a way to wait for a message that has not arrived yet. */
export class Outbox {
  readonly sent: AgentMessage[] = [];
  private waiters: { match: (m: AgentMessage) => boolean; resolve: (m: AgentMessage) => void }[] = [];

  readonly transport = (msg: AgentMessage): void => {
    // Everything the agent says must pass the protocol schema.
    this.sent.push(AgentMessageSchema.parse(msg));
    const hit = this.waiters.find((w) => w.match(msg));
    if (hit) {
      this.waiters = this.waiters.filter((w) => w !== hit);
      hit.resolve(msg);
    }
  };

  ofJob(jobId: number): AgentMessage[] {
    return this.sent.filter((m) => 'jobId' in m && m.jobId === jobId);
  }

  ofType<T extends AgentMessage['type']>(type: T): Extract<AgentMessage, { type: T }>[] {
    return this.sent.filter((m): m is Extract<AgentMessage, { type: T }> => m.type === type);
  }

  /** The job's result, already sent or still to come. */
  result(jobId: number): Promise<Result> {
    const isResult = (m: AgentMessage): m is Result => m.type === 'result' && m.jobId === jobId;
    const there = this.sent.find(isResult);
    if (there) return Promise.resolve(there);
    return new Promise((resolve) => this.waiters.push({ match: isResult, resolve: (m) => resolve(m as Result) }));
  }
}

/** An assign of `clip-<jobId>` on gpu0 (epoch 1, 60 s lease), as a coordinator would send it. */
export function assignMessage(jobId: number, outDir: string, now: number, overrides: Partial<Assign> = {}): Assign {
  return {
    v: 1,
    type: 'assign',
    jobId,
    epoch: 1,
    deviceId: 'gpu0',
    input: { path: `/media/in/clip-${jobId}.mov` },
    transfer: false,
    presetId: 'h264-fast',
    output: { path: path.join(outDir, `clip-${jobId}.mp4`) },
    leaseExpiresAt: now + 60_000,
    leaseTtlMs: 60_000,
    ...overrides,
  };
}
