import { mkdir, readdir } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { JobStore } from '../../../core/coordinator/ports.ts';
import { makeClip } from '../../helpers/clips.ts';
import { Scratch, expectEncodeOf, filesUnder, identity, partFilesUnder, runCli, show, waitFor } from '../../helpers/cli.ts';
import {
  FAST_LEASES,
  FarmProcesses,
  agentAction,
  allConnected,
  describeQueue,
  doneAttempt,
  freePort,
  joinToken,
  killHard,
  openQueue,
  signal,
  startAgent,
  startServe,
  waitForAllDone,
  waitForRunningOn,
  type AgentProcess,
  type ServeProcess,
} from '../../helpers/farm.ts';

// Issue 3 point 7: real processes, real ffmpeg, shared storage on one filesystem, leases of 4 s.
// A dead agent's job moves to another agent, a frozen agent's late work is refused, and a
// coordinator killed mid-batch loses nothing and duplicates nothing once it is back.

const scratch = new Scratch();
const procs = new FarmProcesses();
let queue: JobStore | undefined;
afterEach(async () => {
  queue?.close();
  queue = undefined;
  await procs.killAll();
  await scratch.cleanup();
});

interface Farm {
  root: string;
  data: string;
  clips: string;
  out: string;
  port: number;
  serve: ServeProcess;
  agents: AgentProcess[];
  queue: JobStore;
}

/** A coordinator with short leases and `agentCount` shared-storage agents, each in its own config dir. */
async function startFarm(prefix: string, agentCount: number, serveArgs: readonly string[] = FAST_LEASES): Promise<Farm> {
  const root = await scratch.dir(prefix);
  const [data, clips, out] = ['data', 'clips', 'out'].map((d) => path.join(root, d)) as [string, string, string];
  await mkdir(clips);
  const port = await freePort();
  const serve = await startServe(procs, { dataDir: data, port, args: serveArgs });
  const agents = await Promise.all(
    Array.from({ length: agentCount }, async (_, i) =>
      startAgent(procs, { configDir: path.join(root, `agent${i + 1}`), coordinator: serve.url, token: await joinToken(serve.url, data), roots: [root] }),
    ),
  );
  queue = openQueue(data);
  return { root, data, clips, out, port, serve, agents, queue };
}

/** Clips long enough (640x360, 12 s: a few seconds of libx264) to act while one is encoding. */
async function clipsFor(farm: Farm, names: readonly string[], seconds = 12): Promise<void> {
  await Promise.all(names.map((n) => makeClip(farm.clips, `${n}.mp4`, { seconds, width: 640, height: 360 })));
}

async function submit(farm: Farm, inputs: readonly string[]): Promise<void> {
  const r = await runCli(['submit', ...inputs, '--preset', 'h264-fast', '--out', farm.out], { dataDir: farm.data });
  expect(r.code, show(r)).toBe(0);
}

/**
 * Leases that usually outlive a coordinator restart (a few seconds here), so the agents come back
 * holding their work: their buffered results and held leases are what the restart must honour.
 */
const RESTART_LEASES = ['--lease-ttl', '12', '--heartbeat', '1', '--ping', '1'];

const outputOf = (farm: Farm, name: string) => path.join(farm.out, `${name}.h264-fast.mp4`);
const logsOf = (farm: Farm) => () => [farm.serve, ...farm.agents].map((p) => p.output()).join('\n');

describe('remote agents failing mid-encode', () => {
  it('kill -9 of an agent: its job is requeued when the lease expires and finished by another agent', { timeout: 150_000 }, async () => {
    const farm = await startFarm('kill-agent', 2);
    await clipsFor(farm, ['clip']);
    await submit(farm, [path.join(farm.clips, 'clip.mp4')]);

    const job = await waitForRunningOn(farm.queue, farm.agents.map((a) => a.agentId));
    const victim = farm.agents.find((a) => a.agentId === job.agentId)!;
    const survivor = farm.agents.find((a) => a !== victim)!;
    await killHard(victim);

    // Requeued only when the 4 s lease expires (nobody tells the coordinator), then re-leased.
    const [done] = await waitForAllDone(farm.queue, 1, 90_000, logsOf(farm));
    const attempts = farm.queue.listAttempts(done!.id);
    const dead = attempts.find((a) => a.epoch === job.epoch)!;
    expect(dead.agentId).toBe(victim.agentId);
    expect(dead.outcome, describeQueue(farm.queue)).toBe('lost');
    const finisher = doneAttempt(farm.queue, done!.id)!;
    expect(finisher.agentId).toBe(survivor.agentId);
    expect(finisher.epoch).toBeGreaterThan(job.epoch);
    expect(attempts.filter((a) => a.outcome === 'done')).toHaveLength(1);

    expect(await filesUnder(farm.out)).toEqual(['clip.h264-fast.mp4']);
    await expectEncodeOf(outputOf(farm, 'clip'), path.join(farm.clips, 'clip.mp4'), 'h264');
    // The dead attempt's temp file is gone (the coordinator deletes it when it requeues).
    expect(await partFilesUnder(farm.root)).toEqual([]);
  });

  it('SIGSTOP of an agent past its lease, then SIGCONT: its late work is refused and it serves again', { timeout: 180_000 }, async () => {
    const farm = await startFarm('stop-agent', 2);
    await clipsFor(farm, ['clip']);
    await clipsFor(farm, ['later'], 2);
    await submit(farm, [path.join(farm.clips, 'clip.mp4')]);

    const job = await waitForRunningOn(farm.queue, farm.agents.map((a) => a.agentId));
    const frozen = farm.agents.find((a) => a.agentId === job.agentId)!;
    const other = farm.agents.find((a) => a !== frozen)!;
    // Only the agent process: its ffmpeg keeps encoding, so on SIGCONT the agent holds a finished
    // encode for a lease that was given away meanwhile — the late completion it must not commit.
    signal(frozen, 'SIGSTOP');

    // Kept frozen until the job was re-leased under a newer epoch and committed by the other agent.
    const [done] = await waitForAllDone(farm.queue, 1, 90_000, logsOf(farm));
    const finisher = doneAttempt(farm.queue, done!.id)!;
    expect(finisher.agentId).toBe(other.agentId);
    expect(finisher.epoch).toBeGreaterThan(job.epoch);
    const committed = await identity(outputOf(farm, 'clip'));

    signal(frozen, 'SIGCONT');
    await waitFor('the continued agent to reconnect', () => allConnected(farm.serve.url, farm.data, [frozen.agentId]), 60_000, 200);

    // It still serves: with the other agent paused, a later job can only run on it. Its messages
    // arrive in order, so whatever it still had to say about the old lease was answered first.
    await agentAction(farm.serve.url, farm.data, other.agentId, 'pause');
    await submit(farm, [path.join(farm.clips, 'later.mp4')]);
    await waitForAllDone(farm.queue, 2, 90_000, logsOf(farm));
    const laterJob = farm.queue.listJobs({}).find((j) => j.id !== done!.id)!;
    expect(doneAttempt(farm.queue, laterJob.id)!.agentId).toBe(frozen.agentId);

    // The first job: done once, by the newer epoch; the frozen epoch recorded as lost.
    const attempts = farm.queue.listAttempts(done!.id);
    expect(attempts.filter((a) => a.outcome === 'done'), describeQueue(farm.queue)).toHaveLength(1);
    expect(attempts.find((a) => a.epoch === job.epoch)?.outcome).toBe('lost');
    expect(farm.queue.getJob(done!.id)!.epoch).toBe(finisher.epoch);
    // Exactly one output per job, the committed one untouched by the late agent; no partial file.
    expect(await filesUnder(farm.out)).toEqual(['clip.h264-fast.mp4', 'later.h264-fast.mp4']);
    expect(await identity(outputOf(farm, 'clip'))).toEqual(committed);
    await expectEncodeOf(outputOf(farm, 'clip'), path.join(farm.clips, 'clip.mp4'), 'h264');
    await expectEncodeOf(outputOf(farm, 'later'), path.join(farm.clips, 'later.mp4'), 'h264');
    expect(await partFilesUnder(farm.root)).toEqual([]);
  });

  it('kill -9 of the coordinator mid-batch and a restart: agents reconnect, nothing lost, nothing duplicated', { timeout: 180_000 }, async () => {
    const farm = await startFarm('kill-serve', 3, RESTART_LEASES);
    const names = Array.from({ length: 6 }, (_, i) => `clip${i + 1}`);
    await clipsFor(farm, names, 8);
    await submit(farm, [farm.clips]);

    // Mid-batch: one job committed, another encoding.
    await waitFor(
      'a job done and another running',
      () => {
        const jobs = farm.queue.listJobs({});
        return jobs.some((j) => j.state === 'done') && jobs.some((j) => j.state === 'running');
      },
      90_000,
      20,
    );
    await killHard(farm.serve);
    const restarted = await startServe(procs, { dataDir: farm.data, port: farm.port, args: RESTART_LEASES });
    expect(restarted.url).toBe(farm.serve.url);
    farm.serve = restarted;

    // The agents find it again by themselves (same URL, same credentials).
    await waitFor('every agent reconnected', () => allConnected(restarted.url, farm.data, farm.agents.map((a) => a.agentId)), 60_000, 200);
    // A kill that lands mid-commit (identity recorded, output not linked) requeues the job, which
    // must then commit normally (its stale commit identity is forgotten: attempt-end.ts `waiting`).
    const jobs = await waitForAllDone(farm.queue, names.length, 120_000, logsOf(farm));

    for (const j of jobs) expect(farm.queue.listAttempts(j.id).filter((a) => a.outcome === 'done'), describeQueue(farm.queue)).toHaveLength(1);
    // Each output once, at its own name: no ` (1)` copies, no temp files.
    expect(await filesUnder(farm.out)).toEqual(names.map((n) => `${n}.h264-fast.mp4`).sort());
    for (const n of names) await expectEncodeOf(outputOf(farm, n), path.join(farm.clips, `${n}.mp4`), 'h264');
    expect(await partFilesUnder(farm.root)).toEqual([]);
    expect((await readdir(farm.out)).filter((f) => f.includes(' ('))).toEqual([]);
  });
});
