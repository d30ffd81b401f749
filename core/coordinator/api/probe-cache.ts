import { stat } from 'node:fs/promises';
import { InputInvalidError } from '../../shared/errors.ts';
import type { ProbeView } from '../../shared/protocol/index.ts';
import type { SourceProber } from '../ports.ts';

/** What the job detail shows about a source: its probe, or why there is none. */
export interface SourceFacts {
  probe: ProbeView | null;
  probeError: string | null;
}

interface Entry {
  size: number;
  mtimeMs: number;
  facts: Promise<SourceFacts>;
}

/** @default 500 sources remembered */
export const DEFAULT_PROBE_CACHE_SIZE = 500;

/**
 * Probes sources on demand and remembers each answer while the file keeps its size and mtime, so
 * reopening a job (or a hundred detail views of one batch) runs ffprobe once per file. Concurrent
 * asks share one probe. A file that is not a usable video stays remembered as such; a probe that
 * failed for another reason (a timeout on a sleeping disk) is tried again next time.
 */
export function createProbeCache(prober: SourceProber, maxEntries = DEFAULT_PROBE_CACHE_SIZE) {
  // Map order is insertion order: re-inserting on use makes the first key the least recent.
  const entries = new Map<string, Entry>();

  function remember(path: string, entry: Entry): void {
    entries.delete(path);
    entries.set(path, entry);
    while (entries.size > maxEntries) entries.delete(entries.keys().next().value!);
  }

  function probe(path: string, size: number, mtimeMs: number): Promise<SourceFacts> {
    const facts = prober.probe(path).then(
      (view): SourceFacts => ({ probe: view, probeError: null }),
      (err: unknown): SourceFacts => {
        if (!(err instanceof InputInvalidError) && entries.get(path)?.facts === facts) entries.delete(path);
        return { probe: null, probeError: err instanceof Error ? err.message : String(err) };
      },
    );
    remember(path, { size, mtimeMs, facts });
    return facts;
  }

  return {
    /** The source's probe; `probe: null` with the reason when it is gone or not a video. */
    async describe(path: string): Promise<SourceFacts> {
      let info;
      try {
        info = await stat(path);
      } catch (err) {
        entries.delete(path);
        const code = (err as NodeJS.ErrnoException).code;
        const why = code === 'ENOENT' || code === 'ENOTDIR' ? 'the source file is gone' : `the source file cannot be read (${code ?? String(err)})`;
        return { probe: null, probeError: `${path}: ${why}` };
      }
      if (!info.isFile()) return { probe: null, probeError: `${path}: not a regular file` };
      const known = entries.get(path);
      if (known && known.size === info.size && known.mtimeMs === info.mtimeMs) {
        remember(path, known);
        return known.facts;
      }
      return probe(path, info.size, info.mtimeMs);
    },
    /** Sources remembered right now (for tests and metrics). */
    size: () => entries.size,
  };
}

export type ProbeCache = ReturnType<typeof createProbeCache>;
