import { chmod, mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { makeClip } from '../../helpers/clips.ts';
import { Scratch, collect, resolveTool, runCli, show, spawnCli } from '../../helpers/cli.ts';

const scratch = new Scratch();
afterEach(() => scratch.cleanup());

describe('a preset no device can encode', () => {
  it('is refused at once with the reason, instead of a job that waits forever', async () => {
    const root = await scratch.dir('no-av1');
    const clip = await makeClip(root, 'a.mp4', { seconds: 1 });
    // FAKE ffmpeg: the real one, except that its encoder list has no AV1 encoder at all.
    const fake = path.join(root, 'ffmpeg');
    await writeFile(fake, `#!/bin/sh\ncase "$*" in *-encoders*) '${resolveTool('ffmpeg')}' "$@" | grep -v -i av1 ;; *) exec '${resolveTool('ffmpeg')}' "$@" ;; esac\n`);
    await chmod(fake, 0o755);

    const r = await runCli(['encode', clip, '--preset', 'av1-fast', '--ffmpeg', fake, '--ffprobe', resolveTool('ffprobe')], { dataDir: path.join(root, 'data') });

    expect(r.code, show(r)).toBe(1);
    expect(r.stderr).toContain('no device here can encode av1 for preset av1-fast');
  });
});

describe('two encode runs sharing one data dir', () => {
  it('each finishes its own batch, and neither takes the other’s jobs', async () => {
    const root = await scratch.dir('shared-data');
    const data = path.join(root, 'data');
    await mkdir(path.join(root, 'a'));
    await mkdir(path.join(root, 'b'));
    for (const name of ['a1', 'a2']) await makeClip(path.join(root, 'a'), `${name}.mp4`, { seconds: 1 });
    for (const name of ['b1', 'b2']) await makeClip(path.join(root, 'b'), `${name}.mp4`, { seconds: 1 });
    const [a, b] = await Promise.all([
      runCli(['encode', path.join(root, 'a'), '--out', path.join(root, 'out-a')], { dataDir: data }),
      runCli(['encode', path.join(root, 'b'), '--out', path.join(root, 'out-b')], { dataDir: data }),
    ]);
    expect(a.code, show(a)).toBe(0);
    expect(b.code, show(b)).toBe(0);
    expect(a.stdout).toMatch(/a1\.mp4.*done/);
    expect(a.stdout).not.toMatch(/b1\.mp4/);
    expect(b.stdout).toMatch(/b2\.mp4.*done/);
    expect(b.stdout).not.toMatch(/a2\.mp4/);
  }, 120_000);
});

describe('output piped into a reader that stops early', () => {
  it('ends quietly instead of crashing on EPIPE', async () => {
    const root = await scratch.dir('epipe');
    const child = spawnCli(['presets'], { dataDir: path.join(root, 'data') });
    child.stdout!.destroy();
    const r = await collect(child);
    expect(r.code, show(r)).toBe(0);
    expect(r.stderr).not.toMatch(/EPIPE|Unhandled/);
  });
});
