import { spawn, type ChildProcess } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { z } from 'zod';
import { createApiClient } from '../../core/cli/remote/api-client.ts';
import type { AttemptRow, JobRow, JobStore } from '../../core/coordinator/ports.ts';
import { dbFileIn } from '../../core/coordinator/store/data-dir.ts';
import { openSqliteStore } from '../../core/coordinator/store/sqlite-store.ts';
import { AgentsResponseSchema, JoinTokenResponseSchema, type AgentView } from '../../core/shared/protocol/index.ts';
import { BIN, cliEnv, waitFor } from './cli.ts';

// Real-process farms for the remote-agent tests: a `serve` and its agents as child processes,
// every one of them tracked so a test's afterEach can kill whatever it left running.

/** Short lease timing so a lost agent is noticed in seconds: TTL 4 s, heartbeats and pings every 1 s. */
export const FAST_LEASES = ['--lease-ttl', '4', '--heartbeat', '1', '--ping', '1'] as const;

/** A port free on 127.0.0.1 right now (the OS picks it; the caller binds it soon after). */
export function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, host, () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** A child process of the farm with its output so far (for failure messages). */
export interface FarmProcess {
  child: ChildProcess;
  pid: number;
  /** stdout and stderr so far, in arrival order. */
  output(): string;
  /** Settles when the process has exited (for whatever reason). */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  hasExited(): boolean;
}

export interface ServeProcess extends FarmProcess {
  /** `http://host:port` as `serve` printed it. */
  url: string;
}

export interface AgentProcess extends FarmProcess {
  agentId: string;
}

/**
 * Every process a test started. `killAll` (afterEach) SIGKILLs the ones still running — stopped
 * ones included — and waits for them to exit, so no test leaves a process behind.
 */
export class FarmProcesses {
  private readonly all = new Set<FarmProcess>();

  /** Starts `[prefix…] node bin/encodefarm.js <args>` with pipes and a clean environment. */
  spawn(args: readonly string[], prefix: readonly string[] = []): FarmProcess {
    const argv = [process.execPath, BIN, ...args];
    const [cmd, ...rest] = [...prefix, ...argv];
    const child = spawn(cmd!, rest, { cwd: path.dirname(path.dirname(BIN)), env: cliEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
    let text = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => (text += c));
    child.stderr.setEncoding('utf8').on('data', (c: string) => (text += c));
    let done = false;
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
      child.once('error', () => resolve({ code: null, signal: null }));
      child.once('exit', (code, signal) => resolve({ code, signal }));
    });
    void exited.then(({ code, signal: sig }) => {
      done = true;
      text += `\n[${args[0]} pid ${child.pid} exited: ${sig ?? `code ${code}`}]\n`;
    });
    if (child.pid === undefined) throw new Error(`could not start ${argv.join(' ')}`);
    const proc: FarmProcess = { child, pid: child.pid, output: () => text, exited, hasExited: () => done };
    this.all.add(proc);
    return proc;
  }

  async killAll(): Promise<void> {
    const live = [...this.all].filter((p) => !p.hasExited());
    for (const p of live) signal(p, 'SIGKILL');
    await Promise.all(live.map((p) => p.exited));
    this.all.clear();
  }
}

/** Sends `sig` to one process by pid (never a group); a process already gone is fine. */
export function signal(p: FarmProcess, sig: NodeJS.Signals): void {
  try {
    process.kill(p.pid, sig);
  } catch {
    // Already gone.
  }
}

/** `kill -9` of one farm process, resolved once it is gone. */
export async function killHard(p: FarmProcess): Promise<void> {
  signal(p, 'SIGKILL');
  await p.exited;
}

/** Waits for a line on the process's output matching `re`; rejects if the process exits first. */
async function awaitLine(p: FarmProcess, re: RegExp, what: string, timeoutMs: number): Promise<RegExpExecArray> {
  return waitFor(
    what,
    () => {
      const m = re.exec(p.output());
      if (m) return m;
      if (p.hasExited()) throw new Error(`${what}: the process exited first\n${p.output()}`);
      return undefined;
    },
    timeoutMs,
  );
}

export interface ServeOptions {
  dataDir: string;
  port: number;
  /** @default '127.0.0.1' */
  host?: string;
  /** More `serve` flags, e.g. FAST_LEASES or `--allow-host`. */
  args?: readonly string[];
}

/** Starts `serve --no-local-agent` (a coordinator only) and resolves once it listens. */
export async function startServe(procs: FarmProcesses, opts: ServeOptions): Promise<ServeProcess> {
  const host = opts.host ?? '127.0.0.1';
  const args = ['serve', '--data-dir', opts.dataDir, '--listen', `${host}:${opts.port}`, '--no-local-agent', '--gpus', 'none', ...(opts.args ?? [])];
  const p = procs.spawn(args);
  const m = await awaitLine(p, /coordinator listening on (\S+)/, `serve on ${host}:${opts.port}`, 60_000);
  return { ...p, url: m[1]! };
}

/** The API client of the coordinator at `url`, with the token `serve` keeps in `dataDir`. */
export async function apiOf(url: string, dataDir: string) {
  const token = (await readFile(path.join(dataDir, 'api-token'), 'utf8')).trim();
  return createApiClient({ url, token, timeoutMs: 5_000 });
}

/**
 * A fresh one-time join token, minted over the API (what `agents join-token` does, without
 * starting another CLI process per agent).
 */
export async function joinToken(url: string, dataDir: string): Promise<string> {
  const r = await (await apiOf(url, dataDir)).post('/agents/join-tokens', JoinTokenResponseSchema, {});
  return r.token;
}

export interface AgentOptions {
  configDir: string;
  /** With `token`: join this coordinator first. Without: the config dir remembers it. */
  coordinator?: string;
  token?: string;
  /** Shared-storage roots; none means transfer mode. */
  roots?: readonly string[];
  /** More `agent` flags. */
  args?: readonly string[];
  /** A command the agent runs under, e.g. `ip netns exec <ns>`. */
  prefix?: readonly string[];
}

/** Starts `agent --gpus none --cpu-slots 1` and resolves once it serves (joined, devices found). */
export async function startAgent(procs: FarmProcesses, opts: AgentOptions): Promise<AgentProcess> {
  const args = [
    'agent',
    '--config-dir', opts.configDir,
    ...(opts.token ? ['--coordinator', opts.coordinator ?? '', '--join', opts.token] : []),
    ...(opts.roots ?? []).flatMap((r) => ['--root', r]),
    '--gpus', 'none', '--cpu-slots', '1',
    ...(opts.args ?? []),
  ];
  const p = procs.spawn(args, opts.prefix);
  const m = await awaitLine(p, /agent (agt-[0-9a-f]{12}) serving /, `agent in ${opts.configDir}`, 60_000);
  return { ...p, agentId: m[1]! };
}

/** The agent id an agent saved in its config dir when it joined. */
export async function agentIdOf(configDir: string): Promise<string> {
  const saved = JSON.parse(await readFile(path.join(configDir, 'agent.json'), 'utf8')) as { agentId: string };
  return saved.agentId;
}

/** The coordinator's view of its agents, over the HTTP API. */
export async function agentsOf(url: string, dataDir: string): Promise<AgentView[]> {
  return (await (await apiOf(url, dataDir)).get('/agents', AgentsResponseSchema)).agents;
}

/** `agents pause|drain|resume|revoke <id>` over the API. */
export async function agentAction(url: string, dataDir: string, agentId: string, action: 'pause' | 'drain' | 'resume' | 'revoke'): Promise<void> {
  await (await apiOf(url, dataDir)).post(`/agents/${encodeURIComponent(agentId)}/actions`, z.object({ ok: z.literal(true) }), { action });
}

/** Whether the coordinator at `url` has a live session with each of `agentIds`. */
export async function allConnected(url: string, dataDir: string, agentIds: readonly string[]): Promise<boolean> {
  const agents = await agentsOf(url, dataDir).catch(() => []);
  return agentIds.every((id) => agents.some((a) => a.id === id && a.connected));
}

/**
 * The coordinator's queue, read straight from its SQLite file (WAL: safe beside a running serve,
 * and it survives a kill -9 and restart of serve). Close it before the data dir goes.
 */
export function openQueue(dataDir: string): JobStore {
  return openSqliteStore({ file: dbFileIn(dataDir) });
}

const GIVEN_UP = new Set(['failed', 'canceled', 'blocked']);
/** None of these scenarios loses one job's lease this often; a job that does is going round in circles. */
const LOST_LIMIT = 3;

/** One line per job and its attempts, for failure messages. */
export function describeQueue(queue: JobStore): string {
  return queue
    .listJobs({})
    .map((j) => {
      const attempts = queue.listAttempts(j.id).map((a) => `#${a.epoch} ${a.agentId} ${a.outcome ?? 'live'}${a.errorMessage ? ` (${a.errorMessage})` : ''}`);
      return `job ${j.id} ${path.basename(j.inputPath)} ${j.state} epoch ${j.epoch} ${j.agentId ?? '-'} [${attempts.join('; ')}]${j.errorMessage ? ` ${j.errorMessage}` : ''}`;
    })
    .join('\n');
}

/** Why waiting longer cannot help: a job that gave up, or one whose lease keeps being lost. */
function hopeless(queue: JobStore, jobs: readonly JobRow[]): string | undefined {
  const bad = jobs.find((j) => GIVEN_UP.has(j.state));
  if (bad) return `job ${bad.id} ended ${bad.state}: ${bad.errorMessage ?? bad.blockReason ?? ''}`;
  const looping = jobs.find((j) => j.state !== 'done' && queue.listAttempts(j.id).filter((a) => a.outcome === 'lost').length >= LOST_LIMIT);
  return looping && `job ${looping.id} lost its lease ${LOST_LIMIT} times without finishing`;
}

/**
 * Waits until the queue holds `count` jobs, all done; fails at once (with the queue's story) when
 * waiting cannot help: a job failed, was canceled or blocked, or keeps losing its lease.
 */
export async function waitForAllDone(queue: JobStore, count: number, timeoutMs = 120_000, context: () => string = () => ''): Promise<JobRow[]> {
  try {
    return await waitFor(
      `${count} jobs done`,
      () => {
        const jobs = queue.listJobs({});
        const why = hopeless(queue, jobs);
        if (why) throw new Error(why);
        return jobs.length === count && jobs.every((j) => j.state === 'done') ? jobs : undefined;
      },
      timeoutMs,
      100,
    );
  } catch (err) {
    throw new Error(`${(err as Error).message}\n--- queue\n${describeQueue(queue)}\n${context()}`);
  }
}

/** Waits until some job is `running` (encoding) on one of `agentIds`; returns that job. */
export async function waitForRunningOn(queue: JobStore, agentIds: readonly string[], timeoutMs = 90_000): Promise<JobRow> {
  return waitFor(
    `a job running on ${agentIds.join(' or ')}`,
    () => queue.listJobs({ states: ['running'] }).find((j) => j.agentId !== null && agentIds.includes(j.agentId)),
    timeoutMs,
    20,
  );
}

/** The attempt that finished the job (outcome `done`), or undefined. */
export function doneAttempt(queue: JobStore, jobId: number): AttemptRow | undefined {
  return queue.listAttempts(jobId).find((a) => a.outcome === 'done');
}

export interface SniffingProxy {
  /** `http://127.0.0.1:<port>`: what the agent is told the coordinator is. */
  url: string;
  port: number;
  /** Every HTTP request head (request line and headers) clients sent through the proxy. */
  heads: string[];
  /** Connections cut so far. */
  cuts: number;
  close(): Promise<void>;
}

const REQUEST_HEAD = /(?:GET|HEAD|POST|PATCH|PUT|DELETE) \/\S* HTTP\/1\.1\r\n[\s\S]*?\r\n\r\n/g;

/**
 * A TCP proxy on 127.0.0.1 to 127.0.0.1:`targetPort` that records the request heads passing
 * through and cuts the first connection whose response carries more than `cutAfterBytes`:
 * those bytes are delivered, then both sockets close, as when a link drops mid-download.
 * Every later connection passes untouched. (The transfer client opens one connection per request.)
 */
export async function startSniffingCutProxy(targetPort: number, cutAfterBytes: number): Promise<SniffingProxy> {
  const sockets = new Set<net.Socket>();
  const proxy: SniffingProxy = { url: '', port: 0, heads: [], cuts: 0, close: async () => {} };
  const server = net.createServer((client) => {
    const upstream = net.connect(targetPort, '127.0.0.1');
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('error', () => {});
      s.on('close', () => sockets.delete(s));
    }
    client.on('close', () => upstream.destroy());
    // After a cut the client is still flushing the bytes it was given; it closes itself then.
    upstream.on('close', () => client.writableEnded || client.destroy());
    client.on('data', (chunk: Buffer) => {
      // Heads are ASCII and arrive whole in practice; bodies (uploads) rarely look like one.
      for (const m of chunk.toString('latin1').matchAll(REQUEST_HEAD)) proxy.heads.push(m[0]);
      upstream.write(chunk);
    });
    client.on('end', () => upstream.end());
    let left = proxy.cuts === 0 ? cutAfterBytes : Infinity;
    upstream.on('data', (chunk: Buffer) => {
      if (chunk.length < left || proxy.cuts > 0) {
        left -= chunk.length;
        return void client.write(chunk);
      }
      proxy.cuts++;
      client.end(chunk.subarray(0, left));
      upstream.destroy();
      client.once('finish', () => client.destroy());
    });
    upstream.on('end', () => client.end());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  proxy.port = (server.address() as net.AddressInfo).port;
  proxy.url = `http://127.0.0.1:${proxy.port}`;
  proxy.close = () =>
    new Promise<void>((resolve) => {
      for (const s of sockets) s.destroy();
      server.close(() => resolve());
    });
  return proxy;
}
