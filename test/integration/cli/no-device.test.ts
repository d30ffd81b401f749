import { chmod, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { makeClip } from '../../helpers/clips.ts';
import { Scratch, resolveTool, runCli, show } from '../../helpers/cli.ts';

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
