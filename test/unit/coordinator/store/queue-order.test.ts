import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { BatchRow, JobStore, NewBatch } from '../../../../core/coordinator/ports.ts';
import { openSqliteStore } from '../../../../core/coordinator/store/sqlite-store.ts';

const T0 = 1_700_000_000_000;

let dir: string;
let store: JobStore;
let batchCount = 0;

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'encodefarm-order-'));
  store = openSqliteStore({ file: path.join(dir, 'encodefarm.db') });
});

afterEach(() => {
  store.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

function batch(overrides: Partial<NewBatch> = {}): BatchRow {
  batchCount += 1;
  return store.createBatch({ key: `batch-${batchCount}`, label: 'test', presetId: 'h264-fast', outDir: null, onExists: 'suffix', priority: 0, ...overrides }, T0);
}

function jobs(b: BatchRow, count: number): number[] {
  const first = store.countJobsByState().queued ?? 0;
  return store.addJobs(
    b.id,
    Array.from({ length: count }, (_, i) => ({ inputPath: `/in/${b.id}-${first + i}.mov`, presetId: b.presetId, codec: 'h264' as const, outputPath: `/out/${b.id}-${first + i}.mp4` })),
    T0,
  );
}

/** Every queued job in the order claimNext would hand them out (claims them all). */
function claimOrder(): number[] {
  const out: number[] = [];
  for (;;) {
    const c = store.claimNext({ agentId: 'agent-1', deviceId: 'gpu0', codecs: ['h264'], now: T0, leaseTtlMs: 60_000 });
    if (!c) return out;
    out.push(c.job.id);
  }
}

/** Queued and paused jobs in queue-view order (reads only). */
function queueView(): number[] {
  return store.queryJobs({ states: ['queued', 'paused'], q: '', sort: 'queue', dir: 'asc', offset: 0, limit: 1000 }).jobs.map((j) => j.id);
}

describe('moveJobs', () => {
  it('puts jobs right before a job, in the order given, and claims follow that order', () => {
    const [a, b, c, d, e] = jobs(batch(), 5);
    expect(store.moveJobs([e!, d!], { before: b! })).toEqual([e, d]);
    expect(claimOrder()).toEqual([a, e, d, b, c]);
  });

  it('bumps to the head and debumps to the tail', () => {
    const [a, b, c, d] = jobs(batch(), 4);
    store.moveJobs([c!], 'head');
    store.moveJobs([a!], 'tail');
    expect(claimOrder()).toEqual([c, b, d, a]);
  });

  it('keeps a debumped job behind jobs submitted after it', () => {
    const b = batch();
    const [a, x] = jobs(b, 2);
    store.moveJobs([a!], 'tail');
    const [later] = jobs(b, 1);
    store.moveJobs([x!], 'tail');
    expect(claimOrder()).toEqual([a, later, x]);
  });

  it('gives moved jobs the priority of their new place', () => {
    const low = batch({ priority: 0 });
    const high = batch({ priority: 9 });
    const [l1, l2] = jobs(low, 2);
    const [h1, h2] = jobs(high, 2);
    store.moveJobs([l2!], { before: h2! });
    expect(store.getJob(l2!)?.priority).toBe(9);
    store.moveJobs([h1!], 'tail');
    expect(store.getJob(h1!)?.priority).toBe(0);
    expect(claimOrder()).toEqual([l2, h2, l1, h1]);
  });

  it('moves paused jobs too, and leaves in-flight and finished jobs where they are', () => {
    const [a, b, c, d] = jobs(batch(), 4);
    const leased = store.claimNext({ agentId: 'agent-1', deviceId: 'gpu0', codecs: ['h264'], now: T0, leaseTtlMs: 60_000 })!;
    expect(leased.job.id).toBe(a);
    store.pauseJobs([d!]);
    store.cancelJobs([c!], T0);
    expect(store.moveJobs([a!, c!, d!], 'head')).toEqual([d]);
    expect(queueView()).toEqual([b, d]);
    expect(store.moveJobs([a!, c!], 'tail')).toEqual([]);
  });

  it('refuses a target that is not waiting or is itself moved', () => {
    const [a, b] = jobs(batch(), 2);
    store.cancelJobs([b!], T0);
    expect(() => store.moveJobs([a!], { before: b! })).toThrow(/queued or paused/);
    expect(() => store.moveJobs([a!], { before: 999 })).toThrow(/queued or paused/);
    expect(() => store.moveJobs([a!], { before: a! })).toThrow(/not to be one of the moved/);
  });

  it('renumbers once when repeated moves to one spot use up the room between two jobs', () => {
    const all = jobs(batch(), 120);
    const target = all[1]!;
    const moved = all.slice(10, 110);
    // Each move lands between the previous one and the target: the gap halves every time.
    for (const id of moved) store.moveJobs([id], { before: target });
    const expected = [all[0], ...moved, target, ...all.slice(2, 10), ...all.slice(110)];
    expect(queueView()).toEqual(expected);
    expect(claimOrder()).toEqual(expected);
  });

  it('moves a block of jobs between two neighbours in one call', () => {
    const all = jobs(batch(), 600);
    const block = all.slice(300, 600).reverse();
    expect(store.moveJobs(block, { before: all[1]! })).toEqual(block);
    expect(queueView()).toEqual([all[0], ...block, ...all.slice(1, 300)]);
  });
});
