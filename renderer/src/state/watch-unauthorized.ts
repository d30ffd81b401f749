import { ApiError, type ApiClient } from '../api/client.ts';

type Method = (...args: unknown[]) => Promise<unknown>;

/**
 * The same client, calling `onUnauthorized` whenever the coordinator answers 401: the token is
 * wrong or from an earlier run, and no view can fix that, so the shell says what to do instead.
 */
export function watchUnauthorized(api: ApiClient, onUnauthorized: () => void): ApiClient {
  const wrapped = new Map<PropertyKey, Method>();
  return new Proxy(api, {
    get(target, key) {
      const method = Reflect.get(target, key) as unknown;
      if (typeof method !== 'function') return method;
      let w = wrapped.get(key);
      if (!w) {
        w = (...args: unknown[]) =>
          (method as Method)(...args).catch((err: unknown) => {
            if (err instanceof ApiError && err.status === 401) onUnauthorized();
            throw err;
          });
        wrapped.set(key, w);
      }
      return w;
    },
  });
}
