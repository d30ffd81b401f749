import os from 'node:os';
import { jsonLogger } from '../../shared/logger.ts';
import { resolveDataDir } from '../../coordinator/store/data-dir.ts';
import { FfmpegMissingError } from '../../shared/errors.ts';
import { UsageError, discoverDevices, findFfmpeg, openData, secondsOption, type CommonOptions, type DeviceOptions, type Terminal } from '../context.ts';
import { EXIT } from '../farm-session.ts';
import { startCoordinatorService } from '../serve/coordinator-service.ts';
import { loadOrCreateApiToken, removeServeInfo, writeServeInfo } from '../remote/serve-info.ts';

export interface ServeOptions extends CommonOptions, DeviceOptions {
  listen?: string;
  tls?: boolean;
  allowHost?: string[];
  leaseTtl?: string;
  heartbeat?: string;
  ping?: string;
  localAgent?: boolean;
  stallTimeout?: string;
}

/** `host:port`, `[v6]:port` or `:port`. */
export function parseListen(v: string | undefined): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d{1,5})$/.exec(v ?? '127.0.0.1:8765');
  const port = Number(m?.[3]);
  if (!m || port > 65535) throw new UsageError(`--listen: expected host:port (e.g. 0.0.0.0:8765), got "${v}"`);
  return { host: m[1] ?? (m[2] || '127.0.0.1'), port };
}

/**
 * `encodefarm serve`: the long-running coordinator with its API for the UI, the CLI and remote
 * agents, and this machine's devices as a local agent. Runs until Ctrl-C / SIGTERM.
 */
export async function runServe(opts: ServeOptions, term: Terminal, signal: AbortSignal): Promise<number> {
  const listen = parseListen(opts.listen);
  const leaseTtlMs = secondsOption('lease-ttl', opts.leaseTtl);
  const heartbeatMs = secondsOption('heartbeat', opts.heartbeat);
  const dataDir = resolveDataDir({ flag: opts.dataDir, env: term.env });
  const data = openData(opts, term);
  // Structured logs on stderr (JSON lines) as well as in the data dir's log file.
  const level = term.env.ENCODEFARM_LOG_LEVEL === 'debug' ? 'debug' : 'info';
  const stderrLog = jsonLogger((line) => term.err(line), level);
  const logger = {
    debug: (m: string, f?: Record<string, unknown>) => (data.logger.debug(m, f), stderrLog.debug(m, f)),
    info: (m: string, f?: Record<string, unknown>) => (data.logger.info(m, f), stderrLog.info(m, f)),
    warn: (m: string, f?: Record<string, unknown>) => (data.logger.warn(m, f), stderrLog.warn(m, f)),
    error: (m: string, f?: Record<string, unknown>) => (data.logger.error(m, f), stderrLog.error(m, f)),
  };
  try {
    let ffmpeg;
    try {
      ffmpeg = await findFfmpeg(opts, term);
    } catch (err) {
      if (err instanceof FfmpegMissingError) {
        term.err(`encodefarm: ${err.message}\n`);
        return EXIT.noFfmpeg;
      }
      throw err;
    }
    const localDevices = opts.localAgent === false ? undefined : await discoverDevices(ffmpeg, opts, term);
    const apiToken = await loadOrCreateApiToken(dataDir);
    const service = await startCoordinatorService({
      store: data.store,
      dataDir,
      logger,
      ffmpeg,
      localDevices,
      listen,
      apiToken,
      tls: Boolean(opts.tls),
      allowHosts: opts.allowHost,
      coordinator: {
        ...(leaseTtlMs !== undefined && { leaseTtlMs }),
        ...(heartbeatMs !== undefined && { heartbeatMs }),
      },
      pingMs: secondsOption('ping', opts.ping),
      stallTimeoutMs: secondsOption('stall-timeout', opts.stallTimeout),
    });
    const { url } = service.address;
    await writeServeInfo(dataDir, { url, pid: process.pid, fingerprint: service.fingerprint });
    const reachable = listen.host === '0.0.0.0' || listen.host === '::' ? url.replace(/\/\/[^:/]+/, `//${os.hostname()}`) : url;
    term.out(
      [
        `EncodeFarm coordinator listening on ${url}`,
        `  UI:     ${url}/#token=${apiToken}`,
        `  token:  stored in ${dataDir}/api-token (CLI commands on this machine use it)`,
        ...(service.fingerprint ? [`  TLS certificate fingerprint (agents pin it): ${service.fingerprint}`] : []),
        `  agents: run \`encodefarm agents join-token\`, then on each render machine:`,
        `          encodefarm agent --coordinator ${reachable} --join <token> [--root <media folder>]`,
        '',
      ].join('\n'),
    );
    await new Promise<void>((resolve) => (signal.aborted ? resolve() : signal.addEventListener('abort', () => resolve(), { once: true })));
    term.err('stopping: handing local work back to the queue…\n');
    await service.close();
    await removeServeInfo(dataDir);
    return EXIT.ok;
  } finally {
    data.store.close();
    data.closeLog();
  }
}
