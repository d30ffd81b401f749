import { resolveDataDir } from '../../coordinator/store/data-dir.ts';
import { UsageError, type Terminal } from '../context.ts';
import { createApiClient, type ApiClient } from './api-client.ts';
import { readApiToken, readServeInfo } from './serve-info.ts';

export interface RemoteOptions {
  coordinator?: string;
  token?: string;
  fingerprint?: string;
  dataDir?: string;
}

/**
 * Which coordinator a command talks to: `--coordinator` (or the one `serve` runs from this data
 * dir), with `--token` / ENCODEFARM_TOKEN (or this data dir's token) and, for https, the pinned
 * fingerprint (`--fingerprint`, or the one `serve` recorded).
 */
export async function remoteClient(opts: RemoteOptions, term: Terminal): Promise<ApiClient> {
  const dataDir = resolveDataDir({ flag: opts.dataDir, env: term.env });
  const info = await readServeInfo(dataDir);
  const url = opts.coordinator ?? info?.url;
  if (!url) throw new UsageError('no coordinator: pass --coordinator http(s)://host:port, or run `encodefarm serve` on this machine');
  if (!/^https?:\/\/[^/]+\/?$/.test(url)) throw new UsageError(`--coordinator: expected http(s)://host:port, got "${url}"`);
  const token = opts.token ?? term.env.ENCODEFARM_TOKEN ?? (await readApiToken(dataDir));
  if (!token) throw new UsageError(`no API token for ${url}: pass --token or set ENCODEFARM_TOKEN (the coordinator prints it at start)`);
  const sameServer = info && new URL(info.url).origin === new URL(url).origin;
  const fingerprint = opts.fingerprint ?? (sameServer ? info.fingerprint : undefined);
  return createApiClient({ url, token, fingerprint });
}
