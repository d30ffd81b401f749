import os from 'node:os';
import path from 'node:path';
import { jsonLogger } from '../../shared/logger.ts';
import { FfmpegMissingError } from '../../shared/errors.ts';
import { enroll } from '../../agent/client/enroll.ts';
import { defaultAgentConfigDir, loadAgentIdentity, saveAgentIdentity, type AgentIdentity } from '../../agent/client/agent-config.ts';
import { parsePathMapping } from '../../agent/files/path-map.ts';
import { UsageError, discoverDevices, findFfmpeg, parseIntOption, secondsOption, type DeviceOptions, type Terminal } from '../context.ts';
import { EXIT } from '../farm-session.ts';
import { startAgentService } from '../agent-service.ts';
import { openTelemetry } from '../telemetry.ts';
import { systemClock } from '../../shared/clock.ts';

export interface AgentOptions extends DeviceOptions {
  coordinator?: string;
  join?: string;
  root?: string[];
  map?: string[];
  transfer?: boolean;
  cacheDir?: string;
  cacheMax?: string;
  tag?: string[];
  slots?: string;
  name?: string;
  configDir?: string;
  ffmpeg?: string;
  ffprobe?: string;
  stallTimeout?: string;
}

/** `20G`, `512M`, `1.5T` or plain bytes. */
export function parseSize(v: string | undefined, fallback: number): number {
  if (v === undefined) return fallback;
  const m = /^(\d+(?:\.\d+)?)\s*([kmgt]?)i?b?$/i.exec(v.trim());
  if (!m) throw new UsageError(`--cache-max: expected a size like 20G or 500M, got "${v}"`);
  const scale = { '': 1, k: 2 ** 10, m: 2 ** 20, g: 2 ** 30, t: 2 ** 40 }[m[2]!.toLowerCase() as '' | 'k' | 'm' | 'g' | 't'];
  return Math.floor(Number(m[1]) * scale);
}

async function identityFor(opts: AgentOptions, configDir: string, term: Terminal): Promise<AgentIdentity> {
  const saved = await loadAgentIdentity(configDir);
  if (opts.join) {
    if (!opts.coordinator) throw new UsageError('--join needs --coordinator http(s)://host:port');
    const coordinator = opts.coordinator.replace(/\/+$/, '');
    const name = opts.name ?? os.hostname();
    const got = await enroll({ coordinator, token: opts.join, name, tags: opts.tag ?? [] });
    const identity: AgentIdentity = { coordinator, agentId: got.agentId, secret: got.secret, fingerprint: got.fingerprint, enrolledAt: Date.now() };
    const file = await saveAgentIdentity(configDir, identity);
    term.err(`joined ${coordinator} as ${got.agentId}; credentials saved in ${file}\n`);
    return identity;
  }
  if (!saved) throw new UsageError(`this machine has not joined a coordinator yet: run with --coordinator <url> --join <token> (config dir ${configDir})`);
  if (opts.coordinator && opts.coordinator.replace(/\/+$/, '') !== saved.coordinator) {
    throw new UsageError(`this agent joined ${saved.coordinator}; to use ${opts.coordinator} join it with --join <token from that coordinator>`);
  }
  return saved;
}

/**
 * `encodefarm agent`: joins (once) and then serves a coordinator with this machine's devices.
 * Ctrl-C hands running work back to the queue at once; a drain finishes it first.
 */
export async function runAgent(opts: AgentOptions, term: Terminal, signal: AbortSignal): Promise<number> {
  const configDir = path.resolve(term.cwd, opts.configDir ?? defaultAgentConfigDir({ env: term.env }));
  const mappings = (opts.map ?? []).map(parsePathMapping);
  const roots = (opts.root ?? []).map((r) => path.resolve(term.cwd, r));
  const maxJobs = parseIntOption('slots', opts.slots, 1);
  const cacheMaxBytes = parseSize(opts.cacheMax, 20 * 2 ** 30);
  const identity = await identityFor(opts, configDir, term);
  let ffmpeg;
  try {
    ffmpeg = await findFfmpeg({ dataDir: configDir, ffmpeg: opts.ffmpeg, ffprobe: opts.ffprobe }, term);
  } catch (err) {
    if (err instanceof FfmpegMissingError) {
      term.err(`encodefarm: ${err.message}\n`);
      return EXIT.noFfmpeg;
    }
    throw err;
  }
  const devices = await discoverDevices(ffmpeg, opts, term);
  const logger = jsonLogger((line) => term.err(line), term.env.ENCODEFARM_LOG_LEVEL === 'debug' ? 'debug' : 'info');
  const telemetry = await openTelemetry({ env: term.env, clock: systemClock });
  const service = startAgentService({
    telemetry,
    identity,
    ffmpeg,
    devices,
    logger,
    roots,
    mappings,
    transfer: Boolean(opts.transfer),
    cacheDir: path.resolve(term.cwd, opts.cacheDir ?? path.join(configDir, 'cache')),
    cacheMaxBytes,
    tags: opts.tag ?? [],
    maxJobs,
    stallTimeoutMs: secondsOption('stall-timeout', opts.stallTimeout),
  });
  const where = service.mode === 'shared' ? `shared storage under ${roots.join(', ')}` : 'file transfer (no shared storage)';
  term.out(`agent ${identity.agentId} serving ${identity.coordinator}: ${devices.devices.map((d) => d.label).join(', ')}; ${where}\n`);
  const aborted = new Promise<'signal'>((resolve) =>
    signal.aborted ? resolve('signal') : signal.addEventListener('abort', () => resolve('signal'), { once: true }),
  );
  const outcome = await Promise.race([aborted, service.stopped]);
  if (outcome === 'signal') {
    term.err('stopping: handing running work back to the queue…\n');
    await service.stop('agent stopped by the operator');
    telemetry.close();
    return EXIT.ok;
  }
  await service.stop(outcome.ok ? 'drained' : 'refused');
  telemetry.close();
  if (outcome.ok) {
    term.err('drained: all work finished, stopping\n');
    return EXIT.ok;
  }
  term.err(`encodefarm: ${outcome.error.message}\n`);
  return EXIT.failed;
}
