import { useEffect, useRef, useState } from 'react';
import type { JobDetail as JobDetailData } from '../../../../core/shared/protocol/index.ts';
import { ApiError } from '../../api/client.ts';
import { useApp, usePoll } from '../../app-context.tsx';
import { ErrorBanner } from '../../components/error-banner.tsx';
import { ProgressBar } from '../../components/progress-bar.tsx';
import { baseName, formatDuration, formatFps, formatPercent, formatSizes, formatSpeed } from '../../lib/format.ts';
import { stateTone } from '../queue/queue-columns.tsx';
import { AttemptsTable } from './attempts-table.tsx';
import { JobLog } from './job-log.tsx';
import { ProbeSummary } from './probe-summary.tsx';

/** The log and attempts change while a job runs; a second is as fresh as a person reads. */
const POLL_MS = 1000;

/**
 * One job in depth, beside the queue: source probe, attempts, live log tail, output. Polled
 * while open (the events socket carries rows, not logs).
 */
export function JobDetail({ jobId, onClose }: { jobId: number; onClose(): void }) {
  const { api, now } = useApp();
  const [detail, setDetail] = useState<JobDetailData | null>(null);
  const [error, setError] = useState<unknown>(null);
  const inflight = useRef(false);
  const current = useRef(jobId);
  current.current = jobId;

  usePoll(() => {
    // A slow answer must not pile requests up behind it.
    if (inflight.current) return;
    inflight.current = true;
    const asked = jobId;
    api.job(asked).then(
      (d) => {
        if (current.current !== asked) return;
        setDetail(d);
        setError(null);
      },
      (err: unknown) => current.current === asked && setError(err),
    ).finally(() => {
      inflight.current = false;
    });
  }, POLL_MS);

  useEffect(() => {
    // Escape closes the panel, unless it belongs to a dialog on top of it.
    const onKey = (e: KeyboardEvent) => {
      const inDialog = e.target instanceof Element && e.target.closest('dialog') !== null;
      if (e.key === 'Escape' && !e.defaultPrevented && !inDialog) onClose();
    };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, [onClose]);

  const shown = detail?.job.id === jobId ? detail : null;
  const notFound = error instanceof ApiError && error.status === 404;
  return (
    <aside className="job-detail" data-testid="job-detail" data-job-id={jobId} aria-label={`Job ${jobId}`}>
      <header className="panel-header">
        <h2 title={shown?.job.inputPath}>{shown ? baseName(shown.job.inputPath) : `Job ${jobId}`}</h2>
        <button type="button" className="button-quiet" data-testid="job-detail-close" aria-label="Close job details" onClick={onClose}>
          ×
        </button>
      </header>
      {notFound ? <p className="muted">Job {jobId} does not exist (any more).</p> : <ErrorBanner error={error} />}
      {shown ? <DetailBody detail={shown} now={now()} /> : !error && <p className="muted">Loading…</p>}
    </aside>
  );
}

function DetailBody({ detail, now }: { detail: JobDetailData; now: number }) {
  const { job, batch } = detail;
  const running = job.state === 'running';
  const problem = job.errorMessage ? `${job.errorKind ? `${job.errorKind}: ` : ''}${job.errorMessage}` : job.blockReason;
  return (
    <div className="panel-body">
      <section aria-label="Status">
        <p>
          <span className={`badge tone-${stateTone(job.state)}`}>{job.state}</span> {formatPercent(job.percent)}
          {running && ` · ${formatFps(job.fps)} · ${formatSpeed(job.speed)} · ETA ${formatDuration(job.etaS)}`}
        </p>
        <ProgressBar value={job.percent} tone={stateTone(job.state)} label="Job progress" />
        <dl className="facts">
          <dt>Batch</dt>
          <dd>{batch.label}</dd>
          <dt>Preset</dt>
          <dd>{job.presetId}</dd>
          <dt>Source</dt>
          <dd className="path">{job.inputPath}</dd>
          <dt>{job.finalPath ? 'Output' : 'Output (planned)'}</dt>
          <dd className="path" data-testid="job-output-path">
            {job.finalPath ?? job.outputPath}
          </dd>
          <dt>Size</dt>
          <dd>{formatSizes(job.inputSize, job.outputSize)}</dd>
          {job.encodeMs !== null && (
            <>
              <dt>Encode time</dt>
              <dd>{formatDuration(job.encodeMs / 1000)}</dd>
            </>
          )}
        </dl>
        {problem && (
          <p className="error-text" data-testid="job-error" role="note">
            {problem}
          </p>
        )}
      </section>
      <section aria-labelledby="job-probe-title">
        <h3 id="job-probe-title">Source</h3>
        <ProbeSummary probe={detail.probe} error={detail.probeError} />
      </section>
      <section aria-labelledby="job-attempts-title">
        <h3 id="job-attempts-title">Attempts</h3>
        <AttemptsTable attempts={detail.attempts} now={now} />
      </section>
      <section aria-labelledby="job-log-title">
        <h3 id="job-log-title">Log</h3>
        <JobLog lines={detail.log} />
      </section>
    </div>
  );
}
