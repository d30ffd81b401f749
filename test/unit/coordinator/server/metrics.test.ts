import { describe, expect, it } from 'vitest';
import {
  createQueueWaitHistogram,
  escapeLabelValue,
  renderMetrics,
  type MetricsSnapshot,
} from '../../../../core/coordinator/server/metrics.ts';

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** A strict reader of the 0.0.4 text format, enough to read back what renderMetrics wrote. */
function parseExposition(text: string): { types: Map<string, string>; helps: Map<string, string>; samples: Sample[] } {
  const types = new Map<string, string>();
  const helps = new Map<string, string>();
  const samples: Sample[] = [];
  expect(text.endsWith('\n')).toBe(true);
  for (const line of text.slice(0, -1).split('\n')) {
    const meta = /^# (HELP|TYPE) ([a-zA-Z_:][a-zA-Z0-9_:]*) (.*)$/.exec(line);
    if (meta) {
      (meta[1] === 'TYPE' ? types : helps).set(meta[2]!, meta[3]!);
      continue;
    }
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) throw new Error(`not a sample line: ${JSON.stringify(line)}`);
    const labels: Record<string, string> = {};
    const labelRe = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"(,|$)/gy;
    const body = m[2] ?? '';
    let consumed = 0;
    for (let l = labelRe.exec(body); l; l = labelRe.exec(body)) {
      labels[l[1]!] = l[2]!.replace(/\\(.)/g, (_s, c: string) => (c === 'n' ? '\n' : c));
      consumed = labelRe.lastIndex;
    }
    expect(consumed, line).toBe(body.length);
    const raw = m[3]!;
    const value = raw === '+Inf' ? Infinity : raw === '-Inf' ? -Infinity : Number(raw);
    samples.push({ name: m[1]!, labels, value });
  }
  return { types, helps, samples };
}

function snapshot(overrides: Partial<MetricsSnapshot> = {}): MetricsSnapshot {
  return {
    jobsByState: { queued: 3, running: 2, done: 10 },
    queueWaitSeconds: { count: 4, sum: 70.5, buckets: [[1, 1], [10, 2], [60, 3]] },
    deviceFps: [{ agent: 'agt-1', device: 'gpu0', label: 'RTX "4090"\nline\\2', fps: 312.5 }],
    gpus: [
      { agent: 'agt-1', gpu: '0', name: 'NVIDIA GeForce RTX 4090', temperatureC: 61, gpuUtil: 37, encoderUtil: 82, encoderSessions: 3, encoderFps: 240.5, memoryUsedBytes: 2147483648 },
      // nvidia-smi on an older driver: no encoder figures.
      { agent: 'agt-2', gpu: '1', name: 'Tesla T4', temperatureC: 48, gpuUtil: 0, encoderUtil: null, encoderSessions: null, encoderFps: null, memoryUsedBytes: null },
    ],
    agentsUp: 1,
    agentsKnown: 2,
    transferBytes: { download: 1024, upload: 2048 },
    ...overrides,
  };
}

const find = (samples: Sample[], name: string, labels: Record<string, string> = {}) =>
  samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));

describe('renderMetrics', () => {
  it('writes every family with HELP and TYPE lines of the right type', () => {
    const { types, helps } = parseExposition(renderMetrics(snapshot()));
    expect(Object.fromEntries(types)).toEqual({
      encodefarm_jobs: 'gauge',
      encodefarm_queue_wait_seconds: 'histogram',
      encodefarm_device_encode_fps: 'gauge',
      encodefarm_gpu_temperature_celsius: 'gauge',
      encodefarm_gpu_utilization_ratio: 'gauge',
      encodefarm_gpu_encoder_utilization_ratio: 'gauge',
      encodefarm_gpu_encoder_sessions: 'gauge',
      encodefarm_gpu_encoder_fps: 'gauge',
      encodefarm_gpu_memory_used_bytes: 'gauge',
      encodefarm_agents_up: 'gauge',
      encodefarm_agents_known: 'gauge',
      encodefarm_transfer_bytes_total: 'counter',
    });
    expect([...helps.keys()]).toEqual([...types.keys()]);
  });

  it('writes jobs by state, agents and transfer counters with their labels and values', () => {
    const { samples } = parseExposition(renderMetrics(snapshot()));
    expect(find(samples, 'encodefarm_jobs').map((s) => [s.labels.state, s.value])).toEqual([
      ['queued', 3],
      ['running', 2],
      ['done', 10],
    ]);
    expect(find(samples, 'encodefarm_agents_up')[0]?.value).toBe(1);
    expect(find(samples, 'encodefarm_agents_known')[0]?.value).toBe(2);
    expect(find(samples, 'encodefarm_transfer_bytes_total', { direction: 'download' })[0]?.value).toBe(1024);
    expect(find(samples, 'encodefarm_transfer_bytes_total', { direction: 'upload' })[0]?.value).toBe(2048);
  });

  it('writes the histogram as cumulative buckets ending in +Inf, then sum and count', () => {
    const { samples } = parseExposition(renderMetrics(snapshot()));
    const buckets = find(samples, 'encodefarm_queue_wait_seconds_bucket').map((s) => [s.labels.le, s.value]);
    expect(buckets).toEqual([
      ['1', 1],
      ['10', 2],
      ['60', 3],
      ['+Inf', 4],
    ]);
    expect(find(samples, 'encodefarm_queue_wait_seconds_sum')[0]?.value).toBe(70.5);
    expect(find(samples, 'encodefarm_queue_wait_seconds_count')[0]?.value).toBe(4);
  });

  it('escapes backslashes, quotes and newlines in label values so they read back intact', () => {
    const text = renderMetrics(snapshot());
    expect(text).toContain('label="RTX \\"4090\\"\\nline\\\\2"');
    const { samples } = parseExposition(text);
    const fps = find(samples, 'encodefarm_device_encode_fps', { agent: 'agt-1', device: 'gpu0' });
    expect(fps).toEqual([
      { name: 'encodefarm_device_encode_fps', labels: { agent: 'agt-1', device: 'gpu0', label: 'RTX "4090"\nline\\2' }, value: 312.5 },
    ]);
  });

  it('writes per-GPU gauges labelled agent, gpu and name, utilisation as a 0-1 ratio, leaving out figures a GPU lacks', () => {
    const { samples } = parseExposition(renderMetrics(snapshot()));
    const rtx = { agent: 'agt-1', gpu: '0', name: 'NVIDIA GeForce RTX 4090' };
    const value = (name: string, labels: Record<string, string>) => find(samples, name, labels).map((s) => s.value);
    expect(find(samples, 'encodefarm_gpu_temperature_celsius', rtx)).toEqual([{ name: 'encodefarm_gpu_temperature_celsius', labels: rtx, value: 61 }]);
    expect(value('encodefarm_gpu_utilization_ratio', rtx)).toEqual([0.37]);
    expect(value('encodefarm_gpu_encoder_utilization_ratio', rtx)).toEqual([0.82]);
    expect(value('encodefarm_gpu_encoder_sessions', rtx)).toEqual([3]);
    expect(value('encodefarm_gpu_encoder_fps', rtx)).toEqual([240.5]);
    expect(value('encodefarm_gpu_memory_used_bytes', rtx)).toEqual([2147483648]);

    const t4 = { agent: 'agt-2', gpu: '1' };
    expect(value('encodefarm_gpu_temperature_celsius', t4)).toEqual([48]);
    expect(value('encodefarm_gpu_utilization_ratio', t4)).toEqual([0]);
    for (const name of ['encodefarm_gpu_encoder_utilization_ratio', 'encodefarm_gpu_encoder_sessions', 'encodefarm_gpu_encoder_fps', 'encodefarm_gpu_memory_used_bytes']) {
      expect(value(name, t4), name).toEqual([]);
    }
  });

  it('still writes TYPE lines for families with no samples', () => {
    const text = renderMetrics(snapshot({ jobsByState: {}, deviceFps: [] }));
    const { types, samples } = parseExposition(text);
    expect(types.get('encodefarm_jobs')).toBe('gauge');
    expect(find(samples, 'encodefarm_jobs')).toEqual([]);
  });
});

describe('escapeLabelValue', () => {
  it('escapes exactly backslash, double quote and newline', () => {
    expect(escapeLabelValue('a\\b"c\nd\te')).toBe('a\\\\b\\"c\\nd\te');
  });
});

describe('createQueueWaitHistogram', () => {
  it('counts observations into cumulative buckets with sum and count', () => {
    const h = createQueueWaitHistogram([1, 10, 60]);
    for (const s of [0.5, 1, 5, 30, 3600, -2]) h.observe(s);
    expect(h.snapshot()).toEqual({
      count: 6,
      sum: 0.5 + 1 + 5 + 30 + 3600 + 0,
      buckets: [
        [1, 3],
        [10, 4],
        [60, 5],
      ],
    });
  });

  it('ignores non-finite observations', () => {
    const h = createQueueWaitHistogram([1]);
    h.observe(Number.NaN);
    h.observe(Infinity);
    expect(h.snapshot().count).toBe(0);
  });

  it('refuses bucket bounds that are not strictly ascending and finite', () => {
    expect(() => createQueueWaitHistogram([5, 1])).toThrow(/Expected finite, strictly ascending/);
    expect(() => createQueueWaitHistogram([1, 1])).toThrow(RangeError);
    expect(() => createQueueWaitHistogram([1, Infinity])).toThrow(RangeError);
  });

  it('renders through renderMetrics', () => {
    const h = createQueueWaitHistogram();
    h.observe(2);
    const { samples } = parseExposition(renderMetrics(snapshot({ queueWaitSeconds: h.snapshot() })));
    expect(find(samples, 'encodefarm_queue_wait_seconds_bucket', { le: '+Inf' })[0]?.value).toBe(1);
    expect(find(samples, 'encodefarm_queue_wait_seconds_bucket', { le: '5' })[0]?.value).toBe(1);
    expect(find(samples, 'encodefarm_queue_wait_seconds_bucket', { le: '1' })[0]?.value).toBe(0);
  });
});
