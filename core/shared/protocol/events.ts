import { z } from 'zod';
import { DEVICE_KINDS, DeviceStateSchema } from '../device.ts';
import { CODECS } from '../preset.ts';
import { JobViewSchema } from './api.ts';

/**
 * Frames of the live events WebSocket (`/api/v1/events`, subprotocol `encodefarm.v1`) that UIs
 * subscribe to: coalesced, at most one frame of each kind per interval.
 */
export const EVENTS_SUBPROTOCOL = 'encodefarm.v1';

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
});

export const EventsFrameSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('jobs'), jobs: z.array(JobViewSchema) }),
  z.object({ type: z.literal('devices'), devices: z.array(DeviceViewSchema) }),
  z.object({ type: z.literal('agent'), agentId: z.string(), connected: z.boolean() }),
]);

export type DeviceView = z.infer<typeof DeviceViewSchema>;
export type EventsFrame = z.infer<typeof EventsFrameSchema>;
