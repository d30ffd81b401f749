import type { DeviceView, DeviceWithFps } from '../../../../core/shared/protocol/index.ts';

/**
 * Applies a live `devices` frame to the list from `GET /devices`. Frames carry no fps, so a
 * device keeps the fps of the last poll while it still holds jobs (the next poll corrects it).
 */
export function mergeDeviceFrame(prev: readonly DeviceWithFps[], frame: readonly DeviceView[]): DeviceWithFps[] {
  const fps = new Map(prev.map((d) => [d.key, d.fps]));
  return frame.map((d) => ({ ...d, fps: d.busy.length > 0 ? (fps.get(d.key) ?? 0) : 0, jobs: d.busy }));
}
