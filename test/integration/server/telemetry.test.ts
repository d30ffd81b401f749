import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { locateFfmpeg, type FfmpegInstall } from '../../../core/agent/devices/locate-ffmpeg.ts';
import { DevicesResponseSchema, EventsFrameSchema, type SubmitResponse } from '../../../core/shared/protocol/index.ts';
import { FakeAgent, fakeDevice } from '../../helpers/fake-agent.ts';
import { gpuFigures, gpuSample } from '../../helpers/gpu-sample.ts';
import { closed, openSocket } from './harness.ts';
import { fakeSources, startUiFarm, type UiFarm } from './ui-api-harness.ts';

let ffmpeg: FfmpegInstall;
let farm: UiFarm;

beforeAll(async () => {
  ffmpeg = await locateFfmpeg();
});

afterEach(async () => {
  await farm?.close();
});

const rtx = (index: number) => fakeDevice(`gpu${index}`, { kind: 'nvenc', label: `GPU ${index} NVIDIA GeForce RTX 4090`, gpuIndex: index, slots: 3, codecs: ['h264'] });

function telemetry(agent: FakeAgent, temperatureC: number): void {
  agent.send({
    v: 1,
    type: 'telemetry',
    sample: gpuSample(Date.now(), [gpuFigures(0, { temperatureC, encoderSessions: 2, encoderFps: 180 }), gpuFigures(1, { temperatureC: 40, encoderUtil: null })]),
  });
}

describe('GPU telemetry and learned budgets over the real service', () => {
  it('shows each GPU’s figures in GET /devices, the events socket and /metrics', async () => {
    farm = await startUiFarm(ffmpeg);
    const agent = FakeAgent.connect(farm.service.coordinator, { agentId: 'agt-tele', devices: [rtx(0), rtx(1), fakeDevice('cpu', { kind: 'cpu' })] });
    expect(agent.received[0]).toMatchObject({ type: 'welcome', telemetry: true });
    telemetry(agent, 64);

    const { devices } = DevicesResponseSchema.parse((await farm.api('GET', '/api/v1/devices')).json());
    const byId = new Map(devices.map((d) => [d.id, d]));
    expect(byId.get('gpu0')).toMatchObject({ telemetry: { index: 0, temperatureC: 64, encoderSessions: 2 }, telemetrySource: { source: 'nvml' } });
    expect(byId.get('gpu1')?.telemetry).toMatchObject({ index: 1, temperatureC: 40, encoderUtil: null });
    expect(byId.get('cpu')).toMatchObject({ telemetry: null, telemetrySource: { source: 'nvml' }, budget: { source: 'configured' } });

    // A UI listening on the events socket sees the next sample.
    const outcome = await openSocket(`ws://127.0.0.1:${farm.port}/api/v1/events`, ['encodefarm.v1', `bearer.${farm.token}`], {});
    if (!outcome.ok) throw new Error(`events socket refused: ${outcome.status}`);
    const frame = new Promise<unknown>((resolve) =>
      outcome.ws.on('message', (data) => {
        const f = JSON.parse(data.toString());
        if (f.type === 'devices') resolve(f);
      }),
    );
    telemetry(agent, 71);
    const got = EventsFrameSchema.parse(await frame);
    expect(got.type === 'devices' && got.devices.find((d) => d.id === 'gpu0')?.telemetry?.temperatureC).toBe(71);
    outcome.ws.close();
    await closed(outcome.ws);

    const metrics = await farm.api('GET', '/metrics');
    expect(metrics.status).toBe(200);
    const labels = 'agent="agt-tele",gpu="0",name="NVIDIA GeForce RTX 4090"';
    expect(metrics.text).toContain(`encodefarm_gpu_temperature_celsius{${labels}} 71\n`);
    expect(metrics.text).toContain(`encodefarm_gpu_encoder_sessions{${labels}} 2\n`);
    expect(metrics.text).toContain(`encodefarm_gpu_encoder_fps{${labels}} 180\n`);
    expect(metrics.text).toContain(`encodefarm_gpu_encoder_utilization_ratio{${labels}} 0.82\n`);
    expect(metrics.text).toMatch(/^# TYPE encodefarm_gpu_memory_used_bytes gauge$/m);
    // GPU 1 reports no encoder utilisation: no sample rather than a made-up zero.
    expect(metrics.text).not.toContain('encodefarm_gpu_encoder_utilization_ratio{agent="agt-tele",gpu="1"');

    await agent.close();
    expect((await farm.api('GET', '/metrics')).text).not.toContain('encodefarm_gpu_temperature_celsius{');
  });

  it('shows a budget lowered by a driver refusal in GET /devices and applies it when the agent comes back', async () => {
    farm = await startUiFarm(ffmpeg);
    const agent = FakeAgent.connect(farm.service.coordinator, { agentId: 'agt-budget', devices: [rtx(0)] });
    const reply = await farm.api('POST', '/api/v1/batches', { inputs: fakeSources(farm.dir, ['a.mp4', 'b.mp4', 'c.mp4']), presetId: 'h264-fast' });
    expect(reply.status, reply.text).toBe(200);
    const { jobIds } = reply.json() as SubmitResponse;
    const refused = agent.assignOf(jobIds[2]!);
    agent.started(refused.jobId, refused.epoch);
    agent.resultError(refused.jobId, refused.epoch, 'device-capacity', 'OpenEncodeSessionEx failed: out of memory (10)');
    await farm.service.coordinator.idle();

    const before = DevicesResponseSchema.parse((await farm.api('GET', '/api/v1/devices')).json()).devices[0]!;
    expect(before).toMatchObject({ slots: 2, announcedSlots: 3, budget: { source: 'learned', raiseAfterMs: 600_000 } });
    expect(before.budget.refusedAt).toEqual(expect.any(Number));

    await agent.close();
    FakeAgent.connect(farm.service.coordinator, { agentId: 'agt-budget', devices: [rtx(0)] });
    const after = DevicesResponseSchema.parse((await farm.api('GET', '/api/v1/devices')).json()).devices[0]!;
    expect(after).toMatchObject({ slots: 2, announcedSlots: 3, budget: { source: 'learned' } });
  });
});
