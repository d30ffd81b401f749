// @vitest-environment happy-dom
import { act, cleanup, fireEvent, render, screen, within } from '@testing-library/react';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { AgentsResponseSchema, DevicesResponseSchema, JoinTokenResponseSchema, type DeviceWithFps } from '../../core/shared/protocol/index.ts';
import type { ApiClient } from '../../renderer/src/api/client.ts';
import { AppContext, createEventsHub, type EventsHub } from '../../renderer/src/app-context.tsx';
import { DevicesView } from '../../renderer/src/views/devices/devices-view.tsx';
import { gpuFigures } from '../helpers/gpu-sample.ts';

const NOW = Date.UTC(2025, 0, 15, 12, 0, 0);

/** A stand-in coordinator: answers are parsed with the real schemas, so they are what the server may send. */
function fake(methods: Partial<ApiClient>): ApiClient {
  return new Proxy(methods, {
    get: (t, k: string) => t[k as keyof ApiClient] ?? (() => Promise.reject(new Error(`fake api: ${k} not faked`))),
  }) as ApiClient;
}

const device = (over: Partial<DeviceWithFps> & { key: string }) => ({
  agentId: 'agent-1',
  id: over.key.split('/')[1] ?? 'gpu0',
  kind: 'nvenc' as const,
  label: 'GPU 0 NVIDIA RTX 4090',
  codecs: ['h264' as const, 'hevc' as const],
  slots: 3,
  announcedSlots: 3,
  limitGroup: null,
  state: 'working' as const,
  busy: [],
  faults: 0,
  reason: null,
  fps: 0,
  jobs: [],
  ...over,
});

const DEVICES = DevicesResponseSchema.parse({
  devices: [
    device({ key: 'agent-1/gpu0', slots: 2, announcedSlots: 5, busy: [11], jobs: [11], fps: 142.5 }),
    device({ key: 'agent-1/sim1', kind: 'simulated-gpu', label: 'simulated GPU 1', busy: [12, 13], jobs: [12, 13], fps: 60 }),
    device({ key: 'agent-2/gpu0', agentId: 'agent-2', state: 'quarantined', reason: 'NVENC session limit errors 3 times' }),
  ],
});

const AGENTS = AgentsResponseSchema.parse({
  agents: [
    { id: 'agent-1', name: 'studio-pc', tags: ['gpu', 'fast'], state: 'active', connected: true, revoked: false, busy: 3, devices: [{ id: 'gpu0', label: 'GPU 0', slots: 2, busy: 1, state: 'working' }], lastSeenAt: NOW },
    { id: 'agent-2', name: 'attic-box', tags: [], state: 'paused', connected: false, revoked: false, busy: 0, devices: [], lastSeenAt: NOW - 5 * 60_000 },
  ],
});

function renderView(api: ApiClient, baseUrl = 'http://coord.example:7400', events: EventsHub = createEventsHub()) {
  return render(
    <AppContext.Provider value={{ api, connection: { baseUrl, token: 't' }, events, bridge: undefined, now: () => NOW }}>
      <DevicesView />
    </AppContext.Provider>,
  );
}

afterEach(() => {
  cleanup();
  vi.restoreAllMocks();
});

describe('DevicesView', () => {
  it('shows a card per device with sessions used / budget, fps, the simulated label and the quarantine reason', async () => {
    renderView(fake({ devices: async () => DEVICES, agents: async () => AGENTS }));
    const cards = await screen.findAllByTestId('device-card');
    expect(cards.map((c) => c.dataset.deviceKey)).toEqual(['agent-1/gpu0', 'agent-1/sim1', 'agent-2/gpu0']);

    const gpu = within(cards[0]!);
    expect(gpu.getByTestId('device-sessions').textContent).toBe('1 / 2 (announced 5)');
    expect(gpu.getByTestId('device-fps').textContent).toBe('143 fps');
    expect(gpu.getByText('studio-pc')).toBeTruthy();

    const sim = within(cards[1]!);
    expect(sim.getByTestId('device-kind').textContent).toBe('simulated');
    expect(sim.getByTestId('device-sessions').textContent).toBe('2 / 3');

    expect(cards[2]!.dataset.state).toBe('quarantined');
    expect(within(cards[2]!).getByTestId('device-state').textContent).toBe('quarantined: NVENC session limit errors 3 times');
  });

  it('shows a GPU’s live figures, its telemetry source and the budget it learned', async () => {
    const GIB = 1024 ** 3;
    const devices = DevicesResponseSchema.parse({
      devices: [
        device({
          key: 'agent-1/gpu0',
          slots: 2,
          announcedSlots: 3,
          busy: [11, 12],
          jobs: [11, 12],
          telemetry: {
            index: 0,
            uuid: 'GPU-0',
            name: 'NVIDIA GeForce RTX 4090',
            pciBusId: '00000000:01:00.0',
            memoryUsedBytes: 3.5 * GIB,
            memoryTotalBytes: 24 * GIB,
            temperatureC: 88,
            gpuUtil: 41,
            encoderUtil: 87.4,
            decoderUtil: 9,
            encoderSessions: 3,
            encoderFps: 212.6,
            encoderLatencyUs: 1500,
            encoderCapacity: { h264: 30, hevc: 25, av1: null },
            driverVersion: '550.54.14',
          },
          telemetrySource: { source: 'nvml', at: NOW - 1000, reason: null },
          budget: { source: 'learned', refusedAt: NOW - 5 * 60_000, atBudgetMs: 3 * 60_000, raiseAfterMs: 10 * 60_000 },
        }),
        device({
          key: 'agent-2/gpu0',
          agentId: 'agent-2',
          telemetrySource: { source: 'none', at: NOW, reason: 'libnvidia-ml.so.1: cannot open shared object file; nvidia-smi: not found' },
        }),
        device({ key: 'agent-1/cpu', kind: 'cpu', label: 'CPU', telemetrySource: { source: 'nvml', at: NOW, reason: null } }),
      ],
    });
    renderView(fake({ devices: async () => devices, agents: async () => AGENTS }));
    const [gpu, blind, cpu] = (await screen.findAllByTestId('device-card')).map((c) => within(c));

    const text = (id: string) => gpu!.getByTestId(id).textContent;
    expect(text('device-temperature')).toBe('88 °C');
    expect(gpu!.getByTestId('device-temperature').className).toBe('device-hot');
    expect(text('device-gpu-util')).toBe('41%');
    expect(text('device-encoder-util')).toBe('87%');
    expect(text('device-driver-sessions')).toBe('3');
    expect(text('device-encoder-fps')).toBe('213 fps');
    expect(text('device-memory')).toBe('3.5 / 24.0 GiB');
    expect(text('device-telemetry-source')).toBe('NVML');
    expect(text('device-sessions')).toBe('2 / 2 (announced 3)');
    expect(text('device-budget')).toBe('learned 2 of 3 · driver refused a session 5 min ago · +1 after 10 min at budget without a refusal (3 min so far)');

    // No driver on that host: the card says so instead of showing blanks.
    expect(blind!.queryByTestId('device-temperature')).toBeNull();
    expect(blind!.getByTestId('device-telemetry-source').textContent).toBe('none: libnvidia-ml.so.1: cannot open shared object file; nvidia-smi: not found');
    expect(blind!.queryByTestId('device-budget')).toBeNull();

    // The CPU has no GPU figures to show.
    expect(cpu!.queryByTestId('device-telemetry-source')).toBeNull();
    expect(cpu!.queryByTestId('device-temperature')).toBeNull();
  });

  it('applies live devices frames and agent connection frames', async () => {
    const events = createEventsHub();
    renderView(fake({ devices: async () => DEVICES, agents: async () => AGENTS }), undefined, events);
    await screen.findAllByTestId('device-card');
    act(() => {
      events.emitFrame({ type: 'devices', devices: [{ ...DEVICES.devices[0]!, busy: [11, 14] }] });
      events.emitFrame({ type: 'agent', agentId: 'agent-2', connected: true });
    });
    const cards = screen.getAllByTestId('device-card');
    expect(cards).toHaveLength(1);
    expect(within(cards[0]!).getByTestId('device-sessions').textContent).toBe('2 / 2 (announced 5)');
    // The next frame brings the GPU's figures (telemetry goes out with device frames).
    act(() => {
      events.emitFrame({
        type: 'devices',
        devices: [{ ...DEVICES.devices[0]!, telemetry: gpuFigures(0, { temperatureC: 55 }), telemetrySource: { source: 'nvidia-smi', at: NOW, reason: null } }],
      });
    });
    const card = within(screen.getAllByTestId('device-card')[0]!);
    expect(card.getByTestId('device-temperature').textContent).toBe('55 °C');
    expect(card.getByTestId('device-telemetry-source').textContent).toBe('nvidia-smi');
    const row = screen.getAllByTestId('agent-row').find((r) => r.dataset.agentId === 'agent-2')!;
    expect(row.dataset.connected).toBe('true');
  });

  it('lists agents and sends pause, drain and resume; revoke asks first', async () => {
    const agentAction = vi.fn(async () => ({ ok: true as const }));
    renderView(fake({ devices: async () => DEVICES, agents: async () => AGENTS, agentAction }));
    const rows = await screen.findAllByTestId('agent-row');
    expect(rows.map((r) => [r.dataset.agentId, r.dataset.connected])).toEqual([
      ['agent-1', 'true'],
      ['agent-2', 'false'],
    ]);
    const studio = within(rows[0]!);
    expect(studio.getByText('gpu, fast')).toBeTruthy();
    expect(within(rows[1]!).getByText('offline')).toBeTruthy();
    expect(within(rows[1]!).getByText('5 min ago')).toBeTruthy();

    fireEvent.click(studio.getByTestId('agent-pause'));
    await vi.waitFor(() => expect(agentAction).toHaveBeenCalledWith('agent-1', 'pause'));
    await vi.waitFor(() => expect(studio.getByTestId('agent-drain').hasAttribute('disabled')).toBe(false));
    fireEvent.click(studio.getByTestId('agent-drain'));
    await vi.waitFor(() => expect(agentAction).toHaveBeenCalledWith('agent-1', 'drain'));
    fireEvent.click(within(rows[1]!).getByTestId('agent-resume'));
    await vi.waitFor(() => expect(agentAction).toHaveBeenCalledWith('agent-2', 'resume'));
    // An active agent has nothing to resume.
    expect(studio.getByTestId('agent-resume').hasAttribute('disabled')).toBe(true);

    await vi.waitFor(() => expect(studio.getByTestId('agent-revoke').hasAttribute('disabled')).toBe(false));
    fireEvent.click(studio.getByTestId('agent-revoke'));
    expect(agentAction).not.toHaveBeenCalledWith('agent-1', 'revoke');
    fireEvent.click(studio.getByTestId('agent-revoke-cancel'));
    fireEvent.click(studio.getByTestId('agent-revoke'));
    fireEvent.click(studio.getByTestId('agent-revoke-confirm'));
    await vi.waitFor(() => expect(agentAction).toHaveBeenCalledWith('agent-1', 'revoke'));
    expect(agentAction).toHaveBeenCalledTimes(4);
  });

  it('creates a join token, shows the command for this coordinator and copies it', async () => {
    const writeText = vi.fn(async (_text: string) => {});
    Object.defineProperty(navigator, 'clipboard', { value: { writeText }, configurable: true });
    const createJoinToken = vi.fn(async () => JoinTokenResponseSchema.parse({ token: 'jt_abc123', expiresAt: NOW + 15 * 60_000 }));
    renderView(fake({ devices: async () => DEVICES, agents: async () => AGENTS, createJoinToken }), 'http://coord.example:7400/');

    fireEvent.click(screen.getByTestId('join-token-create'));
    const command = await screen.findByTestId('join-token-command');
    expect(command.textContent).toBe('encodefarm agent --coordinator http://coord.example:7400 --join jt_abc123');
    expect(screen.getByText(/in 15 min/)).toBeTruthy();

    fireEvent.click(screen.getByTestId('join-token-copy'));
    await vi.waitFor(() => expect(screen.getByTestId('join-token-copied').textContent).toBe('copied'));
    expect(writeText).toHaveBeenCalledWith('encodefarm agent --coordinator http://coord.example:7400 --join jt_abc123');
  });

  it('uses the page origin when the UI is served by the coordinator', async () => {
    const createJoinToken = async () => ({ token: 'jt_x', expiresAt: NOW + 60_000 });
    renderView(fake({ devices: async () => DEVICES, agents: async () => AGENTS, createJoinToken }), '');
    fireEvent.click(screen.getByTestId('join-token-create'));
    expect((await screen.findByTestId('join-token-command')).textContent).toBe(`encodefarm agent --coordinator ${window.location.origin} --join jt_x`);
  });

  it('explains how to add render machines when there are no devices', async () => {
    renderView(fake({ devices: async () => ({ devices: [] }), agents: async () => ({ agents: [] }) }));
    const empty = await screen.findByTestId('empty-state');
    expect(empty.textContent).toContain('encodefarm agents join-token');
    expect(screen.queryByTestId('device-card')).toBeNull();
    expect(screen.getByTestId('join-token-create')).toBeTruthy();
  });

  it('shows why the devices cannot be loaded', async () => {
    renderView(fake({ devices: async () => Promise.reject(new Error('the coordinator cannot be reached')), agents: async () => AGENTS }));
    expect((await screen.findByRole('alert')).textContent).toContain('cannot be reached');
  });
});
