import { useCallback, useMemo, useState } from 'react';
import type { JobView } from '../../../../core/shared/protocol/index.ts';

export interface ClickMods {
  /** Shift: select the range from the anchor. */
  range: boolean;
  /** Ctrl/Cmd: add or remove this row, keep the rest. */
  toggle: boolean;
}

export interface Selection {
  ids: ReadonlySet<number>;
  /** The list index the keyboard is on (-1: none yet). */
  active: number;
  click(index: number, mods: ClickMods): void;
  /** Checkbox or Space: flips one row, keeps the rest, moves the anchor there. */
  toggle(index: number): void;
  /** Arrow keys: moves the focus; with `extend`, selects from the anchor to there. */
  moveTo(index: number, extend: boolean): void;
  clear(): void;
}

interface State {
  ids: ReadonlySet<number>;
  anchor: number | null;
  active: number;
}

const EMPTY: State = { ids: new Set(), anchor: null, active: -1 };

/**
 * Multi-selection by job id (ids survive refetches and reordering; indexes do not). A shift range
 * takes the rows loaded between the anchor and the target; in a list fetched page by page those
 * are the rows the user has on screen, which is what they see being selected.
 */
export function useSelection(rowAt: (index: number) => JobView | undefined, resetKey: string): Selection {
  const [state, setState] = useState<State & { key: string }>({ ...EMPTY, key: resetKey });
  // A new filter or sort is a different list: the old selection would act on rows out of sight.
  const current = state.key === resetKey ? state : { ...EMPTY, key: resetKey };

  const rangeIds = useCallback(
    (a: number, b: number) => {
      const ids = new Set<number>();
      for (let i = Math.min(a, b); i <= Math.max(a, b); i++) {
        const job = rowAt(i);
        if (job) ids.add(job.id);
      }
      return ids;
    },
    [rowAt],
  );

  const click = useCallback(
    (index: number, mods: ClickMods) => {
      const job = rowAt(index);
      if (!job) return;
      setState((s0) => {
        const s = s0.key === resetKey ? s0 : { ...EMPTY, key: resetKey };
        if (mods.range && s.anchor !== null) {
          const ids = rangeIds(s.anchor, index);
          if (mods.toggle) for (const id of s.ids) ids.add(id);
          return { ...s, ids, active: index };
        }
        if (mods.toggle) return { ...s, ids: flip(s.ids, job.id), anchor: index, active: index };
        return { ...s, ids: new Set([job.id]), anchor: index, active: index };
      });
    },
    [rowAt, rangeIds, resetKey],
  );

  const toggle = useCallback(
    (index: number) => {
      const job = rowAt(index);
      if (!job) return;
      setState((s0) => {
        const s = s0.key === resetKey ? s0 : { ...EMPTY, key: resetKey };
        return { ...s, ids: flip(s.ids, job.id), anchor: index, active: index };
      });
    },
    [rowAt, resetKey],
  );

  const moveTo = useCallback(
    (index: number, extend: boolean) =>
      setState((s0) => {
        const s = s0.key === resetKey ? s0 : { ...EMPTY, key: resetKey };
        if (!extend) return { ...s, active: index };
        const anchor = s.anchor ?? (s.active >= 0 ? s.active : index);
        return { ...s, anchor, active: index, ids: rangeIds(anchor, index) };
      }),
    [rangeIds, resetKey],
  );

  const clear = useCallback(() => setState({ ...EMPTY, key: resetKey }), [resetKey]);

  return useMemo(
    () => ({ ids: current.ids, active: current.active, click, toggle, moveTo, clear }),
    [current.ids, current.active, click, toggle, moveTo, clear],
  );
}

function flip(ids: ReadonlySet<number>, id: number): Set<number> {
  const next = new Set(ids);
  if (!next.delete(id)) next.add(id);
  return next;
}
