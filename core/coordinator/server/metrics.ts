/** The Content-Type of `renderMetrics` output (Prometheus text exposition format 0.0.4). */
export const METRICS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

export interface HistogramSnapshot {
  count: number;
  sum: number;
  /** [upper bound in seconds, observations ≤ it] in ascending order, without +Inf. */
  buckets: [number, number][];
}

/** One GPU's live figures from its agent's telemetry; a null figure is left out of the scrape. */
export interface GpuMetrics {
  agent: string;
  /** The GPU's index on its host (NVML / nvidia-smi numbering). */
  gpu: string;
  name: string;
  temperatureC: number | null;
  /** Percent 0–100, as the driver reports it; written as a 0–1 ratio. */
  gpuUtil: number | null;
  encoderUtil: number | null;
  encoderSessions: number | null;
  encoderFps: number | null;
  memoryUsedBytes: number | null;
}

export interface MetricsSnapshot {
  jobsByState: Record<string, number>;
  queueWaitSeconds: HistogramSnapshot;
  deviceFps: { agent: string; device: string; label: string; fps: number }[];
  gpus: GpuMetrics[];
  agentsUp: number;
  agentsKnown: number;
  transferBytes: { download: number; upload: number };
}

/** Escapes a label value: backslash, double quote and newline. */
export function escapeLabelValue(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

function escapeHelp(text: string): string {
  return text.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

/** A sample value as the format spells it (`+Inf`, `-Inf`, `NaN` for the non-finite ones). */
export function formatValue(n: number): string {
  if (Number.isNaN(n)) return 'NaN';
  if (n === Infinity) return '+Inf';
  if (n === -Infinity) return '-Inf';
  return String(n);
}

function sample(name: string, labels: Record<string, string>, value: number): string {
  const pairs = Object.entries(labels).map(([k, v]) => `${k}="${escapeLabelValue(v)}"`);
  return `${name}${pairs.length ? `{${pairs.join(',')}}` : ''} ${formatValue(value)}`;
}

function family(name: string, type: 'gauge' | 'counter' | 'histogram', help: string, samples: string[]): string[] {
  return [`# HELP ${name} ${escapeHelp(help)}`, `# TYPE ${name} ${type}`, ...samples];
}

function histogramSamples(name: string, h: HistogramSnapshot): string[] {
  const out = h.buckets
    .filter(([le]) => Number.isFinite(le))
    .map(([le, n]) => sample(`${name}_bucket`, { le: formatValue(le) }, n));
  out.push(sample(`${name}_bucket`, { le: '+Inf' }, h.count));
  out.push(sample(`${name}_sum`, {}, h.sum));
  out.push(sample(`${name}_count`, {}, h.count));
  return out;
}

/** The per-GPU gauges: family, help, and the figure it reads (null: no sample). */
const GPU_GAUGES: [string, string, (g: GpuMetrics) => number | null][] = [
  ['encodefarm_gpu_temperature_celsius', 'GPU temperature.', (g) => g.temperatureC],
  ['encodefarm_gpu_utilization_ratio', 'GPU utilisation over the driver\'s last sample period (0-1).', (g) => ratio(g.gpuUtil)],
  ['encodefarm_gpu_encoder_utilization_ratio', 'NVENC utilisation over the driver\'s last sample period (0-1).', (g) => ratio(g.encoderUtil)],
  ['encodefarm_gpu_encoder_sessions', 'Open NVENC sessions on the GPU, all processes, as the driver reports them.', (g) => g.encoderSessions],
  ['encodefarm_gpu_encoder_fps', 'Average frames per second over the GPU\'s NVENC sessions, as the driver reports it.', (g) => g.encoderFps],
  ['encodefarm_gpu_memory_used_bytes', 'GPU memory in use.', (g) => g.memoryUsedBytes],
];

function ratio(percent: number | null): number | null {
  return percent === null ? null : percent / 100;
}

function gpuFamilies(gpus: readonly GpuMetrics[]): string[] {
  return GPU_GAUGES.flatMap(([name, help, figure]) =>
    family(
      name,
      'gauge',
      help,
      gpus.flatMap((g) => {
        const v = figure(g);
        return v === null ? [] : [sample(name, { agent: g.agent, gpu: g.gpu, name: g.name }, v)];
      }),
    ),
  );
}

/** Renders the farm's metrics for a Prometheus scrape of `GET /metrics`. */
export function renderMetrics(s: MetricsSnapshot): string {
  const lines = [
    ...family(
      'encodefarm_jobs',
      'gauge',
      'Jobs by state.',
      Object.entries(s.jobsByState).map(([state, n]) => sample('encodefarm_jobs', { state }, n)),
    ),
    ...family(
      'encodefarm_queue_wait_seconds',
      'histogram',
      'Time a job waited in the queue before it was assigned.',
      histogramSamples('encodefarm_queue_wait_seconds', s.queueWaitSeconds),
    ),
    ...family(
      'encodefarm_device_encode_fps',
      'gauge',
      'Frames per second the device is encoding now, over its running jobs.',
      s.deviceFps.map((d) => sample('encodefarm_device_encode_fps', { agent: d.agent, device: d.device, label: d.label }, d.fps)),
    ),
    ...gpuFamilies(s.gpus),
    ...family('encodefarm_agents_up', 'gauge', 'Agents connected now.', [sample('encodefarm_agents_up', {}, s.agentsUp)]),
    ...family('encodefarm_agents_known', 'gauge', 'Agents enrolled and not revoked.', [
      sample('encodefarm_agents_known', {}, s.agentsKnown),
    ]),
    ...family('encodefarm_transfer_bytes_total', 'counter', 'Bytes moved between coordinator and agents over HTTP.', [
      sample('encodefarm_transfer_bytes_total', { direction: 'download' }, s.transferBytes.download),
      sample('encodefarm_transfer_bytes_total', { direction: 'upload' }, s.transferBytes.upload),
    ]),
  ];
  return lines.join('\n') + '\n';
}

export interface QueueWaitHistogram {
  observe(seconds: number): void;
  snapshot(): HistogramSnapshot;
}

/** @default buckets from one second to four hours. */
export const DEFAULT_QUEUE_WAIT_BUCKETS = [1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600, 7200, 14400];

/** A cumulative histogram of queue waits; upper bounds must be finite and strictly ascending. */
export function createQueueWaitHistogram(bucketsSeconds: readonly number[] = DEFAULT_QUEUE_WAIT_BUCKETS): QueueWaitHistogram {
  bucketsSeconds.forEach((le, i) => {
    if (!Number.isFinite(le) || (i > 0 && le <= bucketsSeconds[i - 1]!)) {
      throw new RangeError(`Expected finite, strictly ascending bucket bounds, got ${JSON.stringify(bucketsSeconds)}`);
    }
  });
  const counts = bucketsSeconds.map(() => 0);
  let count = 0;
  let sum = 0;
  return {
    observe(seconds) {
      if (!Number.isFinite(seconds)) return;
      const v = Math.max(0, seconds);
      count++;
      sum += v;
      const i = bucketsSeconds.findIndex((le) => v <= le);
      if (i >= 0) counts[i]!++;
    },
    snapshot() {
      let running = 0;
      const buckets = bucketsSeconds.map((le, i): [number, number] => [le, (running += counts[i]!)]);
      return { count, sum, buckets };
    },
  };
}
