import path from 'node:path';
import { generateDemoClips } from '../../agent/encoder/demo-clips.ts';
import { resolveDataDir } from '../../coordinator/store/data-dir.ts';
import { parseIntOption, type Terminal } from '../context.ts';
import { EXIT, findFfmpegOrSay } from '../farm-session.ts';
import { runEncode, type EncodeOptions } from './encode.ts';

export interface DemoOptions extends Omit<EncodeOptions, 'out'> {
  count?: string;
  seconds?: string;
  dir?: string;
}

/** `encodefarm demo`: makes a few short clips and encodes them through the farm. */
export async function runDemo(opts: DemoOptions, term: Terminal, signal?: AbortSignal): Promise<number> {
  const count = parseIntOption('count', opts.count, 1) ?? 4;
  const seconds = parseIntOption('seconds', opts.seconds, 1) ?? 4;
  const root = opts.dir ? path.resolve(term.cwd, opts.dir) : path.join(resolveDataDir({ flag: opts.dataDir, env: term.env }), 'demo');
  const ffmpeg = await findFfmpegOrSay(opts, term);
  if (!ffmpeg) return EXIT.noFfmpeg;
  const clipsDir = path.join(root, 'clips');
  term.err(`making ${count} demo clips of ${seconds}s in ${clipsDir}\n`);
  const clips = await generateDemoClips(ffmpeg.ffmpegPath, clipsDir, { count, seconds });
  // A fresh output folder per run, so the demo always encodes instead of finding old outputs.
  const out = path.join(root, `out-${new Date().toISOString().replace(/[:.]/g, '-')}`);
  term.err(`encoding into ${out}\n`);
  const code = await runEncode(clips, { ...opts, out }, term, signal);
  if (code === 0) term.out(`\nDemo outputs are in ${out}\n`);
  return code;
}
