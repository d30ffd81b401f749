import { describe, expect, it } from 'vitest';
import { createProgressParser } from '../../../../core/agent/encoder/progress-parser.ts';

/** Two blocks exactly as ffmpeg 5.1 printed them for a 2 s clip. */
const REAL = `frame=1
fps=0.00
stream_0_0_q=0.0
bitrate=   8.3kbits/s
total_size=48
out_time_us=46440
out_time_ms=46440
out_time=00:00:00.046440
dup_frames=0
drop_frames=0
speed=5.29x
progress=continue
frame=50
fps=0.00
stream_0_0_q=-1.0
bitrate= 208.4kbits/s
total_size=52634
out_time_us=2020136
out_time_ms=2020136
out_time=00:00:02.020136
dup_frames=0
drop_frames=0
speed=16.7x
progress=end
`;

describe('createProgressParser', () => {
  it('emits one progress per block with frame, fps, speed and output time', () => {
    const parser = createProgressParser(10);
    const out = parser.push('frame=120\nfps=48.5\nout_time_us=4000000\nspeed=2.00x\nprogress=continue\n');
    expect(out).toEqual([{ frame: 120, fps: 48.5, speed: 2, outTimeS: 4, percent: 40, etaS: 3 }]);
    expect(parser.last).toEqual(out[0]);
  });

  it('parses real ffmpeg output and reports 100 % with no ETA left at progress=end', () => {
    const out = createProgressParser(2).push(REAL);
    expect(out).toHaveLength(2);
    expect(out[0]).toMatchObject({ frame: 1, speed: 5.29, outTimeS: 0.04644 });
    expect(out[0]?.percent).toBeCloseTo(2.322, 3);
    expect(out[0]?.etaS).toBeCloseTo((2 - 0.04644) / 5.29, 6);
    expect(out[1]).toMatchObject({ frame: 50, outTimeS: 2.020136, percent: 100, etaS: 0 });
  });

  it('handles chunks split anywhere, even one character at a time', () => {
    const whole = createProgressParser(2).push(REAL);
    const parser = createProgressParser(2);
    const pieces = [...REAL].flatMap((ch) => parser.push(ch));
    expect(pieces).toEqual(whole);
  });

  it('waits for the rest of a line split mid-key and mid-value', () => {
    const parser = createProgressParser(10);
    expect(parser.push('fra')).toEqual([]);
    expect(parser.push('me=7\nout_time_u')).toEqual([]);
    expect(parser.push('s=1500')).toEqual([]);
    expect(parser.push('000\nspeed=1x\nprogress=cont')).toEqual([]);
    expect(parser.push('inue\n')).toEqual([{ frame: 7, fps: 0, speed: 1, outTimeS: 1.5, percent: 15, etaS: 8.5 }]);
  });

  it('accepts CRLF line endings', () => {
    const out = createProgressParser(4).push('frame=3\r\nout_time_us=1000000\r\nspeed=1x\r\nprogress=continue\r\n');
    expect(out).toEqual([{ frame: 3, fps: 0, speed: 1, outTimeS: 1, percent: 25, etaS: 3 }]);
  });

  it('treats out_time_ms as microseconds, like out_time_us', () => {
    const out = createProgressParser(10).push('out_time_ms=2500000\nprogress=continue\n');
    expect(out[0]?.outTimeS).toBe(2.5);
  });

  it('falls back to out_time when no microsecond field is printed', () => {
    const out = createProgressParser(7200).push('out_time=01:02:03.500000\nprogress=continue\n');
    expect(out[0]?.outTimeS).toBe(3723.5);
  });

  it('keeps the last known time for N/A and the negative placeholder ffmpeg prints before the first packet', () => {
    const parser = createProgressParser(10);
    const [first] = parser.push(
      'frame=0\nfps=0.00\nout_time_us=-9223372036854775807\nout_time_ms=-9223372036854775807\nout_time=-577014:32:22.775808\nspeed=N/A\nprogress=continue\n',
    );
    expect(first).toEqual({ frame: 0, fps: 0, speed: 0, outTimeS: 0, percent: 0, etaS: null });
    parser.push('out_time_us=3000000\nspeed=1.5x\nprogress=continue\n');
    const [later] = parser.push('frame=N/A\nfps=N/A\nout_time_us=N/A\nspeed=N/A\nprogress=continue\n');
    expect(later).toEqual({ frame: 0, fps: 0, speed: 0, outTimeS: 3, percent: 30, etaS: null });
  });

  it('gives no ETA while speed is 0', () => {
    const [p] = createProgressParser(10).push('out_time_us=1000000\nspeed=0x\nprogress=continue\n');
    expect(p?.etaS).toBeNull();
  });

  it('clamps percent to 0–100 when output runs past the probed duration', () => {
    const [p] = createProgressParser(2).push('out_time_us=2600000\nspeed=2x\nprogress=continue\n');
    expect(p?.percent).toBe(100);
    expect(p?.etaS).toBe(0);
  });

  it('reports 0 % and no ETA when the duration is unknown', () => {
    const [p] = createProgressParser(0).push('out_time_us=5000000\nspeed=3x\nprogress=continue\n');
    expect(p).toMatchObject({ outTimeS: 5, percent: 0, etaS: null });
  });

  it('ignores lines that are not key=value', () => {
    const out = createProgressParser(10).push('\n=oops\ngarbage\nframe=2\nprogress=continue\n');
    expect(out).toHaveLength(1);
    expect(out[0]?.frame).toBe(2);
  });
});
