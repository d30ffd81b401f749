import {
  API_PREFIX,
  AgentActionRequestSchema,
  EnrollRequestSchema,
  JobActionRequestSchema,
  SubmitRequestSchema,
} from '../../shared/protocol/index.ts';
import type { Coordinator } from '../coordinator.ts';
import type { Enrollment } from '../enrollment.ts';
import { HttpError } from '../server/http-errors.ts';
import type { Route, RouteContext } from '../server/router.ts';
import type { TransferHandlers } from '../transfer/transfer-handlers.ts';
import { ApiRequestError, type FarmApi } from './farm-api.ts';
import { handle } from './handle.ts';
import { METRICS_CONTENT_TYPE } from '../server/metrics.ts';

export interface ApiRouteDeps {
  api: FarmApi;
  coordinator: Coordinator;
  enrollment: Enrollment;
  transfer: TransferHandlers;
  /** Prometheus text of the farm right now. */
  metrics(): string;
  /** Ends an agent's live session (after a revoke). */
  kickAgent(agentId: string): void;
}

const positiveInt = (v: string | null, name: string): number | undefined => {
  if (v === null) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n <= 0) throw new HttpError(400, 'bad-request', `${name}: expected a positive whole number, got "${v}"`);
  return n;
};


const transferParams = (ctx: RouteContext) => {
  if (ctx.principal.kind !== 'agent') throw new HttpError(401, 'unauthorized', 'agent credentials required');
  return { jobId: positiveInt(ctx.params.jobId!, 'job')!, epoch: positiveInt(ctx.params.epoch!, 'epoch')!, agentId: ctx.principal.agentId };
};

/** The coordinator's HTTP API: the CLI's and UI's routes, enrollment, metrics, file transfer. */
export function apiRoutes(deps: ApiRouteDeps): Route[] {
  const { api, coordinator, enrollment, transfer } = deps;
  const r = (method: string, path: string, auth: Route['auth'], handler: Route['handler']): Route => ({ method, path: API_PREFIX + path, auth, handler });
  const t = `/transfer/:jobId/:epoch`;
  return [
    r('GET', '/health', 'none', handle(() => ({ ok: true }))),
    r('POST', '/batches', 'api', handle(async (ctx) => api.submit(await ctx.readJson(SubmitRequestSchema)))),
    r(
      'GET',
      '/status',
      'api',
      handle((ctx) =>
        api.status({
          batchId: positiveInt(ctx.query.get('batch'), 'batch'),
          limit: positiveInt(ctx.query.get('limit'), 'limit'),
          withJobs: ctx.query.get('jobs') !== '0',
        }),
      ),
    ),
    r('POST', '/jobs/actions', 'api', handle(async (ctx) => ({ changed: api.jobAction(await ctx.readJson(JobActionRequestSchema)) }))),
    r('GET', '/agents', 'api', handle(() => ({ agents: api.agents() }))),
    r('POST', '/agents/join-tokens', 'api', handle(() => enrollment.issueJoinToken())),
    r(
      'POST',
      '/agents/enroll',
      'none',
      handle(async (ctx) => {
        const body = await ctx.readJson(EnrollRequestSchema, 4096);
        return enrollment.enroll(body.token, body.name, body.tags);
      }),
    ),
    r(
      'POST',
      '/agents/:id/actions',
      'api',
      handle(async (ctx) => {
        const { action } = await ctx.readJson(AgentActionRequestSchema);
        const id = ctx.params.id!;
        if (id.startsWith('local:') && (action === 'drain' || action === 'revoke')) {
          throw new ApiRequestError(409, 'local-agent', `${id} is this machine's own agent: it can be paused and resumed; stopping \`serve\` stops it`);
        }
        const ok =
          action === 'revoke'
            ? coordinator.revokeAgent(id)
            : coordinator.setAgentState(id, action === 'resume' ? 'active' : action === 'pause' ? 'paused' : 'draining');
        if (!ok) throw new ApiRequestError(404, 'no-such-agent', `no enrolled agent ${id} (or it is revoked)`);
        if (action === 'revoke') deps.kickAgent(id);
        return { ok: true as const };
      }),
    ),
    {
      method: 'GET',
      path: '/metrics',
      auth: 'api',
      handler: (ctx) => {
        ctx.res.writeHead(200, { 'content-type': METRICS_CONTENT_TYPE });
        ctx.res.end(deps.metrics());
      },
    },
    r('GET', `${t}/input`, 'agent', (ctx) => transfer.download(ctx.req, ctx.res, transferParams(ctx))),
    r('HEAD', `${t}/output`, 'agent', (ctx) => transfer.uploadOffset(ctx.req, ctx.res, transferParams(ctx))),
    r('PATCH', `${t}/output`, 'agent', (ctx) => transfer.uploadChunk(ctx.req, ctx.res, transferParams(ctx))),
    r('POST', `${t}/output/complete`, 'agent', (ctx) => transfer.uploadComplete(ctx.req, ctx.res, transferParams(ctx))),
  ];
}
