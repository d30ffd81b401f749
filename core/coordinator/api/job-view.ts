import type { JobView } from '../../shared/protocol/index.ts';
import type { JobRow } from '../ports.ts';

/** A job as the API and the events socket show it (the store's row less its internals). */
export function jobView(j: JobRow): JobView {
  return {
    id: j.id,
    batchId: j.batchId,
    inputPath: j.inputPath,
    presetId: j.presetId,
    outputPath: j.outputPath,
    state: j.state,
    percent: j.percent,
    fps: j.fps,
    etaS: j.etaS,
    attempts: j.attempts,
    agentId: j.agentId,
    deviceId: j.deviceId,
    inputSize: j.inputSize,
    outputSize: j.outputSize,
    finalPath: j.finalPath,
    errorKind: j.errorKind,
    errorMessage: j.errorMessage,
    blockReason: j.blockReason,
    speed: j.speed,
    priority: j.priority,
    createdAt: j.createdAt,
    startedAt: j.startedAt,
    finishedAt: j.finishedAt,
    encodeMs: j.encodeMs,
    durationS: j.durationS,
  };
}
