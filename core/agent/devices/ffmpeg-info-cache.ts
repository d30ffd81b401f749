import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { readFfmpegInfo, type FfmpegInfo } from '../encoder/ffmpeg-info.ts';

const EntrySchema = z.object({
  key: z.string(),
  info: z.object({
    ffmpegPath: z.string(),
    ffprobePath: z.string(),
    version: z.string(),
    ffprobeVersion: z.string(),
    encoders: z.array(z.string()),
  }),
});
const CacheSchema = z.array(EntrySchema).max(16);

/** Identity of a binary: a changed size or mtime (an upgrade) invalidates what we knew. */
async function binaryKey(p: string): Promise<string> {
  const st = await fsp.stat(p);
  return `${p}:${st.size}:${st.mtimeMs}`;
}

/**
 * `readFfmpegInfo` remembered in a small JSON file (the data dir's), keyed by both binaries' path,
 * size and mtime: asking ffmpeg for its version and encoders costs three process starts per run.
 * A missing, corrupt or stale cache just means asking ffmpeg again.
 */
export function cachedFfmpegInfoReader(cacheFile: string): typeof readFfmpegInfo {
  return async (ffmpegPath, ffprobePath, opts) => {
    let key: string;
    try {
      key = `${await binaryKey(ffmpegPath)}|${await binaryKey(ffprobePath)}`;
    } catch {
      return readFfmpegInfo(ffmpegPath, ffprobePath, opts);
    }
    const entries = await readCache(cacheFile);
    const hit = entries.find((e) => e.key === key);
    if (hit) return { ...hit.info, encoders: new Set(hit.info.encoders) };
    const info: FfmpegInfo = await readFfmpegInfo(ffmpegPath, ffprobePath, opts);
    const entry = { key, info: { ...info, encoders: [...info.encoders] } };
    const next = [entry, ...entries.filter((e) => e.key !== key)].slice(0, 16);
    // Written to a temp name and renamed, so a concurrent reader never sees half a file.
    const tmp = `${cacheFile}.${process.pid}.tmp`;
    try {
      await fsp.mkdir(path.dirname(cacheFile), { recursive: true });
      await fsp.writeFile(tmp, JSON.stringify(next));
      await fsp.rename(tmp, cacheFile);
    } catch {
      // Only a cache: an unwritable data dir costs the next run three process starts, nothing more.
      await fsp.rm(tmp, { force: true }).catch(() => {});
    }
    return info;
  };
}

async function readCache(file: string): Promise<z.infer<typeof CacheSchema>> {
  try {
    const parsed = CacheSchema.safeParse(JSON.parse(await fsp.readFile(file, 'utf8')));
    return parsed.success ? parsed.data : [];
  } catch {
    return [];
  }
}
