import type { Db } from './db.ts';
import type { JobRecord } from './row-mapping.ts';

/** Columns of `jobs` that a state change may write; the id and the identity columns never change. */
export type JobPatch = Partial<Omit<JobRecord, 'id' | 'batch_id' | 'input_path' | 'created_at'>>;

/**
 * Returns a function that writes a patch to one job with `UPDATE jobs SET <patched columns>`.
 * Column names come from our own code (typed keys), never from input; one prepared statement is
 * cached per set of columns, so a hot path like progress updates prepares once.
 */
export function jobWriter(db: Db): (id: number, patch: JobPatch) => void {
  const cache = new Map<string, ReturnType<Db['prepare']>>();
  return (id, patch) => {
    const columns = Object.keys(patch).sort();
    if (columns.length === 0) return;
    const cacheKey = columns.join(',');
    let stmt = cache.get(cacheKey);
    if (!stmt) {
      const sets = columns.map((c) => `${c} = @${c}`).join(', ');
      stmt = db.prepare(`UPDATE jobs SET ${sets} WHERE id = @id`);
      cache.set(cacheKey, stmt);
    }
    stmt.run({ ...patch, id });
  };
}
