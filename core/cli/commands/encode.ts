import path from 'node:path';
import { promises as fsp } from 'node:fs';
import type { Preset } from '../../shared/preset.ts';
import type { OnExists } from '../../coordinator/ports.ts';
import { PresetValidationError, type PresetCatalog } from '../../coordinator/preset-catalog.ts';
import { planBatch } from '../../coordinator/intake/plan-batch.ts';
import { EXIT, superviseBatch, withFarmSession, type FarmOptions } from '../farm-session.ts';
import { UsageError, parseIntOption, type Terminal } from '../context.ts';

export interface EncodeOptions extends FarmOptions {
  preset: string;
  out?: string;
  priority?: string;
  onExists?: string;
}

/**
 * `encodefarm encode`: an embedded coordinator and local agent encode the inputs, show live
 * progress, print a results table and exit 0 only when every output is done and verified.
 * Running the same command again continues the same batch instead of repeating it.
 */
export async function runEncode(args: readonly string[], opts: EncodeOptions, term: Terminal, signal?: AbortSignal): Promise<number> {
  const onExists = parseOnExists(opts.onExists);
  const priority = parseIntOption('priority', opts.priority, -1000) ?? 0;
  if (args.length === 0) throw new UsageError('encode: give at least one file, folder or glob');
  return withFarmSession(opts, term, async (session) => {
    const preset = await resolvePreset(opts.preset, session.farm.presets, term.cwd);
    // A job no device can take would wait forever: say so now instead.
    if (!session.farm.coordinator.devices().some((d) => d.slots > 0 && d.codecs.includes(preset.codec))) {
      term.err(`encodefarm: no device here can encode ${preset.codec} for preset ${preset.id} (see \`encodefarm devices\`; --cpu-slots 1 adds the CPU)\n`);
      return EXIT.failed;
    }
    const { store } = session.data;
    const planned = await planBatch(
      { inputs: args, preset, outDir: opts.out ?? null, onExists, priority },
      term.cwd,
      (p) => store.farmOutputsAmong(p),
    );
    if (planned.ownOutputs) term.err(`left out ${planned.ownOutputs} file(s) the farm wrote earlier\n`);
    for (const e of planned.errors) term.err(`skipped  ${e}\n`);
    const submission = planned.submission;
    if (!submission) {
      term.err('encodefarm: nothing to encode\n');
      return EXIT.failed;
    }
    return superviseBatch(
      session,
      term,
      () => {
        const r = session.farm.coordinator.submit(submission);
        if (r.resumed) term.err(`continuing batch ${r.batch.id} (the same command ran before)\n`);
        return r.batch.id;
      },
      planned.errors,
      signal,
    );
  });
}

function parseOnExists(v: string | undefined): OnExists {
  if (v === undefined || v === 'skip') return 'skip';
  if (v === 'suffix') return 'suffix';
  throw new UsageError(`--on-exists: expected "skip" or "suffix", got "${v}" (existing files are never overwritten)`);
}

/** A preset id, or a path to a JSON preset file (validated, then saved as a user preset). */
async function resolvePreset(ref: string, presets: PresetCatalog, cwd: string): Promise<Preset> {
  if (ref.endsWith('.json')) {
    const file = path.resolve(cwd, ref);
    let data: unknown;
    try {
      data = JSON.parse(await fsp.readFile(file, 'utf8'));
    } catch (err) {
      throw new UsageError(`${file}: cannot read preset (${(err as Error).message})`);
    }
    try {
      return presets.save(data, file);
    } catch (err) {
      if (err instanceof PresetValidationError) throw new UsageError(err.message);
      throw err;
    }
  }
  const preset = presets.get(ref);
  if (!preset) {
    const known = presets.list().map((p) => p.preset.id).join(', ');
    throw new UsageError(`unknown preset "${ref}" (known: ${known}; see \`encodefarm presets\`)`);
  }
  return preset;
}
