import { STATUS_CODES, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';

/** What was wrong with each bad field of a request, keyed by the field's dotted path. */
export type FieldErrors = Readonly<Record<string, string>>;

/**
 * A request the server refuses on purpose. Handlers throw it; the server answers
 * `{error:{code,message,fields?}}` with its status (and headers, e.g. `Upload-Offset` on a 409).
 */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly headers: Readonly<Record<string, string>> = {},
    /** Per-field messages of a validation failure, so a form can show each beside its field. */
    readonly fields?: FieldErrors,
  ) {
    super(message);
    this.name = 'HttpError';
  }
}

/** The JSON body of every error answer. */
export function errorBody(code: string, message: string, fields?: FieldErrors): { error: { code: string; message: string; fields?: FieldErrors } } {
  return { error: { code, message, ...(fields && { fields }) } };
}

/** Ends a response with a JSON body (or none, for 204/304 and HEAD). */
export function sendJson(
  res: ServerResponse,
  status: number,
  body?: unknown,
  headers: Readonly<Record<string, string>> = {},
): void {
  if (res.headersSent) {
    // Too late for a status line: the only honest signal left is to cut the connection.
    res.destroy();
    return;
  }
  for (const [k, v] of Object.entries(headers)) res.setHeader(k, v);
  res.setHeader('Cache-Control', 'no-store');
  if (body === undefined || status === 204 || status === 304) {
    res.statusCode = status;
    res.end();
    return;
  }
  const text = JSON.stringify(body);
  res.statusCode = status;
  res.setHeader('Content-Type', 'application/json; charset=utf-8');
  res.setHeader('Content-Length', Buffer.byteLength(text));
  res.end(text);
}

/** Answers an HttpError as `{error:{code,message,fields?}}`. */
export function writeHttpError(res: ServerResponse, err: HttpError): void {
  sendJson(res, err.status, errorBody(err.code, err.message, err.fields), err.headers);
}

/**
 * Answers on a raw socket with a real HTTP response (status line + JSON body) and closes it. Used
 * to refuse WebSocket upgrades, so a client learns why (401 vs 403 revoked vs 409 duplicate)
 * instead of seeing a bare disconnect, and for requests too malformed to get a response object.
 */
export function writeSocketError(socket: Duplex, status: number, code: string, message: string): void {
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  const body = JSON.stringify(errorBody(code, message));
  const head = [
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Error'}`,
    'Connection: close',
    'Content-Type: application/json; charset=utf-8',
    `Content-Length: ${Buffer.byteLength(body)}`,
    '',
    '',
  ].join('\r\n');
  socket.end(head + body);
  // end() flushes then closes; destroy after the flush so a peer that never reads cannot pin it.
  socket.once('finish', () => socket.destroy());
}
