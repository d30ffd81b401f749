import { execFile } from 'node:child_process';
import { mkdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import type { JobStore } from '../../../core/coordinator/ports.ts';
import { FFMPEG } from '../../helpers/clips.ts';
import { Scratch, expectEncodeOf, filesUnder, partFilesUnder, runCli, show } from '../../helpers/cli.ts';
import {
  FAST_LEASES,
  FarmProcesses,
  doneAttempt,
  freePort,
  joinToken,
  openQueue,
  startAgent,
  startServe,
  startSniffingCutProxy,
  waitForAllDone,
  type SniffingProxy,
} from '../../helpers/farm.ts';

// Issue 3 point 7: an agent without shared storage (no --root) reaches the coordinator through a
// link that drops in the middle of the input download; it resumes with a Range request, encodes,
// uploads, and the coordinator verifies and commits the output once.

const run = promisify(execFile);
const scratch = new Scratch();
const procs = new FarmProcesses();
let queue: JobStore | undefined;
let proxy: SniffingProxy | undefined;
afterEach(async () => {
  queue?.close();
  queue = undefined;
  await procs.killAll();
  await proxy?.close();
  proxy = undefined;
  await scratch.cleanup();
});

/** Uncompressed video (about 35 MB for 4 s of 640x360), so a cut lands mid-body; quick to encode. */
async function makeRawClip(dir: string, name: string): Promise<string> {
  const out = path.join(dir, name);
  await run(FFMPEG, [
    '-hide_banner', '-nostdin', '-loglevel', 'error', '-n',
    '-f', 'lavfi', '-i', 'testsrc2=size=640x360:rate=25',
    '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000',
    '-t', '4', '-c:v', 'rawvideo', '-pix_fmt', 'yuv420p', '-c:a', 'pcm_s16le',
    `file:${out}`,
  ]);
  return out;
}

const INPUT_GET = /^GET \/api\/v1\/transfer\/(\d+)\/(\d+)\/input HTTP\/1\.1\r\n/;
const RANGE = /^range: bytes=(\d+)-\r\n/im;

describe('transfer mode through a link that drops', () => {
  it('resumes the cut input download with a Range request and commits a verified output once', { timeout: 150_000 }, async () => {
    const root = await scratch.dir('transfer');
    const [data, clips, out, agentDir] = ['data', 'clips', 'out', 'agent'].map((d) => path.join(root, d)) as [string, string, string, string];
    await mkdir(clips);
    const input = await makeRawClip(clips, 'raw.avi');
    const inputSize = (await stat(input)).size;

    const port = await freePort();
    proxy = await startSniffingCutProxy(port, Math.floor(inputSize / 3));
    // The agent's Host header names the proxy, so the coordinator must be told that name.
    const serve = await startServe(procs, { dataDir: data, port, args: [...FAST_LEASES, '--allow-host', `127.0.0.1:${proxy.port}`] });
    const agent = await startAgent(procs, { configDir: agentDir, coordinator: proxy.url, token: await joinToken(serve.url, data) });
    expect(agent.output()).toMatch(/file transfer \(no shared storage\)/);

    const submitted = await runCli(['submit', input, '--preset', 'h264-fast', '--out', out], { dataDir: data });
    expect(submitted.code, show(submitted)).toBe(0);
    queue = openQueue(data);
    const [job] = await waitForAllDone(queue, 1, 120_000, () => `${serve.output()}\n${agent.output()}\n${proxy!.heads.join('')}`);

    // The first download was cut mid-body; the next request for the same lease asked for the rest.
    expect(proxy.cuts).toBe(1);
    const gets = proxy.heads.filter((h) => INPUT_GET.test(h));
    expect(gets.length, gets.join('')).toBeGreaterThanOrEqual(2);
    expect(gets[0]).not.toMatch(RANGE);
    const resumed = gets.slice(1).find((h) => RANGE.test(h));
    expect(resumed, gets.join('')).toBeDefined();
    const from = Number(RANGE.exec(resumed!)![1]);
    expect(from).toBeGreaterThan(0);
    expect(from).toBeLessThan(inputSize);
    const [, jobId, epoch] = INPUT_GET.exec(resumed!)!;
    const done = doneAttempt(queue, job!.id)!;
    expect([Number(jobId), Number(epoch)]).toEqual([job!.id, done.epoch]);
    expect(done.agentId).toBe(agent.agentId);
    // The output came back over HTTP too (upload and completion), not through a shared folder.
    expect(proxy.heads.some((h) => h.startsWith(`PATCH /api/v1/transfer/${jobId}/${epoch}/output `))).toBe(true);
    expect(proxy.heads.some((h) => h.startsWith(`POST /api/v1/transfer/${jobId}/${epoch}/output/complete `))).toBe(true);

    expect(await filesUnder(out)).toEqual(['raw.h264-fast.mp4']);
    await expectEncodeOf(path.join(out, 'raw.h264-fast.mp4'), input, 'h264');
    expect(await partFilesUnder(root)).toEqual([]);
  });
});
