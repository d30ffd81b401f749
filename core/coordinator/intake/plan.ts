import { createHash } from 'node:crypto';
import path from 'node:path';
import { outputFileName, type Preset } from '../../shared/preset.ts';
import type { InputFile } from './inputs.ts';

export interface PlannedJob {
  inputPath: string;
  outputPath: string;
}

/**
 * Where each output goes: under `--out` (keeping sub-folders of scanned folders) or beside its
 * source. A plan that would write onto a source, or two sources onto one name, is refused per file.
 */
export function planOutputs(files: readonly InputFile[], preset: Preset, outDir: string | null): { jobs: PlannedJob[]; errors: string[] } {
  const jobs: PlannedJob[] = [];
  const errors: string[] = [];
  const sources = new Set(files.map((f) => f.path));
  const claimed = new Map<string, string>();
  for (const f of files) {
    const base = path.basename(f.path, path.extname(f.path));
    const dir = outDir ? path.join(outDir, f.relDir) : path.dirname(f.path);
    const outputPath = path.join(dir, outputFileName(preset, base));
    if (sources.has(outputPath)) {
      errors.push(`${f.path}: the output name would be a source file (${outputPath}); choose --out or another preset name template`);
      continue;
    }
    const other = claimed.get(outputPath);
    if (other) {
      errors.push(`${f.path}: would write the same output as ${other} (${outputPath}); rename one of them`);
      continue;
    }
    claimed.set(outputPath, f.path);
    jobs.push({ inputPath: f.path, outputPath });
  }
  return { jobs, errors };
}

/** The same command run again maps to the same batch, which is then continued, not repeated. */
export function submissionKey(parts: { args: readonly string[]; presetId: string; outDir: string | null; onExists: string }): string {
  return createHash('sha256').update(JSON.stringify(parts)).digest('hex').slice(0, 32);
}
