import type { DeviceWithFps } from '../../../../core/shared/protocol/index.ts';
import type { DeviceKind } from '../../../../core/shared/device.ts';
import { formatFps } from '../../lib/format.ts';

const KIND_LABEL: Record<DeviceKind, string> = {
  nvenc: 'NVENC GPU',
  // A software encoder standing in for a GPU's slots: never let it pass for real hardware.
  'simulated-gpu': 'simulated',
  cpu: 'CPU',
};

function stateText(d: DeviceWithFps): string {
  if (d.state === 'quarantined') return `quarantined: ${d.reason ?? `${d.faults} failures in a row`}`;
  if (d.state === 'unavailable') return d.reason ? `unavailable: ${d.reason}` : 'unavailable';
  return d.busy.length > 0 ? 'working' : 'idle';
}

/** One encoder device: who hosts it, how many of its sessions are in use, and whether it is healthy. */
export function DeviceCard({ device: d, agentName }: { device: DeviceWithFps; agentName: string }) {
  const learnedLower = d.announcedSlots > d.slots;
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
        <dt>Encoding</dt>
        <dd data-testid="device-fps">{formatFps(d.fps)}</dd>
        <dt>Codecs</dt>
        <dd>{d.codecs.length ? d.codecs.join(', ') : '—'}</dd>
      </dl>
      <meter className="device-meter" min={0} max={Math.max(1, d.slots)} value={d.busy.length} aria-label={`${d.busy.length} of ${d.slots} sessions in use`} />
      <p className="device-state" data-testid="device-state">
        {stateText(d)}
      </p>
    </article>
  );
}
