import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { JobStore } from '../../../core/coordinator/ports.ts';
import { makeClip } from '../../helpers/clips.ts';
import { Scratch, expectEncodeOf, filesUnder, partFilesUnder, runCli, show } from '../../helpers/cli.ts';
import {
  FAST_LEASES,
  FarmProcesses,
  describeQueue,
  doneAttempt,
  freePort,
  joinToken,
  openQueue,
  startAgent,
  startServe,
  waitForAllDone,
} from '../../helpers/farm.ts';

// Issue 3 point 7: a coordinator and three agents, all real processes on loopback with real
// ffmpeg and shared storage, encode a batch submitted with `submit`.

const scratch = new Scratch();
const procs = new FarmProcesses();
let queue: JobStore | undefined;
afterEach(async () => {
  queue?.close();
  queue = undefined;
  await procs.killAll();
  await scratch.cleanup();
});

const CLIPS = 6;

describe('serve with three agents', () => {
  it('encodes a submitted batch across the agents, each output once and verified', { timeout: 180_000 }, async () => {
    const root = await scratch.dir('farm');
    const [data, clips, out] = ['data', 'clips', 'out'].map((d) => path.join(root, d)) as [string, string, string];
    await mkdir(clips);
    const names = Array.from({ length: CLIPS }, (_, i) => `clip${i + 1}`);
    for (const n of names) await makeClip(clips, `${n}.mp4`, { seconds: 4, width: 640, height: 360 });

    const serve = await startServe(procs, { dataDir: data, port: await freePort(), args: FAST_LEASES });
    const agents = await Promise.all(
      ['a1', 'a2', 'a3'].map(async (a) =>
        startAgent(procs, { configDir: path.join(root, a), coordinator: serve.url, token: await joinToken(serve.url, data), roots: [root] }),
      ),
    );
    expect(new Set(agents.map((a) => a.agentId)).size).toBe(3);

    const submitted = await runCli(['submit', clips, '--preset', 'h264-fast', '--out', out], { dataDir: data });
    expect(submitted.code, show(submitted)).toBe(0);
    expect(submitted.stdout).toMatch(/queued batch 1: 6 job\(s\)/);

    queue = openQueue(data);
    const q = queue;
    const jobs = await waitForAllDone(q, CLIPS, 150_000, () => agents.map((a) => a.output()).join('\n') + serve.output());

    // Every output exactly once, complete (ffprobe), at its own name; no temp file anywhere.
    expect(await filesUnder(out)).toEqual(names.map((n) => `${n}.h264-fast.mp4`).sort());
    for (const n of names) await expectEncodeOf(path.join(out, `${n}.h264-fast.mp4`), path.join(clips, `${n}.mp4`), 'h264');
    expect(await partFilesUnder(root)).toEqual([]);

    // Each job done by exactly one attempt of an enrolled agent; the work was spread out.
    const doers = new Set<string>();
    for (const j of jobs) {
      const done = q.listAttempts(j.id).filter((a) => a.outcome === 'done');
      expect(done, describeQueue(q)).toHaveLength(1);
      expect(j.finalPath).toBe(path.join(out, path.basename(j.inputPath).replace(/\.mp4$/, '.h264-fast.mp4')));
      doers.add(doneAttempt(q, j.id)!.agentId);
    }
    expect([...doers].every((id) => agents.some((a) => a.agentId === id))).toBe(true);
    expect(doers.size, describeQueue(q)).toBeGreaterThan(1);
  });
});
