import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createProbeCache } from '../../../../core/coordinator/api/probe-cache.ts';
import type { SourceProber } from '../../../../core/coordinator/ports.ts';
import { EncodeFailedError, InputInvalidError } from '../../../../core/shared/errors.ts';
import type { ProbeView } from '../../../../core/shared/protocol/index.ts';

let dir: string;

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'encodefarm-probe-cache-'));
});

afterEach(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

const VIEW: ProbeView = { formatName: 'mov,mp4', durationS: 2, sizeBytes: 3, video: { codec: 'h264', width: 320, height: 240, fps: 25 }, audio: [] };

/** A FAKE prober that answers from a script and counts its calls per path. */
function scriptedProber(answer: (file: string) => ProbeView | Error): SourceProber & { calls: string[] } {
  const calls: string[] = [];
  return {
    calls,
    async probe(file) {
      calls.push(file);
      const a = answer(file);
      if (a instanceof Error) throw a;
      return { ...a, sizeBytes: fs.statSync(file).size };
    },
  };
}

function file(name: string, bytes = 'abc'): string {
  const p = path.join(dir, name);
  fs.writeFileSync(p, bytes);
  return p;
}

describe('createProbeCache', () => {
  it('probes a file once while it keeps its size and mtime, and again once it changes', async () => {
    const prober = scriptedProber(() => VIEW);
    const cache = createProbeCache(prober);
    const clip = file('a.mp4');
    const [first, second] = await Promise.all([cache.describe(clip), cache.describe(clip)]);
    expect(first).toEqual({ probe: { ...VIEW, sizeBytes: 3 }, probeError: null });
    expect(second).toEqual(first);
    expect(await cache.describe(clip)).toEqual(first);
    expect(prober.calls).toEqual([clip]);

    fs.writeFileSync(clip, 'longer now');
    expect((await cache.describe(clip)).probe?.sizeBytes).toBe(10);
    expect(prober.calls).toEqual([clip, clip]);
  });

  it('says why when the source is gone, without probing', async () => {
    const prober = scriptedProber(() => VIEW);
    const cache = createProbeCache(prober);
    const gone = path.join(dir, 'gone.mp4');
    expect(await cache.describe(gone)).toEqual({ probe: null, probeError: `${gone}: the source file is gone` });
    expect(await cache.describe(dir)).toEqual({ probe: null, probeError: `${dir}: not a regular file` });
    expect(prober.calls).toEqual([]);
  });

  it('remembers "not a video" but tries again after other failures', async () => {
    const prober = scriptedProber((f) => (f.endsWith('.txt') ? new InputInvalidError('notes.txt: not a video') : new EncodeFailedError('ffprobe timed out')));
    const cache = createProbeCache(prober);
    const notes = file('notes.txt');
    const slow = file('slow.mp4');
    for (let i = 0; i < 2; i++) {
      expect(await cache.describe(notes)).toEqual({ probe: null, probeError: 'notes.txt: not a video' });
      expect(await cache.describe(slow)).toEqual({ probe: null, probeError: 'ffprobe timed out' });
    }
    expect(prober.calls.filter((c) => c === notes)).toHaveLength(1);
    expect(prober.calls.filter((c) => c === slow)).toHaveLength(2);
  });

  it('forgets the least recently used sources past its size', async () => {
    const prober = scriptedProber(() => VIEW);
    const cache = createProbeCache(prober, 2);
    const [a, b, c] = [file('a.mp4'), file('b.mp4'), file('c.mp4')];
    await cache.describe(a);
    await cache.describe(b);
    await cache.describe(a);
    await cache.describe(c); // evicts b
    expect(cache.size()).toBe(2);
    await cache.describe(a);
    await cache.describe(b);
    expect(prober.calls).toEqual([a, b, c, b]);
  });
});
