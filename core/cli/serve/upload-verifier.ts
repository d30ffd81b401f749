import { VerifyFailedError, InputInvalidError } from '../../shared/errors.ts';
import type { JobStore } from '../../coordinator/ports.ts';
import type { PresetCatalog } from '../../coordinator/preset-catalog.ts';
import type { Prober, ProbeResult } from '../../agent/ports.ts';
import { fsyncFile, verifyOutput } from '../../agent/encoder/verify.ts';

/**
 * The coordinator's own check of an output an agent uploaded: the same ffprobe verification the
 * agent ran (streams, codec, duration against the source), then fsync, before it may be committed.
 */
export function createUploadVerifier(deps: { store: JobStore; presets: PresetCatalog; prober: Prober }) {
  return async (jobId: number, _epoch: number, tempPath: string): Promise<void> => {
    const job = deps.store.getJob(jobId);
    const preset = job && deps.presets.get(job.presetId);
    if (!job || !preset) throw new InputInvalidError(`job ${jobId}: its preset is gone; cannot verify the upload`);
    const source = await deps.prober.probe(job.inputPath);
    let out: ProbeResult;
    try {
      out = await deps.prober.probe(tempPath);
    } catch (err) {
      throw new VerifyFailedError(`${job.outputPath}: uploaded output is unreadable (${(err as Error).message})`);
    }
    const problems = verifyOutput(out, source, preset);
    if (problems.length) throw new VerifyFailedError(`${job.outputPath}: uploaded output failed verification: ${problems.join('; ')}`);
    await fsyncFile(tempPath);
  };
}
