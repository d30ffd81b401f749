import type { Logger } from '../../shared/logger.ts';
import type { AgentMessage } from '../../shared/protocol/index.ts';

export interface OutboxOptions {
  /** Soft cap on buffered messages; `log`, then `progress`, are dropped (oldest first) to keep it. @default 5000 */
  maxMessages?: number;
  logger: Logger;
}

/** What `push` did with a message. */
export type PushOutcome = 'buffered' | 'dropped';

/**
 * Messages the agent produced while the link to the coordinator was down, kept in causal order
 * and flushed after the next `hello` (after Flamenco's upstream buffer).
 *
 * - `hello` and `heartbeat` are never kept: a fresh one is sent on reconnect, and a stale
 *   heartbeat would renew leases the agent may no longer hold. Nor is `telemetry`: old figures are
 *   worth nothing, and a fresh sample follows the next welcome.
 * - `progress` keeps only the newest report per (job, epoch); the older one is removed and the
 *   newer appended, so a job's progress never overtakes its own `started`.
 * - Over the cap, the oldest `log` goes first, then the oldest `progress`. `started`, `encoded`,
 *   `result` and `device-update` are never dropped: the coordinator's state depends on them, so
 *   the cap is exceeded instead (and a warning logged once per outage).
 */
export class Outbox {
  private readonly queue: AgentMessage[] = [];
  private readonly max: number;
  private readonly logger: Logger;
  private warnedOverCap = false;

  constructor(opts: OutboxOptions) {
    const max = opts.maxMessages ?? 5000;
    if (!Number.isInteger(max) || max < 1) throw new TypeError(`Expected maxMessages to be a positive integer, got ${max}`);
    this.max = max;
    this.logger = opts.logger;
  }

  push(msg: AgentMessage): PushOutcome {
    if (msg.type === 'hello' || msg.type === 'heartbeat' || msg.type === 'telemetry') return 'dropped';
    if (msg.type === 'progress') this.removeWhere((m) => m.type === 'progress' && m.jobId === msg.jobId && m.epoch === msg.epoch);
    this.queue.push(msg);
    this.enforceCap();
    return this.queue.includes(msg) ? 'buffered' : 'dropped';
  }

  /** Everything buffered, oldest first; the outbox is empty afterwards. */
  drain(): AgentMessage[] {
    this.warnedOverCap = false;
    return this.queue.splice(0, this.queue.length);
  }

  size(): number {
    return this.queue.length;
  }

  private enforceCap(): void {
    while (this.queue.length > this.max) {
      if (this.removeWhere((m) => m.type === 'log')) continue;
      if (this.removeWhere((m) => m.type === 'progress')) continue;
      if (!this.warnedOverCap) {
        this.warnedOverCap = true;
        this.logger.warn('outbox over its cap with only undroppable messages; keeping them', {
          size: this.queue.length,
          maxMessages: this.max,
        });
      }
      return;
    }
  }

  /** Removes the oldest message matching `pred`; true when one was removed. */
  private removeWhere(pred: (m: AgentMessage) => boolean): boolean {
    const i = this.queue.findIndex(pred);
    if (i < 0) return false;
    this.queue.splice(i, 1);
    return true;
  }
}
