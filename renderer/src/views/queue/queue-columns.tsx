import type { JobState } from '../../../../core/shared/job-state.ts';

/** The column headers of the queue grid; row cells follow the same order (see styles.css). */
export const COLUMNS = ['File', 'Preset', 'Device', 'State', 'Progress', 'FPS', 'Speed', 'ETA', 'Size in → out'] as const;

/** Right-aligned like their figures. */
const NUMERIC: ReadonlySet<string> = new Set(['FPS', 'Speed', 'ETA']);

export function QueueColumns() {
  return (
    <div className="queue-columns" role="row">
      <span role="columnheader" className="cell-select">
        <span className="visually-hidden">Selected</span>
      </span>
      {COLUMNS.map((c) => (
        <span key={c} role="columnheader" className={NUMERIC.has(c) ? 'cell-num' : undefined}>
          {c}
        </span>
      ))}
    </div>
  );
}

/** The colour a state is drawn in (progress bar tone and state badge). */
export function stateTone(state: JobState): 'accent' | 'ok' | 'danger' | 'warn' | 'muted' {
  switch (state) {
    case 'done':
      return 'ok';
    case 'failed':
      return 'danger';
    case 'paused':
    case 'blocked':
      return 'warn';
    case 'canceled':
      return 'muted';
    default:
      return 'accent';
  }
}
