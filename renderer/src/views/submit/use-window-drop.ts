import { useEffect, useRef, useState } from 'react';
import type { EncodeFarmBridge } from '../../bridge.ts';
import { collectDropped } from './collect-dropped.ts';
import type { PendingInput } from './pending-input.ts';

const carriesFiles = (e: DragEvent) => Array.from(e.dataTransfer?.types ?? []).includes('Files');

/**
 * Makes the whole window a drop zone for files and folders from the OS; answers whether files
 * are being dragged over it (for the overlay). Drags of queue rows carry no files and pass by.
 */
export function useWindowDrop(bridge: EncodeFarmBridge | undefined, onInputs: (inputs: PendingInput[]) => void): boolean {
  const [dragging, setDragging] = useState(false);
  const latest = useRef(onInputs);
  latest.current = onInputs;

  useEffect(() => {
    // dragenter/dragleave fire for every child crossed; count them to know when the drag left.
    let depth = 0;
    const enter = (e: DragEvent) => {
      if (!carriesFiles(e)) return;
      e.preventDefault();
      depth++;
      setDragging(true);
    };
    const over = (e: DragEvent) => {
      if (!carriesFiles(e)) return;
      // Without preventDefault on dragover the browser would open the file instead of dropping it.
      e.preventDefault();
      if (e.dataTransfer) e.dataTransfer.dropEffect = 'copy';
    };
    const leave = (e: DragEvent) => {
      if (!carriesFiles(e)) return;
      depth = Math.max(0, depth - 1);
      if (depth === 0 || e.relatedTarget === null) {
        depth = 0;
        setDragging(false);
      }
    };
    const drop = (e: DragEvent) => {
      if (!carriesFiles(e) || !e.dataTransfer) return;
      e.preventDefault();
      depth = 0;
      setDragging(false);
      // A folder that cannot be read opens the dialog empty, which says nothing was found.
      void collectDropped(e.dataTransfer, bridge).then(
        (inputs) => latest.current(inputs),
        () => latest.current([]),
      );
    };
    window.addEventListener('dragenter', enter);
    window.addEventListener('dragover', over);
    window.addEventListener('dragleave', leave);
    window.addEventListener('drop', drop);
    return () => {
      window.removeEventListener('dragenter', enter);
      window.removeEventListener('dragover', over);
      window.removeEventListener('dragleave', leave);
      window.removeEventListener('drop', drop);
    };
  }, [bridge]);
  return dragging;
}
