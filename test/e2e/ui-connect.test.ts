import { describe, expect, it } from 'vitest';
import { chromiumMissing, pageProblems } from '../helpers/chromium.ts';
import { startUiServe } from '../helpers/serve-process.ts';
import { useUiFarm, openUi, saveScreenshot, tid, waitConnected } from './ui-driver.ts';

// Opening the UI from the link `serve` prints: the token leaves the address bar, the events
// socket connects, a new queue shows what to do; a wrong token is said so; the page is served
// with its security headers.

const skip = chromiumMissing();

const CSP =
  "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'none'";

describe.skipIf(skip)(`UI in Chromium: connecting${skip ? ` (skipped: ${skip})` : ''}`, () => {
  const { scratch, procs, chrome } = useUiFarm();

  it('opens from the printed link: token stripped from the address bar, socket open, empty queue explains what to do', async () => {
    const serve = await startUiServe(procs, { dataDir: await scratch.dir('ui-data'), localAgent: false });
    const page = await chrome.newPage();
    await openUi(page, serve.uiUrl);
    await waitConnected(page);

    expect(page.url()).not.toContain('token');
    expect(page.url()).not.toContain(serve.token);
    expect(page.url().startsWith(`${serve.url}/`)).toBe(true);

    const empty = page.locator(tid('empty-state'));
    await empty.waitFor();
    expect(await empty.innerText()).toMatch(/drop video files/i);
    expect(await page.locator(tid('queue-row')).count()).toBe(0);
    await saveScreenshot(page, 'queue-empty.png');
    expect(pageProblems(page)).toEqual([]);
  });

  it('says the token was rejected when the link carries a wrong one, and never connects', async () => {
    const serve = await startUiServe(procs, { dataDir: await scratch.dir('ui-data'), localAgent: false });
    const page = await chrome.newPage();
    await openUi(page, `${serve.url}/#token=efa_not-the-right-token`);

    // The contract names no testid for it; the UI has `token-rejected`, and the words are what a user reads.
    const rejected = page.locator(tid('token-rejected')).or(page.getByText(/token rejected/i)).first();
    await rejected.waitFor({ timeout: 20_000 });
    expect(await rejected.innerText()).toMatch(/token rejected/i);
    expect(page.url()).not.toContain('efa_not-the-right-token');
    expect(await page.locator(tid('connection-status', '[data-state="open"]')).count()).toBe(0);
    await saveScreenshot(page, 'token-rejected.png');
  });

  it('serves the page with the CSP and the other security headers, and the page breaks none of them', async () => {
    const serve = await startUiServe(procs, { dataDir: await scratch.dir('ui-data'), localAgent: false });
    const page = await chrome.newPage();
    const assets: { url: string; csp: string | undefined; nosniff: string | undefined }[] = [];
    page.on('response', (r) => {
      if (new URL(r.url()).pathname.startsWith('/assets/')) assets.push({ url: r.url(), csp: r.headers()['content-security-policy'], nosniff: r.headers()['x-content-type-options'] });
    });
    const response = await page.goto(serve.uiUrl);
    expect(response?.status()).toBe(200);
    const headers = response!.headers();
    expect(headers['content-security-policy']).toBe(CSP);
    expect(headers['x-content-type-options']).toBe('nosniff');
    expect(headers['referrer-policy']).toBe('no-referrer');
    expect(headers['content-type']).toMatch(/^text\/html/);
    expect(headers['cache-control']).toMatch(/no-store/);

    // The app works under its own policy: it connects, and no script, style or socket was blocked.
    await waitConnected(page);
    expect(assets.length).toBeGreaterThan(0);
    for (const a of assets) {
      expect(a.csp, a.url).toBe(CSP);
      expect(a.nosniff, a.url).toBe('nosniff');
    }
    expect(pageProblems(page)).toEqual([]);
  });
});
