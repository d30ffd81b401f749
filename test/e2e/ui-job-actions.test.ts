import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { filesUnder, waitFor } from '../helpers/cli.ts';
import { chromiumMissing, pageProblems } from '../helpers/chromium.ts';
import { FFMPEG, makeClip } from '../helpers/clips.ts';
import { startUiServe } from '../helpers/serve-process.ts';
import { useUiFarm, jobDetail, openUi, row, saveScreenshot, submitViaApi, tid, waitConnected, waitForRow, waitInPage } from './ui-driver.ts';

// Acting on one job from the queue: cancel a running encode, open a finished job's detail.

const skip = chromiumMissing();
const run = promisify(execFile);

/**
 * A clip in full-range YUV (yuvj420p, as phones and MJPEG cameras write). Converting it to the
 * presets' yuv420p makes ffmpeg's scaler warn, so the job's log has real ffmpeg lines: a clean
 * encode at `-loglevel warning` prints none.
 */
async function makeFullRangeClip(dir: string, name: string, seconds: number): Promise<string> {
  const out = path.join(dir, name);
  await run(FFMPEG, ['-hide_banner', '-nostdin', '-loglevel', 'error', '-n', '-f', 'lavfi', '-i', 'testsrc2=size=320x240:rate=25', '-t', String(seconds), '-c:v', 'libx264', '-preset', 'ultrafast', '-pix_fmt', 'yuvj420p', `file:${out}`]);
  return out;
}

describe.skipIf(skip)(`UI in Chromium: job actions and detail${skip ? ` (skipped: ${skip})` : ''}`, () => {
  const { scratch, procs, chrome } = useUiFarm();

  it('cancels a running encode from the toolbar: the row ends canceled and no output is left', async () => {
    const media = await scratch.dir('ui-media');
    const outDir = await scratch.dir('ui-out');
    // 40 s of 640×360 through libx265: tens of seconds of encoding on this machine, ample time to cancel.
    const [clip, serve] = await Promise.all([
      makeClip(media, 'long.mp4', { seconds: 40, width: 640, height: 360 }),
      startUiServe(procs, { dataDir: await scratch.dir('ui-data') }),
    ]);
    const page = await chrome.newPage();
    await openUi(page, serve.uiUrl);
    await waitConnected(page);
    const { jobIds } = await submitViaApi(serve, [clip], 'hevc-fast', outDir);
    const id = jobIds[0]!;

    const running = await waitForRow(page, serve, id, 'running', 120_000);
    await running.locator(tid('row-select')).check();
    await page.locator(tid('action-cancel')).click();

    await waitForRow(page, serve, id, 'canceled', 60_000);
    const { job } = await jobDetail(serve, id);
    expect(job.state).toBe('canceled');
    expect(job.finalPath).toBeNull();
    expect(existsSync(job.outputPath)).toBe(false);
    // The killed encode's temp file goes too (removed once ffmpeg has exited).
    await waitFor('no file left in the output folder', async () => (await filesUnder(outDir)).length === 0, 20_000);
    expect((await row(page, id).locator(tid('job-state')).innerText()).toLowerCase()).toContain('cancel');
    await saveScreenshot(page, 'queue-canceled.png');
    expect(pageProblems(page)).toEqual([]);
  });

  it("opens a finished job's detail: probe of the source, ffmpeg's log, the output path; closes again", async () => {
    const media = await scratch.dir('ui-media');
    const outDir = await scratch.dir('ui-out');
    const [clip, serve] = await Promise.all([makeFullRangeClip(media, 'phone.mp4', 3), startUiServe(procs, { dataDir: await scratch.dir('ui-data') })]);
    const page = await chrome.newPage();
    await openUi(page, serve.uiUrl);
    await waitConnected(page);
    const { jobIds } = await submitViaApi(serve, [clip], 'h264-fast', outDir);
    const id = jobIds[0]!;
    const done = await waitForRow(page, serve, id, 'done', 120_000);
    const api = await jobDetail(serve, id);
    expect(api.log.length, 'the API has log lines for this job').toBeGreaterThan(0);

    await done.locator(tid('job-name')).click();
    const detail = page.locator(tid('job-detail', `[data-job-id="${id}"]`));
    await detail.waitFor();
    expect(new URL(page.url()).hash).toBe(`#/queue/job/${id}`);

    // The log is ffmpeg's own output as the API keeps it.
    const log = detail.locator(tid('job-log'));
    await log.waitFor();
    expect(await detail.locator(`pre${tid('job-log')}`).count(), 'job-log is a <pre>').toBe(1);
    await waitInPage(page, `(document.querySelector('[data-testid="job-log"]')?.textContent ?? '').includes(${JSON.stringify(api.log.at(-1)!.trim())})`, "the log's last line", 10_000);
    const logText = await log.innerText();
    expect(logText).toContain(api.log[0]!.trim());
    expect(logText).toMatch(/swscaler|deprecated pixel format/);

    // The probe describes the source: codec and resolution.
    const probe = detail.locator(tid('job-probe'));
    await waitInPage(page, `/320\\s*[×x]\\s*240/.test(document.querySelector('[data-testid="job-probe"]')?.textContent ?? '')`, 'the probe', 15_000);
    const probeText = await probe.innerText();
    expect(probeText).toMatch(/h\.?264/i);
    expect(probeText).toMatch(/320\s*[×x]\s*240/);

    expect(api.job.finalPath).not.toBeNull();
    expect(await detail.locator(tid('job-output-path')).innerText()).toContain(api.job.finalPath!);
    await detail.locator(tid('job-attempts')).waitFor();
    await saveScreenshot(page, 'job-detail.png');

    await detail.locator(tid('job-detail-close')).click();
    await detail.waitFor({ state: 'detached' });
    expect(new URL(page.url()).hash).toBe('#/queue');
    expect(pageProblems(page)).toEqual([]);
  });
});
