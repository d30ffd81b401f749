/** The coordinator the window shows and main talks to: the local one or a remote one. */
export interface FarmConnection {
  /** The coordinator's origin, e.g. `http://127.0.0.1:41234` (no trailing slash). */
  url: string;
  token: string;
  local: boolean;
}

/** What the window loads: the UI at the coordinator's root with the token in the fragment. */
export function uiUrlOf(conn: FarmConnection): string {
  // In the fragment, the token never goes over the wire; the renderer reads it, then strips it.
  return `${conn.url}/#token=${encodeURIComponent(conn.token)}`;
}
