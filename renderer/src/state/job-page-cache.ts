import type { JobView } from '../../../core/shared/protocol/index.ts';

/** Rows per `GET /jobs` request; the viewport plus overscan rarely spans more than two pages. */
export const PAGE_SIZE = 200;

/** What a live job frame did to the cache, so the caller knows whether the order may be stale. */
export type PatchResult = 'absent' | 'progress' | 'state';

/**
 * A sparse window onto one filtered, sorted job list: rows by list index, filled a page at a
 * time, so 100k jobs cost only the pages the user has scrolled past. After `invalidate()` the old
 * rows stay on screen until their page is fetched again (no flash of empty rows on each refresh).
 */
export class JobPageCache {
  private readonly rows = new Map<number, JobView>();
  private readonly indexById = new Map<number, number>();
  /** page → generation it was loaded in. */
  private readonly loaded = new Map<number, number>();
  private readonly inflight = new Set<string>();
  private generation = 0;
  /** Rows matching the filter; null until the first page answers. */
  total: number | null = null;

  get(index: number): JobView | undefined {
    return this.rows.get(index);
  }

  indexOf(id: number): number | undefined {
    return this.indexById.get(id);
  }

  /** Marks every page stale; they are fetched again when next needed. */
  invalidate(): void {
    this.generation++;
  }

  /** Pages overlapping [start, end] that are neither fresh nor being fetched; claims them. */
  claimMissing(start: number, end: number): { page: number; generation: number }[] {
    const out: { page: number; generation: number }[] = [];
    const last = this.total === null ? Math.floor(Math.max(start, 0) / PAGE_SIZE) : Math.floor(Math.max(0, Math.min(end, this.total - 1)) / PAGE_SIZE);
    for (let page = Math.floor(Math.max(start, 0) / PAGE_SIZE); page <= last; page++) {
      const key = `${this.generation}:${page}`;
      if (this.loaded.get(page) === this.generation || this.inflight.has(key)) continue;
      this.inflight.add(key);
      out.push({ page, generation: this.generation });
    }
    return out;
  }

  /** A claimed page failed: let the next `claimMissing` try it again. */
  release(page: number, generation: number): void {
    this.inflight.delete(`${generation}:${page}`);
  }

  /** Stores a page's answer (an answer to an older generation still beats no data). */
  store(page: number, generation: number, jobs: readonly JobView[], total: number): void {
    this.inflight.delete(`${generation}:${page}`);
    if ((this.loaded.get(page) ?? -1) > generation) return;
    this.loaded.set(page, generation);
    this.total = total;
    const offset = page * PAGE_SIZE;
    for (let i = offset; i < offset + PAGE_SIZE; i++) this.drop(i, page);
    jobs.forEach((job, k) => {
      const old = this.indexById.get(job.id);
      // The job moved since its old page was loaded: forget that copy (its page is fetched again).
      if (old !== undefined) this.drop(old, page);
      this.rows.set(offset + k, job);
      this.indexById.set(job.id, offset + k);
    });
    for (const i of [...this.rows.keys()]) if (i >= total) this.drop(i, page);
  }

  /** Applies a live row to the loaded copy, if any. */
  patch(job: JobView): PatchResult {
    const i = this.indexById.get(job.id);
    if (i === undefined) return 'absent';
    const old = this.rows.get(i)!;
    this.rows.set(i, job);
    return old.state === job.state ? 'progress' : 'state';
  }

  /** Forgets one row; a page other than `storing` that loses a row has a hole: fetch it again. */
  private drop(index: number, storing: number): void {
    const row = this.rows.get(index);
    if (!row) return;
    this.rows.delete(index);
    if (this.indexById.get(row.id) === index) this.indexById.delete(row.id);
    const page = Math.floor(index / PAGE_SIZE);
    if (page !== storing) this.loaded.delete(page);
  }
}
