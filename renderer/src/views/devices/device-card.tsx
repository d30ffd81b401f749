import type { DeviceWithFps } from '../../../../core/shared/protocol/index.ts';
import type { DeviceKind } from '../../../../core/shared/device.ts';
import type { GpuTelemetry, TelemetrySourceKind } from '../../../../core/shared/telemetry.ts';
import { formatAgo, formatFps, formatPercent } from '../../lib/format.ts';

const KIND_LABEL: Record<DeviceKind, string> = {
  nvenc: 'NVENC GPU',
  // A software encoder standing in for a GPU's slots: never let it pass for real hardware.
  'simulated-gpu': 'simulated',
  cpu: 'CPU',
};

const SOURCE_LABEL: Record<TelemetrySourceKind, string> = { nvml: 'NVML', 'nvidia-smi': 'nvidia-smi', none: 'none' };

/** A GPU at or above this runs hot enough that the driver may start to throttle it. */
const HOT_C = 85;

function stateText(d: DeviceWithFps): string {
  if (d.state === 'quarantined') return `quarantined: ${d.reason ?? `${d.faults} failures in a row`}`;
  if (d.state === 'unavailable') return d.reason ? `unavailable: ${d.reason}` : 'unavailable';
  return d.busy.length > 0 ? 'working' : 'idle';
}

/** Whole minutes, at least one: the budget's quiet period is minutes long. */
function minutes(ms: number): string {
  return `${Math.max(1, Math.round(ms / 60_000))} min`;
}

/** GPU memory in GiB, as cards are sold ("24 GB" is 24 GiB). */
function gib(bytes: number): string {
  return (bytes / 1024 ** 3).toFixed(1);
}

function memoryText(t: GpuTelemetry): string {
  if (t.memoryUsedBytes === null) return '—';
  return t.memoryTotalBytes === null ? `${gib(t.memoryUsedBytes)} GiB` : `${gib(t.memoryUsedBytes)} / ${gib(t.memoryTotalBytes)} GiB`;
}

/** How the learned budget came about and when it may go up again. */
function budgetText(d: DeviceWithFps, now: number): string {
  const parts = [`learned ${d.slots} of ${d.announcedSlots}`];
  if (d.budget.refusedAt !== null) parts.push(`driver refused a session ${formatAgo(d.budget.refusedAt, now)}`);
  if (d.budget.raiseAfterMs !== null) {
    const sofar = d.budget.atBudgetMs > 0 ? ` (${minutes(d.budget.atBudgetMs)} so far)` : '';
    parts.push(`+1 after ${minutes(d.budget.raiseAfterMs)} at budget without a refusal${sofar}`);
  }
  return parts.join(' · ');
}

/** The GPU's live figures from its agent's telemetry (NVML or nvidia-smi). */
function GpuFigures({ t }: { t: GpuTelemetry }) {
  const hot = t.temperatureC !== null && t.temperatureC >= HOT_C;
  return (
    <>
      <dt>Temperature</dt>
      <dd data-testid="device-temperature" className={hot ? 'device-hot' : undefined}>
        {t.temperatureC === null ? '—' : `${Math.round(t.temperatureC)} °C`}
      </dd>
      <dt>GPU</dt>
      <dd data-testid="device-gpu-util">{formatPercent(t.gpuUtil)}</dd>
      <dt>Encoder</dt>
      <dd data-testid="device-encoder-util">{formatPercent(t.encoderUtil)}</dd>
      <dt title="NVENC sessions the driver counts on this GPU, other programs' included">Driver sessions</dt>
      <dd data-testid="device-driver-sessions">{t.encoderSessions ?? '—'}</dd>
      <dt title="Average over the GPU's NVENC sessions, as the driver reports it">Encoder fps</dt>
      <dd data-testid="device-encoder-fps">{formatFps(t.encoderFps)}</dd>
      <dt>Memory</dt>
      <dd data-testid="device-memory">{memoryText(t)}</dd>
    </>
  );
}

/** One encoder device: who hosts it, how many of its sessions are in use, its live figures, and whether it is healthy. */
export function DeviceCard({ device: d, agentName, now }: { device: DeviceWithFps; agentName: string; now: number }) {
  const learnedLower = d.announcedSlots > d.slots;
  const source = d.telemetrySource;
  // Only a real GPU has figures to show, or a reason why there are none.
  const showTelemetry = d.kind === 'nvenc' && source !== null;
  return (
    <article className={`device-card device-card--${d.state}`} data-testid="device-card" data-device-key={d.key} data-state={d.state}>
      <header className="device-card-header">
        <h3 className="device-card-title">{d.label || d.id}</h3>
        <span className={`device-kind device-kind--${d.kind}`} data-testid="device-kind">
          {KIND_LABEL[d.kind]}
        </span>
      </header>
      <dl className="device-facts">
        <dt>Agent</dt>
        <dd>{agentName}</dd>
        <dt>Sessions</dt>
        <dd data-testid="device-sessions">
          {d.busy.length} / {d.slots}
          {learnedLower && (
            <span
              className="device-learned"
              title="The encoder refused more sessions than the device announced, so the coordinator uses the lower budget it learned."
            >
              {' '}
              (announced {d.announcedSlots})
            </span>
          )}
        </dd>
        {learnedLower && (
          <>
            <dt>Budget</dt>
            <dd data-testid="device-budget" className="device-budget">
              {budgetText(d, now)}
            </dd>
          </>
        )}
        <dt>Encoding</dt>
        <dd data-testid="device-fps">{formatFps(d.fps)}</dd>
        <dt>Codecs</dt>
        <dd>{d.codecs.length ? d.codecs.join(', ') : '—'}</dd>
        {showTelemetry && d.telemetry && <GpuFigures t={d.telemetry} />}
        {showTelemetry && (
          <>
            <dt>Telemetry</dt>
            <dd data-testid="device-telemetry-source" className={d.telemetry ? undefined : 'muted'}>
              {SOURCE_LABEL[source.source]}
              {!d.telemetry && (source.reason ? `: ${source.reason}` : source.source === 'none' ? '' : ': this GPU is not in its figures')}
            </dd>
          </>
        )}
      </dl>
      <meter className="device-meter" min={0} max={Math.max(1, d.slots)} value={d.busy.length} aria-label={`${d.busy.length} of ${d.slots} sessions in use`} />
      <p className="device-state" data-testid="device-state">
        {stateText(d)}
      </p>
    </article>
  );
}
