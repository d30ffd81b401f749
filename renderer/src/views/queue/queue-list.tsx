import { useEffect, useMemo, useRef, useState, type DragEvent, type KeyboardEvent, type MouseEvent, type ReactNode } from 'react';
import { useVirtualizer } from '@tanstack/react-virtual';
import type { BatchView, JobView } from '../../../../core/shared/protocol/index.ts';
import { BatchHeader } from './batch-header.tsx';
import { QueueColumns } from './queue-columns.tsx';
import { PlaceholderRow, QueueRow, rowElementId, type RowHandlers } from './queue-row.tsx';
import type { JobPages } from './use-job-pages.ts';
import type { Selection } from './use-selection.ts';

export const ROW_HEIGHT = 36;
const HEADER_HEIGHT = 32;
/** Rows rendered beyond each edge of the viewport, so a fast scroll does not show blanks. */
const OVERSCAN = 12;
/** dataTransfer type of a row drag (files dragged in from the OS carry 'Files' instead). */
export const JOB_DRAG_TYPE = 'application/x-encodefarm-jobs';

export interface QueueListProps {
  pages: JobPages;
  selection: Selection;
  grouped: boolean;
  batches: ReadonlyMap<number, BatchView>;
  /** Rows can be dragged to a new place in the claim order (only in queue order). */
  reorderable: boolean;
  openJobId: number | null;
  onOpen(jobId: number): void;
  /** Delete key. */
  onCancel(): void;
  onMove(ids: number[], before: number): void;
  onBatchAction(action: 'pause' | 'resume' | 'cancel', batchId: number): void;
  /** Shown inside the list when there are no rows. */
  empty: ReactNode;
}

/**
 * The queue as a virtualised grid: only the rows in (and just around) the viewport exist in the
 * DOM, whatever the total, and only their pages are fetched. The grid is one tab stop; the
 * focused row is its aria-activedescendant.
 */
export function QueueList(props: QueueListProps) {
  const { pages, selection, grouped, batches } = props;
  const scrollRef = useRef<HTMLDivElement>(null);
  const [dropIndex, setDropIndex] = useState<number | null>(null);
  const dragIds = useRef<number[] | null>(null);
  const count = pages.total ?? 0;
  const rowAt = (i: number) => pages.cache.get(i);
  const startsGroup = (i: number): boolean => {
    const job = rowAt(i);
    if (!grouped || !job) return false;
    const prev = i > 0 ? rowAt(i - 1) : undefined;
    return i === 0 || (prev !== undefined && prev.batchId !== job.batchId);
  };

  const virtualizer = useVirtualizer({
    count,
    getScrollElement: () => scrollRef.current,
    estimateSize: (i) => ROW_HEIGHT + (startsGroup(i) ? HEADER_HEIGHT : 0),
    overscan: OVERSCAN,
  });
  // Group headers appear as pages arrive: row heights change, so the layout is measured again.
  useEffect(() => {
    if (grouped) virtualizer.measure();
  }, [grouped, pages.version, virtualizer]);
  // A new filter or sort is a new list: start at its top.
  useEffect(() => {
    virtualizer.scrollToOffset(0);
  }, [pages.cache, virtualizer]);

  const items = virtualizer.getVirtualItems();
  const first = items[0]?.index ?? 0;
  const last = items[items.length - 1]?.index ?? 0;
  const { show } = pages;
  useEffect(() => show(first, last), [show, first, last]);

  const latest = useRef(props);
  latest.current = props;
  const handlers = useMemo<RowHandlers>(() => rowHandlers(latest, dragIds, setDropIndex), []);

  function onKeyDown(e: KeyboardEvent) {
    if (count === 0 || e.target instanceof HTMLInputElement || e.target instanceof HTMLButtonElement) return;
    const at = selection.active;
    const page = Math.max(1, Math.floor((scrollRef.current?.clientHeight ?? 0) / ROW_HEIGHT) - 1);
    const moves: Record<string, number> = {
      ArrowDown: at < 0 ? 0 : at + 1,
      ArrowUp: at < 0 ? 0 : at - 1,
      PageDown: Math.max(at, 0) + page,
      PageUp: at - page,
      Home: 0,
      End: count - 1,
    };
    if (e.key in moves) {
      const next = Math.max(0, Math.min(count - 1, moves[e.key]!));
      selection.moveTo(next, e.shiftKey);
      virtualizer.scrollToIndex(next, { align: 'auto' });
    } else if (e.key === ' ' && at >= 0) selection.toggle(at);
    else if (e.key === 'Enter' && at >= 0) {
      const job = rowAt(at);
      if (job) props.onOpen(job.id);
    } else if (e.key === 'Delete') props.onCancel();
    else return;
    e.preventDefault();
  }

  const activeJob = selection.active >= 0 && selection.active < count ? rowElementId(selection.active) : undefined;
  return (
    <div
      className="queue-grid"
      role="grid"
      aria-label="Job queue"
      aria-multiselectable="true"
      aria-rowcount={count + 1}
      aria-activedescendant={activeJob}
      tabIndex={0}
      onKeyDown={onKeyDown}
    >
      <QueueColumns />
      <div ref={scrollRef} className="queue-list" data-testid="queue-list" role="rowgroup">
        {count === 0 && pages.total !== null ? props.empty : null}
        <div className="queue-list-inner" style={{ height: virtualizer.getTotalSize() }}>
          {items.map((item) => {
            const job = rowAt(item.index);
            return (
              <div key={item.key} className="queue-item" style={{ transform: `translateY(${item.start}px)`, height: item.size }}>
                {job && startsGroup(item.index) && (
                  <BatchHeader batchId={job.batchId} batch={batches.get(job.batchId)} onAction={props.onBatchAction} />
                )}
                {job ? (
                  <QueueRow
                    job={job}
                    index={item.index}
                    selected={selection.ids.has(job.id)}
                    active={selection.active === item.index}
                    open={props.openJobId === job.id}
                    draggable={props.reorderable}
                    dropTarget={dropIndex === item.index}
                    handlers={handlers}
                  />
                ) : (
                  <PlaceholderRow index={item.index} />
                )}
              </div>
            );
          })}
        </div>
      </div>
    </div>
  );
}

type Latest = { current: QueueListProps };

/** Click, checkbox and drag handling of the rows, reading the latest props through a ref. */
function rowHandlers(latest: Latest, dragIds: { current: number[] | null }, setDropIndex: (i: number | null) => void): RowHandlers {
  const rowAt = (i: number): JobView | undefined => latest.current.pages.cache.get(i);
  return {
    click(index: number, e: MouseEvent) {
      const { selection, onOpen } = latest.current;
      const mods = { range: e.shiftKey, toggle: e.ctrlKey || e.metaKey };
      selection.click(index, mods);
      const job = rowAt(index);
      if (job && !mods.range && !mods.toggle) onOpen(job.id);
    },
    toggle: (index) => latest.current.selection.toggle(index),
    dragStart(index, e: DragEvent) {
      const job = rowAt(index);
      if (!job || !latest.current.reorderable) return e.preventDefault();
      const { selection, pages } = latest.current;
      // Dragging a selected row moves the whole selection, in list order; any other row moves alone.
      const ids = selection.ids.has(job.id)
        ? [...selection.ids].sort((a, b) => (pages.cache.indexOf(a) ?? Infinity) - (pages.cache.indexOf(b) ?? Infinity))
        : [job.id];
      dragIds.current = ids;
      e.dataTransfer.effectAllowed = 'move';
      e.dataTransfer.setData(JOB_DRAG_TYPE, JSON.stringify(ids));
      e.dataTransfer.setData('text/plain', ids.join(','));
    },
    dragOver(index, e: DragEvent) {
      // Only our own rows are dropped here; files dragged in go on to the window-wide drop zone.
      if (!dragIds.current) return;
      e.preventDefault();
      e.dataTransfer.dropEffect = 'move';
      setDropIndex(index);
    },
    drop(index, e: DragEvent) {
      const ids = dragIds.current;
      const target = rowAt(index);
      if (!ids) return;
      e.preventDefault();
      e.stopPropagation();
      dragIds.current = null;
      setDropIndex(null);
      if (target && !ids.includes(target.id)) latest.current.onMove(ids, target.id);
    },
    dragEnd() {
      dragIds.current = null;
      setDropIndex(null);
    },
  };
}
