import { describe, expect, it } from 'vitest';
import { JobsPageSchema } from '../../core/shared/protocol/index.ts';
import { waitFor } from '../helpers/cli.ts';
import { chromiumMissing, pageProblems } from '../helpers/chromium.ts';
import { seedQueue, startUiServe, type UiServe } from '../helpers/serve-process.ts';
import { digitsOf, useUiFarm, openUi, recorded, saveScreenshot, tid, waitConnected, waitInPage } from './ui-driver.ts';
import type { Page } from 'playwright-core';

// A queue of 100,000 jobs: the list is virtual (a bounded number of rows in the DOM however far
// it is scrolled) and shows, at each scroll position, the jobs the API has at that position.

const skip = chromiumMissing();
const JOBS = 100_000;
/** Far more than a window of rows plus overscan; far fewer than a list that renders everything. */
const MAX_ROWS = 200;

/**
 * Ids of the job rows inside the list's visible box, top to bottom, and how many rows the box
 * holds (its height over a row's): fewer ids than that means rows still loading.
 */
async function visibleRows(page: Page): Promise<{ ids: number[]; capacity: number }> {
  return (await page.evaluate(`(() => {
    const list = document.querySelector('[data-testid="queue-list"]');
    if (!list) return { ids: [], capacity: Infinity };
    const box = list.getBoundingClientRect();
    const rows = [...list.querySelectorAll('[data-testid="queue-row"][data-job-id]')]
      .map((r) => ({ id: Number(r.getAttribute('data-job-id')), rect: r.getBoundingClientRect() }))
      .filter((r) => r.rect.height > 0 && r.rect.bottom > box.top + 1 && r.rect.top < box.bottom - 1)
      .sort((a, b) => a.rect.top - b.rect.top);
    const rowHeight = rows.length ? rows[0].rect.height : 0;
    return { ids: rows.map((r) => r.id), capacity: rowHeight ? Math.floor(list.clientHeight / rowHeight) : Infinity };
  })()`)) as { ids: number[]; capacity: number };
}

/** Scrolls the list to `fraction` of its length; returns the row index that should then be near the top. */
async function scrollTo(page: Page, fraction: number): Promise<number> {
  return (await page.evaluate(`(() => {
    const list = document.querySelector('[data-testid="queue-list"]');
    const max = list.scrollHeight - list.clientHeight;
    list.scrollTop = Math.round(max * ${fraction});
    return Math.round(${fraction} * (${JOBS} - list.clientHeight / (list.scrollHeight / ${JOBS})));
  })()`)) as number;
}

/** The job ids the API lists (default order, as the queue view shows) at indexes [from, from + 2000). */
async function idsAround(serve: UiServe, index: number): Promise<Set<number>> {
  const from = Math.max(0, Math.min(JOBS - 2000, index - 1000));
  const pages = await Promise.all([0, 1000].map((d) => serve.api.get(`/jobs?offset=${from + d}&limit=1000`, JobsPageSchema)));
  return new Set(pages.flatMap((p) => p.jobs.map((j) => j.id)));
}

describe.skipIf(skip)(`UI in Chromium: a 100,000-job queue${skip ? ` (skipped: ${skip})` : ''}`, () => {
  const { scratch, procs, chrome } = useUiFarm();

  it('keeps the DOM bounded while scrolling to the middle and the end, showing the right jobs there', async () => {
    const dataDir = await scratch.dir('ui-data');
    const seeded = seedQueue(dataDir, JOBS);
    expect(seeded.jobIds).toHaveLength(JOBS);
    const serve = await startUiServe(procs, { dataDir, localAgent: false });
    const page = await chrome.newPage();
    await openUi(page, serve.uiUrl);
    await waitConnected(page);

    await page.locator(tid('queue-row', '[data-job-id]')).first().waitFor({ timeout: 30_000 });
    await waitInPage(page, `/\\d/.test(document.querySelector('[data-testid="queue-count"]')?.textContent ?? '')`, 'the job count');
    expect(digitsOf(await page.locator(tid('queue-count')).innerText())).toBe(JOBS);

    const seen: string[] = [];
    const positions: [string, number][] = [['top', 0], ['quarter', 0.25], ['middle', 0.5], ['three quarters', 0.75], ['end', 1]];
    for (const [where, fraction] of positions) {
      const index = await scrollTo(page, fraction);
      const expected = await idsAround(serve, index);
      const lastId = fraction === 1 ? (await serve.api.get(`/jobs?offset=${JOBS - 1}&limit=1`, JobsPageSchema)).jobs[0]!.id : undefined;
      let shown: number[] = [];
      try {
        await waitFor(
          `the rows at the ${where} of the list`,
          async () => {
            const v = await visibleRows(page);
            shown = v.ids;
            // A header row inside the list may take one row's height.
            const filled = shown.length >= v.capacity - 2;
            return filled && shown.every((id) => expected.has(id)) && (lastId === undefined || shown.includes(lastId));
          },
          20_000,
          100,
        );
      } catch (err) {
        throw new Error(`${(err as Error).message}: rows shown ${shown.slice(0, 5).join(', ')}…${shown.slice(-3).join(', ')}; expected ids near index ${index}${lastId ? ` and the last job ${lastId}` : ''}`);
      }
      const rows = await page.locator(tid('queue-row')).count();
      seen.push(`${where}: jobs ${shown[0]}…${shown.at(-1)} (${rows} rows in the DOM)`);
      expect(rows, `rows in the DOM at the ${where}`).toBeLessThan(MAX_ROWS);
      if (where === 'middle') {
        // Seeded in one paused batch, so queue order is submission order: the middle is job ~50,000.
        expect(Math.abs(shown[0]! - seeded.jobIds[index]!)).toBeLessThan(1000);
        await saveScreenshot(page, 'queue-100k.png');
      }
    }

    const rec = await recorded(page);
    console.info(`${seen.join('; ')}; most rows ever ${rec.maxRows}`);
    expect(rec.maxRows, 'the most queue rows ever in the DOM').toBeLessThan(MAX_ROWS);
    expect(pageProblems(page)).toEqual([]);
  });
});
