/**
 * The IPC channels behind the preload bridge. The preload sends on them and main's handlers
 * (electron/main/ipc.ts) listen on them; nothing else crosses the process boundary.
 */
export const CHANNELS = {
  pickFiles: 'ef:pick-files',
  pickFolder: 'ef:pick-folder',
} as const;
