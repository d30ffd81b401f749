import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { BatchRow, Claim, JobQuery, JobStore, NewBatch } from '../../../../core/coordinator/ports.ts';
import { openDb } from '../../../../core/coordinator/store/db.ts';
import { containsPattern, jobsPageSql } from '../../../../core/coordinator/store/job-queries.ts';
import type { JobState } from '../../../../core/shared/job-state.ts';
import { JOB_SORTS } from '../../../../core/shared/protocol/index.ts';
import { loadMigrations, migrate } from '../../../../core/coordinator/store/migrate.ts';
import { openSqliteStore } from '../../../../core/coordinator/store/sqlite-store.ts';

const T0 = 1_700_000_000_000;
const HOUR = 3_600_000;

let dir: string;
let file: string;
let store: JobStore;
let batchCount = 0;

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'encodefarm-queries-'));
  file = path.join(dir, 'encodefarm.db');
  store = openSqliteStore({ file });
});

afterEach(() => {
  store.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

function batch(overrides: Partial<NewBatch> = {}): BatchRow {
  batchCount += 1;
  return store.createBatch({ key: `batch-${batchCount}`, label: 'test', presetId: 'h264-fast', outDir: null, onExists: 'suffix', priority: 0, ...overrides }, T0);
}

function jobs(b: BatchRow, names: string[]): number[] {
  return store.addJobs(
    b.id,
    names.map((n) => ({ inputPath: `/in/${n}.mov`, presetId: b.presetId, codec: 'h264' as const, outputPath: `/out/${n}.mp4` })),
    T0,
  );
}

function claimed(now = T0): Claim {
  const c = store.claimNext({ agentId: 'agent-1', deviceId: 'gpu0', codecs: ['h264'], now, leaseTtlMs: 60_000 });
  if (!c) throw new Error('expected a claim');
  return c;
}

function finish(c: Claim, at: number, sizes: { input: number; output: number; encodeMs: number }): void {
  store.markRunning(c.job.id, c.epoch, { tempPath: `/out/.t-${c.job.id}`, durationS: 10, inputSize: sizes.input }, at - 1000);
  store.markVerifying(c.job.id, c.epoch);
  store.endAttempt(c.job.id, c.epoch, { to: 'done', finalPath: c.job.outputPath, outputSize: sizes.output, encodeMs: sizes.encodeMs }, at);
}

function fail(c: Claim, at: number): void {
  store.endAttempt(c.job.id, c.epoch, { to: 'failed', error: { kind: 'input-invalid', message: 'bad' }, outcome: 'failed' }, at);
}

const query = (q: Partial<JobQuery> = {}) => store.queryJobs({ states: [], q: '', sort: 'queue', dir: 'asc', offset: 0, limit: 200, ...q });
const ids = (q: Partial<JobQuery> = {}) => query(q).jobs.map((j) => j.id);

describe('job queries', () => {
  describe('queryJobs', () => {
    it('lists in-flight jobs first, then the queue in claim order, then finished jobs newest first', () => {
      const low = batch();
      const high = batch({ priority: 5 });
      const [a, b, c, d] = jobs(low, ['a', 'b', 'c', 'd']);
      const [urgent] = jobs(high, ['urgent']);
      const running = claimed(); // takes `urgent`
      const [e] = jobs(low, ['e']);
      store.pauseJobs([b!]);
      fail(claimed(), T0 + 1); // a
      fail(claimed(), T0 + 2); // c
      expect(running.job.id).toBe(urgent);
      expect(ids()).toEqual([urgent, d, e, b, c, a]);
      expect(ids({ dir: 'desc' })).toEqual([a, c, b, e, d, urgent]);
    });

    it('filters by state, batch and path text, and counts what matches', () => {
      const b1 = batch();
      const b2 = batch();
      const [x, y] = jobs(b1, ['Holiday_2024', 'other']);
      const [z] = jobs(b2, ['holiday%weird']);
      store.pauseJobs([y!]);
      expect(query({ states: ['paused'] })).toMatchObject({ total: 1, jobs: [{ id: y }] });
      expect(query({ states: ['queued', 'paused'], batchId: b1.id }).total).toBe(2);
      // Case-insensitive substring of the input or the output path.
      expect(ids({ q: 'HOLIDAY' })).toEqual([x, z]);
      expect(ids({ q: 'out/other.mp4' })).toEqual([y]);
      // LIKE wildcards in the text match themselves only.
      expect(ids({ q: 'y%w' })).toEqual([z]);
      expect(ids({ q: 'y_2' })).toEqual([x]);
      expect(query({ q: 'nothing like it' })).toEqual({ total: 0, jobs: [] });
    });

    it('sorts by id, input, state, size and finish time in both directions', () => {
      const b = batch();
      const [c1, a1, b1] = jobs(b, ['c', 'a', 'b']);
      finish(claimed(), T0 + 5000, { input: 300, output: 100, encodeMs: 10 }); // c1
      finish(claimed(), T0 + 4000, { input: 100, output: 50, encodeMs: 10 }); // a1
      expect(ids({ sort: 'id' })).toEqual([c1, a1, b1]);
      expect(ids({ sort: 'id', dir: 'desc' })).toEqual([b1, a1, c1]);
      expect(ids({ sort: 'input' })).toEqual([a1, b1, c1]);
      expect(ids({ sort: 'input', dir: 'desc' })).toEqual([c1, b1, a1]);
      expect(ids({ sort: 'state' })).toEqual([c1, a1, b1]); // done, done, queued
      expect(ids({ sort: 'size' })).toEqual([b1, a1, c1]); // unknown size first
      expect(ids({ sort: 'finished', dir: 'desc' })).toEqual([c1, a1, b1]);
      // Equal progress (both done) falls back to the id, in the same direction.
      expect(ids({ sort: 'progress', dir: 'desc' })).toEqual([a1, c1, b1]);
    });

    it('pages with offset and limit while total counts every match', () => {
      const b = batch();
      const all = jobs(b, Array.from({ length: 25 }, (_, i) => `f${i}`));
      expect(query({ offset: 10, limit: 5 })).toMatchObject({ total: 25 });
      expect(ids({ offset: 10, limit: 5 })).toEqual(all.slice(10, 15));
      expect(ids({ offset: 24, limit: 5 })).toEqual(all.slice(24));
      expect(ids({ offset: 30 })).toEqual([]);
    });

    it('reads the right page of 100k jobs seeded in one transaction', () => {
      const b = batch();
      const names = Array.from({ length: 100_000 }, (_, i) => `clip-${String(i).padStart(6, '0')}`);
      const all = jobs(b, names);
      expect(all).toHaveLength(100_000);
      store.pauseJobs(all.slice(50_000, 50_010));

      expect(query({ offset: 60_000, limit: 200 })).toMatchObject({ total: 100_000 });
      // Paused jobs follow every queued one in the queue view.
      expect(ids({ offset: 60_000, limit: 3 })).toEqual(all.slice(60_010, 60_013));
      expect(ids({ offset: 99_990 - 1, limit: 2 })).toEqual([all[99_999], all[50_000]]);
      expect(ids({ states: ['paused'], limit: 20 })).toEqual(all.slice(50_000, 50_010));
      expect(ids({ sort: 'input', dir: 'desc', offset: 1, limit: 2 })).toEqual([all[99_998], all[99_997]]);
      expect(query({ q: 'clip-09999' })).toMatchObject({ total: 10 });
      expect(store.countJobsByState()).toEqual({ queued: 99_990, paused: 10 });
    });

    it('walks an index for every order but progress, with or without a state filter (no sort of all jobs)', () => {
      const db = openDb(file);
      try {
        for (const sort of JOB_SORTS.filter((s) => s !== 'progress')) {
          for (const dir of ['asc', 'desc'] as const) {
            for (const states of [[], ['queued'], ['done', 'failed']] as JobState[][]) {
              const sql = jobsPageSql({ states, q: '', sort, dir, offset: 0, limit: 200 });
              const plan = db
                .prepare(`EXPLAIN QUERY PLAN ${sql.page}`)
                .all({ ...sql.params, limit: 200, offset: 0 })
                .map((r) => (r as { detail: string }).detail)
                .join('\n');
              // A state filter on another order may sort just the matching jobs of one index range.
              if (states.length === 0 || sort === 'queue') expect(plan, `${sort} ${dir} [${states}]`).not.toMatch(/TEMP B-TREE/);
            }
          }
        }
      } finally {
        db.close();
      }
    });

    it('escapes LIKE wildcards and the escape character', () => {
      expect(containsPattern('50%_off\\x')).toBe('%50\\%\\_off\\\\x%');
    });
  });

  describe('counts', () => {
    it('counts jobs per state for all batches or one', () => {
      const b1 = batch();
      const b2 = batch();
      const [x] = jobs(b1, ['x', 'y']);
      jobs(b2, ['z']);
      store.pauseJobs([x!]);
      expect(store.countJobsByState()).toEqual({ queued: 2, paused: 1 });
      expect(store.countJobsByState(b1.id)).toEqual({ queued: 1, paused: 1 });
      expect(store.countJobsByState(999)).toEqual({});
    });

    it('counts unfinished jobs that use a preset', () => {
      const b = batch({ presetId: 'mine' });
      const [a] = jobs(b, ['a', 'b']);
      store.cancelJobs([a!], T0);
      expect(store.countOpenJobsWithPreset('mine')).toBe(1);
      expect(store.countOpenJobsWithPreset('other')).toBe(0);
    });
  });

  describe('history', () => {
    it('sums the finished jobs and lists them newest finished first', () => {
      const b = batch();
      const [first, second, third, fourth] = jobs(b, ['a', 'b', 'c', 'd']);
      finish(claimed(), T0 + 3 * HOUR, { input: 1000, output: 400, encodeMs: 2000 });
      finish(claimed(), T0 + 1 * HOUR, { input: 500, output: 450, encodeMs: 1000 });
      fail(claimed(), T0 + 2 * HOUR);
      store.cancelJobs([fourth!], T0 + 4 * HOUR);

      expect(store.historyTotals()).toEqual({ done: 2, failed: 1, canceled: 1, encodeMs: 3000, inputBytes: 1500, outputBytes: 850, savedBytes: 650 });
      expect(store.listFinished(0, 10).map((j) => j.id)).toEqual([fourth, first, third, second]);
      expect(store.listFinished(1, 2).map((j) => j.id)).toEqual([first, third]);
    });

    it('has zero totals and no rows when nothing finished', () => {
      jobs(batch(), ['a']);
      expect(store.historyTotals()).toEqual({ done: 0, failed: 0, canceled: 0, encodeMs: 0, inputBytes: 0, outputBytes: 0, savedBytes: 0 });
      expect(store.listFinished(0, 10)).toEqual([]);
    });

    it('buckets done and failed jobs by finish time, empty buckets included', () => {
      const b = batch();
      jobs(b, ['a', 'b', 'c', 'd']);
      finish(claimed(), T0 + 10, { input: 10, output: 4, encodeMs: 1 });
      finish(claimed(), T0 + HOUR + 5, { input: 10, output: 6, encodeMs: 1 });
      fail(claimed(), T0 + HOUR + 7);
      finish(claimed(), T0 + 9 * HOUR, { input: 10, output: 1, encodeMs: 1 }); // past the window

      expect(store.throughput(T0, HOUR, 3)).toEqual([
        { at: T0, done: 1, failed: 0, outputBytes: 4 },
        { at: T0 + HOUR, done: 1, failed: 1, outputBytes: 6 },
        { at: T0 + 2 * HOUR, done: 0, failed: 0, outputBytes: 0 },
      ]);
    });
  });

  describe('settings', () => {
    it('keeps one JSON value per key and updates only the keys given', () => {
      expect(store.readSettings()).toEqual({});
      store.writeSettings({ defaultOutDir: '/media/out', concurrency: 2 });
      store.writeSettings({ concurrency: null });
      expect(store.readSettings()).toEqual({ defaultOutDir: '/media/out', concurrency: null });
    });

    it('survives reopening the database', () => {
      store.writeSettings({ onExists: 'suffix' });
      store.close();
      store = openSqliteStore({ file });
      expect(store.readSettings()).toEqual({ onExists: 'suffix' });
    });
  });
});

describe('migration 005', () => {
  it('gives existing jobs their id as rank, so the claim order stays submission order', () => {
    const db = openDb(file + '.v4');
    try {
      migrate(db, loadMigrations().slice(0, 4));
      db.prepare(`INSERT INTO batches (key, label, preset_id, on_exists, created_at) VALUES ('k', 'l', 'h264-fast', 'skip', 1)`).run();
      const insert = db.prepare(`INSERT INTO jobs (batch_id, input_path, preset_id, codec, output_path, on_exists, not_before, created_at)
        VALUES (1, ?, 'h264-fast', 'h264', ?, 'skip', 1, 1)`);
      for (const n of ['a', 'b', 'c']) insert.run(`/in/${n}`, `/out/${n}`);
      migrate(db);
      expect(db.prepare('SELECT id, rank FROM jobs ORDER BY id').all()).toEqual([
        { id: 1, rank: 1 },
        { id: 2, rank: 2 },
        { id: 3, rank: 3 },
      ]);
    } finally {
      db.close();
    }
  });
});
