import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { locateFfmpeg, type FfmpegInstall } from '../../../core/agent/devices/locate-ffmpeg.ts';
import type { Claim } from '../../../core/coordinator/ports.ts';
import {
  DevicesResponseSchema,
  HistoryResponseSchema,
  JobDetailSchema,
  JobsPageSchema,
  PresetsResponseSchema,
  SettingsResponseSchema,
  type SubmitResponse,
} from '../../../core/shared/protocol/index.ts';
import { makeClip } from '../../helpers/clips.ts';
import { FakeAgent, fakeDevice } from '../../helpers/fake-agent.ts';
import { request } from './harness.ts';
import { fakeSources, startUiFarm, type UiFarm } from './ui-api-harness.ts';

let ffmpeg: FfmpegInstall;
let farm: UiFarm;

beforeAll(async () => {
  ffmpeg = await locateFfmpeg();
});

afterEach(async () => {
  await farm?.close();
});

async function submit(inputs: string[], extra: Record<string, unknown> = {}): Promise<SubmitResponse> {
  const reply = await farm.api('POST', '/api/v1/batches', { inputs, presetId: 'h264-fast', ...extra });
  expect(reply.status, reply.text).toBe(200);
  return reply.json() as SubmitResponse;
}

async function page(query = ''): Promise<ReturnType<typeof JobsPageSchema.parse>> {
  const reply = await farm.api('GET', `/api/v1/jobs${query}`);
  expect(reply.status, reply.text).toBe(200);
  return JobsPageSchema.parse(reply.json());
}

const order = async (query = '') => (await page(query)).jobs.map((j) => j.id);

function claim(agentId = 'agent-x'): Claim {
  const c = farm.store.claimNext({ agentId, deviceId: 'gpu0', codecs: ['h264'], now: Date.now(), leaseTtlMs: 60_000 });
  if (!c) throw new Error('nothing to claim');
  return c;
}

function finishDone(c: Claim, sizes: { input: number; output: number }): void {
  farm.store.markRunning(c.job.id, c.epoch, { tempPath: `${c.job.outputPath}.tmp`, durationS: 1, inputSize: sizes.input }, Date.now());
  farm.store.markVerifying(c.job.id, c.epoch);
  farm.store.endAttempt(c.job.id, c.epoch, { to: 'done', finalPath: c.job.outputPath, outputSize: sizes.output, encodeMs: 500 }, Date.now());
}

describe('UI API', () => {
  describe('GET /jobs', () => {
    it('pages, filters and sorts the queue and counts every state', async () => {
      farm = await startUiFarm(ffmpeg);
      const sources = fakeSources(farm.dir, ['clip-1.mp4', 'clip-2.mp4', 'CLIP-3.mp4', 'clip-4.mp4', 'clip-5.mp4']);
      const { jobIds } = await submit(sources);
      await farm.api('POST', '/api/v1/jobs/actions', { action: 'pause', ids: [jobIds[1]] });

      const all = await page();
      expect(all).toMatchObject({ total: 5, offset: 0 });
      expect(all.counts).toEqual({ queued: 4, leased: 0, running: 0, verifying: 0, done: 0, paused: 1, canceled: 0, failed: 0, blocked: 0 });
      expect(all.jobs[0]).toMatchObject({ priority: 0, startedAt: null, finishedAt: null, speed: 0, encodeMs: null, durationS: null });
      expect(all.jobs.map((j) => j.id)).toEqual([jobIds[0], jobIds[2], jobIds[3], jobIds[4], jobIds[1]]);

      expect(await page('?state=paused')).toMatchObject({ total: 1, jobs: [{ id: jobIds[1] }], counts: { queued: 4 } });
      expect(await order('?q=clip-3')).toEqual([jobIds[2]]);
      expect(await order('?sort=id&dir=desc&offset=1&limit=2')).toEqual([jobIds[3], jobIds[2]]);
      expect(await page('?state=queued,paused&batch=1&limit=1')).toMatchObject({ total: 5 });
    });

    it('gives batch headers their counts without the rows (GET /status?jobs=0)', async () => {
      farm = await startUiFarm(ffmpeg);
      const { batchId, jobIds } = await submit(fakeSources(farm.dir, ['a.mp4', 'b.mp4', 'c.mp4']));
      await farm.api('POST', '/api/v1/jobs/actions', { action: 'pause', ids: [jobIds[0]] });
      const lean = await farm.api('GET', '/api/v1/status?jobs=0');
      expect(lean.json()).toMatchObject({ batchId, jobs: [], batches: [{ id: batchId, counts: { queued: 2, paused: 1 } }] });
      const full = await farm.api('GET', '/api/v1/status');
      expect(full.json().jobs).toHaveLength(3);
    });

    it('refuses a bad query naming the parameter', async () => {
      farm = await startUiFarm(ffmpeg);
      const cases: [string, string, string][] = [
        ['?limit=5000', 'limit', 'must be at most 1000'],
        ['?limit=ten', 'limit', 'must be a whole number'],
        ['?offset=-1', 'offset', 'must be at least 0'],
        ['?sort=size-ish', 'sort', 'must be one of queue, id, input, state, progress, size, finished'],
        ['?dir=up', 'dir', 'must be asc or desc'],
      ];
      for (const [query, field, message] of cases) {
        const reply = await farm.api('GET', `/api/v1/jobs${query}`);
        expect(reply.status, query).toBe(400);
        expect(reply.json().error).toMatchObject({ code: 'invalid-query', message: `${field}: ${message}`, fields: { [field]: message } });
      }
      const states = await farm.api('GET', '/api/v1/jobs?state=queued,sleeping');
      expect(states.json().error.fields.state).toMatch(/^unknown state\(s\) sleeping/);
    });
  });

  describe('GET /jobs/:id', () => {
    it('shows the job with its batch, attempts, log tail and a real probe of the source', async () => {
      farm = await startUiFarm(ffmpeg);
      const clip = await makeClip(farm.dir, 'real.mp4', { seconds: 1 });
      const { jobIds, batchId } = await submit([clip]);
      const id = jobIds[0]!;
      const c = claim();
      farm.store.markRunning(id, c.epoch, { tempPath: `${c.job.outputPath}.tmp`, durationS: 1, inputSize: 100 }, Date.now());
      farm.store.appendLog(id, ['frame=1', 'frame=25'], Date.now());
      farm.store.endAttempt(id, c.epoch, { to: 'failed', error: { kind: 'encode-failed', message: 'ffmpeg exited 1' }, outcome: 'failed' }, Date.now());

      const reply = await farm.api('GET', `/api/v1/jobs/${id}`);
      expect(reply.status, reply.text).toBe(200);
      const detail = JobDetailSchema.parse(reply.json());
      expect(detail.job).toMatchObject({ id, state: 'failed', errorMessage: 'ffmpeg exited 1' });
      expect(detail.batch).toMatchObject({ id: batchId, counts: { failed: 1 } });
      expect(detail.attempts).toEqual([
        expect.objectContaining({ epoch: 1, agentId: 'agent-x', deviceId: 'gpu0', outcome: 'failed', errorKind: 'encode-failed', endedAt: expect.any(Number) }),
      ]);
      expect(detail.log).toEqual(['frame=1', 'frame=25']);
      expect(detail.probeError).toBeNull();
      expect(detail.probe).toMatchObject({
        formatName: expect.stringContaining('mp4'),
        sizeBytes: fs.statSync(clip).size,
        video: { codec: 'h264', width: 320, height: 240, fps: 25 },
        audio: [{ codec: 'aac', channels: 1, language: null }],
      });
      expect(detail.probe!.durationS).toBeGreaterThan(0.9);

      fs.rmSync(clip);
      const gone = JobDetailSchema.parse((await farm.api('GET', `/api/v1/jobs/${id}`)).json());
      expect(gone).toMatchObject({ probe: null, probeError: `${clip}: the source file is gone` });
    });

    it('answers 404 for an unknown job and 400 for a malformed id', async () => {
      farm = await startUiFarm(ffmpeg);
      expect((await farm.api('GET', '/api/v1/jobs/999')).json().error).toMatchObject({ code: 'no-such-job' });
      const bad = await farm.api('GET', '/api/v1/jobs/abc');
      expect(bad.status).toBe(400);
      expect(bad.json().error.fields).toEqual({ id: 'must be a positive whole number' });
    });
  });

  describe('reordering', () => {
    it('moves, bumps and debumps, and agents get jobs in that order', async () => {
      farm = await startUiFarm(ffmpeg);
      const [a, b, c, d] = (await submit(fakeSources(farm.dir, ['a.mp4', 'b.mp4', 'c.mp4', 'd.mp4']))).jobIds as [number, number, number, number];

      const moved = await farm.api('POST', '/api/v1/jobs/move', { ids: [d], before: b });
      expect(moved.json()).toEqual({ changed: [d] });
      expect(await order()).toEqual([a, d, b, c]);
      expect((await farm.api('POST', '/api/v1/jobs/actions', { action: 'bump', ids: [c] })).json()).toEqual({ changed: [c] });
      expect((await farm.api('POST', '/api/v1/jobs/actions', { action: 'debump', ids: [a] })).json()).toEqual({ changed: [a] });
      expect(await order()).toEqual([c, d, b, a]);
      await farm.api('POST', '/api/v1/jobs/move', { ids: [a, c], before: null });
      expect(await order()).toEqual([d, b, a, c]);

      const agent = FakeAgent.connect(farm.service.coordinator, { agentId: 'agt-order', devices: [fakeDevice('gpu0', { slots: 4, codecs: ['h264'] })] });
      expect(agent.assigns.map((x) => x.jobId)).toEqual([d, b, a, c]);
    });

    it('refuses a move before a job that is not waiting, unknown or moved itself', async () => {
      farm = await startUiFarm(ffmpeg);
      const [a, b] = (await submit(fakeSources(farm.dir, ['a.mp4', 'b.mp4']))).jobIds as [number, number];
      await farm.api('POST', '/api/v1/jobs/actions', { action: 'cancel', ids: [b] });
      const cases: [unknown, number, string][] = [
        [{ ids: [a], before: b }, 409, 'not-in-queue'],
        [{ ids: [a], before: 999 }, 404, 'no-such-job'],
        [{ ids: [a], before: a }, 400, 'invalid-move'],
        [{ ids: [], before: null }, 400, 'invalid-body'],
        [{ ids: [a] }, 400, 'invalid-body'],
      ];
      for (const [body, status, code] of cases) {
        const reply = await farm.api('POST', '/api/v1/jobs/move', body);
        expect([reply.status, reply.json().error.code], JSON.stringify(body)).toEqual([status, code]);
      }
      expect((await farm.api('POST', '/api/v1/jobs/move', { ids: [a] })).json().error.fields).toEqual({ before: expect.any(String) });
    });
  });

  describe('GET /devices', () => {
    it('lists devices with the jobs on each and their summed frame rate', async () => {
      farm = await startUiFarm(ffmpeg);
      const agent = FakeAgent.connect(farm.service.coordinator, { agentId: 'agt-dev', devices: [fakeDevice('gpu0', { slots: 2, codecs: ['h264'] })] });
      const { jobIds } = await submit(fakeSources(farm.dir, ['a.mp4', 'b.mp4']));
      for (const [i, id] of jobIds.entries()) {
        const a = agent.assignOf(id);
        agent.started(id, a.epoch);
        agent.progress(id, a.epoch, { percent: 10, fps: 30 + i * 10 });
      }
      const reply = await farm.api('GET', '/api/v1/devices');
      const { devices } = DevicesResponseSchema.parse(reply.json());
      expect(devices).toEqual([expect.objectContaining({ key: 'agt-dev/gpu0', agentId: 'agt-dev', fps: 70, jobs: jobIds, busy: jobIds })]);
    });
  });

  describe('presets', () => {
    const mine = { id: 'my-hevc', name: 'My HEVC', codec: 'hevc', quality: 24, speed: 'medium', container: 'mkv' };

    it('creates, lists, updates and deletes user presets and sends agents the new table', async () => {
      farm = await startUiFarm(ffmpeg);
      const agent = FakeAgent.connect(farm.service.coordinator, { agentId: 'agt-p', devices: [fakeDevice('gpu0')] });
      const welcomes = () => agent.received.filter((m) => m.type === 'welcome');

      const created = await farm.api('POST', '/api/v1/presets', mine);
      expect(created.status, created.text).toBe(200);
      expect(created.json().preset).toMatchObject({ id: 'my-hevc', audio: { mode: 'copy' } });
      const list = PresetsResponseSchema.parse((await farm.api('GET', '/api/v1/presets')).json()).presets;
      expect(list.find((p) => p.preset.id === 'my-hevc')).toMatchObject({ builtin: false });
      expect(list.find((p) => p.preset.id === 'h264-fast')).toMatchObject({ builtin: true });

      const updated = await farm.api('PUT', '/api/v1/presets/my-hevc', { ...mine, quality: 30 });
      expect(updated.json().preset.quality).toBe(30);
      const last = welcomes().at(-1);
      expect(last?.type === 'welcome' && last.presets.find((p) => p.id === 'my-hevc')?.quality).toBe(30);

      expect((await farm.api('DELETE', '/api/v1/presets/my-hevc')).json()).toEqual({ ok: true });
      expect(welcomes()).toHaveLength(4);
    });

    it('answers 422 with the bad fields, 409 for built-ins', async () => {
      farm = await startUiFarm(ffmpeg);
      const bad = await farm.api('POST', '/api/v1/presets', { ...mine, quality: 70, speed: 'ludicrous' });
      expect(bad.status).toBe(422);
      expect(bad.json().error).toMatchObject({
        code: 'invalid-preset',
        fields: { quality: 'must be at most 63', speed: 'must be fast, medium or slow' },
      });
      await farm.api('POST', '/api/v1/presets', mine);
      const renamed = await farm.api('PUT', '/api/v1/presets/my-hevc', { ...mine, id: 'other' });
      expect([renamed.status, Object.keys(renamed.json().error.fields)]).toEqual([422, ['id']]);
      const builtin = await farm.api('DELETE', '/api/v1/presets/h264-fast');
      expect([builtin.status, builtin.json().error.code]).toEqual([409, 'builtin-preset']);
      const notJson = await farm.api('POST', '/api/v1/presets', Buffer.from('{'), { 'Content-Type': 'application/json' });
      expect([notJson.status, notJson.json().error.code]).toEqual([400, 'bad-json']);
    });
  });

  describe('GET /history', () => {
    it('sums finished jobs, pages them newest first and buckets throughput', async () => {
      farm = await startUiFarm(ffmpeg);
      const { jobIds } = await submit(fakeSources(farm.dir, ['a.mp4', 'b.mp4', 'c.mp4', 'd.mp4']));
      finishDone(claim(), { input: 1000, output: 300 });
      finishDone(claim(), { input: 2000, output: 1500 });
      const failing = claim();
      farm.store.endAttempt(failing.job.id, failing.epoch, { to: 'failed', error: { kind: 'input-invalid', message: 'not a video' }, outcome: 'failed' }, Date.now());

      const reply = await farm.api('GET', '/api/v1/history?limit=2');
      expect(reply.status, reply.text).toBe(200);
      const history = HistoryResponseSchema.parse(reply.json());
      expect(history.totals).toEqual({ done: 2, failed: 1, canceled: 0, encodeMs: 1000, inputBytes: 3000, outputBytes: 1800, savedBytes: 1200 });
      expect(history.total).toBe(3);
      expect(history.jobs.map((j) => j.id)).toEqual([jobIds[2], jobIds[1]]);
      expect(history.throughput).toHaveLength(25);
      expect(history.throughput.at(-1)).toMatchObject({ done: 2, failed: 1, outputBytes: 1800 });
      expect(history.throughput[1]!.at - history.throughput[0]!.at).toBe(3_600_000);

      const minutes = HistoryResponseSchema.parse((await farm.api('GET', `/api/v1/history?bucketMs=60000&since=${Date.now() - 600_000}`)).json());
      expect(minutes.throughput.length).toBeGreaterThanOrEqual(11);
      expect(minutes.throughput.reduce((n, b) => n + b.done, 0)).toBe(2);
    });

    it('refuses more than 500 buckets and a future since', async () => {
      farm = await startUiFarm(ffmpeg);
      const many = await farm.api('GET', '/api/v1/history?bucketMs=1000');
      expect(many.status).toBe(400);
      expect(many.json().error.fields.bucketMs).toMatch(/at most 500/);
      const future = await farm.api('GET', `/api/v1/history?since=${Date.now() + 3_600_000}`);
      expect(future.json().error.fields).toEqual({ since: 'must not be in the future' });
    });
  });

  describe('settings', () => {
    it('reads and writes settings, and submissions without a folder or policy use them', async () => {
      farm = await startUiFarm(ffmpeg);
      const initial = SettingsResponseSchema.parse((await farm.api('GET', '/api/v1/settings')).json());
      expect(initial).toEqual({
        settings: { defaultOutDir: null, onExists: 'skip', concurrency: null },
        ffmpeg: { path: ffmpeg.ffmpegPath, ffprobePath: ffmpeg.ffprobePath, version: ffmpeg.version },
        dataDir: farm.dir,
        inboxDir: path.join(farm.dir, 'inbox'),
      });

      const bad = await farm.api('PUT', '/api/v1/settings', { defaultOutDir: 'out', concurrency: 0 });
      expect(bad.status).toBe(422);
      expect(bad.json().error).toMatchObject({ code: 'invalid-settings', fields: { defaultOutDir: 'must be an absolute path', concurrency: 'must be at least 1' } });

      const outDir = path.join(farm.dir, 'encoded');
      const put = await farm.api('PUT', '/api/v1/settings', { defaultOutDir: outDir, onExists: 'suffix' });
      expect(put.status, put.text).toBe(200);
      expect(put.json().settings).toEqual({ defaultOutDir: outDir, onExists: 'suffix', concurrency: null });

      const { batchId, jobIds } = await submit(fakeSources(farm.dir, ['a.mp4']));
      expect(farm.store.getBatch(batchId)).toMatchObject({ outDir, onExists: 'suffix' });
      expect(path.dirname(farm.store.getJob(jobIds[0]!)!.outputPath)).toBe(outDir);
      // What a submission says still wins.
      const own = await submit(fakeSources(farm.dir, ['b.mp4']), { outDir: farm.dir, onExists: 'skip' });
      expect(farm.store.getBatch(own.batchId)).toMatchObject({ outDir: farm.dir, onExists: 'skip' });
    });

    it('caps the local agent with the concurrency setting, from its start and live', async () => {
      farm = await startUiFarm(ffmpeg);
      await farm.api('PUT', '/api/v1/settings', { concurrency: 1 });
      const local = FakeAgent.connect(farm.service.coordinator, { agentId: 'local:test-host:1:0123abcd', devices: [fakeDevice('gpu0', { slots: 3, codecs: ['h264'] })] });
      const { jobIds } = await submit(fakeSources(farm.dir, ['a.mp4', 'b.mp4', 'c.mp4']));
      const assigned = () => local.assigns.map((a) => a.jobId);
      expect(assigned()).toEqual(jobIds.slice(0, 1));
      await farm.api('PUT', '/api/v1/settings', { concurrency: 2 });
      expect(assigned()).toEqual(jobIds.slice(0, 2));
      await farm.api('PUT', '/api/v1/settings', { concurrency: null });
      expect(assigned()).toEqual(jobIds);
    });
  });

  it('refuses every new route without the API token', async () => {
    farm = await startUiFarm(ffmpeg);
    const routes: [string, string][] = [
      ['GET', '/api/v1/jobs'],
      ['GET', '/api/v1/jobs/1'],
      ['POST', '/api/v1/jobs/move'],
      ['GET', '/api/v1/devices'],
      ['GET', '/api/v1/presets'],
      ['POST', '/api/v1/presets'],
      ['PUT', '/api/v1/presets/x'],
      ['DELETE', '/api/v1/presets/x'],
      ['GET', '/api/v1/history'],
      ['GET', '/api/v1/settings'],
      ['PUT', '/api/v1/settings'],
      ['PUT', '/api/v1/inbox/upload-0001/a.mp4'],
    ];
    for (const [method, urlPath] of routes) {
      const none = await request(farm.port, { method, path: urlPath, body: '{}', headers: { 'Content-Type': 'application/json' } });
      const wrong = await request(farm.port, { method, path: urlPath, body: '{}', headers: { 'Content-Type': 'application/json', Authorization: 'Bearer nope' } });
      expect([none.status, wrong.status], `${method} ${urlPath}`).toEqual([401, 401]);
    }
    expect(fs.existsSync(path.join(farm.dir, 'inbox'))).toBe(false);
  });
});
