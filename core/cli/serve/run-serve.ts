import type { Logger } from '../../shared/logger.ts';
import { jsonLogger } from '../../shared/logger.ts';
import { resolveDataDir } from '../../coordinator/store/data-dir.ts';
import { UsageError, discoverDevices, findFfmpeg, openData, secondsOption, type CommonOptions, type DeviceOptions, type OpenedData, type Terminal } from '../context.ts';
import { loadOrCreateApiToken, removeServeInfo, writeServeInfo } from '../remote/serve-info.ts';
import { startCoordinatorService, type CoordinatorService } from './coordinator-service.ts';
import { openTelemetry } from '../telemetry.ts';
import { systemClock } from '../../shared/clock.ts';

export interface ServeOptions extends CommonOptions, DeviceOptions {
  listen?: string;
  tls?: boolean;
  allowHost?: string[];
  leaseTtl?: string;
  heartbeat?: string;
  ping?: string;
  localAgent?: boolean;
  stallTimeout?: string;
  /** Where the built renderer lies; the desktop app's bundle passes its own. @default the service's */
  uiDir?: string;
}

/** `host:port`, `[v6]:port` or `:port`. */
export function parseListen(v: string | undefined): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d{1,5})$/.exec(v ?? '127.0.0.1:8765');
  const port = Number(m?.[3]);
  if (!m || port > 65535) throw new UsageError(`--listen: expected host:port (e.g. 0.0.0.0:8765), got "${v}"`);
  return { host: m[1] ?? (m[2] || '127.0.0.1'), port };
}

/** A coordinator service started the way `encodefarm serve` starts it. */
export interface RunningServe {
  /** Where it listens, e.g. `http://127.0.0.1:8765` (the port actually bound when asked for 0). */
  url: string;
  apiToken: string;
  dataDir: string;
  listen: { host: string; port: number };
  service: CoordinatorService;
  /** Hands local work back to the queue, stops the service, removes serve.json, closes the store. */
  stop(): Promise<void>;
}

/**
 * The body of `encodefarm serve`, shared with the desktop app's utility process so both run the
 * same code: opens the data dir, finds ffmpeg and this machine's devices, loads (or makes) the API
 * token, starts the coordinator service and writes serve.json for CLI commands on this machine.
 * Throws FfmpegMissingError (and UsageError for bad options) with the data dir closed again.
 */
export async function startServe(opts: ServeOptions, term: Terminal): Promise<RunningServe> {
  const listen = parseListen(opts.listen);
  const leaseTtlMs = secondsOption('lease-ttl', opts.leaseTtl);
  const heartbeatMs = secondsOption('heartbeat', opts.heartbeat);
  const pingMs = secondsOption('ping', opts.ping);
  const stallTimeoutMs = secondsOption('stall-timeout', opts.stallTimeout);
  const dataDir = resolveDataDir({ flag: opts.dataDir, env: term.env });
  const data = openData(opts, term);
  const closeData = () => {
    data.store.close();
    data.closeLog();
  };
  try {
    const logger = teeLogger(data, term);
    const ffmpeg = await findFfmpeg(opts, term);
    const localDevices = opts.localAgent === false ? undefined : await discoverDevices(ffmpeg, opts, term);
    const apiToken = await loadOrCreateApiToken(dataDir);
    // NVML, else a long-lived nvidia-smi, else none: the local agent reports what this machine has.
    const telemetry = localDevices ? await openTelemetry({ env: term.env, clock: systemClock }) : undefined;
    const service = await startCoordinatorService({
      store: data.store,
      dataDir,
      logger,
      ffmpeg,
      localDevices,
      localTelemetry: telemetry,
      listen,
      apiToken,
      tls: Boolean(opts.tls),
      allowHosts: opts.allowHost,
      coordinator: {
        ...(leaseTtlMs !== undefined && { leaseTtlMs }),
        ...(heartbeatMs !== undefined && { heartbeatMs }),
      },
      pingMs,
      stallTimeoutMs,
      uiDir: opts.uiDir,
    });
    const { url } = service.address;
    await writeServeInfo(dataDir, { url, pid: process.pid, fingerprint: service.fingerprint });
    let stopping: Promise<void> | undefined;
    const stop = () =>
      (stopping ??= (async () => {
        try {
          await service.close();
          await removeServeInfo(dataDir);
        } finally {
          telemetry?.close();
          closeData();
        }
      })());
    return { url, apiToken, dataDir, listen, service, stop };
  } catch (err) {
    closeData();
    throw err;
  }
}

/** Structured logs on stderr (JSON lines) as well as in the data dir's log file. */
function teeLogger(data: OpenedData, term: Terminal): Logger {
  const level = term.env.ENCODEFARM_LOG_LEVEL === 'debug' ? 'debug' : 'info';
  const stderrLog = jsonLogger((line) => term.err(line), level);
  return {
    debug: (m, f) => (data.logger.debug(m, f), stderrLog.debug(m, f)),
    info: (m, f) => (data.logger.info(m, f), stderrLog.info(m, f)),
    warn: (m, f) => (data.logger.warn(m, f), stderrLog.warn(m, f)),
    error: (m, f) => (data.logger.error(m, f), stderrLog.error(m, f)),
  };
}
