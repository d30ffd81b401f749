import { z } from 'zod';
import { CODECS } from './preset.ts';

/**
 * - `nvenc`: a real NVIDIA GPU, encodes pinned with `-gpu N`.
 * - `simulated-gpu`: a named stand-in that runs the software encoder with `-threads 1` in a GPU's
 *   slots, so multi-GPU scheduling can be seen and tested without one. Always labelled simulated.
 * - `cpu`: software encoders (libx264, libx265, SVT-AV1/libaom).
 */
export const DEVICE_KINDS = ['nvenc', 'simulated-gpu', 'cpu'] as const;
export type DeviceKind = (typeof DEVICE_KINDS)[number];

export const DeviceStateSchema = z.enum(['working', 'quarantined', 'unavailable']);
export type DeviceState = z.infer<typeof DeviceStateSchema>;

/** What an agent announces about one device. */
export const DeviceAnnouncementSchema = z.object({
  id: z.string().min(1).max(100),
  kind: z.enum(DEVICE_KINDS),
  /** Human label, e.g. "GPU 0 NVIDIA GeForce RTX 4090" or "simulated GPU 1". */
  label: z.string().max(200),
  /** GPU index as nvidia-smi numbers it (PCI bus order); absent for the CPU. */
  gpuIndex: z.number().int().min(0).optional(),
  /** Concurrent encodes this device accepts (NVENC session budget for a GPU). */
  slots: z.number().int().min(0).max(256),
  /** Codecs that passed this device's capability probe. */
  codecs: z.array(z.enum(CODECS)),
  /** Shared concurrency limit this device counts against (e.g. GeForce per-host session cap). */
  limitGroup: z.string().max(100).optional(),
  state: DeviceStateSchema.default('working'),
});
export type DeviceAnnouncement = z.infer<typeof DeviceAnnouncementSchema>;

export const LimitGroupSchema = z.object({ name: z.string().min(1).max(100), max: z.number().int().min(1) });
export type LimitGroup = z.infer<typeof LimitGroupSchema>;
