/** Where the coordinator is and the token to talk to it with. */
export interface Connection {
  /** '' = the page's own origin (the coordinator serves the UI). */
  baseUrl: string;
  token: string;
}

const STORAGE_KEY = 'encodefarm.token';

/**
 * The token comes in the URL fragment (`#token=…`, never sent to a server or logged by one); it
 * is moved to sessionStorage and removed from the address bar so it is not bookmarked or shared
 * in a screenshot. A reload in the same tab finds it in storage.
 */
export function readConnection(loc: Location = window.location, storage: Storage = window.sessionStorage, history: History = window.history): Connection | undefined {
  const m = /(?:^#|[#&])token=([^&]+)/.exec(loc.hash);
  if (m) {
    const token = decodeURIComponent(m[1]!);
    storage.setItem(STORAGE_KEY, token);
    const rest = loc.hash.replace(/(?:^#|[#&])token=[^&]+&?/, '#').replace(/^#$/, '');
    history.replaceState(null, '', `${loc.pathname}${loc.search}${rest || '#/queue'}`);
    return { baseUrl: '', token };
  }
  const stored = storage.getItem(STORAGE_KEY);
  return stored ? { baseUrl: '', token: stored } : undefined;
}

/** Drops a stored token the coordinator refused, so the next load asks for the link again. */
export function forgetConnection(storage: Storage = window.sessionStorage): void {
  storage.removeItem(STORAGE_KEY);
}
