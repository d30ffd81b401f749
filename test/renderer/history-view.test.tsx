// @vitest-environment happy-dom
import { act, cleanup, fireEvent, render, screen, within } from '@testing-library/react';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { HistoryResponseSchema, type JobView } from '../../core/shared/protocol/index.ts';
import type { ApiClient } from '../../renderer/src/api/client.ts';
import { AppContext, createEventsHub, type EventsHub } from '../../renderer/src/app-context.tsx';
import { HistoryView } from '../../renderer/src/views/history/history-view.tsx';

const NOW = Date.UTC(2025, 0, 15, 12, 0, 0);
const HOUR = 3_600_000;

/** A stand-in coordinator: answers are parsed with the real schemas, so they are what the server may send. */
function fake(methods: Partial<ApiClient>): ApiClient {
  return new Proxy(methods, {
    get: (t, k: string) => t[k as keyof ApiClient] ?? (() => Promise.reject(new Error(`fake api: ${k} not faked`))),
  }) as ApiClient;
}

const job = (over: Partial<JobView> & { id: number }): JobView => ({
  batchId: 1,
  inputPath: `/media/in/clip-${over.id}.mov`,
  presetId: 'h264-fast',
  outputPath: `/media/out/clip-${over.id}.mp4`,
  state: 'done',
  percent: 100,
  fps: 0,
  etaS: null,
  attempts: 1,
  agentId: 'agent-1',
  deviceId: 'gpu0',
  inputSize: 100_000_000,
  outputSize: 40_000_000,
  finalPath: `/media/out/clip-${over.id}.mp4`,
  errorKind: null,
  errorMessage: null,
  blockReason: null,
  speed: 4,
  priority: 0,
  createdAt: NOW - 2 * HOUR,
  startedAt: NOW - HOUR,
  finishedAt: NOW - 10 * 60_000,
  encodeMs: 95_000,
  durationS: 380,
  ...over,
});

const HISTORY = HistoryResponseSchema.parse({
  totals: { done: 12, failed: 2, canceled: 1, encodeMs: 3_725_000, inputBytes: 2_000_000_000, outputBytes: 500_000_000, savedBytes: 1_500_000_000 },
  total: 15,
  jobs: [
    job({ id: 7 }),
    job({ id: 6, state: 'failed', outputSize: null, finalPath: null, encodeMs: 2_000, errorKind: 'input-invalid', errorMessage: 'moov atom not found' }),
    job({ id: 5, state: 'canceled', outputSize: null, finalPath: null, encodeMs: null }),
  ],
  throughput: [
    { at: NOW - 3 * HOUR, done: 4, failed: 0, outputBytes: 200_000_000 },
    { at: NOW - 2 * HOUR, done: 6, failed: 2, outputBytes: 250_000_000 },
    { at: NOW - HOUR, done: 2, failed: 0, outputBytes: 50_000_000 },
  ],
});

const EMPTY = HistoryResponseSchema.parse({
  totals: { done: 0, failed: 0, canceled: 0, encodeMs: 0, inputBytes: 0, outputBytes: 0, savedBytes: 0 },
  total: 0,
  jobs: [],
  throughput: [],
});

function renderView(api: ApiClient, events: EventsHub = createEventsHub()) {
  return render(
    <AppContext.Provider value={{ api, connection: { baseUrl: '', token: 't' }, events, bridge: undefined, now: () => NOW }}>
      <HistoryView />
    </AppContext.Provider>,
  );
}

const total = (key: string) => screen.getByTestId('history-totals').querySelector(`[data-total="${key}"] dd`)!.textContent;

afterEach(() => {
  cleanup();
  vi.useRealTimers();
});

describe('HistoryView', () => {
  it('asks for a page with hour buckets over the last day and shows the totals', async () => {
    const history = vi.fn(async () => HISTORY);
    renderView(fake({ history }));
    await screen.findByTestId('history-totals');
    expect(history).toHaveBeenCalledWith({ limit: 50, offset: 0, bucketMs: HOUR, since: NOW - 24 * HOUR });
    expect(total('done')).toBe('12');
    expect(total('failed')).toBe('2');
    expect(total('canceled')).toBe('1');
    expect(total('encode')).toBe('1:02:05');
    expect(total('in')).toBe('2.0 GB');
    expect(total('out')).toBe('500 MB');
    expect(total('saved')).toBe('1.5 GB (75%)');
  });

  it('draws one stacked bar per bucket, scaled to the busiest bucket, with axis labels', async () => {
    renderView(fake({ history: async () => HISTORY }));
    const chart = await screen.findByTestId('history-chart');
    expect(chart.tagName.toLowerCase()).toBe('svg');
    const bars = within(chart as unknown as HTMLElement).getAllByTestId('history-bar');
    expect(bars.map((b) => [b.getAttribute('data-done'), b.getAttribute('data-failed')])).toEqual([
      ['4', '0'],
      ['6', '2'],
      ['2', '0'],
    ]);
    const height = (g: Element, cls: string) => Number(g.querySelector(`.${cls}`)?.getAttribute('height') ?? 0);
    // The busiest bucket (6 done + 2 failed) fills the plot; the others scale from it.
    const full = height(bars[1]!, 'history-bar-done') + height(bars[1]!, 'history-bar-failed');
    expect(height(bars[0]!, 'history-bar-done')).toBeCloseTo(full / 2);
    expect(height(bars[1]!, 'history-bar-failed')).toBeCloseTo(full / 4);
    expect(bars[0]!.querySelector('.history-bar-failed')).toBeNull();
    const x = (g: Element) => Number(g.querySelector('rect')!.getAttribute('x'));
    expect(x(bars[0]!)).toBeLessThan(x(bars[1]!));
    const labels = [...chart.querySelectorAll('.history-axis-label')].map((t) => t.textContent);
    expect(labels.slice(0, 2)).toEqual(['8', '0']);
    expect(labels).toHaveLength(5);
  });

  it('lists finished jobs with state, device, encode time, sizes, saved space and the error of a failure', async () => {
    renderView(fake({ history: async () => HISTORY }));
    const rows = await screen.findAllByTestId('history-row');
    expect(rows.map((r) => r.dataset.state)).toEqual(['done', 'failed', 'canceled']);
    const cells = (r: HTMLElement) => [...r.querySelectorAll('th, td')].map((c) => c.textContent);
    expect(cells(rows[0]!)).toEqual(['clip-7.mov', 'done', 'gpu0', '1:35', '100 MB → 40.0 MB', '60.0 MB (60%)', '10 min ago', '']);
    expect(cells(rows[1]!)[7]).toBe('moov atom not found');
    expect(cells(rows[2]!)[3]).toBe('—');
    expect(screen.getByTestId('history-page').textContent).toBe('1–3 of 15');
  });

  it('pages through older jobs', async () => {
    const history = vi.fn(async (q?: { offset?: number }) => ({ ...HISTORY, total: 120, jobs: [job({ id: 100 - (q?.offset ?? 0) })] }));
    renderView(fake({ history }));
    await screen.findAllByTestId('history-row');
    expect(screen.getByTestId('history-prev').hasAttribute('disabled')).toBe(true);
    fireEvent.click(screen.getByTestId('history-next'));
    await vi.waitFor(() => expect(screen.getByTestId('history-row').dataset.jobId).toBe('50'));
    expect(history).toHaveBeenLastCalledWith(expect.objectContaining({ offset: 50, limit: 50 }));
  });

  it('refetches when a jobs frame reports a finished job, throttled', async () => {
    const events = createEventsHub();
    const history = vi.fn(async () => HISTORY);
    renderView(fake({ history }), events);
    await screen.findByTestId('history-totals');
    expect(history).toHaveBeenCalledTimes(1);
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
    // A job still running changes nothing in history.
    act(() => events.emitFrame({ type: 'jobs', jobs: [job({ id: 99, state: 'running', finishedAt: null })] }));
    act(() => {
      events.emitFrame({ type: 'jobs', jobs: [job({ id: 8 })] });
      events.emitFrame({ type: 'jobs', jobs: [job({ id: 9, state: 'failed' })] });
    });
    await act(() => vi.advanceTimersByTimeAsync(500));
    expect(history).toHaveBeenCalledTimes(1);
    await act(() => vi.advanceTimersByTimeAsync(2000));
    expect(history).toHaveBeenCalledTimes(2);
    await act(() => vi.advanceTimersByTimeAsync(5000));
    expect(history).toHaveBeenCalledTimes(2);
  });

  it('says where finished jobs will appear when there are none', async () => {
    renderView(fake({ history: async () => EMPTY }));
    expect((await screen.findByTestId('empty-state')).textContent).toContain('Finished jobs appear here');
    expect(screen.queryByTestId('history-chart')).toBeNull();
  });
});
