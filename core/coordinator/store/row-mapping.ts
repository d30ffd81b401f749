import { DeviceAnnouncementSchema } from '../../shared/device.ts';
import type { JobState } from '../../shared/job-state.ts';
import type { Codec } from '../../shared/preset.ts';
import type { AttemptRow, BatchRow, BatchState, DeviceRow, JobRow, OnExists } from '../ports.ts';

/** A `batches` row as SQLite returns it. */
export interface BatchRecord {
  id: number;
  key: string;
  label: string;
  preset_id: string;
  out_dir: string | null;
  on_exists: OnExists;
  priority: number;
  state: BatchState;
  require_tags: string;
  created_at: number;
}

/** A `jobs` row as SQLite returns it. */
export interface JobRecord {
  id: number;
  batch_id: number;
  input_path: string;
  preset_id: string;
  codec: Codec;
  output_path: string;
  on_exists: OnExists;
  priority: number;
  state: JobState;
  block_reason: string | null;
  attempts: number;
  requeues: number;
  epoch: number;
  device_id: string | null;
  agent_id: string | null;
  lease_expires_at: number | null;
  not_before: number;
  percent: number;
  fps: number;
  speed: number;
  eta_s: number | null;
  out_time_s: number;
  duration_s: number | null;
  input_size: number | null;
  output_size: number | null;
  final_path: string | null;
  error_kind: string | null;
  error_message: string | null;
  cancel_requested: 0 | 1;
  created_at: number;
  started_at: number | null;
  finished_at: number | null;
  encode_ms: number | null;
  commit_file_id: string | null;
  /** Place among jobs of the same priority (migration 005); not part of JobRow. */
  rank: number;
}

/** An `attempts` row as SQLite returns it. */
export interface AttemptRecord {
  id: number;
  job_id: number;
  epoch: number;
  agent_id: string;
  device_id: string;
  started_at: number;
  ended_at: number | null;
  outcome: string | null;
  error_kind: string | null;
  error_message: string | null;
  temp_path: string | null;
}

/** A `devices` row as SQLite returns it. */
export interface DeviceRecord {
  agent_id: string;
  device_id: string;
  kind: string;
  label: string;
  gpu_index: number | null;
  slots: number;
  codecs: string;
  limit_group: string | null;
  state: string;
  updated_at: number;
}

/** Maps a `batches` row to the camelCase port type. */
export function toBatchRow(r: BatchRecord): BatchRow {
  return {
    id: r.id,
    key: r.key,
    label: r.label,
    presetId: r.preset_id,
    outDir: r.out_dir,
    onExists: r.on_exists,
    priority: r.priority,
    state: r.state,
    requireTags: JSON.parse(r.require_tags) as string[],
    createdAt: r.created_at,
  };
}

/** Maps a `jobs` row to the camelCase port type (0/1 → boolean). */
export function toJobRow(r: JobRecord): JobRow {
  return {
    id: r.id,
    batchId: r.batch_id,
    inputPath: r.input_path,
    presetId: r.preset_id,
    codec: r.codec,
    outputPath: r.output_path,
    onExists: r.on_exists,
    priority: r.priority,
    state: r.state,
    blockReason: r.block_reason,
    attempts: r.attempts,
    requeues: r.requeues,
    epoch: r.epoch,
    deviceId: r.device_id,
    agentId: r.agent_id,
    leaseExpiresAt: r.lease_expires_at,
    notBefore: r.not_before,
    percent: r.percent,
    fps: r.fps,
    speed: r.speed,
    etaS: r.eta_s,
    outTimeS: r.out_time_s,
    durationS: r.duration_s,
    inputSize: r.input_size,
    outputSize: r.output_size,
    finalPath: r.final_path,
    errorKind: r.error_kind,
    errorMessage: r.error_message,
    cancelRequested: r.cancel_requested === 1,
    createdAt: r.created_at,
    startedAt: r.started_at,
    finishedAt: r.finished_at,
    encodeMs: r.encode_ms,
    commitFileId: r.commit_file_id,
  };
}

/** Maps an `attempts` row to the camelCase port type. */
export function toAttemptRow(r: AttemptRecord): AttemptRow {
  return {
    id: r.id,
    jobId: r.job_id,
    epoch: r.epoch,
    agentId: r.agent_id,
    deviceId: r.device_id,
    startedAt: r.started_at,
    endedAt: r.ended_at,
    outcome: r.outcome,
    errorKind: r.error_kind,
    errorMessage: r.error_message,
    tempPath: r.temp_path,
  };
}

/**
 * Maps a `devices` row to the port type. The announcement part goes back through its schema, so
 * a row written by an older version reads as a valid announcement (defaults applied) or throws.
 */
export function toDeviceRow(r: DeviceRecord): DeviceRow {
  const announcement = DeviceAnnouncementSchema.parse({
    id: r.device_id,
    kind: r.kind,
    label: r.label,
    gpuIndex: r.gpu_index ?? undefined,
    slots: r.slots,
    codecs: JSON.parse(r.codecs) as unknown,
    limitGroup: r.limit_group ?? undefined,
    state: r.state,
  });
  return { ...announcement, agentId: r.agent_id, updatedAt: r.updated_at };
}
