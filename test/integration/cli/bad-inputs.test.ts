import { execFile } from 'node:child_process';
import { chmod, copyFile, mkdir, readFile, rename, stat, writeFile } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { FFMPEG, makeClip } from '../../helpers/clips.ts';
import {
  Scratch,
  canMountTmpfs,
  expectEncodeOf,
  filesUnder,
  identity,
  linesStartingWith,
  partFilesUnder,
  resolveTool,
  runCli,
  show,
} from '../../helpers/cli.ts';

// Issue point 11: every kind of bad input gets one clear error line and never stops the rest of
// the batch. Real ffmpeg, real files, the CLI as a user runs it.

const run = promisify(execFile);
const scratch = new Scratch();
afterEach(() => scratch.cleanup());

const CAN_MOUNT = canMountTmpfs('size=64k');
const CAN_MOUNT_RO = CAN_MOUNT && canMountTmpfs('ro,size=64k');
const REAL_FFMPEG = resolveTool('ffmpeg');
/** Says in the test's name why it did not run, where it did not. */
const unless = (ok: boolean, why: string) => (ok ? '' : ` — SKIPPED: ${why}`);

async function workspace() {
  const root = await scratch.dir('bad');
  const data = path.join(root, 'data');
  const clips = path.join(root, 'clips');
  await mkdir(data);
  await mkdir(clips);
  return { root, data, clips, out: path.join(root, 'out') };
}

const ffmpeg = (args: string[]) => run(FFMPEG, ['-hide_banner', '-nostdin', '-loglevel', 'error', '-n', ...args]);

/** testsrc2 with heavy temporal noise: barely compressible, so even a short encode is megabytes. */
async function noisyClip(dir: string, name: string, seconds: number, width: number, height: number): Promise<string> {
  const out = path.join(dir, name);
  await ffmpeg([
    '-f', 'lavfi', '-i', `testsrc2=size=${width}x${height}:rate=25`,
    '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000',
    '-vf', 'noise=alls=60:allf=t', '-t', String(seconds),
    '-c:v', 'libx264', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p', '-c:a', 'aac', '-b:a', '96k',
    `file:${out}`,
  ]);
  return out;
}

const ODD_GOOD_NAMES = [
  'with space.mp4',
  `q'uote"s.mp4`,
  'clip-äß-日本.mp4',
  'new\nline.mp4',
  '-dash.mp4',
  '-dash-abs.mp4',
  'a:b.mp4',
  'concat:x.mp4',
];

interface Bad {
  name: string;
  /** How the error line must explain it. */
  reason: RegExp;
}

const BAD: Bad[] = [
  { name: 'missing.mp4', reason: /not found|no such file/i },
  { name: 'zero.mp4', reason: /empty|0 bytes/i },
  { name: 'notes.mp4', reason: /not a (readable |valid )?video/i },
  { name: 'photo.mp4', reason: /image/i },
  { name: 'noise.mkv', reason: /not a (readable |valid )?video/i },
  { name: 'truncated.mp4', reason: /truncated|moov atom not found|not a (readable |valid )?video/i },
  { name: 'audio.m4a', reason: /no video stream|audio-only/i },
  { name: 'x.mp4', reason: /directory/i },
];

describe('encodefarm encode with bad inputs', () => {
  it('gives every bad input one clear line naming the file and its reason, and encodes every good one, odd names included', { timeout: 240_000 }, async () => {
    const w = await workspace();
    const good1 = await makeClip(w.clips, 'good1.mp4', { seconds: 1, width: 320, height: 180 });
    const good2 = await makeClip(w.clips, 'good2.mp4', { seconds: 1, width: 320, height: 180 });
    for (const name of ODD_GOOD_NAMES) await copyFile(good1, path.join(w.clips, name));
    // Bad ones.
    await writeFile(path.join(w.clips, 'zero.mp4'), '');
    await writeFile(path.join(w.clips, 'notes.mp4'), 'Shopping list:\n- milk\n- a new camera\n');
    await ffmpeg(['-f', 'lavfi', '-i', 'testsrc2=size=64x48', '-frames:v', '1', path.join(w.clips, 'photo.jpg')]);
    await rename(path.join(w.clips, 'photo.jpg'), path.join(w.clips, 'photo.mp4'));
    await writeFile(path.join(w.clips, 'noise.mkv'), randomBytes(64 * 1024));
    const whole = await makeClip(w.root, 'whole.mp4', { seconds: 2, width: 320, height: 180 });
    const bytes = await readFile(whole);
    await writeFile(path.join(w.clips, 'truncated.mp4'), bytes.subarray(0, Math.floor(bytes.length * 0.4)));
    await ffmpeg(['-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000', '-t', '1', '-c:a', 'aac', path.join(w.clips, 'audio.m4a')]);
    await mkdir(path.join(w.clips, 'x.mp4'));
    const goodBefore = await Promise.all([good1, good2, ...ODD_GOOD_NAMES.map((n) => path.join(w.clips, n))].map(identity));

    const abs = (n: string) => path.join(w.clips, n);
    const args = [
      good1,
      ...BAD.map((b) => abs(b.name)),
      ...ODD_GOOD_NAMES.filter((n) => n !== '-dash.mp4' && n !== '-dash-abs.mp4').map(abs),
      // A leading `-` must not be taken for an option: relative as a user types it, and absolute.
      './-dash.mp4',
      abs('-dash-abs.mp4'),
      good2,
    ];
    const r = await runCli(['encode', ...args, '--out', w.out, '--cpu-slots', '2'], { dataDir: w.data, cwd: w.clips });

    expect(r.code, show(r)).not.toBe(0);
    expect(r.code, show(r)).not.toBeNull();
    // Good ones, odd names included: done, output where expected, a complete h264 encode.
    const goodNames = ['good1.mp4', 'good2.mp4', ...ODD_GOOD_NAMES];
    for (const name of goodNames) {
      const output = path.join(w.out, `${path.basename(name, '.mp4')}.h264-fast.mp4`);
      await expectEncodeOf(output, abs(name), 'h264');
    }
    expect(await filesUnder(w.out)).toEqual(goodNames.map((n) => `${path.basename(n, '.mp4')}.h264-fast.mp4`).sort());
    expect(await Promise.all([good1, good2, ...ODD_GOOD_NAMES.map(abs)].map(identity))).toEqual(goodBefore);
    expect(r.stdout).toContain(`${goodNames.length}/${goodNames.length + BAD.length} done and verified`);

    // Bad ones: exactly one `✗` line each in the summary, naming the file, with its reason.
    const problems = linesStartingWith(r.stdout, '✗');
    expect(problems, show(r)).toHaveLength(BAD.length);
    for (const bad of BAD) {
      const mine = problems.filter((l) => l.includes(`/${bad.name}`));
      expect(mine, `${bad.name}\n${show(r)}`).toHaveLength(1);
      expect(mine[0], bad.name).toMatch(bad.reason);
      // The live log on stderr mentions it at most once too (no retry storm for a bad file).
      expect(r.stderr.split('\n').filter((l) => l.includes(bad.name === 'x.mp4' ? '/x.mp4' : bad.name)).length, `${bad.name}\n${show(r)}`).toBeLessThanOrEqual(1);
    }
    for (const name of goodNames) expect(problems.join('\n')).not.toContain(name.replace('\n', '\\n'));
    expect(await partFilesUnder(w.root)).toEqual([]);
  });

  it('fails each job with "output folder is not writable" when --out cannot be created (its parent is a file)', async () => {
    const w = await workspace();
    const a = await makeClip(w.clips, 'a.mp4', { seconds: 1, width: 320, height: 180 });
    const b = await makeClip(w.clips, 'b.mp4', { seconds: 1, width: 320, height: 180 });
    const blocker = path.join(w.root, 'not-a-folder');
    await writeFile(blocker, 'a regular file\n');

    const r = await runCli(['encode', a, b, '--out', path.join(blocker, 'out')], { dataDir: w.data });

    expect(r.code, show(r)).toBe(1);
    const problems = linesStartingWith(r.stdout, '✗');
    expect(problems, show(r)).toHaveLength(2);
    for (const name of ['a.mp4', 'b.mp4']) {
      expect(problems.filter((l) => l.includes(`/${name}:`) && /output folder is not writable/.test(l)), show(r)).toHaveLength(1);
    }
    expect(await readFile(blocker, 'utf8')).toBe('a regular file\n');
  });

  it.skipIf(!CAN_MOUNT_RO)(`fails each job with "output folder is not writable" on a read-only mount${unless(CAN_MOUNT_RO, 'mounting a read-only tmpfs is not permitted here')}`, async () => {
    const w = await workspace();
    const a = await makeClip(w.clips, 'a.mp4', { seconds: 1, width: 320, height: 180 });
    const b = await makeClip(w.clips, 'b.mp4', { seconds: 1, width: 320, height: 180 });
    const ro = path.join(w.root, 'ro');
    await mkdir(ro);
    scratch.mountTmpfs(ro, 'ro,size=64k');

    const r = await runCli(['encode', a, b, '--out', ro], { dataDir: w.data });

    expect(r.code, show(r)).toBe(1);
    const problems = linesStartingWith(r.stdout, '✗');
    expect(problems, show(r)).toHaveLength(2);
    expect(problems.every((l) => /output folder is not writable/.test(l)), show(r)).toBe(true);
    expect(await filesUnder(ro)).toEqual([]);
  });

  it.skipIf(!CAN_MOUNT)(`blocks a job that fills the disk mid-encode, leaves no partial file, and finishes the batch${unless(CAN_MOUNT, 'mounting a tmpfs is not permitted here; the injected-ENOSPC test below covers the path')}`, async () => {
    const w = await workspace();
    const big = await noisyClip(w.clips, 'big.mp4', 2, 640, 360);
    const small = await makeClip(w.clips, 'small.mp4', { seconds: 1, width: 320, height: 180 });
    const full = path.join(w.root, 'full');
    await mkdir(full);
    scratch.mountTmpfs(full, 'size=1m');

    // One CPU slot: `big` runs first and fills the disk; `small` runs after its temp file is gone.
    const r = await runCli(['encode', big, small, '--out', full, '--cpu-slots', '1'], { dataDir: w.data });

    expect(r.code, show(r)).toBe(1);
    expect(r.stdout, show(r)).toMatch(/^big\.mp4 .*\b(BLOCKED|FAILED)$/m);
    const problems = linesStartingWith(r.stdout, '✗');
    expect(problems, show(r)).toHaveLength(1);
    expect(problems[0]).toContain('big.mp4');
    expect(problems[0]).toMatch(/space/i);
    // Nothing partial: neither at the final path nor as a temp file in that folder.
    expect(await filesUnder(full)).toEqual(['small.h264-fast.mp4']);
    await expectEncodeOf(path.join(full, 'small.h264-fast.mp4'), small, 'h264');
  });

  it.skipIf(!REAL_FFMPEG)(`blocks a job on an injected ENOSPC (fake ffmpeg) and removes what it had written${unless(Boolean(REAL_FFMPEG), 'no ffmpeg found to wrap')}`, async () => {
    const w = await workspace();
    const a = await makeClip(w.clips, 'a.mp4', { seconds: 1, width: 320, height: 180 });
    const fake = path.join(w.root, 'fake-ffmpeg');
    // FAKE ffmpeg (not an encoder): `-version`/`-encoders` go to the real ffmpeg; an encode writes
    // 64 KiB to its output, then fails the way ffmpeg does when the disk fills up (ENOSPC). It
    // stands in for a full disk where mounting a small tmpfs is not permitted.
    await writeFile(
      fake,
      `#!/bin/sh
case " $* " in *" -progress "*) ;; *) exec '${REAL_FFMPEG}' "$@" ;; esac
for last; do :; done
head -c 65536 /dev/zero > "\${last#file:}"
printf 'frame=10\\nfps=0.00\\nout_time_us=400000\\nspeed=1.5x\\nprogress=continue\\n'
echo "av_interleaved_write_frame(): No space left on device" >&2
echo "Error writing trailer of $last: No space left on device" >&2
exit 1
`,
    );
    await chmod(fake, 0o755);

    const r = await runCli(['encode', a, '--out', w.out, '--ffmpeg', fake, '--ffprobe', resolveTool('ffprobe'), '--gpus', 'none'], {
      dataDir: w.data,
    });

    expect(r.code, show(r)).toBe(1);
    expect(r.stdout, show(r)).toMatch(/^a\.mp4 .*\bBLOCKED$/m);
    expect(linesStartingWith(r.stdout, '✗').join('\n'), show(r)).toMatch(/a\.mp4: .*space/i);
    expect(await filesUnder(w.out)).toEqual([]);
  });

  it('exits 3 and says how to install ffmpeg when there is no ffmpeg at all', async () => {
    const w = await workspace();
    const a = await makeClip(w.clips, 'a.mp4', { seconds: 1, width: 320, height: 180 });

    const r = await runCli(['encode', a, '--out', w.out, '--ffmpeg', '/nonexistent/ffmpeg'], { dataDir: w.data });

    expect(r.code, show(r)).toBe(3);
    expect(r.stderr).toContain('/nonexistent/ffmpeg');
    expect(r.stderr).toMatch(/install ffmpeg \(e\.g\. apt-get install ffmpeg\)/);
    await expect(stat(w.out)).rejects.toThrow();
  });
});
