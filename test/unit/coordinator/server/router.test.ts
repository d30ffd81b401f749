import { describe, expect, it } from 'vitest';
import { HttpError } from '../../../../core/coordinator/server/http-errors.ts';
import { createRouter, type Route } from '../../../../core/coordinator/server/router.ts';

const noop = () => {};
const routes: Route[] = [
  { method: 'GET', path: '/api/v1/transfer/:jobId/:epoch/input', auth: 'agent', handler: noop },
  { method: 'HEAD', path: '/api/v1/transfer/:jobId/:epoch/output', auth: 'agent', handler: noop },
  { method: 'PATCH', path: '/api/v1/transfer/:jobId/:epoch/output', auth: 'agent', handler: noop },
  { method: 'GET', path: '/api/v1/jobs', auth: 'api', handler: noop },
  { method: 'post', path: '/api/v1/jobs', auth: 'api', handler: noop },
];

function thrown(fn: () => unknown): HttpError {
  try {
    fn();
  } catch (err) {
    if (err instanceof HttpError) return err;
    throw err;
  }
  throw new Error('expected an HttpError');
}

describe('createRouter', () => {
  const router = createRouter(routes);

  it('matches method and path and decodes parameters', () => {
    const m = router.match('GET', '/api/v1/transfer/12/3/input');
    expect(m.route).toBe(routes[0]);
    expect(m.params).toEqual({ jobId: '12', epoch: '3' });
    expect(router.match('PATCH', '/api/v1/transfer/a%2Fb/3/output').params.jobId).toBe('a/b');
  });

  it('compares methods case-insensitively', () => {
    expect(router.match('POST', '/api/v1/jobs').route).toBe(routes[4]);
    expect(router.match('get', '/api/v1/jobs').route).toBe(routes[3]);
  });

  it('throws 404 for unknown paths, extra segments and undecodable parameters', () => {
    for (const path of ['/api/v1/nothing', '/api/v1/jobs/1', '/api/v1/transfer/%E0%A4%A/3/input']) {
      const err = thrown(() => router.match('GET', path));
      expect(err.status, path).toBe(404);
      expect(err.code).toBe('not-found');
    }
  });

  it('throws 405 with the allowed methods when only the method is wrong', () => {
    const err = thrown(() => router.match('DELETE', '/api/v1/transfer/1/1/output'));
    expect(err.status).toBe(405);
    expect(err.headers).toEqual({ Allow: 'HEAD, PATCH' });
  });
});
