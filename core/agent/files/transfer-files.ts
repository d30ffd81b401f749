import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { TransferFailedError } from '../../shared/errors.ts';
import type { Logger } from '../../shared/logger.ts';
import type { Assign } from '../../shared/protocol/index.ts';
import { isFarmTempName } from '../../shared/temp-names.ts';
import type { FileAccess, JobFiles } from '../ports.ts';
import type { InputCache } from './input-cache.ts';
import { downloadInput, uploadOutput, type RetryPolicy, type TransferEndpoint } from './transfer-client.ts';

export interface TransferFileAccessOptions extends TransferEndpoint, RetryPolicy {
  /** Where downloaded inputs are kept (shared by jobs with the same input). */
  cache: InputCache;
  /** Where encodes write their temp outputs before upload. */
  workDir: string;
  logger: Logger;
  /** Bytes moved, per direction, as they move. */
  onBytes?(direction: 'download' | 'upload', n: number): void;
}

/**
 * No shared storage: the input is downloaded into the cache (resumably, verified by sha256), the
 * encode writes into the agent's work folder, and delivery uploads the result to the coordinator,
 * which verifies it again before answering. The agent never touches the coordinator's paths.
 */
export function createTransferFileAccess(opts: TransferFileAccessOptions): FileAccess {
  return {
    async open(a: Assign, coordinatorTempPath: string, signal: AbortSignal): Promise<JobFiles> {
      const tempPath = workTempPath(opts.workDir, coordinatorTempPath);
      const input = await downloadInput({
        ...opts,
        jobId: a.jobId,
        epoch: a.epoch,
        signal,
        onBytes: (n) => opts.onBytes?.('download', n),
      });
      opts.logger.debug('input ready', { jobId: a.jobId, epoch: a.epoch, bytes: input.size });
      let released = false;
      const cleanup = async () => {
        await fsp.rm(tempPath, { force: true });
        if (!released) opts.cache.release(input.key);
        released = true;
      };
      return {
        inputPath: input.path,
        tempPath,
        async deliver(deliverSignal) {
          const onBytes = (n: number) => opts.onBytes?.('upload', n);
          await uploadOutput({ ...opts, jobId: a.jobId, epoch: a.epoch, signal: deliverSignal, filePath: tempPath, onBytes });
          // The coordinator holds a verified copy now; nothing here is needed any more (the runner
          // only calls cleanup after a failure, so a delivered job tidies up itself).
          await cleanup();
        },
        cleanup,
      };
    },
  };
}

/**
 * The work-folder twin of the coordinator's temp path: same base name (unique per job and
 * epoch), never its folder. The name comes from the coordinator, so it must be a farm temp name
 * and nothing that could climb out of the folder.
 */
function workTempPath(workDir: string, coordinatorTempPath: string): string {
  // win32.basename splits on both separators, whichever platform the coordinator runs on.
  const base = path.win32.basename(coordinatorTempPath);
  if (!isFarmTempName(base)) throw new TransferFailedError(`${coordinatorTempPath}: not a temp output name this agent will write`);
  return path.join(workDir, base);
}
