/** A percentage bar that screen readers announce as a progressbar (0–100). */
export function ProgressBar({
  value,
  label,
  tone = 'accent',
  testId,
}: {
  /** 0–100; null = not started / unknown (drawn empty, no aria-valuenow). */
  value: number | null;
  label?: string;
  tone?: 'accent' | 'ok' | 'danger' | 'warn' | 'muted';
  testId?: string;
}) {
  const pct = value === null || !Number.isFinite(value) ? null : Math.max(0, Math.min(100, value));
  return (
    <div
      className={`progress-bar progress-${tone}`}
      role="progressbar"
      aria-label={label}
      aria-valuemin={0}
      aria-valuemax={100}
      aria-valuenow={pct === null ? undefined : Math.round(pct)}
      data-testid={testId}
    >
      <div className="progress-fill" style={{ width: `${pct ?? 0}%` }} />
    </div>
  );
}
