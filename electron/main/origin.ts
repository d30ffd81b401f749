/**
 * The origin (`scheme://host:port`) of an http(s) URL; null for anything else (file:, data:,
 * about:blank, garbage), whose opaque origins must never compare equal to the UI's.
 */
export function httpOrigin(url: string | undefined | null): string | null {
  if (!url) return null;
  try {
    const u = new URL(url);
    return u.protocol === 'http:' || u.protocol === 'https:' ? u.origin : null;
  } catch {
    return null;
  }
}

/** Whether `url` belongs to the UI's origin; false while there is no UI (origin null). */
export function isUiUrl(url: string | undefined | null, uiOrigin: string | null): boolean {
  const origin = httpOrigin(url);
  return origin !== null && origin === uiOrigin;
}
