import type { ErrorInfo } from '../shared/errors.ts';
import type { JobState } from '../shared/job-state.ts';
import type { Codec, Preset } from '../shared/preset.ts';
import type { DeviceAnnouncement } from '../shared/device.ts';
import type { LearnedBudget } from './session-budget.ts';
import type { JobSort, ProbeView } from '../shared/protocol/index.ts';

/** What to do when the output target already exists when the job commits (never overwrite). */
export type OnExists = 'skip' | 'suffix';

export type BatchState = 'active' | 'paused' | 'canceled';

export interface BatchRow extends NewBatch {
  id: number;
  state: BatchState;
  createdAt: number;
}

export interface JobRow {
  id: number;
  batchId: number;
  inputPath: string;
  presetId: string;
  /** Codec of the preset at submit time, so a claim can match device capability in SQL. */
  codec: Codec;
  /** Target path; the committed path may differ when on-exists=suffix picked a free name. */
  outputPath: string;
  onExists: OnExists;
  priority: number;
  state: JobState;
  blockReason: string | null;
  /** Attempts burned by retryable failures (requeues for device faults do not count). */
  attempts: number;
  /** Requeues without burning an attempt (device capacity/fault, lost lease). */
  requeues: number;
  /** Fencing token of the current or latest lease; 0 before the first lease. */
  epoch: number;
  deviceId: string | null;
  agentId: string | null;
  leaseExpiresAt: number | null;
  /** Earliest time the job may be claimed again (backoff). */
  notBefore: number;
  percent: number;
  fps: number;
  speed: number;
  etaS: number | null;
  outTimeS: number;
  durationS: number | null;
  inputSize: number | null;
  outputSize: number | null;
  finalPath: string | null;
  errorKind: string | null;
  errorMessage: string | null;
  cancelRequested: boolean;
  createdAt: number;
  startedAt: number | null;
  finishedAt: number | null;
  /** Encode wall time of the successful attempt, ms. */
  encodeMs: number | null;
  /** `dev:ino` of the verified output being committed (see migration 003). */
  commitFileId: string | null;
}

export interface AttemptRow {
  id: number;
  jobId: number;
  epoch: number;
  agentId: string;
  deviceId: string;
  startedAt: number;
  endedAt: number | null;
  /** null while in flight; then 'done' | 'failed' | 'requeued' | 'blocked' | 'canceled' | 'lost' | 'skipped'. */
  outcome: string | null;
  errorKind: string | null;
  errorMessage: string | null;
  tempPath: string | null;
}

export interface NewJob {
  inputPath: string;
  presetId: string;
  codec: Codec;
  outputPath: string;
}

export interface NewBatch {
  /** Idempotency key: the same submission twice maps to the same batch. */
  key: string;
  label: string;
  presetId: string;
  outDir: string | null;
  onExists: OnExists;
  priority: number;
  /** Tags the agent must have to run jobs of this batch (e.g. a room or a GPU model). */
  requireTags?: string[];
}

export type AgentState = 'active' | 'paused' | 'draining';

/** An enrolled remote agent. Only a hash of its secret is stored. */
export interface AgentRow {
  id: string;
  name: string;
  secretHash: string;
  tags: string[];
  state: AgentState;
  createdAt: number;
  revokedAt: number | null;
  lastSeenAt: number | null;
}

export interface ClaimRequest {
  agentId: string;
  deviceId: string;
  /** Codecs the device can encode; only jobs whose codec is listed are claimable. */
  codecs: readonly Codec[];
  now: number;
  leaseTtlMs: number;
  /** Only jobs of these batches (a one-shot `encode` leaves other queued work alone). */
  batchIds?: readonly number[];
  /** The agent's tags: a batch requiring tags is claimable only by an agent having them all. */
  agentTags?: readonly string[];
}

export interface Claim {
  job: JobRow;
  epoch: number;
  attemptId: number;
}

/** How an attempt ended, as the scheduler decided it. Every call is fenced by (jobId, epoch). */
export type AttemptEnd =
  | { to: 'done'; finalPath: string; outputSize: number; encodeMs: number }
  | { to: 'queued'; burnAttempt: boolean; notBefore: number; error: ErrorInfo; outcome: 'requeued' | 'lost' }
  | { to: 'failed'; error: ErrorInfo; outcome: 'failed' | 'skipped' }
  | { to: 'blocked'; error: ErrorInfo }
  | { to: 'canceled'; error: ErrorInfo }
  | { to: 'paused' };

export type FencedResult = 'ok' | 'stale';

export interface ProgressUpdate {
  percent: number;
  fps: number;
  speed: number;
  outTimeS: number;
  etaS: number | null;
}

export interface JobFilter {
  batchId?: number;
  states?: readonly JobState[];
  limit?: number;
}

/** One page of the queue view: which jobs, in which order (see JobStore.queryJobs). */
export interface JobQuery {
  /** Empty: every state. */
  states: readonly JobState[];
  /** Case-insensitive substring of the input or output path; '' matches all. */
  q: string;
  sort: JobSort;
  dir: 'asc' | 'desc';
  offset: number;
  limit: number;
  batchId?: number;
}

/** Where moved jobs go in claim order: right before a job, or at the head or the tail. */
export type QueuePlace = { before: number } | 'head' | 'tail';

/** Sums over every finished job, for the history view. */
export interface HistoryTotals {
  done: number;
  failed: number;
  canceled: number;
  /** Encode wall time of the done jobs, ms. */
  encodeMs: number;
  /** Source sizes of the done jobs. */
  inputBytes: number;
  outputBytes: number;
  /** inputBytes - outputBytes over the done jobs that know both. */
  savedBytes: number;
}

/** Jobs that ended in one time bucket (`at` = the bucket's start). */
export interface ThroughputBucket {
  at: number;
  done: number;
  failed: number;
  outputBytes: number;
}

/**
 * Describes a source file on this machine (ffprobe, behind the composition root). Throws an
 * error whose message names the file and says why it is not a usable video.
 */
export interface SourceProber {
  probe(path: string): Promise<ProbeView>;
}

export interface DeviceRow extends DeviceAnnouncement {
  agentId: string;
  updatedAt: number;
}

/** What happens to a watched source once its output is verified and committed. Never delete. */
export type WatchAfterAction = { kind: 'keep' } | { kind: 'archive'; dir: string };

export type WatchFolderState = 'unknown' | 'online' | 'offline';

/** A watch folder as configured (CLI, API); paths absolute. */
export interface NewWatchFolder {
  path: string;
  presetId: string;
  outDir: string;
  recursive: boolean;
  /** Globs a file must match (any); empty: the video extensions. */
  include: string[];
  /** Globs that leave a file (or a folder, when recursive) out. */
  exclude: string[];
  after: WatchAfterAction;
  /** null: the default for the folder's filesystem (longer on network mounts). */
  stabilityMs: number | null;
}

export interface WatchFolderRow extends NewWatchFolder {
  id: number;
  createdAt: number;
  state: WatchFolderState;
  offlineReason: string | null;
}

/** One version of a file: a new size, mtime or inode (or path) is another version. */
export interface FileFingerprint {
  /** Absolute, normalised (see watch/fingerprint.ts). */
  path: string;
  size: number;
  mtimeMs: number;
  inode: number;
}

export interface WatchFileRow extends FileFingerprint {
  id: number;
  folderId: number;
  jobId: number | null;
  batchId: number | null;
  seenAt: number;
  archivedPath: string | null;
}

/**
 * Whether a job's source is still the file version it was queued for, looked at just before its
 * verified output is committed (and before a failed attempt is retried). `same` is also the
 * answer for every job not from a watch folder.
 * `reason` is the message the job ends with (it names the file and says what happens next).
 */
export type SourceVerdict =
  | { state: 'same' }
  /** Another version sits at the path: the output is discarded, the job canceled (the watcher owns the new version). */
  | { state: 'changed'; reason: string }
  /** The file is gone while its folder is there: the output is discarded, the job failed. */
  | { state: 'vanished'; reason: string }
  /** The file cannot be looked at (its folder is offline): the output is discarded, the job blocked until resumed. */
  | { state: 'unreachable'; reason: string };

/** Looks at a job's source when an attempt ends (see watch/source-check.ts). */
export interface SourceCheck {
  check(job: JobRow): Promise<SourceVerdict>;
}

/**
 * The persistence the coordinator needs. The SQLite implementation lives in `store/`; every write
 * is one `BEGIN IMMEDIATE` transaction, and every write about in-flight work is fenced by epoch.
 */
export interface JobStore {
  close(): void;

  findBatchByKey(key: string): BatchRow | undefined;
  createBatch(batch: NewBatch, now: number): BatchRow;
  /** Inserts jobs not already in the batch (same input path); returns the ids of all given jobs. */
  addJobs(batchId: number, jobs: readonly NewJob[], now: number): number[];
  getBatch(id: number): BatchRow | undefined;
  listBatches(limit: number): BatchRow[];
  getJob(id: number): JobRow | undefined;
  listJobs(filter: JobFilter): JobRow[];
  listAttempts(jobId: number): AttemptRow[];
  /** Those of `paths` that are a job's target or committed output: files the farm wrote. */
  farmOutputsAmong(paths: readonly string[]): Set<string>;

  /**
   * In one transaction: picks the best claimable job (state queued, batch active, codec in
   * `codecs`, notBefore <= now; order priority DESC, rank ASC, id ASC), bumps its epoch, sets it leased
   * to this agent/device with leaseExpiresAt = now + ttl, and inserts an attempt row.
   */
  claimNext(req: ClaimRequest): Claim | undefined;
  /** leased → running; records the attempt's temp path and the source facts. */
  markRunning(jobId: number, epoch: number, info: { tempPath: string; durationS: number; inputSize: number }, now: number): FencedResult;
  /**
   * running → verifying (ffmpeg finished, or a result arrived). With `commit`, records the
   * verified file's identity, size and encode time — once per attempt; a second time is 'stale'.
   */
  markVerifying(jobId: number, epoch: number, commit?: { fileId: string; outputSize: number; encodeMs: number }): FencedResult;
  /** With `agentId`, also 'stale' unless that agent holds the lease. */
  updateProgress(jobId: number, epoch: number, p: ProgressUpdate, agentId?: string): FencedResult;
  /** With `agentId`, also 'stale' unless that agent holds the lease. */
  renewLease(jobId: number, epoch: number, leaseExpiresAt: number, agentId?: string): FencedResult;
  /** Ends the attempt and moves the job; a second call for the same (job, epoch) returns 'stale'. */
  endAttempt(jobId: number, epoch: number, end: AttemptEnd, now: number): FencedResult;
  /** Keeps the last `keep` lines per job. */
  appendLog(jobId: number, lines: readonly string[], now: number, keep?: number): void;
  logTail(jobId: number, limit: number): string[];

  /**
   * Jobs in leased/running/verifying whose agent `isAlive` says is gone, or whose lease expired
   * before `now`: each is requeued (outcome 'lost', no attempt burned) and returned with the temp
   * path of its dead attempt. Jobs in `keep` (being committed right now) are left alone.
   */
  recoverLost(isAlive: (agentId: string) => boolean, now: number, keep?: ReadonlySet<number>): { jobId: number; tempPath: string | null }[];
  /** Earliest notBefore of a queued job in an active batch (of `batchIds`, if given) later than now. */
  nextWakeAt(now: number, batchIds?: readonly number[]): number | undefined;

  /** queued/paused/blocked → canceled now (failed jobs stay failed); in-flight jobs get cancelRequested. Returns changed ids. */
  cancelJobs(ids: readonly number[], now: number): number[];
  /** queued → paused; in-flight jobs are left to finish. */
  pauseJobs(ids: readonly number[]): number[];
  /** paused/blocked → queued. */
  resumeJobs(ids: readonly number[], now: number): number[];
  /** failed/canceled/blocked → queued with attempts reset to 0. */
  retryJobs(ids: readonly number[], now: number): number[];
  setBatchState(batchId: number, state: BatchState): void;
  /** In-flight jobs with cancelRequested set (another process asked to cancel them). */
  listCancelRequested(): JobRow[];
  /** Cheap change counter (`PRAGMA data_version`): moves when another connection wrote. */
  dataVersion(): number;

  listUserPresets(): Preset[];
  saveUserPreset(preset: Preset, now: number): void;
  deleteUserPreset(id: string): boolean;

  upsertDevices(agentId: string, devices: readonly DeviceAnnouncement[], now: number): void;
  listDevices(): DeviceRow[];
  /** Keeps what was learned about a device's session budget (one row per agent and device). */
  saveDeviceBudget(agentId: string, budget: LearnedBudget, now: number): void;
  /** The budgets learned for an agent's devices in earlier runs. */
  listDeviceBudgets(agentId: string): LearnedBudget[];

  /** Job counts per state (all batches, or one). */
  countJobsByState(batchId?: number): Record<string, number>;

  /** The jobs matching `q` (`total`) and one page of them in the asked order. */
  queryJobs(q: JobQuery): { total: number; jobs: JobRow[] };
  /**
   * In one transaction: puts the queued/paused jobs among `ids` (in that order) at `place` in
   * claim order; they take the priority of their new neighbours. Returns the ids moved.
   */
  moveJobs(ids: readonly number[], place: QueuePlace): number[];
  /** Jobs not yet finished (queued … blocked) that use a preset. */
  countOpenJobsWithPreset(presetId: string): number;
  historyTotals(): HistoryTotals;
  /** done/failed/canceled jobs, newest finished first. */
  listFinished(offset: number, limit: number): JobRow[];
  /** `count` buckets of `bucketMs` from `start` over the jobs done or failed in them. */
  throughput(start: number, bucketMs: number, count: number): ThroughputBucket[];

  /** Stored farm settings as raw JSON values per key (the API validates them). */
  readSettings(): Record<string, unknown>;
  /** Writes the given keys in one transaction; other keys are left as they are. */
  writeSettings(values: Readonly<Record<string, unknown>>): void;

  /** Stores a join token's hash, usable once until `expiresAt`. */
  addJoinToken(hash: string, now: number, expiresAt: number): void;
  /**
   * In one transaction: spends the join token (unused, unexpired) and enrolls the agent.
   * 'invalid' when the token is unknown, used or expired.
   */
  redeemJoinToken(hash: string, agent: { id: string; name: string; secretHash: string; tags: string[] }, now: number): 'ok' | 'invalid';
  getAgent(id: string): AgentRow | undefined;
  listAgents(): AgentRow[];
  setAgentState(id: string, state: AgentState): boolean;
  revokeAgent(id: string, now: number): boolean;
  touchAgent(id: string, now: number): void;
  /** Agents that failed this job 3 times or more and no longer get it. */
  blockedAgentsFor(jobId: number): string[];

  listWatchFolders(): WatchFolderRow[];
  getWatchFolder(id: number): WatchFolderRow | undefined;
  /** Throws WatchFolderExistsError when the path is watched already. */
  addWatchFolder(folder: NewWatchFolder, now: number): WatchFolderRow;
  /** Removes the folder and forgets its file versions; false when there was none. */
  removeWatchFolder(id: number): boolean;
  /** Records what the watcher saw; true when the state or reason changed. */
  setWatchFolderState(id: number, state: WatchFolderState, reason: string | null): boolean;
  /** The recorded version with exactly this fingerprint, if any. */
  findWatchFile(folderId: number, fp: FileFingerprint): WatchFileRow | undefined;
  /** How many versions of this path got a job (the next version's number is this + 1). */
  countWatchVersions(folderId: number, path: string): number;
  /** Records a version and its job; false (nothing written) when the fingerprint is known. */
  recordWatchFile(folderId: number, fp: FileFingerprint, job: { jobId: number; batchId: number }, now: number): boolean;
  watchFileForJob(jobId: number): WatchFileRow | undefined;
  setWatchFileArchived(id: number, archivedPath: string): void;
  /** Versions of the folder whose job is done and whose source was not archived yet. */
  listUnarchivedDone(folderId: number): WatchFileRow[];
  /**
   * Watch folder offline: its queued jobs (batch key starting `scope.batchKeyPrefix`, source under
   * `scope.root`) → blocked with `reason`; jobs it blocked earlier (reason starting `reasonPrefix`)
   * get the new reason. Returns the ids newly blocked.
   */
  blockWatchFolderJobs(scope: { batchKeyPrefix: string; root: string }, reasonPrefix: string, reason: string): number[];
  /** The jobs of that scope blocked with a reason starting `reasonPrefix` (what the folder's return releases). */
  listWatchFolderBlocked(scope: { batchKeyPrefix: string; root: string }, reasonPrefix: string): number[];
  /** The folder's device id when last seen online as a mount point of its own; null: on its parent's (migration 008). */
  watchFolderMountDev(id: number): number | null;
  setWatchFolderMountDev(id: number, dev: number | null): void;
}
