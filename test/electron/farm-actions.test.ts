import { describe, expect, it } from 'vitest';
import type { BatchView, JobActionRequest } from '../../core/shared/protocol/index.ts';
import { createFarmActions } from '../../electron/main/farm-actions.ts';
import { FakeFarm, jobView } from './farm-fakes.ts';

const batch = (id: number, state: BatchView['state'], counts: Record<string, number>): BatchView => ({ id, label: `batch ${id}`, presetId: 'h264-fast', state, createdAt: id, counts });

function fakeClient(batches: BatchView[], farm = new FakeFarm()) {
  const actions: JobActionRequest[] = [];
  return {
    actions,
    client: {
      batches: async (_limit: number) => batches,
      jobs: farm.client.jobs,
      jobAction: async (req: JobActionRequest) => {
        actions.push(req);
        if (req.batch) return [];
        // Resuming takes the jobs out of the paused filter, as the coordinator does.
        for (const id of req.ids) farm.set(id, { state: 'queued' });
        return [...req.ids];
      },
    },
  };
}

describe('createFarmActions', () => {
  it('pauses every active batch with work left, and no other', async () => {
    const { client, actions } = fakeClient([
      batch(1, 'active', { done: 3 }),
      batch(2, 'active', { running: 1, queued: 4 }),
      batch(3, 'paused', { queued: 2 }),
      batch(4, 'active', { blocked: 1 }),
      batch(5, 'canceled', { canceled: 2 }),
    ]);
    expect(await createFarmActions(client).pauseAll()).toBe(2);
    expect(actions).toEqual([{ action: 'pause', ids: [2, 4], batch: true }]);
  });

  it('asks nothing when there is nothing to pause', async () => {
    const { client, actions } = fakeClient([batch(1, 'active', { done: 3 })]);
    expect(await createFarmActions(client).pauseAll()).toBe(0);
    expect(actions).toEqual([]);
  });

  it('resumes paused batches and every job paused on its own', async () => {
    const farm = new FakeFarm();
    farm.jobs = [jobView({ id: 10, state: 'paused' }), jobView({ id: 11, state: 'paused' }), jobView({ id: 12, state: 'running' })];
    const { client, actions } = fakeClient([batch(1, 'paused', { queued: 2 }), batch(2, 'active', { paused: 2 })], farm);
    expect(await createFarmActions(client).resumeAll()).toBe(3);
    expect(actions).toEqual([
      { action: 'resume', ids: [1], batch: true },
      { action: 'resume', ids: [10, 11] },
    ]);
  });
});
