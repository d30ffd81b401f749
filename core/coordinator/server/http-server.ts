import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import https from 'node:https';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Logger } from '../../shared/logger.ts';
import { agentCredentialsOf, bearerOf, hostAllowed, originAllowed, subprotocolBearerOf, tokensEqual } from './guards.ts';
import { HttpError, sendJson, writeHttpError, writeSocketError } from './http-errors.ts';
import { createContext, createRouter, type Principal, type Route } from './router.ts';

export const AGENT_SOCKET_PATH = '/api/v1/agent';
export const EVENTS_SOCKET_PATH = '/api/v1/events';

/** What `authenticateAgent` answers: 401 unknown/bad credentials, 403 revoked. */
export type AgentAuthResult = { ok: true } | { ok: false; status: 401 | 403; code: string; message: string };

/** Takes over an upgrade request the server has already checked (Host, Origin, credentials). */
export interface UpgradeHandlers {
  [AGENT_SOCKET_PATH]: (req: IncomingMessage, socket: Duplex, head: Buffer, agentId: string) => void;
  [EVENTS_SOCKET_PATH]: (req: IncomingMessage, socket: Duplex, head: Buffer) => void;
}

export interface HttpServerLimits {
  /** @default 1 MiB — the default cap of `readJson`. */
  bodyBytes: number;
  /** @default 10000 — time a client gets to send its request headers (slowloris). */
  headersTimeoutMs: number;
  /** @default 0 — none: a transfer stream may take as long as it keeps moving (see idleSocketMs). */
  requestTimeoutMs: number;
  /** @default 5000 — how long an idle keep-alive connection is kept open. */
  keepAliveTimeoutMs: number;
  /** @default 120000 — a socket with no traffic for this long is closed (a stalled transfer). */
  idleSocketMs: number;
}

export const DEFAULT_HTTP_LIMITS: HttpServerLimits = {
  bodyBytes: 1024 * 1024,
  headersTimeoutMs: 10_000,
  requestTimeoutMs: 0,
  keepAliveTimeoutMs: 5_000,
  idleSocketMs: 120_000,
};

export interface HttpServerOptions {
  routes: readonly Route[];
  /**
   * Host header values to accept (see allowedHostsFor). A function is called once the server is
   * listening, so the allowlist can include a port chosen by the OS (port 0).
   */
  allowedHosts: ReadonlySet<string> | ((bound: { host: string; port: number }) => ReadonlySet<string>);
  /** The operator's API token, read per request so it can be rotated. An empty token admits nobody. */
  apiToken: () => string;
  authenticateAgent(agentId: string, secret: string): AgentAuthResult;
  upgrades: UpgradeHandlers;
  tls?: { key: string; cert: string };
  logger: Logger;
  limits?: Partial<HttpServerLimits>;
}

export interface ListeningAddress {
  host: string;
  port: number;
  /** Base URL a client on this machine can use (a wildcard listen address becomes loopback). */
  url: string;
}

export interface FarmHttpServer {
  listen(host: string, port: number): Promise<ListeningAddress>;
  /** Stops listening and destroys every open socket, upgraded ones included. */
  close(): Promise<void>;
  server: http.Server;
}

function unauthorized(message: string): HttpError {
  return new HttpError(401, 'unauthorized', message, { 'WWW-Authenticate': 'Bearer' });
}

function urlHost(host: string): string {
  if (host === '0.0.0.0' || host === '') return '127.0.0.1';
  if (host === '::') return '[::1]';
  return host.includes(':') ? `[${host}]` : host;
}

/**
 * The coordinator's HTTP(S) server. Every request and every WebSocket upgrade passes the same
 * gate, in this order: Host allowlist (403 bad-host), Origin (403 bad-origin), then the route's
 * credentials. Handlers only ever see requests that passed.
 */
export function createHttpServer(opts: HttpServerOptions): FarmHttpServer {
  const limits: HttpServerLimits = { ...DEFAULT_HTTP_LIMITS, ...opts.limits };
  const { logger } = opts;
  const router = createRouter(opts.routes);
  const sockets = new Set<Socket>();
  let allowed: ReadonlySet<string> = typeof opts.allowedHosts === 'function' ? new Set() : opts.allowedHosts;

  const server: http.Server = opts.tls
    ? https.createServer({ key: opts.tls.key, cert: opts.tls.cert })
    : http.createServer();
  server.headersTimeout = limits.headersTimeoutMs;
  server.requestTimeout = limits.requestTimeoutMs;
  server.keepAliveTimeout = limits.keepAliveTimeoutMs;
  server.timeout = limits.idleSocketMs;

  function checkOrigin(req: IncomingMessage): void {
    if (!hostAllowed(req.headers.host, allowed)) throw new HttpError(403, 'bad-host', 'this Host is not served here');
    if (!originAllowed(req.headers.origin, allowed)) throw new HttpError(403, 'bad-origin', 'cross-origin requests are refused');
  }

  function authApi(token: string | undefined): Principal {
    const expected = opts.apiToken();
    if (!token) throw unauthorized('an API token is required');
    if (!expected || !tokensEqual(token, expected)) throw unauthorized('the API token is not valid');
    return { kind: 'api' };
  }

  function authAgent(req: IncomingMessage): Principal & { kind: 'agent' } {
    const creds = agentCredentialsOf(bearerOf(req));
    if (!creds) throw unauthorized('agent credentials are required');
    const result = opts.authenticateAgent(creds.agentId, creds.secret);
    if (!result.ok) throw new HttpError(result.status, result.code, result.message);
    return { kind: 'agent', agentId: creds.agentId };
  }

  function authenticate(auth: Route['auth'], req: IncomingMessage): Principal {
    if (auth === 'api') return authApi(bearerOf(req));
    if (auth === 'agent') return authAgent(req);
    return { kind: 'none' };
  }

  function urlOf(req: IncomingMessage): URL {
    const target = req.url ?? '';
    // Origin-form only ("/path?q"); absolute-form targets are for proxies, which we are not.
    if (!target.startsWith('/')) throw new HttpError(400, 'bad-request', 'request target must be a path');
    return new URL(`http://coordinator${target}`);
  }

  function fail(res: ServerResponse, req: IncomingMessage, err: unknown): void {
    // A refused request's unread body is not drained (that would let anyone stream to us for free).
    if (!req.complete && !res.headersSent) res.setHeader('Connection', 'close');
    if (err instanceof HttpError) return writeHttpError(res, err);
    logger.error('request handler failed', { method: req.method, path: req.url?.split('?')[0], error: String(err) });
    sendJson(res, 500, { error: { code: 'internal', message: 'internal error' } });
  }

  async function onRequest(req: IncomingMessage, res: ServerResponse): Promise<void> {
    try {
      checkOrigin(req);
      const url = urlOf(req);
      const { route, params } = router.match(req.method ?? 'GET', url.pathname);
      const principal = authenticate(route.auth, req);
      const ctx = createContext({ req, res, params, query: url.searchParams, principal, bodyBytes: limits.bodyBytes });
      await route.handler(ctx);
    } catch (err) {
      fail(res, req, err);
    }
  }

  function onUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    // A reset during the handshake must not become an unhandled 'error' event.
    socket.on('error', (err) => logger.debug('upgrade socket error', { error: err.message }));
    try {
      checkOrigin(req);
      const { pathname } = urlOf(req);
      if (pathname === AGENT_SOCKET_PATH) {
        const principal = authAgent(req);
        return opts.upgrades[AGENT_SOCKET_PATH](req, socket, head, principal.agentId);
      }
      if (pathname === EVENTS_SOCKET_PATH) {
        authApi(bearerOf(req) ?? subprotocolBearerOf(req));
        return opts.upgrades[EVENTS_SOCKET_PATH](req, socket, head);
      }
      throw new HttpError(404, 'not-found', `no WebSocket endpoint at ${pathname}`);
    } catch (err) {
      if (err instanceof HttpError) {
        const level = err.status === 401 || err.status === 403 ? 'warn' : 'debug';
        logger[level]('WebSocket upgrade refused', { path: req.url?.split('?')[0], status: err.status, code: err.code, from: req.socket.remoteAddress });
        return writeSocketError(socket, err.status, err.code, err.message);
      }
      logger.error('upgrade handler failed', { path: req.url?.split('?')[0], error: String(err) });
      writeSocketError(socket, 500, 'internal', 'internal error');
    }
  }

  function onClientError(err: NodeJS.ErrnoException, socket: Duplex): void {
    logger.debug('malformed request refused', { code: err.code });
    // Bytes written mid-response would corrupt it; the default handler makes the same check.
    const inFlight = (socket as { _httpMessage?: { headersSent?: boolean } })._httpMessage?.headersSent;
    if (err.code === 'ECONNRESET' || !socket.writable || inFlight) return void socket.destroy();
    const status = err.code === 'HPE_HEADER_OVERFLOW' ? 431 : err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : 400;
    writeSocketError(socket, status, 'bad-request', 'malformed request');
  }

  server.on('request', (req: IncomingMessage, res: ServerResponse) => void onRequest(req, res));
  server.on('upgrade', onUpgrade);
  server.on('clientError', onClientError);
  server.on('tlsClientError', (err: Error) => logger.debug('TLS handshake failed', { error: err.message }));
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    // Notices peers that vanished (a sleeping laptop, a dropped NAT entry) on upgraded sockets too.
    socket.setKeepAlive(true, 30_000);
  });

  return {
    server,
    listen(host, port) {
      return new Promise((resolve, reject) => {
        const onError = (err: Error) => reject(err);
        server.once('error', onError);
        server.listen(port, host, () => {
          server.off('error', onError);
          server.on('error', (err) => logger.error('http server error', { error: err.message }));
          const addr = server.address();
          const bound = typeof addr === 'object' && addr ? addr.port : port;
          if (typeof opts.allowedHosts === 'function') allowed = opts.allowedHosts({ host, port: bound });
          const scheme = opts.tls ? 'https' : 'http';
          resolve({ host, port: bound, url: `${scheme}://${urlHost(host)}:${bound}` });
        });
      });
    },
    close() {
      return new Promise((resolve) => {
        server.close(() => resolve());
        for (const s of sockets) s.destroy();
      });
    },
  };
}
