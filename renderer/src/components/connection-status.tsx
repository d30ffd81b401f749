import { useSyncExternalStore } from 'react';
import type { EventsHub } from '../app-context.tsx';

const TEXT = { open: 'Live', connecting: 'Connecting…', closed: 'Disconnected, retrying…' } as const;

/** The live link's state; while it is down the views still work but stop updating by themselves. */
export function ConnectionStatus({ events }: { events: EventsHub }) {
  const state = useSyncExternalStore(events.onState, events.state);
  return (
    <span className={`connection-status is-${state}`} data-testid="connection-status" data-state={state} role="status">
      <span className="connection-dot" aria-hidden="true" />
      {TEXT[state]}
    </span>
  );
}
