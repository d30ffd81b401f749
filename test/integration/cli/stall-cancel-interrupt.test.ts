import { chmod, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { makeClip } from '../../helpers/clips.ts';
import { Scratch, collect, partFilesUnder, resolveTool, runCli, show, spawnCli, waitFor } from '../../helpers/cli.ts';

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

/** A clip and the stuck FAKE ffmpeg in a fresh scratch folder. */
async function stuckSetup(name: string) {
  const root = await scratch.dir(name);
  const clip = await makeClip(root, `${name}.mp4`, { seconds: 1 });
  const fake = path.join(root, 'ffmpeg');
  const pids = path.join(root, 'pids');
  await writeFile(fake, stuckFfmpeg(resolveTool('ffmpeg'), pids));
  await chmod(fake, 0o755);
  return { root, clip, fake, pids, data: path.join(root, 'data'), out: path.join(root, 'out') };
}

/** Starts `encode` with the stuck ffmpeg and resolves once ffmpeg runs, with its pid. */
async function startStuckEncode(s: Awaited<ReturnType<typeof stuckSetup>>) {
  const child = spawnCli(['encode', s.clip, '--out', s.out, '--ffmpeg', s.fake, '--ffprobe', resolveTool('ffprobe')], { dataDir: s.data });
  const finished = collect(child, 100_000);
  const pid = await waitFor('the encode to start', async () => Number((await readFile(s.pids, 'utf8').catch(() => '')).trim()) || undefined);
  return { child, finished, pid };
}

describe('progress watchdog (encode --stall-timeout)', () => {
  it('kills an encode whose output time stops advancing, retries it with backoff, then fails it with the reason', async () => {
    const { root, clip, fake, pids, out, data } = await stuckSetup('stuck');
    const r = await runCli(
      ['encode', clip, '--out', out, '--ffmpeg', fake, '--ffprobe', resolveTool('ffprobe'), '--stall-timeout', '1', '--retry-base-ms', '10'],
      { dataDir: data },
    );

    expect(r.code, show(r)).toBe(1);
    expect(r.stdout, show(r)).toMatch(/stuck\.mp4: failed 5 times, giving up: stuck\.mp4: ffmpeg made no progress for \d+ s; killed it/);
    // Every stuck ffmpeg was killed, not left behind.
    const started = (await readFile(pids, 'utf8')).trim().split('\n').map(Number);
    expect(started).toHaveLength(5);
    for (const pid of started) expect(() => process.kill(pid, 0)).toThrow();
    expect(await partFilesUnder(root)).toEqual([]);

    const log = await runCli(['log', '1'], { dataDir: data });
    expect(log.stdout.match(/encode-stalled|made no progress/g)?.length ?? 0, show(log)).toBeGreaterThanOrEqual(5);
  }, 120_000);
});

describe('cancel from another terminal', () => {
  it('stops the running encode of that job at once; the encode run ends with the job canceled and nothing left behind', async () => {
    const setup = await stuckSetup('long');
    const { finished, pid } = await startStuckEncode(setup);
    const { root, data } = setup;

    const c = await runCli(['cancel', '1'], { dataDir: data });
    expect(c.stdout, show(c)).toContain('cancel: 1 job(s) changed (1)');

    const r = await finished;
    expect(r.code, show(r)).toBe(1);
    expect(r.stdout, show(r)).toMatch(/long\.mp4\s.*CANCELED/);
    expect(() => process.kill(pid, 0)).toThrow();
    expect(await partFilesUnder(root)).toEqual([]);
  }, 120_000);
});

describe('Ctrl-C', () => {
  it('stops the encodes, puts the jobs back in the queue, removes temp files and exits 130; the same command then finishes', async () => {
    const setup = await stuckSetup('interrupted');
    const { child: encoding, finished, pid } = await startStuckEncode(setup);
    const { root, clip, data, out } = setup;

    encoding.kill('SIGINT');
    const r = await finished;

    expect(r.code, show(r)).toBe(130);
    expect(r.stderr).toContain('run the same command again to finish');
    expect(() => process.kill(pid, 0)).toThrow();
    expect(await partFilesUnder(root)).toEqual([]);
    const status = await runCli(['status'], { dataDir: data });
    expect(status.stdout, show(status)).toMatch(/^1\s+interrupted\.mp4\s+queued\s/m);

    // The real ffmpeg this time: the same command continues the batch and finishes it.
    const again = await runCli(['encode', clip, '--out', out, '--ffprobe', resolveTool('ffprobe')], { dataDir: data });
    expect(again.code, show(again)).toBe(0);
  }, 120_000);
});
