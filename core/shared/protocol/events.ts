import { z } from 'zod';
import { DEVICE_KINDS, DeviceStateSchema } from '../device.ts';
import { CODECS } from '../preset.ts';
import { GpuTelemetrySchema, TELEMETRY_SOURCES } from '../telemetry.ts';
import { JobViewSchema } from './api.ts';

/**
 * Frames of the live events WebSocket (`/api/v1/events`, subprotocol `encodefarm.v1`) that UIs
 * subscribe to: coalesced, at most one frame of each kind per interval.
 */
export const EVENTS_SUBPROTOCOL = 'encodefarm.v1';

/** Where a device's agent gets GPU figures, as of its latest sample. */
export const DeviceTelemetrySourceSchema = z.object({
  source: z.enum(TELEMETRY_SOURCES),
  /** Agent clock, epoch ms, of the latest sample. */
  at: z.number(),
  /** Why the source is `none` or the poll failed. */
  reason: z.string().nullable(),
});

/**
 * How the scheduler's session budget (`slots`) came about. `learned`: the driver refused a session
 * (now or in an earlier run, the budget is kept per agent and device), so it runs below what was
 * announced until it has run at its budget, every slot busy and nothing refused, for `raiseAfterMs`;
 * then it is raised by one, never above the announced slots.
 */
export const DeviceBudgetSchema = z.object({
  source: z.enum(['configured', 'learned']),
  /** When the driver last refused a session on this device; null when it never did. */
  refusedAt: z.number().nullable(),
  /** Time run at the current budget (every slot busy) without a refusal since it last changed. */
  atBudgetMs: z.number(),
  /** Time at budget the next raise by one needs; null when the budget is the announced one. */
  raiseAfterMs: z.number().nullable(),
});

const CONFIGURED_BUDGET = { source: 'configured' as const, refusedAt: null, atBudgetMs: 0, raiseAfterMs: null };

/** A device as it goes over the wire (the pool's `busy` set becomes the ids of the jobs it holds). */
export const DeviceViewSchema = z.object({
  key: z.string(),
  agentId: z.string(),
  id: z.string(),
  kind: z.enum(DEVICE_KINDS),
  label: z.string(),
  codecs: z.array(z.enum(CODECS)),
  slots: z.number(),
  announcedSlots: z.number(),
  limitGroup: z.string().nullable(),
  state: DeviceStateSchema,
  busy: z.array(z.number()),
  faults: z.number(),
  reason: z.string().nullable(),
  /**
   * Live figures of the GPU behind this device (matched by its GPU index), from its agent's latest
   * sample; null for the CPU and simulated devices, or when the agent has no telemetry. The
   * defaults read a coordinator from before telemetry as "nothing known".
   */
  telemetry: GpuTelemetrySchema.nullable().default(null),
  /** The agent's telemetry source; null until the agent sent a sample. */
  telemetrySource: DeviceTelemetrySourceSchema.nullable().default(null),
  budget: DeviceBudgetSchema.default(CONFIGURED_BUDGET),
});

export const EventsFrameSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('jobs'), jobs: z.array(JobViewSchema) }),
  z.object({ type: z.literal('devices'), devices: z.array(DeviceViewSchema) }),
  z.object({ type: z.literal('agent'), agentId: z.string(), connected: z.boolean() }),
]);

export type DeviceView = z.infer<typeof DeviceViewSchema>;
export type DeviceBudgetView = z.infer<typeof DeviceBudgetSchema>;
export type DeviceTelemetrySource = z.infer<typeof DeviceTelemetrySourceSchema>;
export type EventsFrame = z.infer<typeof EventsFrameSchema>;
