// What the UI bench runs inside the page. Strings, not functions: tsx (keepNames) would wrap
// named functions in a `__name` helper that the page does not have.

/** Everything the probes record, on `window.__efBench`. */
export interface PageProbes {
  /** performance.now() (ms since navigation start) when the first queue row with a job id had a layout box. */
  firstRowAt: number | null;
  /** Long tasks (> 50 ms, Chromium's definition) since navigation start. */
  longTasks: { start: number; duration: number }[];
}

/**
 * Installed before navigation (addInitScript), so nothing the page does escapes it: a
 * PerformanceObserver for 'longtask' and a MutationObserver that notes when the first row exists.
 * The MutationObserver stops once it has seen a row, so it costs nothing while scrolling.
 */
export const PROBES_INIT = `(() => {
  const rec = { firstRowAt: null, longTasks: [] };
  window.__efBench = rec;
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) rec.longTasks.push({ start: e.startTime, duration: e.duration });
  }).observe({ type: 'longtask', buffered: true });
  const mo = new MutationObserver(() => {
    const row = document.querySelector('[data-testid="queue-row"][data-job-id]');
    if (row && row.getBoundingClientRect().height > 0) {
      rec.firstRowAt = performance.now();
      mo.disconnect();
    }
  });
  mo.observe(document, { subtree: true, childList: true, attributes: true });
})();`;

export interface ScrollResult {
  scrollStart: number;
  /** ms from the last scroll step until the rows in view all carried job ids and the last job was shown. */
  settleMs: number | null;
  rowsMax: number;
  steps: number;
  scrollHeight: number;
  lastShownId: number | null;
}

/**
 * Scrolls the queue list from top to bottom in `steps` scrollTop steps, one animation frame
 * apart (about as fast as a scrollbar drag), counting the rows in the DOM at every frame; then
 * waits for the rows in view to be filled (the data of the end of the list fetched and shown).
 */
export function scrollScript(steps: number, settleTimeoutMs: number): string {
  return `(async () => {
    const list = document.querySelector('[data-testid="queue-list"]');
    if (!list) throw new Error('no [data-testid="queue-list"] in the page');
    const frame = () => new Promise((r) => requestAnimationFrame(() => r()));
    const rows = () => list.querySelectorAll('[data-testid="queue-row"]').length;
    let rowsMax = rows();
    const scrollStart = performance.now();
    for (let i = 1; i <= ${steps}; i++) {
      list.scrollTop = Math.round(((list.scrollHeight - list.clientHeight) * i) / ${steps});
      await frame();
      rowsMax = Math.max(rowsMax, rows());
    }
    const scrolledAt = performance.now();
    const box = list.getBoundingClientRect();
    const inView = () => [...list.querySelectorAll('[data-testid="queue-row"]')].filter((r) => {
      const b = r.getBoundingClientRect();
      return b.height > 0 && b.bottom > box.top + 1 && b.top < box.bottom - 1;
    });
    let settleMs = null;
    let lastShownId = null;
    while (performance.now() - scrolledAt < ${settleTimeoutMs}) {
      await frame();
      rowsMax = Math.max(rowsMax, rows());
      const shown = inView();
      const filled = shown.length > 0 && shown.every((r) => r.getAttribute('data-job-id'));
      const atEnd = list.scrollTop + list.clientHeight >= list.scrollHeight - 2;
      if (filled && atEnd) {
        settleMs = performance.now() - scrolledAt;
        lastShownId = Number(shown[shown.length - 1].getAttribute('data-job-id'));
        break;
      }
    }
    // Long-task entries are delivered after the task: give the observer a few frames to get them.
    for (let i = 0; i < 10; i++) await frame();
    return { scrollStart, settleMs, rowsMax, steps: ${steps}, scrollHeight: list.scrollHeight, lastShownId };
  })()`;
}

export interface FetchTiming {
  /** fetch() resolved: the response's headers arrived. */
  firstByteMs: number;
  /** The JSON body read and parsed. */
  totalMs: number;
  jobs: number;
}

/** `times` sequential fetches of `path` from the page, as the UI's client makes them (bearer token). */
export function fetchScript(path: string, token: string, times: number): string {
  return `(async () => {
    const out = [];
    for (let i = 0; i < ${times}; i++) {
      const t0 = performance.now();
      const res = await fetch(${JSON.stringify(path)}, { headers: { authorization: 'Bearer ' + ${JSON.stringify(token)}, accept: 'application/json' }, cache: 'no-store' });
      const t1 = performance.now();
      const body = await res.json();
      const t2 = performance.now();
      if (!res.ok) throw new Error(${JSON.stringify(path)} + ' answered ' + res.status);
      out.push({ firstByteMs: t1 - t0, totalMs: t2 - t0, jobs: (body.jobs || []).length });
    }
    return out;
  })()`;
}

/** The navigation's own timings (index.html first byte, DOMContentLoaded), ms since navigation start. */
export const NAVIGATION_SCRIPT = `(() => {
  const n = performance.getEntriesByType('navigation')[0];
  return n ? { responseStart: n.responseStart, domContentLoaded: n.domContentLoadedEventEnd } : null;
})()`;
