import type { JobStore, QueuePlace } from '../ports.ts';
import { jsonList, writeTx, type Db } from './db.ts';
import { jobWriter } from './job-writer.ts';

type QueueOrder = Pick<JobStore, 'moveJobs'>;

/** A job's place in claim order (priority DESC, rank ASC, id ASC). */
interface Position {
  id: number;
  priority: number;
  rank: number;
  state: string;
}

/** Jobs with a place in the queue the user can change: the claimable and the held ones. */
const WAITING = ['queued', 'paused'] as const;

const claimOrder = (a: Position, b: Position) => b.priority - a.priority || a.rank - b.rank || a.id - b.id;

/**
 * `n` ranks in order strictly between `lo` and `hi` (no `lo`: the head; no `hi`: the tail);
 * undefined when the gap is too narrow for floating point to hold them (the caller respaces).
 */
function spread(lo: number | undefined, hi: number | undefined, n: number): number[] | undefined {
  const ranks = Array.from({ length: n }, (_, i) => {
    if (lo === undefined) return hi! - n + i;
    if (hi === undefined) return lo + i + 1;
    return lo + ((hi - lo) * (i + 1)) / (n + 1);
  });
  const ordered = ranks.every((r, i) => r > (i === 0 ? (lo ?? -Infinity) : ranks[i - 1]!)) && ranks[n - 1]! < (hi ?? Infinity);
  return ordered ? ranks : undefined;
}

/**
 * Reordering the queue (bump, debump, drag to a place). Moved jobs get ranks between their new
 * neighbours', so a move writes only the moved rows. Only dozens of drags to one same spot can
 * exhaust the floating-point gap there; then that priority's waiting jobs are renumbered once.
 */
export function queueOrder(db: Db): QueueOrder {
  const writeJob = jobWriter(db);
  const byId = db.prepare<[number], Position>('SELECT id, priority, rank, state FROM jobs WHERE id = ?');
  const waitingAmong = db.prepare<{ ids: string }, Position>(`
    SELECT id, priority, rank, state FROM jobs
    WHERE id IN (SELECT value FROM json_each(@ids)) AND state IN ('queued', 'paused')`);
  // One index seek per waiting state (jobs_claim_order); the caller picks between the two.
  const notMoved = 'id NOT IN (SELECT value FROM json_each(@moved))';
  const head = db.prepare<{ state: string; moved: string }, Position>(`
    SELECT id, priority, rank, state FROM jobs WHERE state = @state AND ${notMoved}
    ORDER BY priority DESC, rank ASC, id ASC LIMIT 1`);
  const tail = db.prepare<{ state: string; moved: string }, Position>(`
    SELECT id, priority, rank, state FROM jobs WHERE state = @state AND ${notMoved}
    ORDER BY priority ASC, rank DESC, id DESC LIMIT 1`);
  const maxRank = db.prepare<[], number | null>('SELECT MAX(rank) FROM jobs').pluck();
  const predecessor = db.prepare<{ state: string; moved: string; priority: number; rank: number; id: number }, Position>(`
    SELECT id, priority, rank, state FROM jobs
    WHERE state = @state AND priority = @priority AND rank <= @rank AND (rank < @rank OR id < @id) AND ${notMoved}
    ORDER BY rank DESC, id DESC LIMIT 1`);
  const respace = db.prepare<{ priority: number }>(`
    UPDATE jobs SET rank = o.n
    FROM (SELECT id, ROW_NUMBER() OVER (ORDER BY rank, id) AS n FROM jobs
          WHERE priority = @priority AND state IN ('queued', 'paused')) AS o
    WHERE jobs.id = o.id`);

  /** The first (or last) in claim order of the answers for each waiting state. */
  const pick = (seek: (state: string) => Position | undefined, last = false): Position | undefined => {
    const found = WAITING.flatMap((state) => seek(state) ?? []).sort(claimOrder);
    return last ? found.at(-1) : found[0];
  };

  /** The priority moved jobs take and the ranks they go between. */
  const slot = (place: QueuePlace, moved: string, own: Position[]) => {
    const target = place === 'tail' ? undefined : place === 'head' ? pick((state) => head.get({ state, moved })) : byId.get(place.before);
    if (place !== 'tail' && place !== 'head' && (!target || !(WAITING as readonly string[]).includes(target.state))) {
      throw new Error(`Expected job ${place.before} to be queued or paused to move jobs before it`);
    }
    if (!target) {
      // Behind every job there is, like a job submitted now (which takes the highest rank + 1).
      const last = pick((state) => tail.get({ state, moved }), true);
      return { priority: last?.priority ?? Math.min(...own.map((p) => p.priority)), lo: maxRank.get() ?? 0, hi: undefined };
    }
    const before = pick((state) => predecessor.get({ state, moved, priority: target.priority, rank: target.rank, id: target.id }), true);
    return { priority: target.priority, lo: before?.rank, hi: target.rank };
  };

  return {
    moveJobs: writeTx(db, (ids: readonly number[], place: QueuePlace): number[] => {
      const unique = [...new Set(ids)];
      const waiting = new Map(waitingAmong.all({ ids: jsonList(unique) }).map((p) => [p.id, p]));
      const moved = unique.filter((id) => waiting.has(id));
      if (moved.length === 0) return [];
      if (typeof place === 'object' && moved.includes(place.before)) throw new Error(`Expected job ${place.before} not to be one of the moved jobs`);
      const movedJson = jsonList(moved);
      let s = slot(place, movedJson, [...waiting.values()]);
      let ranks = spread(s.lo, s.hi, moved.length);
      if (!ranks) {
        respace.run({ priority: s.priority });
        s = slot(place, movedJson, [...waiting.values()]);
        ranks = spread(s.lo, s.hi, moved.length)!;
      }
      moved.forEach((id, i) => writeJob(id, { priority: s.priority, rank: ranks[i]! }));
      return moved;
    }),
  };
}
