import { JoinTokenRefusedError } from '../enrollment.ts';
import { HttpError } from '../server/http-errors.ts';
import type { RouteContext } from '../server/router.ts';
import { ApiRequestError } from './farm-api.ts';

/** Runs a JSON handler: its answer goes out as 200, the API's own refusals as their HTTP status. */
export const handle =
  (fn: (ctx: RouteContext) => unknown | Promise<unknown>) =>
  async (ctx: RouteContext): Promise<void> => {
    try {
      ctx.send(200, await fn(ctx));
    } catch (err) {
      if (err instanceof ApiRequestError) throw new HttpError(err.status, err.code, err.message, {}, err.fields);
      if (err instanceof JoinTokenRefusedError) throw new HttpError(401, 'bad-token', err.message);
      throw err;
    }
  };
