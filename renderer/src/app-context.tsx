import { createContext, useContext, useEffect, useRef } from 'react';
import type { EventsFrame } from '../../core/shared/protocol/index.ts';
import type { ApiClient } from './api/client.ts';
import type { Connection } from './api/connection.ts';
import type { EventsState } from './api/events.ts';
import type { EncodeFarmBridge } from './bridge.ts';

/** Fans the app's one events connection out to the views that listen. */
export interface EventsHub {
  emitFrame(frame: EventsFrame): void;
  emitState(state: EventsState): void;
  onFrame(fn: (frame: EventsFrame) => void): () => void;
  onState(fn: (state: EventsState) => void): () => void;
  state(): EventsState;
}

export function createEventsHub(): EventsHub {
  const frames = new Set<(f: EventsFrame) => void>();
  const states = new Set<(s: EventsState) => void>();
  let current: EventsState = 'connecting';
  return {
    emitFrame: (f) => frames.forEach((fn) => fn(f)),
    emitState: (s) => {
      current = s;
      states.forEach((fn) => fn(s));
    },
    onFrame: (fn) => (frames.add(fn), () => void frames.delete(fn)),
    onState: (fn) => (states.add(fn), () => void states.delete(fn)),
    state: () => current,
  };
}

/** What every view gets from the shell: the API, the live events, and the desktop bridge if any. */
export interface AppServices {
  api: ApiClient;
  connection: Connection;
  events: EventsHub;
  bridge: EncodeFarmBridge | undefined;
  /** Injected so tests control time. */
  now(): number;
}

export const AppContext = createContext<AppServices | null>(null);

export function useApp(): AppServices {
  const app = useContext(AppContext);
  if (!app) throw new Error('useApp() outside <AppContext.Provider>');
  return app;
}

/** Calls `fn` for each live frame while the component is mounted (latest `fn`, one subscription). */
export function useFrames(fn: (frame: EventsFrame) => void): void {
  const { events } = useApp();
  const latest = useRef(fn);
  latest.current = fn;
  useEffect(() => events.onFrame((f) => latest.current(f)), [events]);
}

/**
 * Calls `fn` now, every `ms` while mounted, and after each reconnect of the events socket (frames
 * missed while it was down are gone). For views whose data has no events of its own.
 */
export function usePoll(fn: () => void, ms: number): void {
  const { events } = useApp();
  const latest = useRef(fn);
  latest.current = fn;
  useEffect(() => {
    latest.current();
    const timer = setInterval(() => latest.current(), ms);
    const off = events.onState((s) => s === 'open' && latest.current());
    return () => {
      clearInterval(timer);
      off();
    };
  }, [events, ms]);
}
