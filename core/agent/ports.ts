import type { Codec, Preset } from '../shared/preset.ts';
import type { Assign } from '../shared/protocol/index.ts';
import type { DeviceAnnouncement } from '../shared/device.ts';

/** One audio stream as ffprobe describes it. */
export interface ProbedAudio {
  codec: string;
  channels: number | null;
  /** The stream's language tag (e.g. `eng`), when it has one. */
  language: string | null;
}

/** What ffprobe says about a file; the encoder module fills it. */
export interface ProbeResult {
  durationS: number;
  sizeBytes: number;
  formatName: string;
  video: { codec: string; width: number; height: number } | null;
  /** The video stream's frame rate; null when ffprobe does not know it (the prober always sets it). */
  fps?: number | null;
  audioStreams: number;
  /** Each audio stream, for showing the source (the prober always sets it). */
  audio?: ProbedAudio[];
}

export interface Prober {
  /** Throws InputInvalidError (naming the file and the reason) when the file is not a usable video. */
  probe(path: string, signal?: AbortSignal): Promise<ProbeResult>;
}

/** Which encoder a device uses for a preset's codec. */
export interface EncoderChoice {
  family: 'nvenc' | 'software';
  /** ffmpeg encoder name: h264_nvenc, hevc_nvenc, av1_nvenc, libx264, libx265, libsvtav1, libaom-av1. */
  name: string;
  /** NVENC: the GPU (`-gpu N`, `-hwaccel_device N`). */
  gpuIndex?: number;
  /** Software: `-threads N` (simulated GPUs force 1). Overrides the preset's own `threads`. */
  threads?: number;
}

export interface EncodeRequest {
  inputPath: string;
  /** Absolute temp path beside the final target; the encoder writes only here. */
  tempPath: string;
  preset: Preset;
  encoder: EncoderChoice;
  /** Source duration from the probe, for percent and ETA. */
  durationS: number;
}

export interface EncodeProgress {
  frame: number;
  fps: number;
  speed: number;
  outTimeS: number;
  percent: number;
  etaS: number | null;
}

export interface EncodeHooks {
  signal: AbortSignal;
  onProgress(p: EncodeProgress): void;
  /** Batches of stderr lines as ffmpeg prints them (for the job log tail). */
  onLog?(lines: string[]): void;
}

export interface EncodeSummary {
  stderrTail: string[];
  encodeMs: number;
  avgFps: number;
}

/**
 * The only thing that runs ffmpeg. Resolves when ffmpeg exited 0; otherwise throws a named
 * FarmError (classified from stderr), or CanceledError / the signal's reason when aborted.
 */
export interface Encoder {
  encode(req: EncodeRequest, hooks: EncodeHooks): Promise<EncodeSummary>;
}

/** A device this agent owns, with the encoder it uses per codec (from device discovery). */
export interface AgentDevice extends DeviceAnnouncement {
  encoderFor(codec: Codec): EncoderChoice | undefined;
}

export interface PresetLookup {
  get(id: string): Preset | undefined;
}

/** Where one attempt reads its input and writes its output, on this machine. */
export interface JobFiles {
  /** Local path of the source to encode (a mapped shared path, or the downloaded copy). */
  inputPath: string;
  /** Local temp path ffmpeg writes (beside the mapped target, or in the transfer work dir). */
  tempPath: string;
  /**
   * After local verification: hands the output over. Shared storage: nothing to do. Transfer:
   * uploads (resumably) and waits for the coordinator's own verification. Throws a FarmError.
   */
  deliver(signal: AbortSignal): Promise<void>;
  /** Removes what this attempt left locally (temp, work copies); never the user's files. */
  cleanup(): Promise<void>;
}

/**
 * How this agent reaches the files of an assignment. Implementations refuse (RootRefusedError,
 * naming the path and the roots) anything outside the agent's configured roots.
 */
export interface FileAccess {
  /** `coordinatorTempPath` is tempPathFor(assign.output.path, job, epoch), in coordinator terms. */
  open(a: Assign, coordinatorTempPath: string, signal: AbortSignal): Promise<JobFiles>;
}
