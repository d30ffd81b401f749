import type { IncomingMessage } from 'node:http';
import { WebSocket } from 'ws';
import type { ClientOptions, RawData } from 'ws';
import { z } from 'zod';
import type { Clock, TimerHandle } from '../../shared/clock.ts';
import type { Logger } from '../../shared/logger.ts';
import type { AgentMessage } from '../../shared/protocol/index.ts';
import { backoffDelay, backoffOptions } from './backoff.ts';
import type { BackoffOptions } from './backoff.ts';
import { Outbox } from './outbox.ts';
import { FingerprintMismatchError, pinnedConnection } from './pinned-tls.ts';

export interface AgentLinkOptions {
  /** Coordinator base URL, `http://host:port` or `https://host:port`. */
  url: string;
  agentId: string;
  secret: string;
  /** Pinned SHA-256 certificate fingerprint; required for an https URL. */
  fingerprint?: string;
  clock: Clock;
  /** Jitter source in [0, 1). @default Math.random */
  random?: () => number;
  logger: Logger;
  /** @default { baseMs: 500, maxMs: 15000 } */
  backoff?: Partial<BackoffOptions>;
  /** Cap of the outbox that holds messages while disconnected. @default 5000 */
  maxBuffered?: number;
  /** Drop and reconnect a link that has received nothing (message or pong) for this long; pings go every third of it. @default 30000 */
  deadAfterMs?: number;
  /** A connection that stayed open this long resets the backoff. @default 5000 */
  stableAfterMs?: number;
  /** Called on every (re)connect before buffered messages are flushed: send `hello` from here. */
  onOpen(): void;
  /** Each frame's parsed JSON, still unvalidated. */
  onMessage(raw: unknown): void;
  /** The coordinator refused the credentials (401/403) or the certificate changed: the link has stopped for good. */
  onFatal(err: Error): void;
}

export interface AgentLink {
  /** Connects, and keeps reconnecting until `close()` or a fatal refusal. */
  start(): void;
  /** Sends now when connected; otherwise buffers (see Outbox for what is kept). */
  send(msg: AgentMessage): void;
  /** Changes how long a silent link is kept (e.g. to well inside the lease the coordinator announced). */
  setDeadAfter(ms: number): void;
  connected(): boolean;
  /** Stops reconnecting and closes the socket; resolves once it is closed. Buffered messages are discarded. */
  close(): Promise<void>;
}

/** The coordinator refused this agent's credentials at the WebSocket upgrade. */
export class AgentRefusedError extends Error {
  constructor(
    readonly coordinator: string,
    readonly status: number,
    readonly code: string | undefined,
    detail: string | undefined,
  ) {
    const what = code === 'revoked' ? 'this agent was revoked' : "this agent's credentials were refused";
    super(`${coordinator}: ${what} (HTTP ${status}${code ? ` ${code}` : ''}${detail ? `: ${detail}` : ''}); join again with a new token`);
    this.name = 'AgentRefusedError';
  }
}

/** `http(s)://host:port` → `ws(s)://host:port/api/v1/agent`. */
export function agentSocketUrl(base: string): string {
  let url: URL;
  try {
    url = new URL(base);
  } catch {
    throw new TypeError(`Expected the coordinator URL to be http://host:port or https://host:port, got ${JSON.stringify(base)}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new TypeError(`Expected the coordinator URL to start with http:// or https://, got ${JSON.stringify(base)}`);
  }
  return `${url.protocol === 'https:' ? 'wss' : 'ws'}://${url.host}/api/v1/agent`;
}

const MAX_FRAME_BYTES = 1024 * 1024;
const MAX_REFUSAL_BODY = 4096;
const CLOSE_GRACE_MS = 2000;

/** One connection attempt and what was learned about how it ended. */
interface Attempt {
  ws: WebSocket;
  openedAt: number | null;
  refusal: { status: number; code?: string; message?: string } | null;
  error: Error | null;
}

/**
 * The agent's one WebSocket to the coordinator: authenticates, reconnects with jittered
 * exponential backoff (on the injected clock), buffers what the agent says while disconnected,
 * and drops links that went silent (half-open TCP never errors by itself).
 */
export function createAgentLink(opts: AgentLinkOptions): AgentLink {
  return new Link(opts);
}

class Link implements AgentLink {
  private readonly wsUrl: string;
  private readonly backoff: BackoffOptions;
  private deadAfterMs: number;
  private readonly stableAfterMs: number;
  private readonly outbox: Outbox;
  private current: Attempt | null = null;
  private started = false;
  private stopped = false;
  private failures = 0;
  private lastHeard = 0;
  private reconnectTimer: TimerHandle | null = null;
  private watchTimer: TimerHandle | null = null;
  private graceTimer: TimerHandle | null = null;
  private closeWaiters: Array<() => void> = [];

  constructor(private readonly opts: AgentLinkOptions) {
    this.wsUrl = agentSocketUrl(opts.url);
    if (this.wsUrl.startsWith('wss:') && !opts.fingerprint) {
      throw new TypeError(`Expected a pinned certificate fingerprint for the https coordinator ${opts.url}, got none`);
    }
    this.backoff = backoffOptions(opts.backoff);
    this.deadAfterMs = positive('deadAfterMs', opts.deadAfterMs ?? 30_000);
    this.stableAfterMs = positive('stableAfterMs', opts.stableAfterMs ?? 5000);
    this.outbox = new Outbox({ logger: opts.logger, ...(opts.maxBuffered !== undefined ? { maxMessages: opts.maxBuffered } : {}) });
  }

  setDeadAfter(ms: number): void {
    this.deadAfterMs = positive('deadAfterMs', ms);
    // The watch running now still waits out its old interval; the next one uses the new one.
  }

  start(): void {
    if (this.started || this.stopped) return;
    this.started = true;
    this.connect();
  }

  send(msg: AgentMessage): void {
    if (this.connected()) this.current!.ws.send(JSON.stringify(msg));
    else this.outbox.push(msg);
  }

  connected(): boolean {
    return this.current?.openedAt != null && this.current.ws.readyState === WebSocket.OPEN;
  }

  close(): Promise<void> {
    this.stopped = true;
    this.clearTimer('reconnectTimer');
    const at = this.current;
    if (!at) return Promise.resolve();
    return new Promise((resolve) => {
      this.closeWaiters.push(resolve);
      if (at.ws.readyState === WebSocket.OPEN) {
        at.ws.close(1000, 'agent stopping');
        // A peer that never answers the close frame must not hold the agent's shutdown.
        this.graceTimer ??= this.opts.clock.setTimeout(() => at.ws.terminate(), CLOSE_GRACE_MS);
      } else if (at.ws.readyState === WebSocket.CONNECTING) {
        at.ws.terminate();
      }
    });
  }

  private connect(): void {
    this.reconnectTimer = null;
    const ws = new WebSocket(this.wsUrl, this.socketOptions());
    const at: Attempt = { ws, openedAt: null, refusal: null, error: null };
    this.current = at;
    this.lastHeard = this.opts.clock.now();
    ws.on('open', () => this.onOpen(at));
    ws.on('message', (data, isBinary) => this.onFrame(data, isBinary));
    ws.on('pong', () => this.heard());
    ws.on('unexpected-response', (_req, res) => this.onRefused(at, res));
    ws.on('error', (err) => {
      at.error = err;
      this.opts.logger.debug('coordinator link error', { error: err.message });
    });
    ws.on('close', () => this.onClose(at));
    this.scheduleWatch(at);
  }

  private socketOptions(): ClientOptions {
    const options: ClientOptions = {
      // The secret travels only in this header; it is never logged.
      headers: { Authorization: `Bearer ${this.opts.agentId}:${this.opts.secret}` },
      maxPayload: MAX_FRAME_BYTES,
      // Messages are small JSON; compression would only add zlib memory per connection.
      perMessageDeflate: false,
    };
    if (this.opts.fingerprint) {
      options.createConnection = pinnedConnection(this.opts.fingerprint) as unknown as ClientOptions['createConnection'];
    }
    return options;
  }

  private onOpen(at: Attempt): void {
    at.openedAt = this.opts.clock.now();
    this.heard();
    this.opts.logger.info('connected to coordinator', { url: this.wsUrl });
    try {
      this.opts.onOpen();
    } catch (err) {
      this.opts.logger.error('onOpen handler threw', { error: (err as Error).message });
    }
    // Flush after hello, in the order the messages were produced.
    for (const msg of this.outbox.drain()) {
      if (this.connected()) at.ws.send(JSON.stringify(msg));
      else this.outbox.push(msg);
    }
  }

  private onFrame(data: RawData, isBinary: boolean): void {
    this.heard();
    if (isBinary) {
      this.opts.logger.warn('dropped a binary frame from the coordinator');
      return;
    }
    const buf = Array.isArray(data) ? Buffer.concat(data) : Buffer.isBuffer(data) ? data : Buffer.from(data);
    const text = buf.toString('utf8');
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      this.opts.logger.warn('dropped a frame from the coordinator that is not JSON', { bytes: text.length });
      return;
    }
    try {
      this.opts.onMessage(parsed);
    } catch (err) {
      this.opts.logger.error('onMessage handler threw', { error: (err as Error).message });
    }
  }

  /** Records why the upgrade was refused, then aborts; ws leaves that to us once we listen. */
  private onRefused(at: Attempt, res: IncomingMessage): void {
    at.refusal = { status: res.statusCode ?? 0 };
    const chunks: Buffer[] = [];
    let size = 0;
    res.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= MAX_REFUSAL_BODY) chunks.push(chunk);
    });
    const finish = () => {
      const error = refusalBody(Buffer.concat(chunks).toString('utf8'));
      if (error?.code) at.refusal!.code = error.code;
      if (error?.message) at.refusal!.message = error.message;
      at.ws.terminate();
    };
    res.once('end', finish);
    res.once('error', finish);
    res.once('close', finish);
  }

  private onClose(at: Attempt): void {
    if (this.current !== at) return;
    this.current = null;
    this.clearTimer('watchTimer');
    this.clearTimer('graceTimer');
    if (this.stopped) return this.resolveClosers();
    const fatal = this.fatalError(at);
    if (fatal) {
      this.stopped = true;
      this.opts.logger.error('coordinator link stopped for good', { error: fatal.message });
      this.opts.onFatal(fatal);
      return this.resolveClosers();
    }
    this.scheduleReconnect(at);
  }

  private fatalError(at: Attempt): Error | null {
    const r = at.refusal;
    if (r && (r.status === 401 || r.status === 403)) return new AgentRefusedError(this.opts.url, r.status, r.code, r.message);
    if (at.error instanceof FingerprintMismatchError) return at.error;
    return null;
  }

  private scheduleReconnect(at: Attempt): void {
    const now = this.opts.clock.now();
    if (at.openedAt !== null && now - at.openedAt >= this.stableAfterMs) this.failures = 0;
    const attempt = this.failures++;
    const retryInMs = backoffDelay(attempt, this.backoff, this.opts.random ?? Math.random);
    const reason = at.refusal ? `HTTP ${at.refusal.status}${at.refusal.code ? ` ${at.refusal.code}` : ''}` : (at.error?.message ?? 'closed');
    const level = at.openedAt !== null ? 'warn' : 'info';
    this.opts.logger[level]('coordinator link down; reconnecting', { url: this.wsUrl, reason, attempt, retryInMs });
    this.reconnectTimer = this.opts.clock.setTimeout(() => this.connect(), retryInMs);
  }

  private heard(): void {
    this.lastHeard = this.opts.clock.now();
  }

  /** Dead-link check, also the handshake timeout: a link silent for deadAfterMs is dropped. */
  private scheduleWatch(at: Attempt): void {
    const every = Math.max(1, Math.floor(this.deadAfterMs / 3));
    this.watchTimer = this.opts.clock.setTimeout(() => {
      this.watchTimer = null;
      if (this.current !== at) return;
      const silentMs = this.opts.clock.now() - this.lastHeard;
      if (silentMs >= this.deadAfterMs) {
        this.opts.logger.warn('coordinator link silent; dropping it', { url: this.wsUrl, silentMs });
        at.ws.terminate();
        return;
      }
      if (at.ws.readyState === WebSocket.OPEN) at.ws.ping();
      this.scheduleWatch(at);
    }, every);
  }

  private clearTimer(name: 'reconnectTimer' | 'watchTimer' | 'graceTimer'): void {
    const t = this[name];
    if (t) this.opts.clock.clearTimeout(t);
    this[name] = null;
  }

  private resolveClosers(): void {
    const waiters = this.closeWaiters;
    this.closeWaiters = [];
    for (const w of waiters) w();
  }
}

function positive(name: string, value: number): number {
  if (!Number.isFinite(value) || value <= 0) throw new TypeError(`Expected ${name} to be a positive number, got ${value}`);
  return value;
}

const RefusalBodySchema = z.object({
  error: z.object({ code: z.string().max(100).optional(), message: z.string().optional() }),
});

function refusalBody(text: string): { code?: string; message?: string } | undefined {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return undefined;
  }
  const parsed = RefusalBodySchema.safeParse(json);
  if (!parsed.success) return undefined;
  const { code, message } = parsed.data.error;
  return { ...(code ? { code } : {}), ...(message ? { message: message.slice(0, 300) } : {}) };
}
