import { z } from 'zod';
import { DeviceAnnouncementSchema, DeviceStateSchema, LimitGroupSchema } from '../device.ts';
import { ERROR_KINDS } from '../errors.ts';
import { PresetSchema } from '../preset.ts';
import { TelemetrySampleSchema } from '../telemetry.ts';

/**
 * Agent ⇄ coordinator messages, version 1. Every in-flight message carries the lease epoch so the
 * coordinator can fence stale work. A job reaches an agent as (input, preset id, output path):
 * there is deliberately no field for ffmpeg arguments or commands.
 */
export const PROTOCOL_VERSION = 1;

const jobRef = { jobId: z.number().int().positive(), epoch: z.number().int().positive() };

export const HelloSchema = z.object({
  v: z.literal(PROTOCOL_VERSION),
  type: z.literal('hello'),
  agentId: z.string().min(1).max(200),
  hostname: z.string().max(255),
  pid: z.number().int().nonnegative(),
  devices: z.array(DeviceAnnouncementSchema),
  limitGroups: z.array(LimitGroupSchema).default([]),
  tags: z.array(z.string().max(64)).max(64).default([]),
  /**
   * How files reach this agent: `shared` (it opens coordinator paths through its path mappings)
   * or `transfer` (it downloads inputs and uploads outputs over HTTP).
   */
  files: z.enum(['shared', 'transfer']).default('shared'),
  /** Cap on this agent's concurrent jobs over all its devices (`agent --slots`). */
  maxJobs: z.number().int().positive().max(1000).optional(),
  /** Work still held after a reconnect: the coordinator re-occupies those slots or answers a conflict. */
  active: z.array(z.object({ ...jobRef, deviceId: z.string().min(1) })).max(1000).default([]),
});

export const DeviceUpdateSchema = z.object({
  v: z.literal(PROTOCOL_VERSION),
  type: z.literal('device-update'),
  deviceId: z.string().min(1),
  slots: z.number().int().min(0),
  state: DeviceStateSchema,
  reason: z.string().max(500).optional(),
});

export const StartedSchema = z.object({
  v: z.literal(PROTOCOL_VERSION),
  type: z.literal('started'),
  ...jobRef,
  /** Where the agent is writing; recorded so a dead attempt's temp file can be cleaned. */
  tempPath: z.string().min(1),
  source: z.object({ durationS: z.number().nonnegative(), sizeBytes: z.number().int().nonnegative() }),
});

export const ProgressSchema = z.object({
  v: z.literal(PROTOCOL_VERSION),
  type: z.literal('progress'),
  ...jobRef,
  frame: z.number().int().nonnegative(),
  fps: z.number().nonnegative(),
  speed: z.number().nonnegative(),
  outTimeS: z.number().nonnegative(),
  percent: z.number().min(0).max(100),
  etaS: z.number().nonnegative().nullable(),
});

/** ffmpeg finished: the device slot is free while the agent verifies the output. */
export const EncodedSchema = z.object({
  v: z.literal(PROTOCOL_VERSION),
  type: z.literal('encoded'),
  ...jobRef,
});

export const LogSchema = z.object({
  v: z.literal(PROTOCOL_VERSION),
  type: z.literal('log'),
  ...jobRef,
  lines: z.array(z.string().max(4000)).max(200),
});

export const ResultSchema = z.object({
  v: z.literal(PROTOCOL_VERSION),
  type: z.literal('result'),
  ...jobRef,
  outcome: z.discriminatedUnion('ok', [
    z.object({
      ok: z.literal(true),
      /** Verified, fsynced temp file beside the target; the coordinator commits it. */
      tempPath: z.string().min(1),
      outputSize: z.number().int().nonnegative(),
      encodeMs: z.number().nonnegative(),
      avgFps: z.number().nonnegative(),
    }),
    z.object({
      ok: z.literal(false),
      error: z.object({ kind: z.enum(ERROR_KINDS), message: z.string().max(4000) }),
    }),
  ]),
});

/** Sent every few seconds; renews the leases of everything the agent is working on. */
export const HeartbeatSchema = z.object({
  v: z.literal(PROTOCOL_VERSION),
  type: z.literal('heartbeat'),
  leases: z.array(z.object(jobRef)).max(1000),
});

/**
 * The latest live GPU figures of this host (NVML, else `nvidia-smi`, else `none` with the reason).
 * Sent only to a coordinator whose welcome said it takes them; coalesced by the agent (one poll in
 * flight, an unchanged sample repeated at most every 10 s), and never buffered across a reconnect.
 */
export const TelemetrySchema = z.object({
  v: z.literal(PROTOCOL_VERSION),
  type: z.literal('telemetry'),
  sample: TelemetrySampleSchema,
});

export const AgentMessageSchema = z.discriminatedUnion('type', [
  HelloSchema,
  HeartbeatSchema,
  TelemetrySchema,
  DeviceUpdateSchema,
  StartedSchema,
  ProgressSchema,
  EncodedSchema,
  LogSchema,
  ResultSchema,
]);

export const AssignSchema = z.object({
  v: z.literal(PROTOCOL_VERSION),
  type: z.literal('assign'),
  ...jobRef,
  deviceId: z.string().min(1),
  input: z.object({ path: z.string().min(1), sizeBytes: z.number().int().nonnegative().optional() }),
  /** Transfer mode: the agent downloads the input and uploads the output over HTTP. */
  transfer: z.boolean().default(false),
  presetId: z.string().min(1),
  /** Final path the output should end up at; the agent writes a temp file beside it. */
  output: z.object({ path: z.string().min(1) }),
  /** Epoch-ms (coordinator clock) after which the lease lapses unless renewed. */
  leaseExpiresAt: z.number().int(),
  /**
   * The lease's length. The agent counts it from when it received the message, on its own clock
   * (clocks of two machines need not agree), and stops the work itself when it runs out.
   */
  leaseTtlMs: z.number().int().positive(),
});

/** Answer to a heartbeat: the lease of (job, epoch) was renewed for another `leaseTtlMs`. */
export const LeaseSchema = z.object({
  v: z.literal(PROTOCOL_VERSION),
  type: z.literal('lease'),
  ...jobRef,
  leaseTtlMs: z.number().int().positive(),
});

export const CancelSchema = z.object({
  v: z.literal(PROTOCOL_VERSION),
  type: z.literal('cancel'),
  ...jobRef,
  reason: z.string().max(500),
});

export const AckSchema = z.object({
  v: z.literal(PROTOCOL_VERSION),
  type: z.literal('ack'),
  ...jobRef,
  /** `conflict`: the epoch is stale; the agent must drop the work and its temp file. */
  status: z.enum(['ok', 'conflict']),
});

/**
 * First answer to `hello`: the timings the agent must keep and the preset table it builds argv
 * from (declarative presets only; never arguments). Sent again as presets change.
 */
export const WelcomeSchema = z.object({
  v: z.literal(PROTOCOL_VERSION),
  type: z.literal('welcome'),
  heartbeatMs: z.number().int().positive(),
  leaseTtlMs: z.number().int().positive(),
  presets: z.array(PresetSchema).max(1000),
  /**
   * The coordinator takes `telemetry` messages. A coordinator from before they existed leaves this
   * out, and the agent then sends none (it would only be dropped there, with a warning each time).
   */
  telemetry: z.boolean().optional(),
});

/** The operator drained this agent: finish what it holds, take nothing more, then stop. */
export const DrainSchema = z.object({
  v: z.literal(PROTOCOL_VERSION),
  type: z.literal('drain'),
});

export const CoordinatorMessageSchema = z.discriminatedUnion('type', [
  AssignSchema,
  LeaseSchema,
  CancelSchema,
  AckSchema,
  WelcomeSchema,
  DrainSchema,
]);

export type Hello = z.infer<typeof HelloSchema>;
export type Heartbeat = z.infer<typeof HeartbeatSchema>;
export type Telemetry = z.infer<typeof TelemetrySchema>;
export type DeviceUpdate = z.infer<typeof DeviceUpdateSchema>;
export type Started = z.infer<typeof StartedSchema>;
export type Progress = z.infer<typeof ProgressSchema>;
export type Log = z.infer<typeof LogSchema>;
export type Encoded = z.infer<typeof EncodedSchema>;
export type Result = z.infer<typeof ResultSchema>;
export type AgentMessage = z.infer<typeof AgentMessageSchema>;
export type Assign = z.infer<typeof AssignSchema>;
export type Cancel = z.infer<typeof CancelSchema>;
export type Lease = z.infer<typeof LeaseSchema>;
export type Ack = z.infer<typeof AckSchema>;
export type Welcome = z.infer<typeof WelcomeSchema>;
export type Drain = z.infer<typeof DrainSchema>;
export type CoordinatorMessage = z.infer<typeof CoordinatorMessageSchema>;
