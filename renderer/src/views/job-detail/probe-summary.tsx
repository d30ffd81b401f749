import type { ProbeView } from '../../../../core/shared/protocol/index.ts';
import { formatBytes, formatDuration } from '../../lib/format.ts';

/** What ffprobe says about the source: container, video stream, audio streams. */
export function ProbeSummary({ probe, error }: { probe: ProbeView | null; error: string | null }) {
  if (!probe) {
    return (
      <p className="muted" data-testid="job-probe">
        {error ? `Source not readable: ${error}` : 'Source not probed yet.'}
      </p>
    );
  }
  const v = probe.video;
  return (
    <dl className="facts" data-testid="job-probe">
      <dt>Container</dt>
      <dd>{probe.formatName}</dd>
      <dt>Video</dt>
      <dd>{v ? `${v.codec} ${v.width}×${v.height}${v.fps ? ` @ ${Number(v.fps.toFixed(3))} fps` : ''}` : 'none'}</dd>
      <dt>Duration</dt>
      <dd>{formatDuration(probe.durationS)}</dd>
      <dt>Size</dt>
      <dd>{formatBytes(probe.sizeBytes)}</dd>
      <dt>Audio</dt>
      <dd>
        {probe.audio.length === 0
          ? 'none'
          : probe.audio
              .map((a) => [a.codec, a.channels ? `${a.channels} ch` : null, a.language].filter(Boolean).join(' '))
              .join(', ')}
      </dd>
    </dl>
  );
}
