import { fileURLToPath } from 'node:url';

/**
 * Files the shell loads at run time, beside the main bundle in dist/electron/
 * (scripts/build-electron.mjs puts them there).
 */
export function shellPaths(mainUrl: string) {
  const beside = (name: string) => fileURLToPath(new URL(`./${name}`, mainUrl));
  return {
    /** The sandboxed preload; CJS because a sandboxed renderer cannot load ESM preloads. */
    preload: beside('preload.cjs'),
    /** The utility process entry that runs the coordinator and the local agent. */
    coordinatorHost: beside('coordinator-host.mjs'),
  };
}
