import http from 'node:http';
import https from 'node:https';
import type { PeerCertificate } from 'node:tls';
import { z } from 'zod';
import { normalizeFingerprint, verifiedTlsConnection, type CreateConnection } from './pinned-tls.ts';

/** What a join token carries: the one-time secret and, for a TLS coordinator, the start of its certificate fingerprint. */
export interface JoinToken {
  /** The 43-character base64url secret. */
  secret: string;
  /** First 32 hex digits (upper-case, no colons) of the coordinator certificate's SHA-256 fingerprint. */
  fingerprintPrefix?: string;
}

export class JoinTokenError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'JoinTokenError';
  }
}

const TOKEN_RE = /^ef1\.([A-Za-z0-9_-]{43})(?:\.([0-9A-Fa-f]{32}))?$/;

/** Parses `ef1.<secret>[.<fingerprint prefix>]`; throws JoinTokenError saying what is wrong. */
export function parseJoinToken(token: string): JoinToken {
  const trimmed = token.trim();
  if (!trimmed.startsWith('ef1.')) {
    throw new JoinTokenError('not an EncodeFarm join token: it should start with "ef1." (copy the whole token the coordinator printed)');
  }
  const m = TOKEN_RE.exec(trimmed);
  if (!m) {
    throw new JoinTokenError(
      'malformed join token: expected "ef1." + 43 base64url characters, optionally followed by "." + 32 hex digits (was it cut off when copied?)',
    );
  }
  const secret = m[1]!;
  return m[2] ? { secret, fingerprintPrefix: m[2].toUpperCase() } : { secret };
}

/** Enrollment failed; the message names the coordinator and the reason. */
export class EnrollError extends Error {
  constructor(
    readonly coordinator: string,
    reason: string,
    readonly status?: number,
    readonly code?: string,
  ) {
    super(`enrolling with ${coordinator} failed: ${reason}`);
    this.name = 'EnrollError';
  }
}

export interface EnrollRequest {
  /** Coordinator base URL, `http://host:port` or `https://host:port`. */
  coordinator: string;
  token: string;
  /** Display name for this agent (usually the hostname). */
  name: string;
  tags?: string[];
  /** @default 15000 */
  timeoutMs?: number;
}

export interface Enrollment {
  agentId: string;
  secret: string;
  /** The coordinator certificate's full SHA-256 fingerprint (`AB:CD:…`), to be pinned; absent for plain HTTP. */
  fingerprint?: string;
}

const EnrollResponseSchema = z.object({
  agentId: z.string().regex(/^agt-[0-9a-f]{12}$/),
  secret: z.string().regex(/^[A-Za-z0-9_-]{43}$/),
});

const ErrorBodySchema = z.object({
  error: z.object({ code: z.string().optional(), message: z.string().optional(), kind: z.string().optional() }),
});

const MAX_RESPONSE_BYTES = 64 * 1024;

/**
 * Exchanges a one-time join token for this agent's permanent credentials (POST
 * /api/v1/agents/enroll). Over https the certificate is checked against the token's fingerprint
 * prefix BEFORE the token is sent, and the full fingerprint is returned for pinning. Uses
 * node:http(s) rather than fetch because fetch offers no way to see or pin the certificate.
 */
export async function enroll(req: EnrollRequest): Promise<Enrollment> {
  const base = coordinatorUrl(req.coordinator);
  const token = parseJoinToken(req.token);
  const secure = base.protocol === 'https:';
  if (secure && !token.fingerprintPrefix) {
    throw new EnrollError(req.coordinator, 'this join token was made for a plain-HTTP coordinator; use its http:// address');
  }
  if (!secure && token.fingerprintPrefix) {
    // Sending a TLS token over plain HTTP would hand the secret to anyone on the path.
    throw new EnrollError(req.coordinator, 'this join token was made for an HTTPS coordinator; use its https:// address');
  }
  let fingerprint: string | undefined;
  const verify = (cert: PeerCertificate): Error | undefined => {
    const fp = normalizeFingerprint(cert.fingerprint256 ?? '');
    if (!fp.replace(/:/g, '').startsWith(token.fingerprintPrefix!)) {
      return new EnrollError(
        req.coordinator,
        `the coordinator's certificate (SHA-256 ${fp}) does not match the join token (expected it to start with ${token.fingerprintPrefix}): ` +
          'the token is for another coordinator, or something is intercepting the connection',
      );
    }
    fingerprint = fp;
    return undefined;
  };
  const timeoutMs = req.timeoutMs ?? 15_000;
  const body = JSON.stringify({ token: req.token.trim(), name: req.name, tags: req.tags ?? [] });
  const res = await postJson(new URL('/api/v1/agents/enroll', base), body, {
    timeoutMs,
    ...(secure ? { createConnection: verifiedTlsConnection(verify, timeoutMs) } : {}),
  }).catch((err: unknown) => {
    throw err instanceof EnrollError ? err : new EnrollError(req.coordinator, describeNetworkError(err, timeoutMs));
  });
  const creds = parseEnrollResponse(req.coordinator, res);
  return fingerprint ? { ...creds, fingerprint } : creds;
}

function coordinatorUrl(raw: string): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new EnrollError(raw, 'not a URL: expected http://host:port or https://host:port');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new EnrollError(raw, `expected an http:// or https:// address, got ${url.protocol}//`);
  }
  return url;
}

interface RawResponse {
  status: number;
  text: string;
}


function postJson(url: URL, body: string, opts: { timeoutMs: number; createConnection?: CreateConnection }): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const request = url.protocol === 'https:' ? https.request : http.request;
    const req = request(url, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) },
      ...(opts.createConnection ? { createConnection: opts.createConnection as never } : {}),
    });
    const deadline = setTimeout(() => req.destroy(Object.assign(new Error('timed out'), { code: 'ETIMEDOUT' })), opts.timeoutMs);
    req.on('error', (err) => {
      clearTimeout(deadline);
      reject(err);
    });
    req.on('response', (res) => {
      readCapped(res, MAX_RESPONSE_BYTES).then(
        (text) => {
          clearTimeout(deadline);
          resolve({ status: res.statusCode ?? 0, text });
        },
        (err: unknown) => req.destroy(err as Error),
      );
    });
    req.end(body);
  });
}

function readCapped(res: http.IncomingMessage, max: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    res.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > max) res.destroy(new Error(`response larger than ${max} bytes`));
      else chunks.push(chunk);
    });
    res.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    res.on('error', reject);
  });
}

function parseEnrollResponse(coordinator: string, res: RawResponse): Omit<Enrollment, 'fingerprint'> {
  const json = safeJson(res.text);
  if (res.status === 200) {
    const parsed = EnrollResponseSchema.safeParse(json);
    if (!parsed.success) throw new EnrollError(coordinator, `unexpected answer (${z.prettifyError(parsed.error)})`, 200);
    return parsed.data;
  }
  const err = ErrorBodySchema.safeParse(json);
  const code = err.success ? err.data.error.code : undefined;
  const detail = err.success && err.data.error.message ? `: ${err.data.error.message}` : '';
  if (res.status === 401) {
    throw new EnrollError(
      coordinator,
      `the join token was refused (${code ?? 'HTTP 401'}${detail}); it is unknown, already used or expired: ask for a new one`,
      401,
      code,
    );
  }
  throw new EnrollError(coordinator, `the coordinator answered HTTP ${res.status}${code ? ` (${code})` : ''}${detail}`, res.status, code);
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function describeNetworkError(err: unknown, timeoutMs: number): string {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  switch (code) {
    case 'ECONNREFUSED':
      return 'connection refused (is the coordinator running, and listening on that address and port?)';
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return 'host not found (check the address)';
    case 'ETIMEDOUT':
      return `no answer within ${Math.round(timeoutMs / 1000)} s (is a firewall in the way?)`;
    case 'ECONNRESET':
      return 'the connection was reset (is this the coordinator\'s port, and does the scheme, http or https, match?)';
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return 'host unreachable (check the network)';
    default:
      return err instanceof Error ? err.message : String(err);
  }
}
