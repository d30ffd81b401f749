import { accessSync, constants, mkdirSync } from 'node:fs';
import path from 'node:path';
import { chromium, type Browser, type BrowserContext, type BrowserContextOptions, type Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll } from 'vitest';

// Real Chromium for the UI's end-to-end tests and bench: Debian's chromium driven by
// playwright-core (no Playwright-downloaded browser: nothing can be downloaded on these machines).

/** The flags STACK.md found to work here: headless, no sandbox (root in a container), no GPU, nothing phoning home. */
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
] as const;

/** `CHROMIUM_PATH`, else Debian's `/usr/bin/chromium`. */
export function chromiumPath(): string {
  return process.env.CHROMIUM_PATH?.trim() || '/usr/bin/chromium';
}

/**
 * Why the browser tests cannot run here (a sentence for the skip message), or undefined when
 * they can. Only a missing/unexecutable binary skips; a browser that is there but fails to start
 * is a failure, not a skip.
 */
export function chromiumMissing(): string | undefined {
  const file = chromiumPath();
  try {
    accessSync(file, constants.X_OK);
    return undefined;
  } catch {
    const how = process.env.CHROMIUM_PATH ? `CHROMIUM_PATH=${file}` : `${file} (set CHROMIUM_PATH, or apt-get install chromium)`;
    return `no executable Chromium at ${how}`;
  }
}

/** Launches the browser; the caller closes it. */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: chromiumPath(), headless: true, args: [...CHROMIUM_ARGS], timeout: 60_000 });
}

/** What went wrong inside a page: uncaught exceptions and CSP violations (both are bugs). */
export interface PageProblems {
  list: string[];
  /** Every console message, for the failure report. */
  console: string[];
}

const problemsOf = new WeakMap<Page, PageProblems>();

/** The page's uncaught exceptions and CSP violations so far (see `expectNoPageProblems`). */
export function pageProblems(page: Page): string[] {
  return problemsOf.get(page)?.list ?? [];
}

function watchProblems(page: Page): void {
  const problems: PageProblems = { list: [], console: [] };
  problemsOf.set(page, problems);
  page.on('pageerror', (err) => problems.list.push(`uncaught: ${err.message}`));
  page.on('console', (msg) => {
    problems.console.push(`${msg.type()}: ${msg.text()}`);
    // Chromium reports a blocked script/style/connection as a console error naming the policy.
    if (msg.type() === 'error' && /Content Security Policy/i.test(msg.text())) problems.list.push(`CSP: ${msg.text()}`);
  });
}

export interface ChromiumSession {
  /** The file's one browser (started in beforeAll). */
  browser(): Browser;
  /** A page in a fresh context of its own, closed after the current test. */
  newPage(options?: BrowserContextOptions): Promise<Page>;
}

export interface ChromiumSessionOptions {
  /** Where a failed test's pages are saved as `failed-<test>-<n>.png` (with their console printed). */
  failureDir?: string;
}

/**
 * Registers the hooks for one browser per test file and one context per page, closed after each
 * test, so no cookie, storage or service worker leaks between tests. Call inside a describe that
 * is skipped when `chromiumMissing()` says so.
 */
export function useChromium(opts: ChromiumSessionOptions = {}): ChromiumSession {
  let browser: Browser | undefined;
  const contexts: BrowserContext[] = [];
  const pages: Page[] = [];
  beforeAll(async () => {
    browser = await launchChromium();
  });
  afterEach(async (ctx) => {
    if (ctx.task.result?.state === 'fail' && opts.failureDir) await reportFailure(opts.failureDir, ctx.task.name, pages);
    pages.length = 0;
    await Promise.all(contexts.splice(0).map((c) => c.close().catch(() => {})));
  });
  afterAll(async () => {
    await browser?.close();
  });
  return {
    browser: () => {
      if (!browser) throw new Error('the browser is not started yet (use it inside a test)');
      return browser;
    },
    async newPage(options) {
      if (!browser) throw new Error('the browser is not started yet (use it inside a test)');
      // A desktop-sized window: the queue shows a few dozen rows, as it would for a user.
      const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, ...options });
      contexts.push(context);
      const page = await context.newPage();
      watchProblems(page);
      pages.push(page);
      return page;
    },
  };
}

/** What the pages of a failed test looked like and said: the first thing to read when a run fails. */
async function reportFailure(dir: string, testName: string, pages: readonly Page[]): Promise<void> {
  mkdirSync(dir, { recursive: true });
  const slug = testName.toLowerCase().replace(/[^a-z0-9]+/g, '-').slice(0, 60).replace(/-+$/, '');
  for (const [i, page] of pages.entries()) {
    const file = path.join(dir, `failed-${slug}-${i + 1}.png`);
    await page.screenshot({ path: file, timeout: 5_000 }).catch(() => {});
    const log = problemsOf.get(page)?.console ?? [];
    console.error(`[${testName}] page ${i + 1} at ${page.url()}: screenshot ${file}${log.length ? `\n  console:\n  ${log.slice(-30).join('\n  ')}` : ''}`);
  }
}
