import crypto from 'node:crypto';
import net from 'node:net';
import os from 'node:os';
import type { IncomingMessage } from 'node:http';

export interface AllowedHostsOptions {
  /** The address the server listens on (`0.0.0.0` and `::` mean every interface). */
  listenHost: string;
  port: number;
  /** More names the coordinator is reached by (a DNS name, a reverse proxy's host). */
  extraHosts?: readonly string[];
}

const WILDCARDS = new Set(['0.0.0.0', '::', '[::]', '']);

/** `[::1]` for IPv6 literals, the name itself otherwise; lower-case like Host headers compare. */
function hostForm(host: string): string {
  const bare = host.replace(/^\[(.*)\]$/, '$1').toLowerCase();
  return net.isIPv6(bare) ? `[${bare}]` : bare;
}

function interfaceAddresses(): string[] {
  const out: string[] = [];
  for (const list of Object.values(os.networkInterfaces())) {
    for (const info of list ?? []) out.push(info.address);
  }
  return out;
}

/**
 * The Host header values this coordinator answers to, each with and without `:port`. Anything
 * else is refused: a page on some other site that DNS-rebinds its name to our address still
 * sends its own name as Host, so checking Host defeats the rebinding.
 */
export function allowedHostsFor(opts: AllowedHostsOptions): Set<string> {
  const names = ['localhost', '127.0.0.1', '::1'];
  const hostname = os.hostname();
  if (hostname) names.push(hostname, hostname.split('.')[0]!);
  if (WILDCARDS.has(opts.listenHost)) names.push(...interfaceAddresses());
  else names.push(opts.listenHost);
  names.push(...(opts.extraHosts ?? []));
  const allowed = new Set<string>();
  for (const name of names) {
    if (!name) continue;
    const form = hostForm(name);
    allowed.add(form);
    // An extra host may already carry its port ("proxy.example:8443"): keep it as given too.
    if (!/:\d+$/.test(form)) allowed.add(`${form}:${opts.port}`);
  }
  return allowed;
}

/** Whether a request's Host header names this coordinator. A missing Host is refused. */
export function hostAllowed(hostHeader: string | undefined, allowed: ReadonlySet<string>): boolean {
  if (!hostHeader) return false;
  return allowed.has(hostHeader.trim().toLowerCase());
}

/**
 * Whether a request's Origin may talk to us. No Origin is allowed: the CLI and agents send none,
 * and browsers always send one on cross-origin and WebSocket requests. `null` (sandboxed frames,
 * file pages) is refused, as is any origin whose host is not one of ours.
 */
export function originAllowed(originHeader: string | undefined, allowed: ReadonlySet<string>): boolean {
  if (originHeader === undefined) return true;
  let url: URL;
  try {
    url = new URL(originHeader);
  } catch {
    return false;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return false;
  // An origin is scheme://host[:port] and nothing more.
  if (url.username || url.password || (url.pathname !== '/' && url.pathname !== '') || url.search || url.hash) return false;
  return allowed.has(url.host.toLowerCase());
}

/** Compares two secrets in constant time (digests first, so their lengths do not leak either). */
export function tokensEqual(a: string, b: string): boolean {
  const da = crypto.createHash('sha256').update(a, 'utf8').digest();
  const db = crypto.createHash('sha256').update(b, 'utf8').digest();
  return crypto.timingSafeEqual(da, db);
}

/** The token of an `Authorization: Bearer <token>` header, or undefined. */
export function bearerOf(req: IncomingMessage): string | undefined {
  const header = req.headers.authorization;
  const m = header ? /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(header) : null;
  return m?.[1];
}

/** `<agentId>:<secret>` split at the first colon; undefined when either part is empty. */
export function agentCredentialsOf(token: string | undefined): { agentId: string; secret: string } | undefined {
  if (!token) return undefined;
  const at = token.indexOf(':');
  if (at <= 0 || at === token.length - 1) return undefined;
  return { agentId: token.slice(0, at), secret: token.slice(at + 1) };
}

/** The subprotocol a browser uses to carry the API token (it cannot set headers on a WebSocket). */
export const BEARER_SUBPROTOCOL_PREFIX = 'bearer.';

/** The token carried as a `bearer.<token>` WebSocket subprotocol, or undefined. */
export function subprotocolBearerOf(req: IncomingMessage): string | undefined {
  const header = req.headers['sec-websocket-protocol'];
  if (!header) return undefined;
  for (const p of header.split(',')) {
    const proto = p.trim();
    if (proto.startsWith(BEARER_SUBPROTOCOL_PREFIX) && proto.length > BEARER_SUBPROTOCOL_PREFIX.length) {
      return proto.slice(BEARER_SUBPROTOCOL_PREFIX.length);
    }
  }
  return undefined;
}
