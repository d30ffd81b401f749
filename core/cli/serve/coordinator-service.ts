import os from 'node:os';
import path from 'node:path';
import { ACTIVE_STATES } from '../../shared/job-state.ts';
import { systemClock, type Clock } from '../../shared/clock.ts';
import type { Logger } from '../../shared/logger.ts';
import { tempPathFor } from '../../shared/temp-names.ts';
import { createCoordinator, type Coordinator, type CoordinatorConfig } from '../../coordinator/coordinator.ts';
import type { JobStore } from '../../coordinator/ports.ts';
import { createPresetCatalog, type PresetCatalog } from '../../coordinator/preset-catalog.ts';
import { createEnrollment } from '../../coordinator/enrollment.ts';
import { createFarmApi } from '../../coordinator/api/farm-api.ts';
import { apiRoutes } from '../../coordinator/api/api-routes.ts';
import { uiRoutes } from '../../coordinator/api/ui-routes.ts';
import { defaultUiDir, staticUiRoutes } from '../../coordinator/api/static-ui.ts';
import { createFarmSettings } from '../../coordinator/api/settings.ts';
import { createPresetsApi } from '../../coordinator/api/presets-api.ts';
import { createInbox } from '../../coordinator/api/inbox.ts';
import { createProbeCache } from '../../coordinator/api/probe-cache.ts';
import { createHttpServer, type ListeningAddress } from '../../coordinator/server/http-server.ts';
import { allowedHostsFor } from '../../coordinator/server/guards.ts';
import { createAgentSockets } from '../../coordinator/server/agent-sockets.ts';
import { createEventsSocket } from '../../coordinator/server/events-socket.ts';
import { loadOrCreateCertificate } from '../../coordinator/server/tls.ts';
import { createTransferHandlers } from '../../coordinator/transfer/transfer-handlers.ts';
import { createHashCache } from '../../coordinator/transfer/hash-cache.ts';
import { createProber } from '../../agent/encoder/probe.ts';
import type { Prober } from '../../agent/ports.ts';
import type { SourceProber } from '../../coordinator/ports.ts';
import type { FfmpegInstall } from '../../agent/devices/locate-ffmpeg.ts';
import type { DeviceSet } from '../../agent/devices/device-set.ts';
import type { TelemetrySource } from '../../agent/telemetry/telemetry-source.ts';
import { attachLocalAgent, isLocalAgentAlive, type LocalAgent } from '../local-farm.ts';
import { createUploadVerifier } from './upload-verifier.ts';
import { createFarmMetrics } from './farm-metrics.ts';
import { createWatchService, type WatchService } from '../../coordinator/watch/watch-service.ts';
import { watchRoutes } from '../../coordinator/api/watch-routes.ts';
import { createSourceCheck } from '../../coordinator/watch/source-check.ts';

export interface CoordinatorServiceOptions {
  store: JobStore;
  dataDir: string;
  logger: Logger;
  ffmpeg: FfmpegInstall;
  /** This machine's devices for the in-process agent; undefined runs no local agent. */
  localDevices?: DeviceSet;
  /** GPU telemetry of this machine for the in-process agent to report (the caller closes it). */
  localTelemetry?: TelemetrySource;
  listen: { host: string; port: number };
  apiToken: string;
  tls?: boolean;
  /** Extra Host header values to accept (a DNS name or proxy in front of the coordinator). */
  allowHosts?: string[];
  coordinator?: Partial<CoordinatorConfig>;
  /** @default 10000 — WebSocket pings; a silent agent session is dropped after two. */
  pingMs?: number;
  clock?: Clock;
  stallTimeoutMs?: number;
  /** The built renderer served at `/`. @default `<package root>/dist/renderer` */
  uiDir?: string;
  /** @default 64 GiB — the largest file the browser may upload to the inbox. */
  inboxMaxBytes?: number;
}

/** Probes sources for the job detail view, as the UI shows them. */
function sourceProber(prober: Prober): SourceProber {
  return {
    async probe(file) {
      const r = await prober.probe(file);
      return {
        formatName: r.formatName,
        durationS: r.durationS,
        sizeBytes: r.sizeBytes,
        video: r.video && { codec: r.video.codec, width: r.video.width, height: r.video.height, fps: r.fps ?? null },
        audio: r.audio ?? [],
      };
    },
  };
}

/** The local agent's id is made inside it; it shows up as the one `local:` agent that connects. */
function capLocalAgent(coordinator: Coordinator, concurrency: () => number | null): (value: number | null) => void {
  let localId: string | undefined;
  coordinator.events.on('agent', ({ agentId, connected }) => {
    if (!connected || !agentId.startsWith('local:')) return;
    localId = agentId;
    // Emitted during the agent's hello, before anything is dispatched to it.
    coordinator.limitAgent(agentId, concurrency() ?? undefined);
  });
  return (value) => {
    if (localId) coordinator.limitAgent(localId, value ?? undefined);
  };
}

export interface CoordinatorService {
  address: ListeningAddress;
  fingerprint: string | undefined;
  coordinator: Coordinator;
  presets: PresetCatalog;
  watch: WatchService;
  /** Stops taking connections, hands local work back to the queue, closes everything. */
  close(): Promise<void>;
}

/**
 * `encodefarm serve` as a value: the coordinator, its HTTP/WS API (token, Host and Origin checked
 * on every request and upgrade), enrollment, file transfer, /metrics, and this machine's devices
 * as an in-process agent. Remote agents' work survives a dropped link until its lease runs out.
 */
export async function startCoordinatorService(opts: CoordinatorServiceOptions): Promise<CoordinatorService> {
  const clock = opts.clock ?? systemClock;
  const { store, logger } = opts;
  const presets = createPresetCatalog(store, () => clock.now());
  // A remote agent away from its socket may be reconnecting: its work stays its own until the
  // lease runs out. A revoked one loses it at once.
  const remoteAlive = (id: string) => {
    const agent = store.getAgent(id);
    return agent !== undefined && agent.revokedAt === null;
  };
  const coordinator = createCoordinator({
    store,
    clock,
    logger,
    presets,
    config: opts.coordinator,
    isForeignAgentAlive: (id) => isLocalAgentAlive(id) || remoteAlive(id),
    // A watched file replaced or deleted during its encode never gets that encode committed.
    sourceCheck: createSourceCheck({ store }),
  });
  await coordinator.recover();

  const cert = opts.tls ? await loadOrCreateCertificate(opts.dataDir, [os.hostname(), opts.listen.host]) : undefined;
  const enrollment = createEnrollment({ store, clock, fingerprint: cert?.fingerprint256 });
  const settings = createFarmSettings({ store, onChange: (next) => applyConcurrency(next.concurrency) });
  const applyConcurrency = capLocalAgent(coordinator, () => settings.get().concurrency);
  const api = createFarmApi({ coordinator, store, presets, cwd: process.cwd(), submitDefaults: () => settings.get() });
  const metrics = createFarmMetrics({ coordinator, store, api, now: () => clock.now() });
  const prober = createProber({ ffprobePath: opts.ffmpeg.ffprobePath });
  const inboxDir = path.join(opts.dataDir, 'inbox');
  // Watch folders: queued files are probed first, so a half-copied or non-video file never becomes a job.
  const watch = createWatchService({
    store,
    clock,
    logger,
    presets,
    prober: sourceProber(prober),
    submit: (sub) => coordinator.submit(sub),
    // Jobs blocked while their folder was offline go back to the queue (and are dispatched) on its return.
    resumeJobs: (ids) => coordinator.resumeJobs(ids),
    events: coordinator.events,
  });
  const transfer = createTransferHandlers({
    lease: (jobId, epoch, agentId) => {
      const job = store.getJob(jobId);
      if (!job || job.epoch !== epoch || job.agentId !== agentId || !ACTIVE_STATES.has(job.state)) return undefined;
      return { inputPath: job.inputPath, tempPath: tempPathFor(job.outputPath, job.id, epoch) };
    },
    verifyUpload: createUploadVerifier({ store, presets, prober }),
    hashes: createHashCache(),
    logger,
    onBytes: (direction, n) => metrics.addTransferBytes(direction, n),
  });
  const sockets = createAgentSockets({
    connect: (transport, agentId) => coordinator.connectAgent(transport, { agentId }),
    clock,
    logger,
    pingMs: opts.pingMs,
  });
  const eventsSocket = createEventsSocket({ events: coordinator.events, clock, logger });
  const server = createHttpServer({
    routes: [
      ...apiRoutes({ api, coordinator, enrollment, transfer, metrics: () => metrics.render(), kickAgent: (id) => void sockets.kick(id, 4001, 'revoked') }),
      ...watchRoutes({ store, presets, cwd: process.cwd(), now: () => clock.now(), reload: () => watch.reload() }),
      ...uiRoutes({
        coordinator,
        store,
        // A detail view that waits on a dead mount gives up sooner than an encode's probe.
        probes: createProbeCache(sourceProber(createProber({ ffprobePath: opts.ffmpeg.ffprobePath, timeoutMs: 20_000 }))),
        presets: createPresetsApi({ presets, store, changed: () => coordinator.presetsChanged() }),
        settings,
        inbox: createInbox({ dir: inboxDir, maxBytes: opts.inboxMaxBytes, logger }),
        about: {
          ffmpeg: { path: opts.ffmpeg.ffmpegPath, ffprobePath: opts.ffmpeg.ffprobePath, version: opts.ffmpeg.version },
          dataDir: opts.dataDir,
          inboxDir,
        },
        now: () => clock.now(),
      }),
      ...staticUiRoutes({ uiDir: opts.uiDir ?? defaultUiDir() }),
    ],
    allowedHosts: (bound) => allowedHostsFor({ listenHost: opts.listen.host, port: bound.port, extraHosts: opts.allowHosts }),
    apiToken: () => opts.apiToken,
    authenticateAgent: (id, secret) => enrollment.authenticate(id, secret),
    upgrades: {
      '/api/v1/agent': (req, socket, head, agentId) => sockets.handleUpgrade(req, socket, head, agentId),
      '/api/v1/events': (req, socket, head) => eventsSocket.handleUpgrade(req, socket, head),
    },
    tls: cert && { key: cert.key, cert: cert.cert },
    logger,
  });
  const address = await server.listen(opts.listen.host, opts.listen.port);
  let local: LocalAgent | undefined;
  if (opts.localDevices) {
    local = attachLocalAgent(coordinator, presets, {
      ffmpeg: opts.ffmpeg,
      deviceSet: opts.localDevices,
      logger,
      clock,
      stallTimeoutMs: opts.stallTimeoutMs,
      telemetry: opts.localTelemetry,
    });
  }
  coordinator.start();
  await watch.start();
  logger.info('coordinator listening', { url: address.url, tls: Boolean(cert), localAgent: Boolean(local) });

  let closing: Promise<void> | undefined;
  return {
    address,
    fingerprint: cert?.fingerprint256,
    coordinator,
    presets,
    watch,
    close: () =>
      (closing ??= (async () => {
        await watch.close();
        await local?.detach('coordinator stopping');
        eventsSocket.close();
        await sockets.close();
        await server.close();
        await coordinator.idle();
        coordinator.close();
      })()),
  };
}
