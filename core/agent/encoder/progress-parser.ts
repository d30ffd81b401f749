import type { EncodeProgress } from '../ports.ts';

/** Incremental parser for ffmpeg's `-progress pipe:1` output. */
export interface ProgressParser {
  /** Feeds a chunk (which may end mid-line); returns the progress of every block it completed. */
  push(chunk: string): EncodeProgress[];
  /** The last progress emitted, if any. */
  readonly last: EncodeProgress | undefined;
}

interface Snapshot {
  frame: number;
  fps: number;
  /** 0 = not known yet. */
  speed: number;
  outTimeS: number;
}

/** `N/A`, empty or unparsable values mean "not known in this block". */
function num(value: string): number | undefined {
  const n = Number.parseFloat(value);
  return Number.isFinite(n) ? n : undefined;
}

/** `HH:MM:SS.micro`, for ffmpeg builds that print no `out_time_us`. */
function clockToSeconds(value: string): number | undefined {
  const m = /^(-?)(\d+):(\d{2}):(\d{2}(?:\.\d+)?)$/.exec(value.trim());
  if (!m) return undefined;
  const s = Number(m[2]) * 3600 + Number(m[3]) * 60 + Number(m[4]);
  return m[1] ? -s : s;
}

function apply(snap: Snapshot, key: string, value: string): void {
  switch (key) {
    case 'frame':
      snap.frame = num(value) ?? snap.frame;
      return;
    case 'fps':
      snap.fps = num(value) ?? snap.fps;
      return;
    case 'speed':
      // `speed=1.23x`; parseFloat stops at the `x`. N/A means unknown, so the ETA is too.
      snap.speed = num(value) ?? 0;
      return;
    case 'out_time_us':
    case 'out_time_ms': {
      // Both are microseconds (out_time_ms is misnamed in ffmpeg). Before the first packet
      // ffmpeg prints a huge negative number or N/A; keep the last good value then.
      const us = num(value);
      if (us !== undefined && us >= 0) snap.outTimeS = us / 1e6;
      return;
    }
    case 'out_time': {
      const s = clockToSeconds(value);
      if (s !== undefined && s >= 0) snap.outTimeS = s;
      return;
    }
  }
}

function toProgress(snap: Snapshot, durationS: number, ended: boolean): EncodeProgress {
  const known = durationS > 0;
  const raw = known ? (snap.outTimeS / durationS) * 100 : 0;
  const percent = ended ? 100 : Math.min(100, Math.max(0, raw));
  const remaining = Math.max(0, durationS - snap.outTimeS);
  const etaS = ended ? 0 : known && snap.speed > 0 ? remaining / snap.speed : null;
  return { frame: snap.frame, fps: snap.fps, speed: snap.speed, outTimeS: snap.outTimeS, percent, etaS };
}

/**
 * Creates a parser for one encode. Each `progress=continue|end` line closes a block and yields one
 * EncodeProgress; percent is clamped to 0–100 of `durationS` and is 100 at `progress=end`, and
 * `etaS` is the remaining media time divided by speed (null while speed is 0 or unknown).
 */
export function createProgressParser(durationS: number): ProgressParser {
  const snap: Snapshot = { frame: 0, fps: 0, speed: 0, outTimeS: 0 };
  let buffer = '';
  let last: EncodeProgress | undefined;

  return {
    get last() {
      return last;
    },
    push(chunk: string): EncodeProgress[] {
      buffer += chunk;
      const lines = buffer.split(/\r?\n|\r/);
      buffer = lines.pop() ?? '';
      const out: EncodeProgress[] = [];
      for (const line of lines) {
        const eq = line.indexOf('=');
        if (eq <= 0) continue;
        const key = line.slice(0, eq).trim();
        const value = line.slice(eq + 1).trim();
        if (key === 'progress') {
          last = toProgress(snap, durationS, value === 'end');
          out.push(last);
        } else {
          apply(snap, key, value);
        }
      }
      return out;
    },
  };
}
