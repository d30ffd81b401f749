import type { Session } from 'electron';
import { isUiUrl } from './origin.ts';

/**
 * Web permissions the UI may have: writing the clipboard (the "copy join command" button).
 * Notifications go through the bridge; camera, geolocation and the rest are never needed.
 */
const ALLOWED = new Set<string>(['clipboard-sanitized-write']);

/** Denies every permission request except ALLOWED ones from the UI's own origin. */
export function setupPermissions(session: Pick<Session, 'setPermissionRequestHandler' | 'setPermissionCheckHandler'>, uiOrigin: () => string | null): void {
  session.setPermissionRequestHandler((_contents, permission, callback, details) =>
    callback(ALLOWED.has(permission) && isUiUrl(details.requestingUrl, uiOrigin())),
  );
  session.setPermissionCheckHandler((_contents, permission, requestingOrigin) => ALLOWED.has(permission) && isUiUrl(requestingOrigin, uiOrigin()));
}
