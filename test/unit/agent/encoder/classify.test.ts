import { describe, expect, it } from 'vitest';
import { classifyFailure } from '../../../../core/agent/encoder/classify.ts';
import {
  DeviceCapacityError,
  DeviceFaultError,
  DiskFullError,
  EncodeFailedError,
  InputInvalidError,
  OutputUnwritableError,
} from '../../../../core/shared/errors.ts';

const ctx = { inputPath: '/media/in/clip.mp4', outputPath: '/media/out/clip.mp4.part' };
const IN = 'file:/media/in/clip.mp4';
const OUT = 'file:/media/out/clip.mp4.part';

const TAIL = 'Conversion failed!';

describe('classifyFailure', () => {
  it('maps the NVENC session limit to DeviceCapacityError, before the "No capable devices" that follows it', () => {
    const err = classifyFailure(
      [
        '[h264_nvenc @ 0x55d5c8a5e040] OpenEncodeSessionEx failed: out of memory (10): (no details)',
        '[h264_nvenc @ 0x55d5c8a5e040] No capable devices found',
        'Error initializing output stream 0:0 -- Error while opening encoder for output stream #0:0 - maybe incorrect parameters such as bit_rate, rate, width or height',
        TAIL,
      ],
      1,
      ctx,
    );
    expect(err).toBeInstanceOf(DeviceCapacityError);
    expect(err.message).toBe('GPU refused a new NVENC session (session limit)');
    expect(err.disposition).toBe('requeue');
  });

  it('maps an incompatible client key (older drivers) to DeviceCapacityError', () => {
    const err = classifyFailure(
      ['[hevc_nvenc @ 0x5606e4a1b2c0] OpenEncodeSessionEx failed: incompatible client key (21): (no details)', TAIL],
      1,
      ctx,
    );
    expect(err).toBeInstanceOf(DeviceCapacityError);
  });

  const faults: Array<[string, string]> = [
    ['[h264_nvenc @ 0x1] No capable devices found', 'No capable devices found'],
    ['[AVHWDeviceContext @ 0x55b2fcb70a80] Cannot load libcuda.so.1', 'Cannot load libcuda.so.1'],
    [
      '[AVHWDeviceContext @ 0x1] cu->cuInit(0) failed -> CUDA_ERROR_NO_DEVICE: no CUDA-capable device is detected',
      'cu->cuInit(0) failed -> CUDA_ERROR_NO_DEVICE: no CUDA-capable device is detected',
    ],
    ['[AVHWDeviceContext @ 0x1] Cannot init CUDA', 'Cannot init CUDA'],
    ['[h264_nvenc @ 0x1] Failed loading nvcuda.', 'Failed loading nvcuda.'],
    ['[hevc_nvenc @ 0x1] no NVENC capable devices found', 'no NVENC capable devices found'],
    [
      '[h264_nvenc @ 0x1] Driver does not support the required nvenc API version. Required: 12.0 Found: 11.1',
      'Driver does not support the required nvenc API version. Required: 12.0 Found: 11.1',
    ],
  ];
  for (const [line, reason] of faults) {
    it(`maps "${reason}" to DeviceFaultError`, () => {
      const err = classifyFailure(['Device creation failed: -1.', line, TAIL], 1, ctx);
      expect(err).toBeInstanceOf(DeviceFaultError);
      expect(err.message).toBe(`GPU unusable for NVENC (${reason})`);
    });
  }

  it('maps an encoder this ffmpeg lacks to DeviceFaultError', () => {
    const err = classifyFailure(["Unknown encoder 'av1_nvenc'"], 1, ctx);
    expect(err).toBeInstanceOf(DeviceFaultError);
    expect(err.message).toBe("ffmpeg cannot encode here (Unknown encoder 'av1_nvenc')");
  });

  it('maps No space left on device to DiskFullError naming the output', () => {
    const err = classifyFailure(
      ['av_interleaved_write_frame(): No space left on device', `Error writing trailer of ${OUT}: No space left on device`],
      1,
      ctx,
    );
    expect(err).toBeInstanceOf(DiskFullError);
    expect(err.message).toBe('clip.mp4.part: disk full while writing (av_interleaved_write_frame(): No space left on device)');
    expect(err.disposition).toBe('block');
  });

  it('names the final output, not the hidden temp file, when given its name', () => {
    const err = classifyFailure([`Error writing trailer of ${OUT}: No space left on device`], 1, { ...ctx, outputName: 'clip.mp4' });
    expect(err.message).toMatch(/^clip\.mp4: disk full while writing/);
  });

  it('maps unreadable input data to InputInvalidError naming the input', () => {
    const err = classifyFailure([`${IN}: Invalid data found when processing input`], 1, ctx);
    expect(err).toBeInstanceOf(InputInvalidError);
    expect(err.message).toBe('clip.mp4: not a valid video (Invalid data found when processing input)');
    expect(err.disposition).toBe('fail');
  });

  it('maps a missing moov atom (truncated mp4) to InputInvalidError', () => {
    const err = classifyFailure(
      ['[mov,mp4,m4a,3gp,3g2,mj2 @ 0x55ef46f50cc0] moov atom not found', `${IN}: Invalid data found when processing input`],
      1,
      ctx,
    );
    expect(err).toBeInstanceOf(InputInvalidError);
    expect(err.message).toBe('clip.mp4: not a valid video (moov atom not found)');
  });

  it('maps a stream-less container and an unmatched video map to InputInvalidError', () => {
    expect(classifyFailure([`${IN}: does not contain any stream`], 1, ctx)).toBeInstanceOf(InputInvalidError);
    const err = classifyFailure(["Stream map '0:v:0' matches no streams.", 'To ignore this, add a trailing \'?\' to the map.'], 1, ctx);
    expect(err).toBeInstanceOf(InputInvalidError);
    expect(err.message).toBe("clip.mp4: has no video stream (Stream map '0:v:0' matches no streams.)");
  });

  it('maps End of file and Invalid argument only when they name the input', () => {
    expect(classifyFailure([`${IN}: End of file`], 1, ctx)).toBeInstanceOf(InputInvalidError);
    expect(classifyFailure([`${IN}: Invalid argument`], 1, ctx)).toBeInstanceOf(InputInvalidError);
    expect(classifyFailure([`${OUT}: Invalid argument`], 1, ctx)).toBeInstanceOf(EncodeFailedError);
    expect(classifyFailure(['[aac @ 0x1] Invalid argument'], 1, ctx)).toBeInstanceOf(EncodeFailedError);
  });

  it('understands ffmpeg 7 wording, where input errors do not repeat the URL', () => {
    const eof = classifyFailure(
      ['[in#0 @ 0x5581d8f0] Error opening input: End of file', `Error opening input file ${IN}.`, 'Error opening input files: End of file'],
      1,
      ctx,
    );
    expect(eof).toBeInstanceOf(InputInvalidError);
    expect(eof.message).toBe('clip.mp4: not a valid video (End of file)');
    const denied = classifyFailure(
      [`[out#0/mp4 @ 0x5581d8f0] Error opening output ${OUT}: Permission denied`, `Error opening output file ${OUT}.`, 'Error opening output files: Permission denied'],
      1,
      ctx,
    );
    expect(denied).toBeInstanceOf(OutputUnwritableError);
    const other = classifyFailure(
      ['[vost#0:0/libx264 @ 0x1] Error while opening encoder - maybe incorrect parameters such as bit_rate, rate, width or height', '[libx264 @ 0x2] broken thing', 'Error sending frames to consumers: Invalid argument', 'Task finished with error code: -22 (Invalid argument)', 'Terminating thread with return code -22 (Invalid argument)', 'Conversion failed!'],
      1,
      ctx,
    );
    expect(other.message).toBe('clip.mp4: ffmpeg exited with code 1 (broken thing)');
  });

  it('does not mistake the output for the input when one path is a prefix of the other', () => {
    const same = { inputPath: '/m/clip.mp4', outputPath: '/m/clip.mp4.part' };
    const err = classifyFailure(['file:/m/clip.mp4.part: Permission denied'], 1, same);
    expect(err).toBeInstanceOf(OutputUnwritableError);
    expect(err.message).toBe('clip.mp4.part: cannot write output (Permission denied)');
  });

  it('maps Permission denied on the output to OutputUnwritableError, and on the input to InputInvalidError', () => {
    expect(classifyFailure([`${OUT}: Permission denied`], 1, ctx)).toBeInstanceOf(OutputUnwritableError);
    expect(classifyFailure([`${OUT}: Read-only file system`], 1, ctx)).toBeInstanceOf(OutputUnwritableError);
    expect(classifyFailure([`${OUT}: No such file or directory`], 1, ctx)).toBeInstanceOf(OutputUnwritableError);
    const input = classifyFailure([`${IN}: Permission denied`], 1, ctx);
    expect(input).toBeInstanceOf(InputInvalidError);
    expect(input.message).toBe('clip.mp4: cannot be read (Permission denied)');
    expect(classifyFailure([`${IN}: No such file or directory`], 1, ctx).message).toBe(
      'clip.mp4: file not found (No such file or directory)',
    );
  });

  it('matches the paths relative callers passed, resolved to absolute', () => {
    const rel = { inputPath: 'in.mp4', outputPath: 'out.part' };
    const err = classifyFailure([`file:${process.cwd()}/out.part: Permission denied`], 1, rel);
    expect(err).toBeInstanceOf(OutputUnwritableError);
  });

  it('falls back to a retryable EncodeFailedError with the last meaningful line', () => {
    const err = classifyFailure(
      [
        '[libx264 @ 0x55a0c1e2f400] frame MB size (1x1) > level limit (139264)',
        'Error initializing output stream 0:0 -- Error while opening encoder for output stream #0:0 - maybe incorrect parameters such as bit_rate, rate, width or height',
        TAIL,
      ],
      1,
      ctx,
    );
    expect(err).toBeInstanceOf(EncodeFailedError);
    expect(err.disposition).toBe('retry');
    expect(err.message).toBe('clip.mp4: ffmpeg exited with code 1 (frame MB size (1x1) > level limit (139264))');
  });

  it('says when ffmpeg was killed by a signal or printed nothing', () => {
    expect(classifyFailure([], null, ctx).message).toBe('clip.mp4: ffmpeg was killed by a signal (no error output)');
    expect(classifyFailure(['', TAIL], 69, ctx).message).toBe('clip.mp4: ffmpeg exited with code 69 (no error output)');
  });

  it('keeps messages to one line of bounded length', () => {
    const err = classifyFailure([`weird failure ${'x'.repeat(1000)}`], 1, ctx);
    expect(err.message).not.toContain('\n');
    expect(err.message.length).toBeLessThan(260);
  });
});
