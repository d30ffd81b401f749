import path from 'node:path';
import {
  DeviceCapacityError,
  DeviceFaultError,
  DiskFullError,
  EncodeFailedError,
  InputInvalidError,
  OutputUnwritableError,
  type FarmError,
} from '../../shared/errors.ts';

interface Context {
  inputPath: string;
  outputPath: string;
  /** Name shown to users for the output (the final name, not the hidden temp file). */
  outputName?: string;
}

/** Base names and the `<url>: ` prefixes ffmpeg puts before an error about one file. */
interface Files {
  input: string;
  output: string;
  inputPrefixes: string[];
  outputPrefixes: string[];
}

interface Pattern {
  match: RegExp;
  /** Only lines that name this file count (ffmpeg prints `<url>: <error>`). */
  on?: 'input' | 'output';
  make(files: Files, reason: string): FarmError;
}

const sessionLimit = () => new DeviceCapacityError('GPU refused a new NVENC session (session limit)');
const deviceFault = (_: Files, reason: string) => new DeviceFaultError(`GPU unusable for NVENC (${reason})`);
const notAVideo = (f: Files, reason: string) => new InputInvalidError(`${f.input}: not a valid video (${reason})`);

/**
 * What ffmpeg and the NVIDIA driver print, in priority order: the first pattern that matches any
 * stderr line decides. Device problems come first because a GPU that cannot open a session also
 * makes ffmpeg report the input and output as failed.
 */
const PATTERNS: Pattern[] = [
  // Driver refused another encoder session: GeForce per-system cap or encoder memory exhausted.
  { match: /OpenEncodeSessionEx failed: out of memory \(10\)/, make: sessionLimit },
  // Older drivers report the GeForce session cap as a licensing ("client key") failure.
  { match: /OpenEncodeSessionEx failed: incompatible client key \(21\)/, make: sessionLimit },
  // The GPU index exists but has no NVENC (e.g. a compute-only card).
  { match: /No capable devices found|no NVENC capable devices/i, make: deviceFault },
  // No NVIDIA driver on this machine (or in this container).
  { match: /Cannot load libcuda|Failed loading nvcuda|Cannot load libnvidia-encode/, make: deviceFault },
  // CUDA itself failed: device lost, bad ordinal (-gpu N too large), out of memory, Xid.
  { match: /CUDA_ERROR_\w+|Cannot init CUDA/, make: deviceFault },
  // The installed driver is older than the NVENC API this ffmpeg was built against.
  { match: /Driver does not support the required nvenc API version/, make: deviceFault },
  // This ffmpeg lacks the encoder the device was chosen for (e.g. av1_nvenc before ffmpeg 6).
  { match: /Unknown encoder '[^']*'/, make: (_, r) => new DeviceFaultError(`ffmpeg cannot encode here (${r})`) },
  // ENOSPC / EDQUOT while writing the output (or its faststart rewrite).
  {
    match: /No space left on device|Disk quota exceeded/,
    make: (f, r) => new DiskFullError(`${f.output}: disk full while writing (${r})`),
  },
  // MP4/MOV without its index: truncated, or still being copied or recorded.
  { match: /moov atom not found/, make: notAVideo },
  // No demuxer recognises the bytes (text, random data, unsupported container).
  { match: /Invalid data found when processing input/, make: notAVideo },
  // A container with no streams at all.
  { match: /does not contain any stream/, make: notAVideo },
  // `-map 0:v:0` found no video stream (audio-only or data file).
  {
    match: /Stream map '[^']*' matches no streams|matches no streams/,
    make: (f, r) => new InputInvalidError(`${f.input}: has no video stream (${r})`),
  },
  // The file ends before its header does (empty or cut short).
  { match: /End of file/, on: 'input', make: notAVideo },
  // The demuxer rejected the header values.
  { match: /Invalid argument/, on: 'input', make: notAVideo },
  // The input vanished between probe and encode.
  {
    match: /No such file or directory/,
    on: 'input',
    make: (f, r) => new InputInvalidError(`${f.input}: file not found (${r})`),
  },
  // We may not read the input.
  {
    match: /Permission denied/,
    on: 'input',
    make: (f, r) => new InputInvalidError(`${f.input}: cannot be read (${r})`),
  },
  // We may not create the temp output (folder permissions, read-only mount, folder missing).
  {
    match: /Permission denied|Read-only file system|No such file or directory/,
    on: 'output',
    make: (f, r) => new OutputUnwritableError(`${f.output}: cannot write output (${r})`),
  },
];

/** Lines ffmpeg (5.x to 7.x) prints after the real error, which say nothing about the cause. */
const BOILERPLATE = [
  /^Conversion failed!?$/,
  /^Exiting normally/,
  /^(Error initializing output stream .*)?Error while opening encoder/,
  /^Error opening (input|output) (file .*\.|files: .*)$/,
  /^Nothing was written into output file/,
  /^Error sending frames to consumers/,
  /^Task finished with error code/,
  /^Terminating thread with return code/,
];

/** ffmpeg ≥ 6.1 reports input errors as `[in#0 @ 0x…] Error opening input: <reason>`, without the URL. */
const INPUT_OPEN_ERROR = /Error opening input(?: files)?: /;

function filesOf(ctx: Context): Files {
  const prefixes = (p: string) => {
    const abs = path.resolve(p);
    return [...new Set([`file:${abs}: `, `${abs}: `, `file:${p}: `, `${p}: `])];
  };
  return {
    input: path.basename(ctx.inputPath),
    output: ctx.outputName ?? path.basename(ctx.outputPath),
    inputPrefixes: prefixes(ctx.inputPath),
    outputPrefixes: prefixes(ctx.outputPath),
  };
}

/** The line without its `[mov,mp4 @ 0x55…] ` context. */
function stripContext(line: string): string {
  return line.trim().replace(/^\[[^\]]*@ 0x[0-9a-f]+\]\s*/i, '');
}

/** The cause without `[mov,mp4 @ 0x55…] ` or `file:/abs/path: `, at most 200 characters. */
function reasonOf(line: string, files: Files): string {
  let reason = stripContext(line).replace(INPUT_OPEN_ERROR, '');
  for (const prefix of [...files.outputPrefixes, ...files.inputPrefixes]) {
    if (reason.startsWith(prefix)) {
      reason = reason.slice(prefix.length);
      break;
    }
  }
  return reason.length > 200 ? `${reason.slice(0, 199)}…` : reason;
}

function names(line: string, prefixes: string[]): boolean {
  return prefixes.some((p) => line.includes(p));
}

function fallback(lines: string[], exitCode: number | null, files: Files): FarmError {
  const meaningful = (l: string) => l.trim() !== '' && !BOILERPLATE.some((re) => re.test(stripContext(l)));
  const last = [...lines].reverse().find(meaningful);
  const how = exitCode === null ? 'ffmpeg was killed by a signal' : `ffmpeg exited with code ${exitCode}`;
  const why = last === undefined ? 'no error output' : reasonOf(last, files);
  return new EncodeFailedError(`${files.input}: ${how} (${why})`);
}

/**
 * Maps a failed ffmpeg run (its last stderr lines and exit code) to the named error that tells
 * the scheduler what to do next. Unrecognised failures become a retryable EncodeFailedError.
 */
export function classifyFailure(stderrTail: string[], exitCode: number | null, ctx: Context): FarmError {
  const files = filesOf(ctx);
  for (const pattern of PATTERNS) {
    for (const line of stderrTail) {
      if (!pattern.match.test(line)) continue;
      if (pattern.on === 'input' && !names(line, files.inputPrefixes) && !INPUT_OPEN_ERROR.test(line)) continue;
      if (pattern.on === 'output' && !names(line, files.outputPrefixes)) continue;
      return pattern.make(files, reasonOf(line, files));
    }
  }
  return fallback(stderrTail, exitCode, files);
}
