import http from 'node:http';
import https from 'node:https';
import type { z } from 'zod';
import { API_PREFIX, ApiErrorSchema } from '../../shared/protocol/index.ts';
import { pinnedConnection } from '../../agent/client/pinned-tls.ts';

/** The coordinator answered with an error (or could not be reached); the message says which. */
export class ApiClientError extends Error {
  constructor(
    message: string,
    readonly status: number | undefined,
    readonly code: string | undefined,
  ) {
    super(message);
    this.name = 'ApiClientError';
  }
}

export interface ApiTarget {
  /** `http(s)://host:port` */
  url: string;
  token: string;
  /** Pinned certificate fingerprint for https. */
  fingerprint?: string;
  timeoutMs?: number;
}

/** A small JSON client for the coordinator's API: token auth, pinned TLS, zod-checked answers. */
export function createApiClient(target: ApiTarget) {
  const base = new URL(target.url);
  const isHttps = base.protocol === 'https:';
  if (isHttps && !target.fingerprint) {
    throw new ApiClientError(`${target.url}: https needs the certificate fingerprint (--fingerprint, or run on the coordinator's machine)`, undefined, undefined);
  }

  function request<T>(method: string, route: string, schema: z.ZodType<T>, body?: unknown): Promise<T> {
    const url = new URL(API_PREFIX + route, base);
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    const headers: Record<string, string> = { authorization: `Bearer ${target.token}`, accept: 'application/json' };
    if (payload) Object.assign(headers, { 'content-type': 'application/json', 'content-length': String(payload.length) });
    const options = { method, headers, timeout: target.timeoutMs ?? 30_000, ...(isHttps ? { createConnection: pinnedConnection(target.fingerprint!) as unknown as https.RequestOptions['createConnection'] } : {}) };
    return new Promise<T>((resolve, reject) => {
      const req = (isHttps ? https : http).request(url, options, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', reject);
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let json: unknown;
          try {
            json = JSON.parse(text);
          } catch {
            return reject(new ApiClientError(`${url.origin}: answered ${res.statusCode} with a non-JSON body`, res.statusCode, undefined));
          }
          if ((res.statusCode ?? 500) >= 400) {
            const err = ApiErrorSchema.safeParse(json);
            const msg = err.success ? err.data.error.message : `HTTP ${res.statusCode}`;
            return reject(new ApiClientError(`${url.origin}: ${msg}`, res.statusCode, err.success ? err.data.error.code : undefined));
          }
          const parsed = schema.safeParse(json);
          if (!parsed.success) return reject(new ApiClientError(`${url.origin}: unexpected answer to ${method} ${route}`, res.statusCode, undefined));
          resolve(parsed.data);
        });
      });
      req.on('timeout', () => req.destroy(new Error('timed out')));
      req.on('error', (err) => reject(new ApiClientError(`cannot reach the coordinator at ${base.origin}: ${err.message}`, undefined, undefined)));
      req.end(payload);
    });
  }

  return {
    get: <T>(route: string, schema: z.ZodType<T>) => request('GET', route, schema),
    post: <T>(route: string, schema: z.ZodType<T>, body: unknown) => request('POST', route, schema, body),
  };
}

export type ApiClient = ReturnType<typeof createApiClient>;
