/**
 * bench/encode-overhead: what the farm costs on top of the ffmpeg work it runs.
 *
 * A lavfi corpus is encoded, alternately, by `xargs -0 -P 2 ffmpeg` running the exact argv the
 * farm builds (buildEncodeArgv, libx264 `-threads 1`) and by `encodefarm encode --cpu-slots 2`.
 * Prints the median η = xargs wall time / farm wall time (target >= 0.97) and the per-job
 * overhead. Exits 0 whatever the figure; non-zero only when an encode failed.
 *
 *   node --import tsx bench/encode-overhead.ts [--clips 12] [--seconds N] [--rounds 3] [--quick]
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { buildEncodeArgv } from '../core/agent/encoder/argv.ts';
import type { EncoderChoice } from '../core/agent/ports.ts';
import { PresetSchema, outputFileName, type Preset, type PresetInput } from '../core/shared/preset.ts';

const BIN = fileURLToPath(new URL('../bin/encodefarm.js', import.meta.url));
const SLOTS = 2;
/** Each encode should take at least 5 s; calibrate for this much to leave a margin. */
const TARGET_ENCODE_S = 6;
const CALIBRATION_S = 3;

export const PRESET_INPUT: PresetInput = {
  id: 'bench-x264',
  name: 'bench: x264 medium, 1 thread',
  codec: 'h264',
  speed: 'medium',
  quality: 23,
  audio: { mode: 'none' },
  container: 'mp4',
  threads: 1,
};
export const ENCODER: EncoderChoice = { family: 'software', name: 'libx264', threads: 1 };

export interface BenchOptions {
  clips: number;
  seconds: number | undefined;
  rounds: number;
  /** ffprobe for the farm (default: the one beside ffmpeg on PATH). */
  ffprobe: string | undefined;
}

export interface Round {
  xargsMs: number;
  farmMs: number;
  eta: number;
  overheadMsPerJob: number;
  /** Extra CPU the farm spent per job (node, ffprobe, …) beyond the same ffmpeg work; null off Linux. */
  cpuOverheadMsPerJob: number | null;
}

/** One round's figures from the baseline run and the farm run over the same clips. */
export function toRound(xargs: RunResult, farm: RunResult, clips: number): Round {
  const cpu = xargs.cpuMs === null || farm.cpuMs === null ? null : (farm.cpuMs - xargs.cpuMs) / clips;
  return { xargsMs: xargs.ms, farmMs: farm.ms, eta: xargs.ms / farm.ms, overheadMsPerJob: (farm.ms - xargs.ms) / clips, cpuOverheadMsPerJob: cpu };
}

export interface RunResult {
  code: number;
  ms: number;
  /** CPU time (user + sys) of the command and everything it waited for; null off Linux. */
  cpuMs: number | null;
  tail: string;
}

/**
 * CPU ms of this process's reaped children (cutime + cstime, /proc/self/stat fields 16–17 at
 * 100 ticks/s). Less sensitive than wall time to other work sharing the cores, though not immune.
 */
export function childCpuMs(): number | null {
  try {
    const stat = readFileSync('/proc/self/stat', 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[13]) + Number(fields[14])) * 10;
  } catch {
    return null;
  }
}

/** Runs a command to completion, timing its wall clock; keeps the last 4 KiB of stdout+stderr. */
export function runTimed(cmd: string, args: readonly string[], stdin?: Buffer): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const start = performance.now();
    const cpu0 = childCpuMs();
    const child = spawn(cmd, args, { stdio: [stdin ? 'pipe' : 'ignore', 'pipe', 'pipe'] });
    let tail = '';
    const keep = (chunk: Buffer) => void (tail = (tail + chunk.toString('utf8')).slice(-4096));
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    child.on('error', reject);
    child.on('close', (code, sig) => {
      const ms = performance.now() - start;
      const cpu1 = childCpuMs();
      resolve({ code: code ?? (sig ? 128 : 1), ms, cpuMs: cpu0 === null || cpu1 === null ? null : cpu1 - cpu0, tail });
    });
    // A child that exits without reading its stdin fails by its exit code, not by EPIPE here.
    child.stdin?.on('error', () => {});
    if (stdin) child.stdin?.end(stdin);
  });
}

/** An encode (or clip generation) failed: the bench has no figure to report. */
export class BenchFailedError extends Error {}

function check(what: string, r: RunResult): void {
  if (r.code !== 0) throw new BenchFailedError(`${what} failed (exit ${r.code})\n${r.tail}`);
}

export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

function findBinary(name: string): string {
  const debian = `/usr/bin/${name}`;
  return existsSync(debian) ? debian : name;
}

/** Makes `count` distinct testsrc2 clips (720p30, hue shifted per clip), SLOTS at a time. */
async function makeClips(ffmpeg: string, dir: string, count: number, seconds: number, prefix: string): Promise<string[]> {
  const clips = Array.from({ length: count }, (_, i) => path.join(dir, `${prefix}${String(i).padStart(2, '0')}.mp4`));
  const make = (file: string, i: number) =>
    runTimed(ffmpeg, [
      '-hide_banner', '-loglevel', 'error', '-nostdin', '-y',
      '-f', 'lavfi', '-i', `testsrc2=size=1280x720:rate=30,hue=h=${(i * 29) % 360}`,
      '-t', String(seconds), '-c:v', 'libx264', '-preset', 'ultrafast', '-crf', '18', '-pix_fmt', 'yuv420p', file,
    ]).then((r) => check(`generating ${file}`, r));
  for (let i = 0; i < count; i += SLOTS) await Promise.all(clips.slice(i, i + SLOTS).map((f, j) => make(f, i + j)));
  return clips;
}

/** The argv the farm runs for each clip, with the output in `outDir` instead of a temp name. */
function farmArgvs(clips: readonly string[], preset: Preset, outDir: string): string[][] {
  return clips.map((clip) => {
    const tempPath = path.join(outDir, outputFileName(preset, path.parse(clip).name));
    return buildEncodeArgv({ inputPath: clip, tempPath, preset, encoder: ENCODER, durationS: 0 });
  });
}

/** Encodes one clip with the farm's argv, alone, to learn encode seconds per clip second. */
async function calibrate(ffmpeg: string, dir: string, preset: Preset): Promise<number> {
  const [clip] = await makeClips(ffmpeg, dir, 1, CALIBRATION_S, 'calibrate-');
  const out = path.join(dir, 'calibrate-out');
  await fsp.mkdir(out);
  const r = await runTimed(ffmpeg, farmArgvs([clip!], preset, out)[0]!);
  check('calibration encode', r);
  return r.ms / 1000 / CALIBRATION_S;
}

/** The baseline: `xargs -0 -P 2 -n <argc> ffmpeg` over every clip's argv (all argvs have one length). */
async function runXargs(ffmpeg: string, argvs: readonly string[][]): Promise<RunResult> {
  const argc = argvs[0]!.length;
  if (argvs.some((a) => a.length !== argc)) throw new Error('argvs differ in length; xargs -n cannot split them');
  const input = Buffer.from(argvs.flat().map((a) => `${a}\0`).join(''), 'utf8');
  const r = await runTimed('xargs', ['-0', '-P', String(SLOTS), '-n', String(argc), ffmpeg], input);
  check('xargs baseline', r);
  return r;
}

async function runFarm(ffmpeg: string, ffprobe: string, clips: readonly string[], presetFile: string, work: string): Promise<RunResult> {
  const out = await fsp.mkdtemp(path.join(work, 'farm-out-'));
  const data = await fsp.mkdtemp(path.join(work, 'farm-data-'));
  const r = await runTimed(process.execPath, [
    BIN, 'encode', ...clips, '--preset', presetFile, '--out', out, '--data-dir', data,
    '--cpu-slots', String(SLOTS), '--gpus', 'none', '--ffmpeg', ffmpeg, '--ffprobe', ffprobe,
  ]);
  check('encodefarm encode', r);
  const made = (await fsp.readdir(out)).filter((f) => f.endsWith('.mp4'));
  if (made.length !== clips.length) check('encodefarm encode', { ...r, code: 1, tail: `${made.length} of ${clips.length} outputs\n${r.tail}` });
  return r;
}

function report(rounds: readonly Round[], clips: number, seconds: number): void {
  const eta = median(rounds.map((r) => r.eta));
  const overheadMsPerJob = median(rounds.map((r) => r.overheadMsPerJob));
  const cpus = rounds.map((r) => r.cpuOverheadMsPerJob).filter((c): c is number => c !== null);
  const cpuOverheadMsPerJob = cpus.length === rounds.length ? Math.round(median(cpus)) : null;
  console.log(
    `encode-overhead: η = ${eta.toFixed(3)} (xargs/farm, median of ${rounds.length}; target >= 0.97), ` +
      `overhead ${Math.round(overheadMsPerJob)} ms/job wall` +
      (cpuOverheadMsPerJob === null ? '' : `, ${cpuOverheadMsPerJob} ms/job CPU`) +
      `; ${clips} clips × ${seconds} s 720p30, libx264 medium -threads 1, ${SLOTS} slots`,
  );
  const r3 = (x: number) => Math.round(x * 1000) / 1000;
  const round = (r: Round) => ({
    xargsMs: Math.round(r.xargsMs),
    farmMs: Math.round(r.farmMs),
    eta: r3(r.eta),
    cpuOverheadMsPerJob: r.cpuOverheadMsPerJob === null ? null : Math.round(r.cpuOverheadMsPerJob),
  });
  const json = { bench: 'encode-overhead', eta: r3(eta), overheadMsPerJob: Math.round(overheadMsPerJob), cpuOverheadMsPerJob };
  console.log(JSON.stringify({ ...json, clips, clipSeconds: seconds, slots: SLOTS, rounds: rounds.map(round) }));
}

export function parseOptions(argv: readonly string[]): BenchOptions {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      clips: { type: 'string' },
      seconds: { type: 'string' },
      rounds: { type: 'string' },
      quick: { type: 'boolean', default: false },
      // The farm's ffprobe (probe + verify run per job); the baseline never probes.
      ffprobe: { type: 'string' },
    },
  });
  const num = (name: string, v: string | undefined, fallback: number | undefined, min: number): number | undefined => {
    if (v === undefined) return fallback;
    const n = Number(v);
    if (!Number.isFinite(n) || n < min) throw new Error(`--${name}: expected a number >= ${min}, got "${v}"`);
    return n;
  };
  const quick = values.quick === true;
  return {
    clips: Math.floor(num('clips', values.clips, quick ? 3 : 12, 1)!),
    seconds: num('seconds', values.seconds, quick ? 2 : undefined, 0.5),
    rounds: Math.floor(num('rounds', values.rounds, quick ? 1 : 3, 1)!),
    ffprobe: values.ffprobe === undefined ? undefined : path.resolve(values.ffprobe),
  };
}

export async function runBench(opts: BenchOptions): Promise<void> {
  const ffmpeg = findBinary('ffmpeg');
  const ffprobe = opts.ffprobe ?? findBinary('ffprobe');
  const preset = PresetSchema.parse(PRESET_INPUT);
  const work = await fsp.mkdtemp(path.join(os.tmpdir(), 'encodefarm-bench-'));
  try {
    let seconds = opts.seconds;
    if (seconds === undefined) {
      const rate = await calibrate(ffmpeg, work, preset);
      seconds = Math.ceil((TARGET_ENCODE_S / rate) * 2) / 2;
      console.log(`calibration: ${rate.toFixed(2)} s of encode per clip second alone -> ${seconds} s clips (~${(seconds * rate).toFixed(1)} s encode each)`);
    }
    const corpus = path.join(work, 'corpus');
    await fsp.mkdir(corpus);
    const clips = await makeClips(ffmpeg, corpus, opts.clips, seconds, 'clip-');
    const presetFile = path.join(work, 'preset.json');
    await fsp.writeFile(presetFile, JSON.stringify(PRESET_INPUT, null, 2));

    const rounds: Round[] = [];
    for (let i = 0; i < opts.rounds; i++) {
      const xargs = await runXargs(ffmpeg, farmArgvs(clips, preset, await fsp.mkdtemp(path.join(work, 'xargs-out-'))));
      const farm = await runFarm(ffmpeg, ffprobe, clips, presetFile, work);
      const round = toRound(xargs, farm, clips.length);
      rounds.push(round);
      console.log(`round ${i + 1}/${opts.rounds}: xargs ${(xargs.ms / 1000).toFixed(2)} s, farm ${(farm.ms / 1000).toFixed(2)} s, η ${round.eta.toFixed(3)}`);
    }
    report(rounds, clips.length, seconds);
  } finally {
    await fsp.rm(work, { recursive: true, force: true });
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  try {
    await runBench(parseOptions(process.argv.slice(2)));
  } catch (err) {
    process.stderr.write(`encode-overhead: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  }
}
