import { z } from 'zod';
import { JOB_STATES } from '../job-state.ts';

/**
 * The coordinator's HTTP API (`/api/v1/…`) for the CLI and the UI, as zod schemas both sides
 * validate with. Paths in requests are the coordinator's own paths.
 */
export const API_PREFIX = '/api/v1';

const tag = z.string().min(1).max(64).regex(/^[\w.:-]+$/, 'letters, digits, _ . : - only');
const id = z.number().int().positive();

export const SubmitRequestSchema = z.object({
  /** Absolute paths on the coordinator: files, folders (scanned recursively) or globs. */
  inputs: z.array(z.string().min(1).max(4096)).min(1).max(10_000),
  presetId: z.string().min(1).max(64),
  /** null: the farm's default output folder, or beside each source when there is none. */
  outDir: z.string().min(1).max(4096).nullable().default(null),
  /** What to do when an output already exists; absent: the farm's setting (default skip). */
  onExists: z.enum(['skip', 'suffix']).optional(),
  priority: z.number().int().min(-1000).max(1000).default(0),
  requireTags: z.array(tag).max(32).default([]),
  /** Idempotency key; the same request without one gets a key derived from its content. */
  key: z.string().min(1).max(128).optional(),
});

export const SubmitResponseSchema = z.object({
  batchId: id,
  jobIds: z.array(id),
  resumed: z.boolean(),
  /** One line per input that produced no job (missing, not a video, name clash). */
  errors: z.array(z.string()),
});

export const JobViewSchema = z.object({
  id,
  batchId: id,
  inputPath: z.string(),
  presetId: z.string(),
  outputPath: z.string(),
  state: z.enum(JOB_STATES),
  percent: z.number(),
  fps: z.number(),
  etaS: z.number().nullable(),
  attempts: z.number(),
  agentId: z.string().nullable(),
  deviceId: z.string().nullable(),
  inputSize: z.number().nullable(),
  outputSize: z.number().nullable(),
  finalPath: z.string().nullable(),
  errorKind: z.string().nullable(),
  errorMessage: z.string().nullable(),
  blockReason: z.string().nullable(),
  speed: z.number(),
  priority: z.number(),
  createdAt: z.number(),
  startedAt: z.number().nullable(),
  finishedAt: z.number().nullable(),
  encodeMs: z.number().nullable(),
  durationS: z.number().nullable(),
});

export const BatchViewSchema = z.object({
  id,
  label: z.string(),
  presetId: z.string(),
  state: z.enum(['active', 'paused', 'canceled']),
  createdAt: z.number(),
  counts: z.record(z.string(), z.number()),
});

export const StatusResponseSchema = z.object({
  batches: z.array(BatchViewSchema),
  /** Jobs of the batch asked for (default: the latest). */
  batchId: id.nullable(),
  jobs: z.array(JobViewSchema),
});

export const JobActionRequestSchema = z.object({
  action: z.enum(['cancel', 'pause', 'resume', 'retry', 'bump', 'debump']),
  ids: z.array(id).min(1).max(100_000),
  /** The ids are batch ids. */
  batch: z.boolean().default(false),
});

export const JobActionResponseSchema = z.object({ changed: z.array(id) });

export const JoinTokenResponseSchema = z.object({ token: z.string(), expiresAt: z.number() });

export const EnrollRequestSchema = z.object({
  token: z.string().min(1).max(200),
  name: z.string().min(1).max(255),
  tags: z.array(tag).max(32).default([]),
});

export const EnrollResponseSchema = z.object({ agentId: z.string(), secret: z.string() });

export const AgentViewSchema = z.object({
  id: z.string(),
  name: z.string(),
  tags: z.array(z.string()),
  state: z.enum(['active', 'paused', 'draining']),
  connected: z.boolean(),
  revoked: z.boolean(),
  busy: z.number(),
  devices: z.array(z.object({ id: z.string(), label: z.string(), slots: z.number(), busy: z.number(), state: z.string() })),
  lastSeenAt: z.number().nullable(),
});

export const AgentsResponseSchema = z.object({ agents: z.array(AgentViewSchema) });

export const AgentActionRequestSchema = z.object({ action: z.enum(['pause', 'drain', 'resume', 'revoke']) });

/** The answer of an action that has nothing more to say. */
export const OkSchema = z.object({ ok: z.literal(true) });

export const ApiErrorSchema = z.object({
  error: z.object({
    code: z.string(),
    message: z.string(),
    /** Field-level messages of a validation failure, keyed by the field's dotted path. */
    fields: z.record(z.string(), z.string()).optional(),
  }),
});

export type SubmitRequest = z.input<typeof SubmitRequestSchema>;
export type SubmitResponse = z.infer<typeof SubmitResponseSchema>;
export type JobView = z.infer<typeof JobViewSchema>;
export type BatchView = z.infer<typeof BatchViewSchema>;
export type StatusResponse = z.infer<typeof StatusResponseSchema>;
export type JobActionRequest = z.input<typeof JobActionRequestSchema>;
export type AgentView = z.infer<typeof AgentViewSchema>;
