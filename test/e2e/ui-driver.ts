import { mkdirSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Locator, Page } from 'playwright-core';
import { JobDetailSchema, SubmitResponseSchema, type JobDetail, type SubmitResponse } from '../../core/shared/protocol/index.ts';
import { afterEach } from 'vitest';
import { Scratch } from '../helpers/cli.ts';
import { useChromium } from '../helpers/chromium.ts';
import { FarmProcesses } from '../helpers/farm.ts';
import type { UiServe } from '../helpers/serve-process.ts';

// Driving the UI through the DOM contract of spec/ui.md (data-testid names only, never classes
// or texts that a designer may change). Scripts that run in the page are strings: tsx/esbuild
// may wrap named functions in a `__name` helper that does not exist in the page.

/**
 * Polls a JavaScript expression in the page until it is truthy. Not page.waitForFunction: that
 * evaluates its predicate with eval inside the page, which the UI's CSP (no 'unsafe-eval')
 * rightly refuses; page.evaluate goes through the DevTools protocol instead.
 */
export async function waitInPage(page: Page, expression: string, what: string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await page.evaluate(expression))) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs / 1000} s waiting in the page for ${what} (${expression})`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** `[data-testid="…"]`, the only way these tests find elements. */
export const tid = (id: string, extra = ''): string => `[data-testid="${id}"]${extra}`;

/** A queue row by job id (and state). */
export function row(page: Page, jobId: number, state?: string): Locator {
  return page.locator(tid('queue-row', `[data-job-id="${jobId}"]${state ? `[data-state="${state}"]` : ''}`));
}

/** Where the README and the reviewers find the screenshots. */
export const E2E_ARTIFACTS = fileURLToPath(new URL('../../artifacts/e2e/', import.meta.url));

/**
 * Per test: temp dirs, the serve processes it starts (killed after it) and a Chromium page
 * source. Call inside a describe block.
 */
export function useUiFarm() {
  const scratch = new Scratch();
  const procs = new FarmProcesses();
  afterEach(async () => {
    await procs.killAll();
    await scratch.cleanup();
  });
  // After the cleanup hook: afterEach hooks run last-registered first, so a failed test's pages
  // are photographed while serve is still up.
  const chrome = useChromium({ failureDir: E2E_ARTIFACTS });
  return { scratch, procs, chrome };
}

export async function saveScreenshot(page: Page, name: string): Promise<string> {
  mkdirSync(E2E_ARTIFACTS, { recursive: true });
  const file = path.join(E2E_ARTIFACTS, name);
  await page.screenshot({ path: file });
  return file;
}

/**
 * Installed before the UI's own scripts: a MutationObserver that remembers what happened between
 * two looks — the most queue rows ever in the DOM, progress values strictly between 0 and 100 per
 * job, each job's state sequence, and whether transient parts (upload progress, drop overlay)
 * were ever shown — so a test never depends on polling at the right moment.
 */
const RECORDER = `(() => {
  if (window.__efRec) return;
  const rec = { seen: [], midProgress: {}, states: {}, maxRows: 0 };
  window.__efRec = rec;
  const watch = ['upload-progress', 'drop-overlay', 'submit-dialog', 'submit-error'];
  const scan = () => {
    const rows = document.querySelectorAll('[data-testid="queue-row"]');
    if (rows.length > rec.maxRows) rec.maxRows = rows.length;
    for (const r of rows) {
      const id = r.getAttribute('data-job-id');
      if (!id) continue;
      const s = r.getAttribute('data-state');
      const list = rec.states[id] || (rec.states[id] = []);
      if (s && list[list.length - 1] !== s) list.push(s);
      const bar = r.querySelector('[data-testid="job-progress"]');
      const v = bar ? Number(bar.getAttribute('aria-valuenow')) : NaN;
      if (v > 0 && v < 100) rec.midProgress[id] = Math.max(rec.midProgress[id] || 0, v);
    }
    for (const w of watch) if (!rec.seen.includes(w) && document.querySelector('[data-testid="' + w + '"]')) rec.seen.push(w);
  };
  new MutationObserver(scan).observe(document, { subtree: true, childList: true, attributes: true });
})();`;

export interface Recorded {
  seen: string[];
  midProgress: Record<string, number>;
  states: Record<string, string[]>;
  maxRows: number;
}

export async function recorded(page: Page): Promise<Recorded> {
  return (await page.evaluate('window.__efRec')) as Recorded;
}

/** Opens `url` (normally the printed UI link) with the recorder in place. */
export async function openUi(page: Page, url: string): Promise<void> {
  await page.addInitScript({ content: RECORDER });
  await page.goto(url);
}

/** Waits for the events socket to be up, as the header shows it. */
export async function waitConnected(page: Page, timeoutMs = 20_000): Promise<void> {
  try {
    await page.locator(tid('connection-status', '[data-state="open"]')).waitFor({ timeout: timeoutMs });
  } catch (err) {
    const state = await page.locator(tid('connection-status')).getAttribute('data-state', { timeout: 500 }).catch(() => 'no connection-status element');
    const text = (await page.evaluate('document.body ? document.body.innerText.slice(0, 400) : ""').catch(() => '')) as string;
    throw new Error(`the events socket did not open within ${timeoutMs / 1000} s: connection-status is ${state}; the page says ${JSON.stringify(text)}\n${(err as Error).message}`);
  }
}

/** Waits for a job's row to show `state`; on timeout says what the row and the API show instead. */
export async function waitForRow(page: Page, serve: UiServe, jobId: number, state: string, timeoutMs: number): Promise<Locator> {
  const target = row(page, jobId, state);
  try {
    await target.waitFor({ timeout: timeoutMs });
    return target;
  } catch (err) {
    const shown = await row(page, jobId).getAttribute('data-state', { timeout: 1_000 }).catch(() => 'no row');
    const api = await jobDetail(serve, jobId).then((d) => `${d.job.state} ${d.job.errorMessage ?? ''}`, (e: Error) => e.message);
    throw new Error(`job ${jobId}: waited ${timeoutMs / 1000} s for its row to show "${state}"; the row shows ${shown}, the API says ${api}\n${(err as Error).message}\n--- serve\n${serve.output().slice(-3000)}`);
  }
}

export async function jobDetail(serve: UiServe, jobId: number): Promise<JobDetail> {
  return serve.api.get(`/jobs/${jobId}`, JobDetailSchema);
}

/** `POST /api/v1/batches` as the CLI does: coordinator paths, no upload. */
export async function submitViaApi(serve: UiServe, inputs: string[], presetId: string, outDir: string): Promise<SubmitResponse> {
  return serve.api.post('/batches', SubmitResponseSchema, { inputs, presetId, outDir });
}

export interface DroppedFile {
  /** Absolute path of the bytes on this machine. */
  file: string;
  /** @default the file's base name */
  name?: string;
  /** @default video/mp4 */
  type?: string;
}

/**
 * Drags real files over the window as the browser would deliver an OS drag: File objects built in
 * the page from the files' bytes, in a DataTransfer, dispatched as dragenter + dragover on the
 * element under the middle of the window. Leaves the drag in progress (see `dropDragged`).
 */
export async function dragFilesOver(page: Page, files: DroppedFile[]): Promise<void> {
  const payload = await Promise.all(
    files.map(async (f) => ({ name: f.name ?? path.basename(f.file), type: f.type ?? 'video/mp4', b64: (await readFile(f.file)).toString('base64') })),
  );
  await page.evaluate(`(() => {
    const files = ${JSON.stringify(payload)};
    const dt = new DataTransfer();
    for (const f of files) {
      const bin = atob(f.b64);
      const bytes = new Uint8Array(bin.length);
      for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
      dt.items.add(new File([bytes], f.name, { type: f.type }));
    }
    window.__efDrag = dt;
    ${FIRE}
    fire('dragenter');
    fire('dragover');
  })()`);
}

/** Ends the drag started by `dragFilesOver` with a drop where the pointer is. */
export async function dropDragged(page: Page): Promise<void> {
  await page.evaluate(`(() => {
    const dt = window.__efDrag;
    ${FIRE}
    fire('dragover');
    fire('drop');
  })()`);
}

/** A real drop lands on whatever is under the pointer (the overlay, once it shows), bubbling up to the window. */
const FIRE = `const x = Math.floor(innerWidth / 2), y = Math.floor(innerHeight / 2);
    const fire = (type) => {
      const target = document.elementFromPoint(x, y) || document.body;
      target.dispatchEvent(new DragEvent(type, { bubbles: true, cancelable: true, composed: true, clientX: x, clientY: y, dataTransfer: window.__efDrag }));
    };`;

/** The numbers in a text such as "100,000 jobs" or "100 000 jobs", as one number. */
export function digitsOf(text: string | null): number {
  return Number((text ?? '').replace(/[^\d]/g, ''));
}
