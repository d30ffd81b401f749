/**
 * Job states and the transitions allowed between them (DESIGN.md §3). The store refuses any
 * transition not listed here, so a bug shows up as an error instead of a silently wrong queue.
 */
export const JOB_STATES = [
  'queued',
  'leased',
  'running',
  'verifying',
  'done',
  'paused',
  'canceled',
  'failed',
  'blocked',
] as const;

export type JobState = (typeof JOB_STATES)[number];

/** States a job never leaves by itself; `retry` moves failed/canceled back to queued. */
export const TERMINAL_STATES: ReadonlySet<JobState> = new Set(['done', 'canceled', 'failed']);

/** States in which a device slot is held. */
export const ACTIVE_STATES: ReadonlySet<JobState> = new Set(['leased', 'running', 'verifying']);

const transitions: Record<JobState, readonly JobState[]> = {
  queued: ['leased', 'paused', 'canceled', 'failed', 'blocked', 'done'],
  leased: ['running', 'queued', 'failed', 'canceled', 'blocked', 'paused'],
  running: ['verifying', 'queued', 'failed', 'canceled', 'blocked', 'paused'],
  verifying: ['done', 'queued', 'failed', 'canceled', 'blocked', 'paused'],
  done: [],
  paused: ['queued', 'canceled'],
  canceled: ['queued'],
  failed: ['queued'],
  blocked: ['queued', 'canceled', 'failed'],
};

export function canTransition(from: JobState, to: JobState): boolean {
  return transitions[from].includes(to);
}

export class IllegalTransitionError extends Error {
  constructor(
    readonly jobId: number,
    readonly from: JobState,
    readonly to: JobState,
  ) {
    super(`job ${jobId}: illegal transition ${from} → ${to}`);
    this.name = 'IllegalTransitionError';
  }
}

export function assertTransition(jobId: number, from: JobState, to: JobState): void {
  if (!canTransition(from, to)) throw new IllegalTransitionError(jobId, from, to);
}

export function isTerminal(state: JobState): boolean {
  return TERMINAL_STATES.has(state);
}
