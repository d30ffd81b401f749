import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
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
  openQueue,
  startAgent,
  startServe,
  waitForAllDone,
  waitForRunningOn,
} from '../../helpers/farm.ts';

// Issue 3 point 7: an agent in its own network namespace loses its link (veth down) in the middle
// of an encode for longer than the lease TTL, and gets it back. The job moves to another agent
// and is committed exactly once. Needs root and `ip netns` (CI runs as root); skipped elsewhere.

/** `ip` from iproute2, wherever the system keeps it. */
function findIp(): string | undefined {
  for (const p of ['/usr/sbin/ip', '/sbin/ip', '/usr/bin/ip', '/bin/ip']) {
    try {
      execFileSync(p, ['-V'], { stdio: 'ignore' });
      return p;
    } catch {
      // Not here.
    }
  }
  return undefined;
}

const IP = findIp();

function ip(...args: string[]): string {
  return execFileSync(IP!, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

/** Whether this process may make network namespaces; the reason when not. */
function netnsSupport(): { ok: true } | { ok: false; reason: string } {
  if (process.platform !== 'linux') return { ok: false, reason: 'network namespaces are Linux only' };
  if (!IP) return { ok: false, reason: 'iproute2 (`ip`) is not installed' };
  const probe = `efprobe-${process.pid}`;
  try {
    ip('netns', 'add', probe);
  } catch (err) {
    return { ok: false, reason: `\`ip netns add\` is not permitted here (${String((err as { stderr?: string }).stderr ?? err).trim()})` };
  }
  try {
    ip('netns', 'del', probe);
  } catch {
    // Best effort.
  }
  return { ok: true };
}

/**
 * A namespace joined to this host by a veth pair with a private /30 of its own: the host side is
 * `hostAddr`, the namespace side `nsAddr`. `cut` and `restore` take the host side down and up.
 */
class Partition {
  readonly ns: string;
  readonly hostIf: string;
  readonly nsIf: string;
  readonly hostAddr: string;
  readonly nsAddr: string;

  constructor() {
    const id = randomBytes(3).toString('hex');
    this.ns = `efns-${process.pid}-${id}`;
    // Interface names: at most 15 characters.
    this.hostIf = `efh${id}`;
    this.nsIf = `efn${id}`;
    const subnet = freeSubnet();
    this.hostAddr = `10.213.${subnet}.1`;
    this.nsAddr = `10.213.${subnet}.2`;
  }

  create(): void {
    ip('netns', 'add', this.ns);
    ip('link', 'add', this.hostIf, 'type', 'veth', 'peer', 'name', this.nsIf);
    ip('link', 'set', this.nsIf, 'netns', this.ns);
    ip('addr', 'add', `${this.hostAddr}/30`, 'dev', this.hostIf);
    ip('link', 'set', this.hostIf, 'up');
    ip('netns', 'exec', this.ns, IP!, 'addr', 'add', `${this.nsAddr}/30`, 'dev', this.nsIf);
    ip('netns', 'exec', this.ns, IP!, 'link', 'set', this.nsIf, 'up');
    ip('netns', 'exec', this.ns, IP!, 'link', 'set', 'lo', 'up');
  }

  /** The prefix that runs a command inside the namespace. */
  get exec(): string[] {
    return [IP!, 'netns', 'exec', this.ns];
  }

  cut(): void {
    ip('link', 'set', this.hostIf, 'down');
  }

  restore(): void {
    ip('link', 'set', this.hostIf, 'up');
  }

  /** Removes the veth pair and the namespace; each step tolerates what is already gone. */
  destroy(): void {
    for (const args of [['link', 'del', this.hostIf], ['netns', 'del', this.ns]]) {
      try {
        ip(...args);
      } catch {
        // Not created, or already gone with its peer.
      }
    }
  }
}

/** A third octet for 10.213.N.0/30 that no interface on this host uses yet. */
function freeSubnet(): number {
  const used = ip('-o', 'addr', 'show');
  for (;;) {
    const n = randomBytes(1)[0]!;
    if (!used.includes(`10.213.${n}.`)) return n;
  }
}

const support = netnsSupport();
const scratch = new Scratch();
const procs = new FarmProcesses();
let queue: JobStore | undefined;
let partition: Partition | undefined;
afterEach(async () => {
  queue?.close();
  queue = undefined;
  // Processes first: a namespace goes away only once nothing runs in it.
  await procs.killAll();
  partition?.destroy();
  partition = undefined;
  await scratch.cleanup();
});

const TITLE = 'an agent whose link is cut past the lease TTL and restored: the job moves and is committed exactly once';

describe('an agent in its own network namespace', () => {
  it.skipIf(!support.ok)(support.ok ? TITLE : `${TITLE} (skipped: ${support.reason})`, { timeout: 180_000 }, async () => {
    const root = await scratch.dir('netns');
    const [data, clips, out] = ['data', 'clips', 'out'].map((d) => path.join(root, d)) as [string, string, string];
    await mkdir(clips);
    // Long enough that the isolated agent is likely still encoding when its own view of the lease
    // runs out (it then drops the work); if it finishes first, its result is stale all the same.
    const clip = await makeClip(clips, 'clip.mp4', { seconds: 40, width: 640, height: 360 });
    const laterClip = await makeClip(clips, 'later.mp4', { seconds: 2, width: 640, height: 360 });
    partition = new Partition();
    partition.create();

    // The coordinator listens on the host side of the veth only; both agents share the storage.
    const port = await freePort(partition.hostAddr);
    const serve = await startServe(procs, { dataDir: data, host: partition.hostAddr, port, args: FAST_LEASES });
    const spare = await startAgent(procs, { configDir: path.join(root, 'host-agent'), coordinator: serve.url, token: await joinToken(serve.url, data), roots: [root] });
    // Paused until the namespaced agent has the job, so that agent is the one to lose its link.
    await agentAction(serve.url, data, spare.agentId, 'pause');
    const isolated = await startAgent(procs, {
      configDir: path.join(root, 'ns-agent'),
      coordinator: serve.url,
      token: await joinToken(serve.url, data),
      roots: [root],
      prefix: partition.exec,
    });

    const submitted = await runCli(['submit', clip, '--preset', 'h264-fast', '--out', out], { dataDir: data });
    expect(submitted.code, show(submitted)).toBe(0);
    queue = openQueue(data);
    const q = queue;
    const job = await waitForRunningOn(q, [isolated.agentId]);

    partition.cut();
    await agentAction(serve.url, data, spare.agentId, 'resume');
    const logs = () => [serve, spare, isolated].map((p) => p.output()).join('\n');
    // The link stays down past the TTL: until the job was re-leased to the spare agent and committed.
    const [done] = await waitForAllDone(q, 1, 120_000, logs);
    const finisher = doneAttempt(q, done!.id)!;
    expect(finisher.agentId, describeQueue(q)).toBe(spare.agentId);
    expect(finisher.epoch).toBeGreaterThan(job.epoch);
    const committed = await identity(path.join(out, 'clip.h264-fast.mp4'));

    partition.restore();
    await waitFor('the isolated agent to reconnect', () => allConnected(serve.url, data, [isolated.agentId]), 60_000, 200);
    // It serves again: with the spare paused, a later job can only run there. Its messages arrive
    // in order, so whatever it still had to say about the old lease was answered before this.
    await agentAction(serve.url, data, spare.agentId, 'pause');
    const later = await runCli(['submit', laterClip, '--preset', 'h264-fast', '--out', out], { dataDir: data });
    expect(later.code, show(later)).toBe(0);
    const both = await waitForAllDone(q, 2, 90_000, logs);
    expect(doneAttempt(q, both.find((j) => j.id !== done!.id)!.id)!.agentId).toBe(isolated.agentId);

    const attempts = q.listAttempts(done!.id);
    expect(attempts.filter((a) => a.outcome === 'done'), describeQueue(q)).toHaveLength(1);
    const cutOff = attempts.find((a) => a.epoch === job.epoch)!;
    expect(cutOff.agentId).toBe(isolated.agentId);
    expect(cutOff.outcome).toBe('lost');
    expect(q.getJob(done!.id)!.state).toBe('done');
    // One commit: one output, the committed file untouched since, no partial file.
    expect(await filesUnder(out)).toEqual(['clip.h264-fast.mp4', 'later.h264-fast.mp4']);
    expect(await identity(path.join(out, 'clip.h264-fast.mp4'))).toEqual(committed);
    await expectEncodeOf(path.join(out, 'clip.h264-fast.mp4'), clip, 'h264');
    expect(await partFilesUnder(root)).toEqual([]);
  });
});
