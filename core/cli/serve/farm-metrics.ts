import type { Coordinator } from '../../coordinator/coordinator.ts';
import type { JobStore } from '../../coordinator/ports.ts';
import type { FarmApi } from '../../coordinator/api/farm-api.ts';
import { createQueueWaitHistogram, renderMetrics } from '../../coordinator/server/metrics.ts';

/**
 * Collects what /metrics reports: queue waits as jobs get leased, transfer bytes as they move,
 * and a snapshot of jobs, devices, GPU telemetry and agents when scraped.
 */
export function createFarmMetrics(deps: { coordinator: Coordinator; store: JobStore; api: FarmApi; now: () => number }) {
  const queueWait = createQueueWaitHistogram();
  const transferBytes = { download: 0, upload: 0 };
  // One observation per lease, measured from submission.
  deps.coordinator.events.on('claimed', (job) => queueWait.observe((deps.now() - job.createdAt) / 1000));

  return {
    addTransferBytes(direction: 'download' | 'upload', n: number): void {
      transferBytes[direction] += n;
    },
    render(): string {
      const running = deps.store.listJobs({ states: ['running'] });
      const devices = deps.coordinator.devices();
      const agents = deps.api.agents();
      return renderMetrics({
        jobsByState: deps.api.jobCounts(),
        queueWaitSeconds: queueWait.snapshot(),
        deviceFps: devices.map((d) => ({
          agent: d.agentId,
          device: d.id,
          label: d.label,
          fps: running.filter((j) => j.agentId === d.agentId && j.deviceId === d.id).reduce((sum, j) => sum + j.fps, 0),
        })),
        gpus: deps.coordinator.telemetry().flatMap(({ agentId, sample }) =>
          sample.gpus.map((g) => ({
            agent: agentId,
            gpu: String(g.index),
            name: g.name,
            temperatureC: g.temperatureC,
            gpuUtil: g.gpuUtil,
            encoderUtil: g.encoderUtil,
            encoderSessions: g.encoderSessions,
            encoderFps: g.encoderFps,
            memoryUsedBytes: g.memoryUsedBytes,
          })),
        ),
        agentsUp: agents.filter((a) => a.connected).length,
        agentsKnown: agents.length,
        transferBytes: { ...transferBytes },
      });
    },
  };
}
