import { z } from 'zod';
import { JOB_STATES } from '../job-state.ts';
import { PresetSchema } from '../preset.ts';
import { BatchViewSchema, JobViewSchema } from './api.ts';
import { DeviceViewSchema } from './events.ts';

/**
 * The API the UI uses beyond the CLI's (`/api/v1/jobs`, `/jobs/:id`, `/devices`, `/presets`,
 * `/history`, `/settings`, `/inbox`), as zod schemas the coordinator and the renderer share.
 */
const id = z.number().int().positive();

export const JOB_SORTS = ['queue', 'id', 'input', 'state', 'progress', 'size', 'finished'] as const;
export type JobSort = (typeof JOB_SORTS)[number];

export const JobsQuerySchema = z.object({
  states: z.array(z.enum(JOB_STATES)).default([]),
  q: z.string().max(500).default(''),
  sort: z.enum(JOB_SORTS).default('queue'),
  dir: z.enum(['asc', 'desc']).default('asc'),
  offset: z.number().int().min(0).default(0),
  limit: z.number().int().min(1).max(1000).default(200),
  batchId: id.optional(),
});
export type JobsQuery = z.input<typeof JobsQuerySchema>;

export const JobsPageSchema = z.object({
  total: z.number().int(),
  offset: z.number().int(),
  jobs: z.array(JobViewSchema),
  counts: z.record(z.string(), z.number()),
});

export const AttemptViewSchema = z.object({
  epoch: z.number(),
  agentId: z.string(),
  deviceId: z.string(),
  startedAt: z.number(),
  endedAt: z.number().nullable(),
  outcome: z.string().nullable(),
  errorKind: z.string().nullable(),
  errorMessage: z.string().nullable(),
});

export const ProbeViewSchema = z.object({
  formatName: z.string(),
  durationS: z.number(),
  sizeBytes: z.number(),
  video: z.object({ codec: z.string(), width: z.number(), height: z.number(), fps: z.number().nullable() }).nullable(),
  audio: z.array(z.object({ codec: z.string(), channels: z.number().nullable(), language: z.string().nullable() })),
});

export const JobDetailSchema = z.object({
  job: JobViewSchema,
  batch: BatchViewSchema,
  attempts: z.array(AttemptViewSchema),
  log: z.array(z.string()),
  probe: ProbeViewSchema.nullable(),
  probeError: z.string().nullable(),
});

export const JobMoveRequestSchema = z.object({
  ids: z.array(id).min(1).max(10_000),
  /** The job they go right before in claim order; null puts them at the tail. */
  before: id.nullable(),
});

export const DevicesResponseSchema = z.object({
  devices: z.array(DeviceViewSchema.extend({ fps: z.number(), jobs: z.array(id) })),
});

export const PresetEntrySchema = z.object({ preset: PresetSchema, builtin: z.boolean() });
export const PresetsResponseSchema = z.object({ presets: z.array(PresetEntrySchema) });
export const PresetResponseSchema = z.object({ preset: PresetSchema });

export const HistoryResponseSchema = z.object({
  totals: z.object({
    done: z.number(),
    failed: z.number(),
    canceled: z.number(),
    encodeMs: z.number(),
    inputBytes: z.number(),
    outputBytes: z.number(),
    savedBytes: z.number(),
  }),
  total: z.number(),
  jobs: z.array(JobViewSchema),
  throughput: z.array(z.object({ at: z.number(), done: z.number(), failed: z.number(), outputBytes: z.number() })),
});

/** An absolute path on POSIX (`/x`) or Windows (`C:\\x`, `\\\\server\\share`); no `node:path` here. */
export function isAbsolutePath(p: string): boolean {
  return p.startsWith('/') || /^[A-Za-z]:[\\/]/.test(p) || p.startsWith('\\\\');
}

export const FarmSettingsSchema = z.object({
  /** Where outputs go when a submission names no folder; null: beside each source. */
  defaultOutDir: z
    .string()
    .min(1, 'must not be empty (null means beside each source)')
    .max(4096, 'must be at most 4096 characters')
    .refine(isAbsolutePath, 'must be an absolute path')
    .nullable(),
  /** What a submission that does not say does when an output already exists. */
  onExists: z.enum(['skip', 'suffix'], { error: 'must be skip or suffix' }),
  /** Jobs this machine's in-process agent runs at once; null = as many as its devices allow. */
  concurrency: z
    .number({ error: 'must be a number or null (automatic)' })
    .int('must be a whole number')
    .min(1, 'must be at least 1')
    .max(64, 'must be at most 64')
    .nullable(),
});
/** PUT /settings: only the keys given change; an unknown key is refused. */
export const SettingsUpdateSchema = FarmSettingsSchema.partial().strict();

export const SettingsResponseSchema = z.object({
  settings: FarmSettingsSchema,
  ffmpeg: z.object({ path: z.string(), ffprobePath: z.string(), version: z.string() }),
  dataDir: z.string(),
  inboxDir: z.string(),
});

export const InboxUploadResponseSchema = z.object({ path: z.string(), sizeBytes: z.number() });

export type JobsPage = z.infer<typeof JobsPageSchema>;
export type AttemptView = z.infer<typeof AttemptViewSchema>;
export type ProbeView = z.infer<typeof ProbeViewSchema>;
export type JobDetail = z.infer<typeof JobDetailSchema>;
export type DevicesResponse = z.infer<typeof DevicesResponseSchema>;
export type DeviceWithFps = DevicesResponse['devices'][number];
export type PresetEntry = z.infer<typeof PresetEntrySchema>;
export type HistoryResponse = z.infer<typeof HistoryResponseSchema>;
export type FarmSettings = z.infer<typeof FarmSettingsSchema>;
export type SettingsResponse = z.infer<typeof SettingsResponseSchema>;

/** A watch folder as GET/POST /watch show it (the store's row, flattened for a form). */
export const WatchFolderViewSchema = z.object({
  id,
  path: z.string(),
  presetId: z.string(),
  outDir: z.string(),
  recursive: z.boolean(),
  /** Globs a file must match (any); empty: the video extensions. */
  include: z.array(z.string()),
  exclude: z.array(z.string()),
  /** What happens to a source once its output is verified: kept, or moved to `archiveDir`. Never deleted. */
  afterAction: z.enum(['keep', 'archive']),
  archiveDir: z.string().nullable(),
  /** How long a file must stay unchanged; null: the default for its filesystem (10 s, 30 s on a network mount). */
  stabilityMs: z.number().int().nullable(),
  /** Offline: missing, unreadable or unmounted (its queued jobs wait blocked), or not looked at yet. */
  state: z.enum(['online', 'offline']),
  offlineReason: z.string().nullable(),
  createdAt: z.number(),
});
export const WatchFoldersResponseSchema = z.object({ folders: z.array(WatchFolderViewSchema) });
/** POST /watch answers the folder as stored. */
export const WatchFolderResponseSchema = z.object({ folder: WatchFolderViewSchema });

const absolutePath = z
  .string()
  .min(1, 'must not be empty')
  .max(4096, 'must be at most 4096 characters')
  .refine(isAbsolutePath, 'must be an absolute path');

/**
 * POST /watch: a folder to watch. Paths must be absolute (the coordinator's working directory means
 * nothing to a browser); the coordinator then checks the folder exists and the preset is known.
 */
export const WatchFolderCreateSchema = z
  .object({
    path: absolutePath,
    presetId: z.string().min(1, 'must not be empty').max(64),
    outDir: absolutePath,
    recursive: z.boolean().default(false),
    include: z.array(z.string().min(1).max(500)).max(100).default([]),
    exclude: z.array(z.string().min(1).max(500)).max(100).default([]),
    afterAction: z.enum(['keep', 'archive'], { error: 'must be keep or archive' }).default('keep'),
    /** Required with afterAction archive, null otherwise. */
    archiveDir: absolutePath.nullable().default(null),
    stabilityMs: z.number().int('must be a whole number of ms').min(1, 'must be at least 1 ms').max(86_400_000, 'must be at most a day').nullable().default(null),
  })
  .strict()
  .superRefine((v, ctx) => {
    if (v.afterAction === 'archive' && v.archiveDir === null) ctx.addIssue({ code: 'custom', path: ['archiveDir'], message: 'required when afterAction is archive' });
    if (v.afterAction === 'keep' && v.archiveDir !== null) ctx.addIssue({ code: 'custom', path: ['archiveDir'], message: 'must be null unless afterAction is archive' });
  });

export type WatchFolderView = z.infer<typeof WatchFolderViewSchema>;
export type WatchFoldersResponse = z.infer<typeof WatchFoldersResponseSchema>;
export type WatchFolderResponse = z.infer<typeof WatchFolderResponseSchema>;
export type WatchFolderCreate = z.input<typeof WatchFolderCreateSchema>;
