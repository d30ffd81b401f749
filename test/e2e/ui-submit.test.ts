import { existsSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { expectEncodeOf, filesUnder } from '../helpers/cli.ts';
import { chromiumMissing, pageProblems } from '../helpers/chromium.ts';
import { makeClip } from '../helpers/clips.ts';
import { startUiServe } from '../helpers/serve-process.ts';
import { digitsOf, dragFilesOver, dropDragged, useUiFarm, jobDetail, openUi, recorded, saveScreenshot, tid, waitConnected, waitForRow } from './ui-driver.ts';

// The browser path of submission (spec/ui.md "Browser submission"): files dropped on the window
// are uploaded to the coordinator's inbox, submitted as one batch, encoded by the local agent
// with real ffmpeg, and the queue shows them running and done.

const skip = chromiumMissing();

/** libx265 `-preset fast`: a software preset slow enough that a 12 s 640×360 clip shows its progress. */
const PRESET = 'hevc-fast';

describe.skipIf(skip)(`UI in Chromium: drop files to encode${skip ? ` (skipped: ${skip})` : ''}`, () => {
  const { scratch, procs, chrome } = useUiFarm();

  it('uploads two dropped clips, submits them, shows progress and both done with sizes; the outputs are real encodes', async () => {
    const dataDir = await scratch.dir('ui-data');
    const media = await scratch.dir('ui-media');
    const outDir = await scratch.dir('ui-out');
    const [short, long, serve] = await Promise.all([
      makeClip(media, 'short.mp4', { seconds: 2 }),
      makeClip(media, 'long.mp4', { seconds: 12, width: 640, height: 360 }),
      startUiServe(procs, { dataDir }),
    ]);
    const page = await chrome.newPage();
    await openUi(page, serve.uiUrl);
    await waitConnected(page);

    // Drag over the window: the overlay says it will take the files; drop them.
    await dragFilesOver(page, [{ file: short }, { file: long }]);
    await page.locator(tid('drop-overlay')).waitFor();
    await dropDragged(page);

    const dialog = page.locator(tid('submit-dialog'));
    await dialog.waitFor();
    const listed = await dialog.locator(tid('submit-file')).allInnerTexts();
    expect(listed).toHaveLength(2);
    expect(listed.join('\n')).toContain('short.mp4');
    expect(listed.join('\n')).toContain('long.mp4');
    await page.locator(tid('drop-overlay')).waitFor({ state: 'detached', timeout: 5_000 }).catch(async () => {
      // Some UIs keep the overlay mounted but hidden; it must not stay visible over the dialog.
      expect(await page.locator(tid('drop-overlay')).isVisible()).toBe(false);
    });

    await dialog.locator(tid('submit-preset')).selectOption(PRESET);
    await dialog.locator(tid('submit-outdir')).fill(outDir);
    await dialog.locator(tid('submit-confirm')).click();

    // Both rows appear (uploaded, then submitted as one batch); the dialog goes away.
    const rowNamed = (name: string) => page.locator(tid('queue-row')).filter({ has: page.locator(tid('job-name'), { hasText: name }) });
    const submitError = page.locator(tid('submit-error'));
    await rowNamed('short.mp4').or(submitError).first().waitFor({ timeout: 60_000 });
    if (await submitError.isVisible()) throw new Error(`the submit dialog says: ${await submitError.innerText()}`);
    await rowNamed('long.mp4').waitFor({ timeout: 60_000 });
    await dialog.waitFor({ state: 'hidden', timeout: 10_000 });
    const ids = {
      short: Number(await rowNamed('short.mp4').getAttribute('data-job-id')),
      long: Number(await rowNamed('long.mp4').getAttribute('data-job-id')),
    };
    expect(ids.short).toBeGreaterThan(0);
    expect(ids.long).toBeGreaterThan(0);

    for (const id of [ids.short, ids.long]) await waitForRow(page, serve, id, 'done', 180_000);

    const rec = await recorded(page);
    expect(rec.seen, 'the upload showed its progress').toContain('upload-progress');
    expect(rec.seen).toContain('drop-overlay');
    const sawMidway = Object.keys(rec.midProgress).length > 0;
    if (!sawMidway) {
      // Finished before a progress frame reached the page: the bars must then stand at 100.
      for (const id of [ids.short, ids.long]) {
        expect(await page.locator(tid('queue-row', `[data-job-id="${id}"] ${tid('job-progress')}`)).getAttribute('aria-valuenow')).toBe('100');
      }
    }
    console.info(`progress seen midway (job id → highest %): ${JSON.stringify(rec.midProgress)}; states: ${JSON.stringify(rec.states)}`);

    for (const [name, id] of Object.entries(ids)) {
      const r = page.locator(tid('queue-row', `[data-job-id="${id}"]`));
      const size = await r.locator(tid('job-size')).innerText();
      expect(size, `${name}'s size column`).toContain('→');
      const out = size.split('→')[1]!.trim();
      expect(out, `${name}'s output size`).toMatch(/\d/);
      expect(out).not.toMatch(/^[-–—]$/);
      expect((await r.locator(tid('job-state')).innerText()).toLowerCase()).toContain('done');
    }
    expect(digitsOf(await page.locator(tid('queue-count')).innerText())).toBe(2);

    // The coordinator encoded the uploaded copies (in its inbox), into the folder chosen in the dialog.
    const sources = { short, long };
    for (const [name, id] of Object.entries(ids)) {
      const { job } = await jobDetail(serve, id);
      expect(job.inputPath.startsWith(path.join(dataDir, 'inbox') + path.sep), job.inputPath).toBe(true);
      expect(job.finalPath).not.toBeNull();
      expect(path.dirname(job.finalPath!)).toBe(outDir);
      expect(existsSync(job.finalPath!)).toBe(true);
      await expectEncodeOf(job.finalPath!, sources[name as keyof typeof sources], 'hevc');
    }
    expect((await filesUnder(outDir)).filter((f) => f.endsWith('.part'))).toEqual([]);
    expect(await filesUnder(outDir)).toHaveLength(2);

    await saveScreenshot(page, 'queue-done.png');
    expect(pageProblems(page)).toEqual([]);
  });
});
