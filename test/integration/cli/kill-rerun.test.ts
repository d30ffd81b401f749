import { mkdir, readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { makeClip } from '../../helpers/clips.ts';
import {
  Scratch,
  collect,
  expectEncodeOf,
  filesUnder,
  identity,
  partFilesUnder,
  runCli,
  show,
  spawnCli,
  waitFor,
  type FileIdentity,
} from '../../helpers/cli.ts';

// Issue point 10: after `kill -9` of `encodefarm encode` mid-batch, the same command again
// finishes what was left, does not redo verified outputs, leaves no partial file at any final
// path and cleans the temp files of dead attempts.

const scratch = new Scratch();
afterEach(() => scratch.cleanup());

const CLIPS = 6;
/** One encoder thread and effort `medium`, so each encode lasts long enough to be caught mid-way. */
const SLOW_PRESET = { id: 'test-slow', name: 't', codec: 'h264', quality: 23, speed: 'medium', container: 'mp4', threads: 1 };

describe('encodefarm encode after kill -9', () => {
  // Three CLI runs and six real encodes: give a loaded 2-core machine room.
  it('re-running the same command finishes the batch without redoing or exposing any output', { timeout: 240_000 }, async () => {
    const root = await scratch.dir('kill');
    const data = path.join(root, 'data');
    const clips = path.join(root, 'clips');
    const out = path.join(root, 'out');
    await mkdir(data);
    await mkdir(clips);
    const names = Array.from({ length: CLIPS }, (_, i) => `clip${i + 1}`);
    for (const n of names) await makeClip(clips, `${n}.mp4`, { seconds: 3, width: 640, height: 360 });
    const presetFile = path.join(root, 'slow.json');
    await writeFile(presetFile, JSON.stringify(SLOW_PRESET));
    const finalOf = (n: string) => path.join(out, `${n}.test-slow.mp4`);
    const args = ['encode', clips, '--out', out, '--cpu-slots', '2', '--preset', presetFile];

    // 1. Start; wait until the CLI has reported a job done (so the queue has recorded it) while
    //    another encode is in flight (its temp file exists); then kill -9.
    const child = spawnCli(args, { dataDir: data });
    const firstRun = collect(child);
    let live = '';
    child.stderr?.on('data', (c: string) => (live += c));
    let exited = false;
    void firstRun.then(() => (exited = true), () => (exited = true));
    const caught = await waitFor(
      'a job reported done and another encode in progress',
      async () => {
        if (exited) throw new Error(`encodefarm finished before it could be killed mid-batch:\n${show(await firstRun)}`);
        if (!/^done\s/m.test(live)) return undefined;
        const entries = await readdir(out).catch(() => [] as string[]);
        const finals = entries.filter((e) => e.endsWith('.test-slow.mp4') && !e.startsWith('.'));
        const temps = entries.filter((e) => e.endsWith('.part'));
        return finals.length >= 1 && temps.length >= 1 ? { finals, temps } : undefined;
      },
      90_000,
      20,
    );
    child.kill('SIGKILL');
    const killed = await firstRun;
    expect(killed.signal, show(killed)).toBe('SIGKILL');

    // 2. No final path holds a partial file: whatever is there is a complete, verified encode.
    const present = (await readdir(out)).filter((e) => e.endsWith('.test-slow.mp4') && !e.startsWith('.'));
    expect(present).toEqual(expect.arrayContaining(caught.finals));
    expect(present.length, `killed too late: ${present.join(', ')}`).toBeLessThan(CLIPS);
    const deadTemps = await partFilesUnder(out);
    const before = new Map<string, FileIdentity>();
    for (const file of present) {
      const n = file.replace(/\.test-slow\.mp4$/, '');
      await expectEncodeOf(finalOf(n), path.join(clips, `${n}.mp4`), 'h264');
      before.set(n, await identity(finalOf(n)));
    }

    // 3. The same command again: finishes, continues the same batch, rewrites nothing.
    const again = await runCli(args, { dataDir: data });

    expect(again.code, show(again)).toBe(0);
    expect(again.stderr).toMatch(/continuing batch 1\b/);
    for (const n of names) await expectEncodeOf(finalOf(n), path.join(clips, `${n}.mp4`), 'h264');
    for (const [n, id] of before) expect(await identity(finalOf(n)), `${n} was rewritten`).toEqual(id);
    // Jobs whose output was already verified are not encoded again.
    for (const n of before.keys()) expect(again.stderr, show(again)).not.toMatch(new RegExp(`^started\\s+${n}\\.mp4 `, 'm'));
    // The temp files of the attempts that died with the process are gone too.
    expect(await partFilesUnder(root), `dead temps were ${deadTemps.join(', ')}`).toEqual([]);
    expect(await filesUnder(out)).toEqual(names.map((n) => `${n}.test-slow.mp4`));

    // 4. One batch, each job done exactly once.
    const status = await runCli(['status'], { dataDir: data });
    expect(status.code, show(status)).toBe(0);
    const batchRows = status.stdout.split('\n').filter((l) => /^\d+\s+\d{4}-\d\d-\d\d /.test(l));
    expect(batchRows, status.stdout).toHaveLength(1);
    expect(batchRows[0]).toMatch(new RegExp(`\\s${CLIPS} done$`));
    for (const n of names) {
      const rows = status.stdout.split('\n').filter((l) => new RegExp(`^\\d+\\s+${n}\\.mp4\\s`).test(l));
      expect(rows, status.stdout).toHaveLength(1);
      expect(rows[0]).toMatch(/\sdone\s/);
    }
  });

  it('a kill just after an output is renamed into place (before the queue records it done) does not fail that job on re-run', async () => {
    const root = await scratch.dir('kill-commit');
    const data = path.join(root, 'data');
    const clips = path.join(root, 'clips');
    const out = path.join(root, 'out');
    await mkdir(data);
    await mkdir(clips);
    const names = ['c1', 'c2', 'c3'];
    for (const n of names) await makeClip(clips, `${n}.mp4`, { seconds: 1, width: 320, height: 180 });
    const args = ['encode', clips, '--out', out, '--cpu-slots', '1'];

    // Kill the moment the first output appears at its final path: between the commit (link into
    // place) and the queue recording the job done, as a crash or power cut can.
    const child = spawnCli(args, { dataDir: data });
    const firstRun = collect(child);
    let exited = false;
    void firstRun.then(() => (exited = true), () => (exited = true));
    const first = await waitFor(
      'the first output at its final path',
      async () => {
        if (exited) throw new Error(`encodefarm finished before it could be killed:\n${show(await firstRun)}`);
        const entries = await readdir(out).catch(() => [] as string[]);
        return entries.find((e) => e.endsWith('.h264-fast.mp4') && !e.startsWith('.'));
      },
      90_000,
      1,
    );
    child.kill('SIGKILL');
    await firstRun;
    const n = first.replace(/\.h264-fast\.mp4$/, '');
    await expectEncodeOf(path.join(out, first), path.join(clips, `${n}.mp4`), 'h264');
    const kept = await identity(path.join(out, first));
    const stateAtKill = (await runCli(['status'], { dataDir: data })).stdout;

    const again = await runCli(args, { dataDir: data });

    // The output is this batch's own verified encode: the re-run must count it done, not report
    // it as someone else's file that was "skipped".
    expect(again.code, `state at kill:\n${stateAtKill}\n${show(again)}`).toBe(0);
    expect(await identity(path.join(out, first))).toEqual(kept);
    for (const c of names) await expectEncodeOf(path.join(out, `${c}.h264-fast.mp4`), path.join(clips, `${c}.mp4`), 'h264');
    expect(await partFilesUnder(root)).toEqual([]);
  });
});
