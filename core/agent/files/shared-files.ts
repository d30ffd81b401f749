import { promises as fsp } from 'node:fs';
import { RootRefusedError } from '../../shared/errors.ts';
import type { Logger } from '../../shared/logger.ts';
import type { Assign } from '../../shared/protocol/index.ts';
import type { FileAccess, JobFiles } from '../ports.ts';
import { mapToAgent, type AgentPathApi, type PathMapping } from './path-map.ts';
import { assertUnderRoots, type RootUse } from './roots.ts';

export interface SharedFileAccessOptions {
  /** Folders this agent may read inputs from and write outputs into (`--root`). */
  roots: readonly string[];
  /** `--path-map` entries; none means the coordinator's paths are this agent's paths. */
  mappings: readonly PathMapping[];
  logger: Logger;
  /** @default node:path of this platform */
  agentPath?: AgentPathApi;
}

/**
 * Shared storage (SMB/NFS mounts): the agent opens the coordinator's paths through its path
 * mappings and writes the temp output beside the real target, so delivery is a no-op. Every path
 * is checked against the agent's roots first; the coordinator never decides what an agent touches.
 */
export function createSharedFileAccess(opts: SharedFileAccessOptions): FileAccess {
  return {
    async open(a: Assign, coordinatorTempPath: string, signal: AbortSignal): Promise<JobFiles> {
      signal.throwIfAborted();
      try {
        const inputPath = await reach(opts, a.input.path, 'input');
        const tempPath = await reach(opts, coordinatorTempPath, 'output');
        return {
          inputPath,
          tempPath,
          deliver: async () => {},
          cleanup: () => fsp.rm(tempPath, { force: true }),
        };
      } catch (err) {
        if (err instanceof RootRefusedError) opts.logger.warn('refused a job outside this agent\'s roots', { jobId: a.jobId, epoch: a.epoch, reason: err.message });
        throw err;
      }
    },
  };
}

/** The agent-side path for a coordinator path, refused when unmapped or outside the roots. */
async function reach(opts: SharedFileAccessOptions, coordPath: string, what: RootUse): Promise<string> {
  const local = mapToAgent(coordPath, opts.mappings, opts.agentPath);
  if (local === undefined) {
    const prefixes = opts.mappings.map((m) => m.from).join(', ');
    throw new RootRefusedError(`${what} ${coordPath}: refused, no --path-map on this agent covers it (mapped: ${prefixes})`);
  }
  await assertUnderRoots(local, opts.roots, what);
  return local;
}
