/**
 * A fleet of null agents: enrolled through the coordinator's HTTP API (join token, then enroll)
 * and connected over WebSockets. Runs inside the bench process, or on its own as a child
 * (`--fleet child`) so that the coordinator's RSS is measured without the agents in it.
 */
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { createApiClient } from '../../core/cli/remote/api-client.ts';
import { EnrollResponseSchema, JoinTokenResponseSchema } from '../../core/shared/protocol/index.ts';
import { NullAgent, type AgentErrors, type NullAgentOptions } from './null-agent.ts';

export interface FleetOptions {
  url: string;
  apiToken: string;
  agents: number;
  slots: number;
  kind: NullAgentOptions['kind'];
  holdMs: number;
}

/** What the fleet measured and counted, once the run is over. */
export interface FleetReport {
  /** "Slot freed → next job started" per assign after a freed slot, in ms (agent clocks). */
  latencies: number[];
  assigned: number;
  errors: AgentErrors;
  /** Memory of the fleet's own process (only meaningful for a child fleet). */
  memory: NodeJS.MemoryUsage;
}

export interface Fleet {
  /** Stops every session (closing the sockets) and returns the figures. */
  finish(): Promise<FleetReport>;
}

/** Enrolls `count` agents, a few at a time: a join token each, then the enroll call. */
async function enrollAll(opts: FleetOptions): Promise<{ agentId: string; secret: string }[]> {
  const api = createApiClient({ url: opts.url, token: opts.apiToken });
  const one = async (i: number) => {
    const { token } = await api.post('/agents/join-tokens', JoinTokenResponseSchema, {});
    return api.post('/agents/enroll', EnrollResponseSchema, { token, name: `bench-null-${i}` });
  };
  const out: { agentId: string; secret: string }[] = [];
  for (let i = 0; i < opts.agents; i += 10) {
    const batch = Array.from({ length: Math.min(10, opts.agents - i) }, (_, j) => one(i + j));
    out.push(...(await Promise.all(batch)));
  }
  return out;
}

/** Enrolls and connects every agent in this process; resolves once each has its `welcome`. */
export async function startInlineFleet(opts: FleetOptions): Promise<Fleet> {
  const creds = await enrollAll(opts);
  const latencies: number[] = [];
  const agents = creds.map((c) => new NullAgent({ url: opts.url, agentId: c.agentId, secret: c.secret, kind: opts.kind, slots: opts.slots, latencies, holdMs: opts.holdMs }));
  await Promise.all(agents.map((a) => a.connect()));
  return {
    async finish() {
      await Promise.all(agents.map((a) => a.close()));
      const errors: AgentErrors = { invalidMessages: 0, conflicts: 0, unexpectedCloses: 0, socketErrors: 0, overAssigned: 0 };
      for (const a of agents) for (const k of Object.keys(errors) as (keyof AgentErrors)[]) errors[k] += a.errors[k];
      return { latencies, assigned: agents.reduce((n, a) => n + a.assigned, 0), errors, memory: process.memoryUsage() };
    },
  };
}

/** Set in the child process that runs the fleet. */
export const FLEET_CHILD_ENV = 'ENCODEFARM_BENCH_FLEET_CHILD';

type ChildMessage = { type: 'ready' } | { type: 'report'; report: FleetReport } | { type: 'error'; message: string };

/** The same fleet in a child process (node + tsx), driven over IPC. */
export async function startChildFleet(opts: FleetOptions): Promise<Fleet> {
  // The same module (or the bundle it is part of) with the same loader flags as this process.
  const child = fork(fileURLToPath(import.meta.url), [], {
    execArgv: process.execArgv,
    env: { ...process.env, [FLEET_CHILD_ENV]: '1' },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const next = () =>
    new Promise<ChildMessage>((resolve, reject) => {
      const onExit = (code: number | null) => reject(new Error(`agent fleet process exited (${code}) early`));
      child.once('exit', onExit);
      child.once('message', (m) => {
        child.off('exit', onExit);
        const msg = m as ChildMessage;
        if (msg.type === 'error') reject(new Error(`agent fleet: ${msg.message}`));
        else resolve(msg);
      });
    });
  // A send on a channel the child already closed reports here instead of crashing the bench.
  const send = (m: unknown) => child.send(m as object, (err) => err && child.kill());
  const ready = next();
  send({ type: 'start', opts });
  await ready;
  return {
    async finish() {
      const report = next();
      send({ type: 'finish' });
      const msg = await report;
      if (msg.type !== 'report') throw new Error(`agent fleet: expected a report, got ${msg.type}`);
      return msg.report;
    },
  };
}

/** Child side: start on `start`, report and exit on `finish`. */
function runAsChild(): void {
  let fleet: Fleet | undefined;
  // Resolves once the message is handed to the channel: disconnecting earlier can lose a large report.
  const reply = (m: ChildMessage) => new Promise<void>((resolve) => process.send!(m, undefined, {}, () => resolve()));
  process.on('message', (m: { type: 'start'; opts: FleetOptions } | { type: 'finish' }) => {
    const work =
      m.type === 'start'
        ? startInlineFleet(m.opts).then((f) => ((fleet = f), reply({ type: 'ready' })))
        : fleet!.finish().then((report) => reply({ type: 'report', report })).then(() => process.disconnect());
    work.catch(async (err: unknown) => {
      process.exitCode = 1;
      await reply({ type: 'error', message: err instanceof Error ? err.message : String(err) });
      process.disconnect();
    });
  });
}

if (process.send && process.env[FLEET_CHILD_ENV] === '1') runAsChild();
