import { memo, type DragEvent, type MouseEvent } from 'react';
import type { JobView } from '../../../../core/shared/protocol/index.ts';
import { ProgressBar } from '../../components/progress-bar.tsx';
import { agentLabel, baseName, formatDuration, formatFps, formatSizes, formatSpeed } from '../../lib/format.ts';
import { stateTone } from './queue-columns.tsx';

/** What a row reports back; stable across renders so rows that did not change do not re-render. */
export interface RowHandlers {
  click(index: number, e: MouseEvent): void;
  toggle(index: number): void;
  dragStart(index: number, e: DragEvent): void;
  dragOver(index: number, e: DragEvent): void;
  drop(index: number, e: DragEvent): void;
  dragEnd(): void;
}

export interface QueueRowProps {
  job: JobView;
  index: number;
  selected: boolean;
  active: boolean;
  open: boolean;
  draggable: boolean;
  dropTarget: boolean;
  handlers: RowHandlers;
}

/** Element id of a row, for the grid's aria-activedescendant. */
export const rowElementId = (index: number) => `queue-row-${index}`;

/** One job in the queue grid; every cell has a data-testid the e2e tests read. */
export const QueueRow = memo(function QueueRow({ job, index, selected, active, open, draggable, dropTarget, handlers }: QueueRowProps) {
  const device = job.deviceId ? `${job.deviceId}${job.agentId ? ` · ${agentLabel(job.agentId)}` : ''}` : '—';
  const running = job.state === 'running';
  const note = job.errorMessage ?? job.blockReason ?? undefined;
  const classes = ['queue-row', selected && 'is-selected', active && 'is-active', open && 'is-open', dropTarget && 'is-drop-target'];
  return (
    <div
      id={rowElementId(index)}
      className={classes.filter(Boolean).join(' ')}
      role="row"
      aria-rowindex={index + 2}
      aria-selected={selected}
      data-testid="queue-row"
      data-job-id={job.id}
      data-state={job.state}
      draggable={draggable}
      onClick={(e) => handlers.click(index, e)}
      onDragStart={(e) => handlers.dragStart(index, e)}
      onDragOver={(e) => handlers.dragOver(index, e)}
      onDrop={(e) => handlers.drop(index, e)}
      onDragEnd={handlers.dragEnd}
    >
      <span role="gridcell" className="cell-select">
        <input
          type="checkbox"
          data-testid="row-select"
          aria-label={`Select ${baseName(job.inputPath)}`}
          checked={selected}
          // The grid is one tab stop; Space toggles the focused row.
          tabIndex={-1}
          onMouseDown={(e) => e.preventDefault()}
          onClick={(e) => {
            e.stopPropagation();
            e.currentTarget.closest<HTMLElement>('[role=grid]')?.focus();
          }}
          onChange={() => handlers.toggle(index)}
        />
      </span>
      <span role="gridcell" className="cell-file" data-testid="job-name" title={job.inputPath}>
        {baseName(job.inputPath)}
      </span>
      <span role="gridcell" className="cell-preset">{job.presetId}</span>
      <span role="gridcell" className="cell-device" data-testid="job-device" title={device}>
        {device}
      </span>
      <span role="gridcell" className={`cell-state tone-${stateTone(job.state)}`} data-testid="job-state" title={note}>
        {job.state}
      </span>
      <span role="gridcell" className="cell-progress">
        <ProgressBar value={job.percent} tone={stateTone(job.state)} label={`${baseName(job.inputPath)} progress`} testId="job-progress" />
      </span>
      <span role="gridcell" className="cell-num" data-testid="job-fps">
        {running ? formatFps(job.fps) : '—'}
      </span>
      <span role="gridcell" className="cell-num">{running ? formatSpeed(job.speed) : '—'}</span>
      <span role="gridcell" className="cell-num" data-testid="job-eta">
        {running ? formatDuration(job.etaS) : '—'}
      </span>
      <span role="gridcell" className="cell-size" data-testid="job-size">
        {formatSizes(job.inputSize, job.outputSize)}
      </span>
    </div>
  );
});

/** A row whose page is still on its way. */
export function PlaceholderRow({ index }: { index: number }) {
  return (
    <div id={rowElementId(index)} className="queue-row is-placeholder" role="row" aria-rowindex={index + 2} aria-busy="true">
      <span role="gridcell" className="cell-select" />
      <span role="gridcell" className="cell-file">Loading…</span>
    </div>
  );
}
