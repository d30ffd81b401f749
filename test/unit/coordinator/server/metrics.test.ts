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
