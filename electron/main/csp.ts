import type { Session } from 'electron';

/**
 * The UI's Content-Security-Policy, the same the coordinator sends with every UI response: the
 * page runs only its own scripts and styles and talks only to its own origin (HTTP and the
 * events WebSocket).
 */
export const UI_CSP =
  "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
  "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'none'";

/**
 * Adds UI_CSP to every response the window's session receives, so the policy holds even where
 * the coordinator does not send it (an older remote one). It is added beside any policy already
 * there: the browser enforces both, so a stricter server policy still wins.
 */
export function setupCsp(session: Pick<Session, 'webRequest'>): void {
  session.webRequest.onHeadersReceived((details, callback) => callback({ responseHeaders: withUiCsp(details.responseHeaders) }));
}

export function withUiCsp(headers: Record<string, string[]> | undefined): Record<string, string[]> {
  const out = { ...headers };
  const key = Object.keys(out).find((k) => k.toLowerCase() === 'content-security-policy') ?? 'Content-Security-Policy';
  out[key] = [...(out[key] ?? []), UI_CSP];
  return out;
}
