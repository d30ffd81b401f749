import path from 'node:path';
import type { Preset } from '../../shared/preset.ts';
import type { OnExists } from '../ports.ts';
import type { Submission } from '../coordinator.ts';
import { expandInputs } from './inputs.ts';
import { planOutputs, submissionKey } from './plan.ts';

export interface BatchRequest {
  /** Files, folders or globs, relative to `cwd` or absolute. */
  inputs: readonly string[];
  preset: Preset;
  outDir: string | null;
  onExists: OnExists;
  priority: number;
  requireTags?: string[];
  key?: string;
}

export interface PlannedBatch {
  /** Undefined when no input produced a job. */
  submission: Submission | undefined;
  /** One line per input left out, naming it and the reason. */
  errors: string[];
  /** Files found by a scan that the farm wrote earlier (left out). */
  ownOutputs: number;
}

/**
 * Turns a request into a submission: inputs expanded (never the farm's own outputs), output
 * paths planned (never onto a source, never two onto one), and an idempotency key so the same
 * request again continues its batch. Used by `encode` and by the API's submit.
 */
export async function planBatch(
  req: BatchRequest,
  cwd: string,
  farmOutputsAmong: (paths: readonly string[]) => ReadonlySet<string>,
): Promise<PlannedBatch> {
  const outDir = req.outDir ? path.resolve(cwd, req.outDir) : null;
  const expanded = await expandInputs(req.inputs, cwd, outDir ? [outDir] : [], farmOutputsAmong);
  const plan = planOutputs(expanded.files, req.preset, outDir);
  const errors = [...expanded.errors, ...plan.errors];
  if (plan.jobs.length === 0) return { submission: undefined, errors, ownOutputs: expanded.ownOutputs };
  const args = req.inputs.map((a) => path.resolve(cwd, a));
  const key = req.key ?? submissionKey({ args, presetId: req.preset.id, outDir, onExists: req.onExists });
  const label = req.inputs.length === 1 ? String(req.inputs[0]) : `${req.inputs.length} inputs`;
  return {
    submission: {
      key,
      label,
      presetId: req.preset.id,
      outDir,
      onExists: req.onExists,
      priority: req.priority,
      requireTags: req.requireTags ?? [],
      jobs: plan.jobs,
    },
    errors,
    ownOutputs: expanded.ownOutputs,
  };
}
