import type { IncomingMessage, ServerResponse } from 'node:http';
import type { z } from 'zod';
import { HttpError, sendJson } from './http-errors.ts';

/** Who made a request, as the server established it before the handler runs. */
export type Principal = { kind: 'api' } | { kind: 'agent'; agentId: string } | { kind: 'none' };

/** `api`: the operator's API token; `agent`: an enrolled agent's credentials; `none`: public. */
export type RouteAuth = 'api' | 'agent' | 'none';

export interface RouteContext {
  req: IncomingMessage;
  res: ServerResponse;
  /** Decoded `:name` path segments. */
  params: Record<string, string>;
  query: URLSearchParams;
  principal: Principal;
  /**
   * Reads and validates a JSON body. Throws HttpError: 415 when not `application/json`, 413 over
   * the limit (default: the server's `bodyBytes`), 400 for malformed JSON or a schema mismatch.
   */
  readJson<T>(schema: z.ZodType<T>, limitBytes?: number): Promise<T>;
  /** Ends the response with a JSON body (none when `body` is undefined). */
  send(status: number, body?: unknown, headers?: Readonly<Record<string, string>>): void;
}

export interface Route {
  method: string;
  /** `/api/v1/jobs/:id`: literal segments and `:name` segments that match one segment each. */
  path: string;
  auth: RouteAuth;
  handler(ctx: RouteContext): void | Promise<void>;
}

export interface RouteMatch {
  route: Route;
  params: Record<string, string>;
}

export interface Router {
  /** The route for a request, or an HttpError 404 (no such path) / 405 (path exists, method not). */
  match(method: string, pathname: string): RouteMatch;
}

function segments(path: string): string[] {
  return path.split('/').filter((s) => s.length > 0);
}

function matchPath(pattern: readonly string[], actual: readonly string[]): Record<string, string> | undefined {
  if (pattern.length !== actual.length) return undefined;
  const params: Record<string, string> = {};
  for (let i = 0; i < pattern.length; i++) {
    const p = pattern[i]!;
    const a = actual[i]!;
    if (p.startsWith(':')) {
      let value: string;
      try {
        value = decodeURIComponent(a);
      } catch {
        return undefined;
      }
      params[p.slice(1)] = value;
    } else if (p !== a) {
      return undefined;
    }
  }
  return params;
}

/** A tiny method + path router; routes are tried in the order given. */
export function createRouter(routes: readonly Route[]): Router {
  const compiled = routes.map((route) => ({ route, pattern: segments(route.path), method: route.method.toUpperCase() }));
  return {
    match(method, pathname) {
      const actual = segments(pathname);
      const allowed = new Set<string>();
      for (const c of compiled) {
        const params = matchPath(c.pattern, actual);
        if (!params) continue;
        if (c.method === method.toUpperCase()) return { route: c.route, params };
        allowed.add(c.method);
      }
      if (allowed.size === 0) throw new HttpError(404, 'not-found', `no route for ${pathname}`);
      throw new HttpError(405, 'method-not-allowed', `${method} is not allowed here`, { Allow: [...allowed].join(', ') });
    },
  };
}

function isJson(req: IncomingMessage): boolean {
  const type = req.headers['content-type']?.split(';')[0]?.trim().toLowerCase();
  return type === 'application/json';
}

/** Collects a request body up to `limitBytes`; a body past it is refused, not read to the end. */
export async function readBody(req: IncomingMessage, limitBytes: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limitBytes) throw tooLarge(limitBytes);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limitBytes) throw tooLarge(limitBytes);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

function tooLarge(limitBytes: number): HttpError {
  // The rest of the body is never read: close the connection rather than drain it.
  return new HttpError(413, 'body-too-large', `request body exceeds ${limitBytes} bytes`, { Connection: 'close' });
}

const fieldOf = (issue: z.ZodError['issues'][number]): string => (issue.path.length ? issue.path.join('.') : '(body)');

/** "field: message; …" for the first few issues: the error message a person reads. */
export function summarise(issues: z.ZodError['issues']): string {
  const parts = issues.slice(0, 5).map((i) => `${fieldOf(i)}: ${i.message}`);
  if (issues.length > 5) parts.push(`and ${issues.length - 5} more`);
  return parts.join('; ');
}

/** The first message per field (dotted path), for a form to show beside each field. */
export function fieldErrors(issues: z.ZodError['issues']): Record<string, string> {
  const out: Record<string, string> = {};
  for (const issue of issues) {
    const field = fieldOf(issue);
    out[field] ??= issue.code === 'unrecognized_keys' ? `unknown field(s) ${issue.keys.join(', ')}` : issue.message;
  }
  return out;
}

/** Reads a JSON body and validates it with `schema` (see RouteContext.readJson). */
export async function readJsonBody<T>(req: IncomingMessage, schema: z.ZodType<T>, limitBytes: number): Promise<T> {
  if (!isJson(req)) throw new HttpError(415, 'unsupported-media-type', 'expected Content-Type: application/json');
  const body = await readBody(req, limitBytes);
  let raw: unknown;
  try {
    raw = JSON.parse(body.toString('utf8'));
  } catch {
    throw new HttpError(400, 'bad-json', 'request body is not valid JSON');
  }
  const parsed = schema.safeParse(raw);
  if (!parsed.success) throw new HttpError(400, 'invalid-body', summarise(parsed.error.issues), {}, fieldErrors(parsed.error.issues));
  return parsed.data;
}

/** Builds the context a handler receives. */
export function createContext(opts: {
  req: IncomingMessage;
  res: ServerResponse;
  params: Record<string, string>;
  query: URLSearchParams;
  principal: Principal;
  bodyBytes: number;
}): RouteContext {
  const { req, res, bodyBytes } = opts;
  return {
    req,
    res,
    params: opts.params,
    query: opts.query,
    principal: opts.principal,
    readJson: (schema, limitBytes) => readJsonBody(req, schema, limitBytes ?? bodyBytes),
    send: (status, body, headers) => sendJson(res, status, body, headers),
  };
}
