import type { HistoryResponse } from '../../../../core/shared/protocol/index.ts';
import { formatBytes } from '../../lib/format.ts';

type Bucket = HistoryResponse['throughput'][number];

export interface ThroughputChartProps {
  buckets: readonly Bucket[];
  bucketMs: number;
  /** The time span shown; buckets outside it widen it rather than fall off the chart. */
  from: number;
  to: number;
}

const W = 640;
const H = 180;
const PAD = { left: 36, right: 8, top: 10, bottom: 22 };
const PLOT_W = W - PAD.left - PAD.right;
const PLOT_H = H - PAD.top - PAD.bottom;

function timeLabel(at: number, spanMs: number): string {
  const d = new Date(at);
  return spanMs <= 36 * 3_600_000 ? d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' }) : d.toLocaleDateString([], { month: 'short', day: 'numeric' });
}

/**
 * Finished jobs per time bucket as plain SVG: done bars with failed stacked on top. Bars are
 * placed by their `at` on a time axis, so buckets the server leaves out simply show as gaps.
 */
export function ThroughputChart({ buckets, bucketMs, from, to }: ThroughputChartProps) {
  const start = Math.min(from, ...buckets.map((b) => b.at));
  const end = Math.max(to, ...buckets.map((b) => b.at + bucketMs), start + bucketMs);
  const span = end - start;
  const x = (t: number) => PAD.left + ((t - start) / span) * PLOT_W;
  const barW = Math.max(1, (bucketMs / span) * PLOT_W - 1);
  const max = Math.max(1, ...buckets.map((b) => b.done + b.failed));
  const h = (n: number) => (n / max) * PLOT_H;
  const baseY = PAD.top + PLOT_H;
  const done = buckets.reduce((n, b) => n + b.done, 0);
  const failed = buckets.reduce((n, b) => n + b.failed, 0);

  return (
    <svg
      className="history-chart"
      data-testid="history-chart"
      viewBox={`0 0 ${W} ${H}`}
      role="img"
      aria-label={`Finished jobs over time: ${done} done, ${failed} failed`}
    >
      <line className="history-axis" x1={PAD.left} y1={baseY} x2={W - PAD.right} y2={baseY} />
      <line className="history-axis" x1={PAD.left} y1={PAD.top} x2={PAD.left} y2={baseY} />
      <text className="history-axis-label" x={PAD.left - 4} y={PAD.top + 4} textAnchor="end">
        {max}
      </text>
      <text className="history-axis-label" x={PAD.left - 4} y={baseY} textAnchor="end">
        0
      </text>
      {[start, start + span / 2, end].map((t, i) => (
        <text key={i} className="history-axis-label" x={x(t)} y={H - 6} textAnchor={i === 0 ? 'start' : i === 1 ? 'middle' : 'end'}>
          {timeLabel(t, span)}
        </text>
      ))}
      {buckets
        .filter((b) => b.done + b.failed > 0)
        .map((b) => (
          <g key={b.at} className="history-bar" data-testid="history-bar" data-at={b.at} data-done={b.done} data-failed={b.failed}>
            <title>{`${new Date(b.at).toLocaleString()}: ${b.done} done, ${b.failed} failed, ${formatBytes(b.outputBytes)} written`}</title>
            {b.done > 0 && <rect className="history-bar-done" x={x(b.at)} y={baseY - h(b.done)} width={barW} height={h(b.done)} />}
            {b.failed > 0 && <rect className="history-bar-failed" x={x(b.at)} y={baseY - h(b.done) - h(b.failed)} width={barW} height={h(b.failed)} />}
          </g>
        ))}
    </svg>
  );
}
