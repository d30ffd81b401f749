import { z } from 'zod';

/**
 * Messages between main and the coordinator utility process. Main treats what the child posts as
 * unknown until HostMessageSchema says otherwise.
 */
export const HostMessageSchema = z.discriminatedUnion('type', [
  /** The coordinator listens; the window loads `url/#token=…`. */
  z.object({ type: z.literal('ready'), url: z.string().url(), token: z.string().min(1) }),
  /**
   * It could not start. `no-ffmpeg` will not get better by restarting; `error` may (a locked
   * database, a port race), so the supervisor restarts after it like after a crash.
   */
  z.object({ type: z.literal('failed'), reason: z.enum(['no-ffmpeg', 'error']), message: z.string() }),
]);
export type HostMessage = z.infer<typeof HostMessageSchema>;

/** Main → host: hand local work back to the queue, close the database, exit 0. */
export const StopMessageSchema = z.object({ type: z.literal('stop') });
export type StopMessage = z.infer<typeof StopMessageSchema>;

/** The exit code of a host that could not start because ffmpeg is missing (like the CLI's). */
export const NO_FFMPEG_EXIT = 3;
