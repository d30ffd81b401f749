/**
 * Named errors that say what happens next. The scheduler acts on `disposition` alone, so a new
 * failure mode only needs a class here and a pattern in the encoder's classifier.
 *
 * - `fail`:    permanent after this attempt (the input or the request is at fault).
 * - `requeue`: put back in the queue without burning an attempt; the device is at fault.
 * - `retry`:   burn an attempt and retry after a jittered exponential backoff.
 * - `block`:   park the job as `blocked(reason)` until someone resumes it (disk full, root offline).
 * - `cancel`:  the user asked for it; no retry.
 */
export type Disposition = 'fail' | 'requeue' | 'retry' | 'block' | 'cancel';

/** Serializable form that crosses the agent boundary (see protocol `result`). */
export interface ErrorInfo {
  kind: ErrorKind;
  message: string;
}

export type ErrorKind =
  | 'input-invalid'
  | 'output-exists'
  | 'output-unwritable'
  | 'device-capacity'
  | 'device-fault'
  | 'disk-full'
  | 'encode-stalled'
  | 'verify-failed'
  | 'encode-failed'
  | 'canceled'
  | 'ffmpeg-missing'
  | 'lease-lost'
  | 'root-refused'
  | 'transfer-failed';

export abstract class FarmError extends Error {
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
  abstract readonly kind: ErrorKind;
  abstract readonly disposition: Disposition;
  toInfo(): ErrorInfo {
    return { kind: this.kind, message: this.message };
  }
}

/** The input cannot be encoded (missing, empty, not a video, truncated). Fails now. */
export class InputInvalidError extends FarmError {
  readonly kind = 'input-invalid';
  readonly disposition = 'fail';
}

/** The output target is already taken and the policy says skip. Fails now, nothing written. */
export class OutputExistsError extends FarmError {
  readonly kind = 'output-exists';
  readonly disposition = 'fail';
}

/** The output folder cannot be created or written. Fails now. */
export class OutputUnwritableError extends FarmError {
  readonly kind = 'output-unwritable';
  readonly disposition = 'fail';
}

/** The GPU refused a session (NVENC session limit). Requeue; lower the device's slots. */
export class DeviceCapacityError extends FarmError {
  readonly kind = 'device-capacity';
  readonly disposition = 'requeue';
}

/** The device is unusable (no CUDA, no capable device). Requeue elsewhere; count toward quarantine. */
export class DeviceFaultError extends FarmError {
  readonly kind = 'device-fault';
  readonly disposition = 'requeue';
}

/** The output volume ran out of space. Block until resumed; the temp output is removed. */
export class DiskFullError extends FarmError {
  readonly kind = 'disk-full';
  readonly disposition = 'block';
}

/** ffmpeg stopped advancing its output time; the watchdog killed it. Retry with backoff. */
export class EncodeStalledError extends FarmError {
  readonly kind = 'encode-stalled';
  readonly disposition = 'retry';
}

/** The encoded file did not pass ffprobe verification. Retry with backoff. */
export class VerifyFailedError extends FarmError {
  readonly kind = 'verify-failed';
  readonly disposition = 'retry';
}

/** ffmpeg failed for a reason we do not recognise. Retry with backoff. */
export class EncodeFailedError extends FarmError {
  readonly kind = 'encode-failed';
  readonly disposition = 'retry';
}

/** The encode was aborted on request. */
export class CanceledError extends FarmError {
  readonly kind = 'canceled';
  readonly disposition = 'cancel';
}

/** No usable ffmpeg/ffprobe binary. Fails the job; the CLI reports it once. */
export class FfmpegMissingError extends FarmError {
  readonly kind = 'ffmpeg-missing';
  readonly disposition = 'fail';
}

/** The agent's lease ran out or was superseded by a newer epoch; the work is dropped. */
export class LeaseLostError extends FarmError {
  readonly kind = 'lease-lost';
  readonly disposition = 'requeue';
}

/**
 * This agent may not touch the path (outside its configured roots, or no mapping for it). Another
 * agent may: requeue without burning an attempt; three refusals blocklist the agent for the job.
 */
export class RootRefusedError extends FarmError {
  readonly kind = 'root-refused';
  readonly disposition = 'requeue';
}

/** Moving a file between coordinator and agent failed (network, size or hash mismatch). Retries. */
export class TransferFailedError extends FarmError {
  readonly kind = 'transfer-failed';
  readonly disposition = 'retry';
}

const byKind: Record<ErrorKind, new (message: string) => FarmError> = {
  'input-invalid': InputInvalidError,
  'output-exists': OutputExistsError,
  'output-unwritable': OutputUnwritableError,
  'device-capacity': DeviceCapacityError,
  'device-fault': DeviceFaultError,
  'disk-full': DiskFullError,
  'encode-stalled': EncodeStalledError,
  'verify-failed': VerifyFailedError,
  'encode-failed': EncodeFailedError,
  canceled: CanceledError,
  'ffmpeg-missing': FfmpegMissingError,
  'lease-lost': LeaseLostError,
  'root-refused': RootRefusedError,
  'transfer-failed': TransferFailedError,
};

/** Rebuilds a named error from its wire form. */
export function errorFromInfo(info: ErrorInfo): FarmError {
  return new byKind[info.kind](info.message);
}

/** Wraps anything thrown into a FarmError; unknown failures become retryable encode failures. */
export function toFarmError(err: unknown): FarmError {
  if (err instanceof FarmError) return err;
  const message = err instanceof Error ? err.message : String(err);
  return new EncodeFailedError(message);
}

export const ERROR_KINDS = Object.keys(byKind) as [ErrorKind, ...ErrorKind[]];
