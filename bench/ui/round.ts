import type { Browser } from 'playwright-core';
import { startProfile, stopProfile, type ProfileSummary } from './cpu-profile.ts';
import { NAVIGATION_SCRIPT, PROBES_INIT, fetchScript, scrollScript, type FetchTiming, type PageProbes, type ScrollResult } from './page-scripts.ts';

export interface RoundOptions {
  /** The printed UI link (`#token=` included). */
  uiUrl: string;
  token: string;
  steps: number;
  /** Fetches of /api/v1/jobs?limit=200 for the baseline. */
  fetches: number;
  timeoutMs: number;
  /** Take a CPU profile of the scroll (and write it here when a path is given). */
  profile?: { file: string | undefined };
}

export interface RoundResult {
  /** Navigation start → first queue row in the DOM with a layout box, ms. */
  firstRowMs: number;
  /** Longest long task from the first scroll step until the end of the list was shown (0 = none over 50 ms). */
  longestTaskMs: number;
  longTasksWhileScrolling: number;
  /** Longest long task during the load (navigation → first row), for context. */
  longestLoadTaskMs: number;
  rowsMax: number;
  settleMs: number | null;
  lastShownId: number | null;
  indexFirstByteMs: number | null;
  domContentLoadedMs: number | null;
  fetches: FetchTiming[];
  /** GET /api/v1/jobs requests the page made while scrolling (and filling the end). */
  pageFetchesWhileScrolling: number;
  /** With `profile`: where the scroll's main-thread time went. */
  profile?: ProfileSummary;
}

/**
 * One measured visit in a fresh browser context (no HTTP cache, no storage): open the UI link,
 * wait for the first rows, take the API baseline, scroll the whole list.
 */
export async function runRound(browser: Browser, opts: RoundOptions): Promise<RoundResult> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  try {
    await context.addInitScript({ content: PROBES_INIT });
    const page = await context.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(opts.uiUrl, { waitUntil: 'commit', timeout: opts.timeoutMs });
    try {
      // Polled from here (the first-row time itself is taken in the page): waitForFunction would
      // eval its predicate in the page, which the UI's CSP forbids.
      const deadline = Date.now() + opts.timeoutMs;
      while (!(await page.evaluate('window.__efBench.firstRowAt !== null'))) {
        if (Date.now() > deadline) throw new Error('timed out');
        await new Promise((r) => setTimeout(r, 50));
      }
    } catch (err) {
      const text = (await page.evaluate('document.body ? document.body.innerText.slice(0, 300) : ""').catch(() => '')) as string;
      throw new Error(`no queue row appeared within ${opts.timeoutMs / 1000} s (is the UI built? \`npm run build\`). The page says: ${JSON.stringify(text)}${errors.length ? `; page errors: ${errors.join('; ')}` : ''}\n${(err as Error).message}`);
    }
    const loaded = (await page.evaluate('window.__efBench')) as PageProbes;
    const nav = (await page.evaluate(NAVIGATION_SCRIPT)) as { responseStart: number; domContentLoaded: number } | null;
    // The baseline: what one page of the list costs through the same HTTP stack, from the same page.
    const fetches = (await page.evaluate(fetchScript('/api/v1/jobs?limit=200', opts.token, opts.fetches))) as FetchTiming[];
    const cdp = opts.profile ? await startProfile(page) : undefined;
    let pageFetches = 0;
    const countFetch = (req: { url(): string }) => {
      if (new URL(req.url()).pathname === '/api/v1/jobs') pageFetches++;
    };
    page.on('request', countFetch);
    const scroll = (await page.evaluate(scrollScript(opts.steps, opts.timeoutMs))) as ScrollResult;
    page.off('request', countFetch);
    const profile = cdp ? await stopProfile(cdp, opts.profile?.file) : undefined;
    const probes = (await page.evaluate('window.__efBench')) as PageProbes;
    const during = probes.longTasks.filter((t) => t.start + t.duration >= scroll.scrollStart);
    const load = probes.longTasks.filter((t) => t.start <= loaded.firstRowAt!);
    if (errors.length) throw new Error(`the page threw: ${errors.join('; ')}`);
    return {
      firstRowMs: loaded.firstRowAt!,
      longestTaskMs: Math.max(0, ...during.map((t) => t.duration)),
      longTasksWhileScrolling: during.length,
      longestLoadTaskMs: Math.max(0, ...load.map((t) => t.duration)),
      rowsMax: scroll.rowsMax,
      settleMs: scroll.settleMs,
      lastShownId: scroll.lastShownId,
      indexFirstByteMs: nav?.responseStart ?? null,
      domContentLoadedMs: nav?.domContentLoaded ?? null,
      fetches,
      pageFetchesWhileScrolling: pageFetches,
      ...(profile && { profile }),
    };
  } finally {
    await context.close();
  }
}
