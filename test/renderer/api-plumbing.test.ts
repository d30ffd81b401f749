// @vitest-environment happy-dom
import { describe, expect, it, vi } from 'vitest';
import { ApiError, createApiClient } from '../../renderer/src/api/client.ts';
import { readConnection } from '../../renderer/src/api/connection.ts';
import { connectEvents, eventsUrl, type EventsState } from '../../renderer/src/api/events.ts';
import { baseName, formatBytes, formatDuration, formatSizes } from '../../renderer/src/lib/format.ts';

const json = (status: number, body: unknown) => new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });

describe('api client', () => {
  it('sends the token, builds the query and validates the answer', async () => {
    const calls: { url: string; init: RequestInit }[] = [];
    const fetch = vi.fn(async (url: string | URL | Request, init?: RequestInit) => {
      calls.push({ url: String(url), init: init ?? {} });
      return json(200, { total: 0, offset: 40, jobs: [], counts: { queued: 0 } });
    });
    const api = createApiClient({ baseUrl: 'http://127.0.0.1:7400/', token: 'tok', fetch: fetch as typeof globalThis.fetch });
    const page = await api.jobs({ states: ['queued', 'failed'], q: 'a b', offset: 40, limit: 20 });
    expect(page.offset).toBe(40);
    expect(calls[0]!.url).toBe('http://127.0.0.1:7400/api/v1/jobs?state=queued%2Cfailed&q=a+b&offset=40&limit=20');
    expect((calls[0]!.init.headers as Record<string, string>).authorization).toBe('Bearer tok');
  });

  it('turns a refusal into an ApiError with its code and field messages', async () => {
    const fetch = async () => json(422, { error: { code: 'invalid-preset', message: 'bad', fields: { quality: 'must be at most 51' } } });
    const api = createApiClient({ baseUrl: '', token: 't', fetch: fetch as unknown as typeof globalThis.fetch });
    const err = await api.createPreset({}).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect(err).toMatchObject({ status: 422, code: 'invalid-preset', fields: { quality: 'must be at most 51' } });
  });

  it('refuses an answer that does not match the schema, and names an unreachable coordinator', async () => {
    const bad = createApiClient({ baseUrl: '', token: 't', fetch: (async () => json(200, { nope: 1 })) as unknown as typeof globalThis.fetch });
    await expect(bad.settings()).rejects.toMatchObject({ code: 'bad-answer' });
    const down = createApiClient({
      baseUrl: '',
      token: 't',
      fetch: (async () => {
        throw new TypeError('Failed to fetch');
      }) as unknown as typeof globalThis.fetch,
    });
    await expect(down.agents()).rejects.toMatchObject({ status: 0, code: 'unreachable' });
  });
});

describe('readConnection', () => {
  it('moves the token from the fragment to session storage and strips it from the address bar', () => {
    const replace = vi.fn();
    const storage = new Map<string, string>();
    const conn = readConnection(
      { hash: '#token=abc%2Fdef', pathname: '/', search: '' } as Location,
      { setItem: (k: string, v: string) => void storage.set(k, v), getItem: (k: string) => storage.get(k) ?? null } as unknown as Storage,
      { replaceState: replace } as unknown as History,
    );
    expect(conn).toEqual({ baseUrl: '', token: 'abc/def' });
    expect(replace).toHaveBeenCalledWith(null, '', '/#/queue');
    const again = readConnection({ hash: '#/devices', pathname: '/', search: '' } as Location, {
      getItem: (k: string) => storage.get(k) ?? null,
    } as Storage);
    expect(again?.token).toBe('abc/def');
  });

  it('has no connection without a token', () => {
    expect(readConnection({ hash: '', pathname: '/', search: '' } as Location, { getItem: () => null } as unknown as Storage)).toBeUndefined();
  });
});

class FakeSocket {
  static made: FakeSocket[] = [];
  onopen: (() => void) | null = null;
  onmessage: ((e: { data: string }) => void) | null = null;
  onclose: (() => void) | null = null;
  closed = false;
  constructor(
    readonly url: string,
    readonly protocols: string[],
  ) {
    FakeSocket.made.push(this);
  }
  close() {
    this.closed = true;
  }
}

describe('connectEvents (with a fake WebSocket)', () => {
  it('offers the token as a subprotocol, passes valid frames, reconnects with backoff', () => {
    FakeSocket.made = [];
    const timers: { fn: () => void; ms: number }[] = [];
    const states: EventsState[] = [];
    const frames: unknown[] = [];
    const link = connectEvents({
      baseUrl: 'https://farm:7400',
      token: 'tok',
      onFrame: (f) => frames.push(f),
      onState: (s) => states.push(s),
      WebSocketImpl: FakeSocket as unknown as typeof WebSocket,
      setTimer: (fn, ms) => timers.push({ fn, ms }),
      clearTimer: () => {},
    });
    const first = FakeSocket.made[0]!;
    expect(first.url).toBe('wss://farm:7400/api/v1/events');
    expect(first.protocols).toEqual(['encodefarm.v1', 'bearer.tok']);
    first.onopen!();
    first.onmessage!({ data: JSON.stringify({ type: 'agent', agentId: 'a', connected: true }) });
    first.onmessage!({ data: '{"type":"nonsense"}' });
    first.onmessage!({ data: 'not json' });
    expect(frames).toEqual([{ type: 'agent', agentId: 'a', connected: true }]);
    first.onclose!();
    first.onclose = null;
    expect(timers.map((t) => t.ms)).toEqual([1000]);
    timers[0]!.fn();
    FakeSocket.made[1]!.onclose!();
    expect(timers.map((t) => t.ms)).toEqual([1000, 2000]);
    expect(states).toEqual(['connecting', 'open', 'closed', 'connecting', 'closed']);
    // Closed while a retry is pending: the retry (even one already due) opens nothing.
    link.close();
    timers[1]!.fn();
    expect(FakeSocket.made.length).toBe(2);
  });

  it('derives the socket URL from the page origin', () => {
    expect(eventsUrl('', { protocol: 'http:', host: '127.0.0.1:9' })).toBe('ws://127.0.0.1:9/api/v1/events');
  });
});

describe('format', () => {
  it('formats sizes, durations and names', () => {
    expect(formatBytes(1234567)).toBe('1.2 MB');
    expect(formatBytes(null)).toBe('—');
    expect(formatDuration(3725)).toBe('1:02:05');
    expect(formatDuration(75)).toBe('1:15');
    expect(formatSizes(2_000_000, null)).toBe('2.0 MB → —');
    expect(baseName('C:\\media\\clip.mov')).toBe('clip.mov');
  });
});
