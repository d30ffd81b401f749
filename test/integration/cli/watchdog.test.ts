import { chmod, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { makeClip } from '../../helpers/clips.ts';
import { Scratch, partFilesUnder, resolveTool, runCli, show } from '../../helpers/cli.ts';

const scratch = new Scratch();
afterEach(() => scratch.cleanup());

/**
 * FAKE ffmpeg: answers `-version`/`-encoders` through the real ffmpeg, but an encode (any run
 * with `-progress`) reports a little progress and then hangs with its output time stuck, as a
 * wedged GPU or a stalled network read does. `exec` makes the hanging process ffmpeg's own pid.
 */
function stuckFfmpeg(real: string, pidFile: string): string {
  return `#!/bin/sh
case "$*" in *-progress*) ;; *) exec '${real}' "$@" ;; esac
echo $$ >> '${pidFile}'
printf 'frame=25\\nfps=25\\nout_time_us=1000000\\nspeed=1.00x\\nprogress=continue\\n'
echo "fake ffmpeg: stuck" >&2
exec sleep 3600
`;
}

describe('progress watchdog (encode --stall-timeout)', () => {
  it('kills an encode whose output time stops advancing, retries it with backoff, then fails it with the reason', async () => {
    const root = await scratch.dir('watchdog');
    const clip = await makeClip(root, 'stuck.mp4', { seconds: 1 });
    const fake = path.join(root, 'ffmpeg');
    const pids = path.join(root, 'pids');
    await writeFile(fake, stuckFfmpeg(resolveTool('ffmpeg'), pids));
    await chmod(fake, 0o755);
    const out = path.join(root, 'out');
    const data = path.join(root, 'data');

    const r = await runCli(
      ['encode', clip, '--out', out, '--ffmpeg', fake, '--ffprobe', resolveTool('ffprobe'), '--stall-timeout', '1', '--retry-base-ms', '10'],
      { dataDir: data },
    );

    expect(r.code, show(r)).toBe(1);
    expect(r.stdout, show(r)).toMatch(/stuck\.mp4: failed 5 times, giving up: stuck\.mp4: ffmpeg made no progress for \d+ s; killed it/);
    // Every stuck ffmpeg was killed, not left behind.
    const { readFile } = await import('node:fs/promises');
    const started = (await readFile(pids, 'utf8')).trim().split('\n').map(Number);
    expect(started).toHaveLength(5);
    for (const pid of started) expect(() => process.kill(pid, 0)).toThrow();
    expect(await partFilesUnder(root)).toEqual([]);

    const log = await runCli(['log', '1'], { dataDir: data });
    expect(log.stdout.match(/encode-stalled|made no progress/g)?.length ?? 0, show(log)).toBeGreaterThanOrEqual(5);
  }, 120_000);
});
