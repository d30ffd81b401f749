import http, { type IncomingHttpHeaders } from 'node:http';
import net from 'node:net';
import { WebSocket, type ClientOptions } from 'ws';
import type { AgentConnection } from '../../../core/coordinator/coordinator.ts';
import { recordingLogger, type LogEntry } from '../../helpers/recording-logger.ts';
import type { CoordinatorMessage } from '../../../core/shared/protocol/index.ts';

export { recordingLogger, type LogEntry };

export const API_TOKEN = 'test-api-token-0123456789abcdefghijklmnopqrstu';
export const AGENT_ID = 'agt-0123456789ab';
export const AGENT_SECRET = 'agent-secret-0123456789abcdefghijklmnopqrstuv';
export const REVOKED_AGENT_ID = 'agt-revoked00000';

/** Accepts AGENT_ID / other `agt-` ids with AGENT_SECRET; REVOKED_AGENT_ID is revoked (403). */
export function fakeAuthenticateAgent(agentId: string, secret: string) {
  if (agentId === REVOKED_AGENT_ID) return { ok: false as const, status: 403 as const, code: 'revoked', message: 'agent revoked' };
  if (!agentId.startsWith('agt-') || secret !== AGENT_SECRET) {
    return { ok: false as const, status: 401 as const, code: 'bad-credentials', message: 'unknown agent or wrong secret' };
  }
  return { ok: true as const };
}

export interface Reply {
  status: number;
  headers: IncomingHttpHeaders;
  text: string;
  json(): any;
}

export interface RequestOptions {
  method?: string;
  path: string;
  headers?: Record<string, string>;
  body?: string | Buffer;
}

/** One HTTP request with full control of the headers (Host and Origin included). */
export function request(port: number, opts: RequestOptions): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: '127.0.0.1', port, method: opts.method ?? 'GET', path: opts.path, headers: opts.headers, agent: false },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json: () => JSON.parse(text) });
        });
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(opts.body);
  });
}

/** Writes raw bytes on a fresh TCP connection and returns everything the server sent until it closed. */
export function rawExchange(port: number, bytes: string | Buffer): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    socket.on('data', (c) => chunks.push(c));
    socket.on('close', () => resolve(Buffer.concat(chunks).toString('latin1')));
    socket.on('error', (err: NodeJS.ErrnoException) => (err.code === 'ECONNRESET' ? undefined : reject(err)));
    socket.write(bytes);
  });
}

/** Status code and JSON body of a raw HTTP response text. */
export function parseRawResponse(text: string): { status: number; body: any } {
  const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 0);
  const bodyText = text.slice(text.indexOf('\r\n\r\n') + 4);
  return { status, body: bodyText ? JSON.parse(bodyText) : undefined };
}

export type SocketOutcome = { ok: true; ws: WebSocket } | { ok: false; status: number; body: any };

/** Opens a WebSocket; a refused upgrade resolves with the HTTP status and JSON body instead. */
export function openSocket(url: string, protocols: string[] | undefined, options: ClientOptions): Promise<SocketOutcome> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, protocols, options);
    ws.once('open', () => resolve({ ok: true, ws }));
    ws.once('unexpected-response', (_req, res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let body: unknown = text;
        try {
          body = text ? JSON.parse(text) : undefined;
        } catch {
          // Not every refusal is ours (ws answers some itself, in plain text): keep the text.
        }
        resolve({ ok: false, status: res.statusCode ?? 0, body });
      });
    });
    ws.once('error', reject);
  });
}

/** Resolves with the close code (and reason) the client saw. */
export function closed(ws: WebSocket): Promise<{ code: number; reason: string }> {
  if (ws.readyState === WebSocket.CLOSED) return Promise.resolve({ code: -1, reason: 'already closed' });
  return new Promise((resolve) => ws.once('close', (code, reason) => resolve({ code, reason: reason.toString() })));
}

/** The next text frame the client receives, parsed. */
export function nextMessage(ws: WebSocket): Promise<any> {
  return new Promise((resolve) => ws.once('message', (data) => resolve(JSON.parse(data.toString()))));
}

export interface FakeSession {
  received: unknown[];
  closed: boolean;
  /** The transport the sockets module gave the coordinator: sends to this agent. */
  send: (msg: CoordinatorMessage) => void;
}

/**
 * A FAKE stand-in for coordinator.connectAgent that records what each session received and
 * whether it was closed. `until` resolves once a condition over the sessions holds.
 */
export function fakeConnector() {
  const sessions: FakeSession[] = [];
  const waiters: { check: () => boolean; resolve: () => void }[] = [];
  const changed = () => {
    for (const w of [...waiters]) {
      if (w.check()) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve();
      }
    }
  };
  const connect = (transport: (msg: CoordinatorMessage) => void): AgentConnection => {
    const session: FakeSession = { received: [], closed: false, send: transport };
    sessions.push(session);
    changed();
    return {
      receive(raw) {
        session.received.push(raw);
        changed();
      },
      async close() {
        session.closed = true;
        changed();
      },
    };
  };
  const until = (check: () => boolean): Promise<void> =>
    check() ? Promise.resolve() : new Promise((resolve) => waiters.push({ check, resolve }));
  return { sessions, connect, until };
}
