import type { FileFingerprint } from '../ports.ts';
import { sameVersion } from './fingerprint.ts';

/** The fewest looks at a file, all seeing the same size and mtime, before it counts as stable. */
export const MIN_STABLE_POLLS = 3;

interface Observed {
  fp: FileFingerprint;
  /** When this exact version was first seen. */
  since: number;
  /** Looks that saw this exact version. */
  polls: number;
}

/**
 * Decides when a file has stopped changing: the same fingerprint for the whole window across at
 * least MIN_STABLE_POLLS looks. A fixed hold timer alone is not enough (a copy that stalls for a
 * moment would pass), and neither is a poll count alone (fast polls on a slow NAS copy would).
 */
export class StabilityTracker {
  private readonly seen = new Map<string, Observed>();

  constructor(private readonly windowMs: number) {}

  /** Records a look at `fp` at `now`; true once it is stable (the caller then stops tracking it). */
  observe(fp: FileFingerprint, now: number): boolean {
    const prev = this.seen.get(fp.path);
    if (!prev || !sameVersion(prev.fp, fp)) {
      this.seen.set(fp.path, { fp, since: now, polls: 1 });
      return false;
    }
    prev.polls++;
    return prev.polls >= MIN_STABLE_POLLS && now - prev.since >= this.windowMs;
  }

  has(path: string): boolean {
    return this.seen.has(path);
  }

  forget(path: string): void {
    this.seen.delete(path);
  }

  paths(): string[] {
    return [...this.seen.keys()];
  }

  get size(): number {
    return this.seen.size;
  }

  clear(): void {
    this.seen.clear();
  }
}
