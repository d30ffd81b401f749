import { beforeEach, describe, expect, it } from 'vitest';
import type { Session } from 'electron';
import { UI_CSP, setupCsp } from '../../electron/main/csp.ts';
import { setupPermissions } from '../../electron/main/permissions.ts';
import { FakeSession, asElectron } from './fake-electron.ts';

const UI = 'http://127.0.0.1:41234';

describe('setupCsp', () => {
  let session: FakeSession;
  beforeEach(() => {
    session = new FakeSession();
    setupCsp(asElectron<Session>(session));
  });

  it('adds the UI content security policy to responses', () => {
    const headers = session.respond(`${UI}/`, { 'Content-Type': ['text/html'] });
    expect(headers?.['Content-Security-Policy']).toEqual([UI_CSP]);
    expect(headers?.['Content-Type']).toEqual(['text/html']);
    expect(UI_CSP).toContain("script-src 'self'");
    expect(UI_CSP).toContain("frame-ancestors 'none'");
  });

  it("keeps the server's own policy beside it, whatever the header's case", () => {
    const headers = session.respond(`${UI}/`, { 'content-security-policy': ["default-src 'none'"] });
    expect(headers?.['content-security-policy']).toEqual(["default-src 'none'", UI_CSP]);
    expect(Object.keys(headers ?? {})).toEqual(['content-security-policy']);
  });

  it('adds it to responses without headers too', () => {
    expect(session.respond(`${UI}/assets/app.js`)?.['Content-Security-Policy']).toEqual([UI_CSP]);
  });
});

describe('setupPermissions', () => {
  it("grants clipboard writes to the UI's origin and nothing else to anyone", () => {
    const session = new FakeSession();
    setupPermissions(asElectron<Session>(session), () => UI);
    const request = (permission: string, requestingUrl: string) => {
      let granted: boolean | undefined;
      session.permissionRequest!(null, permission, (g) => (granted = g), { requestingUrl });
      return granted;
    };
    expect(request('clipboard-sanitized-write', `${UI}/#/devices`)).toBe(true);
    expect(request('clipboard-sanitized-write', 'https://evil.example/')).toBe(false);
    for (const p of ['media', 'geolocation', 'notifications', 'openExternal', 'clipboard-read']) expect(request(p, `${UI}/`), p).toBe(false);
    expect(session.permissionCheck!(null, 'clipboard-sanitized-write', UI)).toBe(true);
    expect(session.permissionCheck!(null, 'geolocation', UI)).toBe(false);
  });
});
