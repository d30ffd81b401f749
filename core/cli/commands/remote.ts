import path from 'node:path';
import {
  AgentsResponseSchema,
  JobActionResponseSchema,
  JoinTokenResponseSchema,
  OkSchema,
  StatusResponseSchema,
  SubmitResponseSchema,
  type JobActionRequest,
  type SubmitRequest,
} from '../../shared/protocol/index.ts';
import { UsageError, parseIntOption, type Terminal } from '../context.ts';
import { EXIT } from '../farm-session.ts';
import { remoteClient, type RemoteOptions } from '../remote/target.ts';
import { renderAgents, renderStatus } from '../status-view.ts';
import { parseIds } from './jobs.ts';

export interface SubmitOptions extends RemoteOptions {
  preset: string;
  out?: string;
  priority?: string;
  onExists?: string;
  tag?: string[];
}

/**
 * `encodefarm submit`: queues files on a running coordinator and returns. Relative paths are made
 * absolute here; they must name the same files on the coordinator (same machine or same mounts).
 */
export async function runSubmit(inputs: readonly string[], opts: SubmitOptions, term: Terminal): Promise<number> {
  if (inputs.length === 0) throw new UsageError('submit: give at least one file, folder or glob');
  const onExists = opts.onExists ?? 'skip';
  if (onExists !== 'skip' && onExists !== 'suffix') throw new UsageError(`--on-exists: expected "skip" or "suffix", got "${onExists}"`);
  const body: SubmitRequest = {
    inputs: inputs.map((i) => path.resolve(term.cwd, i)),
    presetId: opts.preset,
    outDir: opts.out ? path.resolve(term.cwd, opts.out) : null,
    onExists,
    priority: parseIntOption('priority', opts.priority, -1000) ?? 0,
    requireTags: opts.tag ?? [],
  };
  const client = await remoteClient(opts, term);
  const r = await client.post('/batches', SubmitResponseSchema, body);
  for (const e of r.errors) term.err(`skipped  ${e}\n`);
  term.out(`${r.resumed ? 'continued' : 'queued'} batch ${r.batchId}: ${r.jobIds.length} job(s)\n`);
  return EXIT.ok;
}

export async function runRemoteStatus(opts: RemoteOptions & { batch?: string; limit?: string }, term: Terminal): Promise<number> {
  const client = await remoteClient(opts, term);
  const q = new URLSearchParams({ limit: String(parseIntOption('limit', opts.limit, 1) ?? 10) });
  if (opts.batch) q.set('batch', String(parseIds([opts.batch], 'batch')[0]));
  term.out(renderStatus(await client.get(`/status?${q}`, StatusResponseSchema)));
  return EXIT.ok;
}

export async function runRemoteJobAction(
  action: JobActionRequest['action'],
  rawIds: readonly string[],
  opts: RemoteOptions & { batch?: boolean },
  term: Terminal,
): Promise<number> {
  const ids = parseIds(rawIds, opts.batch ? 'batch' : 'job');
  const client = await remoteClient(opts, term);
  const r = await client.post('/jobs/actions', JobActionResponseSchema, { action, ids, batch: Boolean(opts.batch) });
  term.out(`${action}: ${r.changed.length} job(s) changed${r.changed.length ? ` (${r.changed.join(', ')})` : ''}\n`);
  return r.changed.length > 0 || opts.batch ? EXIT.ok : EXIT.failed;
}

const AGENT_ACTIONS = ['pause', 'drain', 'resume', 'revoke'] as const;

/** `encodefarm agents [list | join-token | pause|drain|resume|revoke <id>]` */
export async function runAgents(action: string | undefined, id: string | undefined, opts: RemoteOptions & { json?: boolean }, term: Terminal): Promise<number> {
  const client = await remoteClient(opts, term);
  if (action === undefined || action === 'list') {
    const r = await client.get('/agents', AgentsResponseSchema);
    term.out(opts.json ? JSON.stringify(r.agents, null, 2) + '\n' : renderAgents(r.agents));
    return EXIT.ok;
  }
  if (action === 'join-token') {
    const r = await client.post('/agents/join-tokens', JoinTokenResponseSchema, {});
    term.out(`${r.token}\n`);
    term.err(`single use, valid until ${new Date(r.expiresAt).toISOString()}: encodefarm agent --coordinator <url> --join <token>\n`);
    return EXIT.ok;
  }
  if (!(AGENT_ACTIONS as readonly string[]).includes(action)) {
    throw new UsageError(`agents: unknown action "${action}" (list, join-token, ${AGENT_ACTIONS.join(', ')})`);
  }
  if (!id) throw new UsageError(`agents ${action}: give the agent id (see \`encodefarm agents\`)`);
  await client.post(`/agents/${encodeURIComponent(id)}/actions`, OkSchema, { action });
  term.out(`agent ${id}: ${action === 'revoke' ? 'revoked' : action === 'resume' ? 'active' : action === 'pause' ? 'paused' : 'draining'}\n`);
  return EXIT.ok;
}
