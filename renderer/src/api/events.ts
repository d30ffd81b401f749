import { EVENTS_SUBPROTOCOL, EventsFrameSchema, type EventsFrame } from '../../../core/shared/protocol/index.ts';

export type EventsState = 'connecting' | 'open' | 'closed';

export interface EventsOptions {
  /** Origin of the coordinator ('' = the page's). */
  baseUrl: string;
  token: string;
  onFrame(frame: EventsFrame): void;
  onState(state: EventsState): void;
  /** Injected for tests. */
  WebSocketImpl?: typeof WebSocket;
  setTimer?: (fn: () => void, ms: number) => unknown;
  clearTimer?: (handle: unknown) => void;
}

/** `ws(s)://host/api/v1/events` for an http(s) base URL or the page's own origin. */
export function eventsUrl(baseUrl: string, loc: Pick<Location, 'protocol' | 'host'> = window.location): string {
  const origin = baseUrl || `${loc.protocol}//${loc.host}`;
  return `${origin.replace(/^http/, 'ws')}/api/v1/events`;
}

/**
 * The app's one live connection. The token rides as a `bearer.<token>` subprotocol (a browser
 * WebSocket cannot set headers). A dropped link reconnects with backoff (1 s doubling to 15 s);
 * after a reconnect the views refetch, since frames missed meanwhile are gone.
 */
export function connectEvents(opts: EventsOptions): { close(): void } {
  const WS = opts.WebSocketImpl ?? WebSocket;
  const setTimer = opts.setTimer ?? ((fn, ms) => setTimeout(fn, ms));
  const clearTimer = opts.clearTimer ?? ((h) => clearTimeout(h as ReturnType<typeof setTimeout>));
  let ws: WebSocket | undefined;
  let retry: unknown;
  let delay = 1000;
  let closed = false;

  function open(): void {
    if (closed) return;
    opts.onState('connecting');
    ws = new WS(eventsUrl(opts.baseUrl), [EVENTS_SUBPROTOCOL, `bearer.${opts.token}`]);
    ws.onopen = () => {
      delay = 1000;
      opts.onState('open');
    };
    ws.onmessage = (e) => {
      let data: unknown;
      try {
        data = JSON.parse(String(e.data));
      } catch {
        return;
      }
      const parsed = EventsFrameSchema.safeParse(data);
      if (parsed.success) opts.onFrame(parsed.data);
    };
    ws.onclose = () => {
      ws = undefined;
      if (closed) return;
      opts.onState('closed');
      retry = setTimer(open, delay);
      delay = Math.min(delay * 2, 15_000);
    };
  }

  open();
  return {
    close() {
      closed = true;
      if (retry !== undefined) clearTimer(retry);
      ws?.close();
    },
  };
}
