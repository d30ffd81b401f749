import { describeToolFailure, runTool, type ToolRun } from './ffmpeg-info.ts';

export type ProbeOutcome = { ok: true } | { ok: false; reason: string };

/** A CUDA context plus one NVENC session can take a few seconds on a cold driver. */
export const PROBE_TIMEOUT_MS = 20_000;

// ffmpeg's wrap-up lines after an encoder fails to open (5.x through 7.x); they never say why.
const GENERIC = [
  /^Error initializing output stream/i,
  /^Error while opening encoder/i,
  /^Could not open encoder before EOF/i,
  /^Conversion failed!?$/i,
  /^Error opening output files?/i,
  /^Nothing was written into output file/i,
  /^Error (?:while )?(?:filtering|processing)/i,
  /^Error sending frames to consumers/i,
  /^Error marking filters as finished/i,
  /^Task finished with error code/i,
  /^Terminating thread with return code/i,
];
// True but vague; only used when nothing more specific was printed.
const WEAK = [/^No capable devices found$/i, /^Exiting normally/i];

/**
 * Test-encodes a fraction of a second of lavfi test pattern with `encoderName` pinned to GPU
 * `gpuIndex`, so a device is only announced for codecs its driver really opens a session for.
 * `CUDA_DEVICE_ORDER=PCI_BUS_ID` makes ffmpeg's `-gpu N` mean the same GPU as nvidia-smi's index N.
 * Never throws for a failed probe: the reason is the last line of stderr that says something.
 */
export async function probeNvencCodec(
  ffmpegPath: string,
  gpuIndex: number,
  encoderName: string,
  opts: { timeoutMs?: number; env?: NodeJS.ProcessEnv } = {},
): Promise<ProbeOutcome> {
  if (!Number.isInteger(gpuIndex) || gpuIndex < 0) {
    throw new RangeError(`Expected gpuIndex to be a non-negative integer, got ${gpuIndex}`);
  }
  if (!/^[a-z0-9_]+$/.test(encoderName)) {
    throw new RangeError(`Expected encoderName to be an ffmpeg encoder name like h264_nvenc, got ${JSON.stringify(encoderName)}`);
  }
  const timeoutMs = opts.timeoutMs ?? PROBE_TIMEOUT_MS;
  const args = [
    '-hide_banner', '-nostdin', '-loglevel', 'error',
    '-f', 'lavfi', '-i', 'testsrc2=size=256x144:rate=30:duration=0.2',
    '-c:v', encoderName, '-gpu', String(gpuIndex),
    '-f', 'null', '-',
  ];
  const env = { ...(opts.env ?? process.env), CUDA_DEVICE_ORDER: 'PCI_BUS_ID' };
  let run: ToolRun;
  try {
    run = await runTool(ffmpegPath, args, { timeoutMs, env, maxOutputBytes: 64 * 1024 });
  } catch (err) {
    const error = err instanceof Error ? err : new Error(String(err));
    return { ok: false, reason: `cannot run ${ffmpegPath}: ${describeToolFailure(error, timeoutMs)}` };
  }
  if (run.code === 0 && !run.timedOut) return { ok: true };
  if (run.timedOut) return { ok: false, reason: `the test encode did not finish within ${timeoutMs / 1000} s` };
  return { ok: false, reason: probeFailureReason(run.stderr) ?? describeToolFailure(run, timeoutMs) };
}

/**
 * The most telling stderr line of a failed probe, without ffmpeg's `[h264_nvenc @ 0x…] ` prefix:
 * the last line that is not one of ffmpeg's generic wrap-up lines, preferring specific ones.
 */
export function probeFailureReason(stderr: string): string | undefined {
  const lines = stderr
    .split(/\r?\n/)
    .map((l) => l.replace(/^\[[^\]]*@ 0x[0-9a-f]+\]\s*/i, '').trim())
    .filter((l) => l && !GENERIC.some((re) => re.test(l)));
  const specific = lines.filter((l) => !WEAK.some((re) => re.test(l)));
  return specific.at(-1) ?? lines.at(-1);
}
