import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { cachedFfmpegInfoReader } from '../../../core/agent/devices/ffmpeg-info-cache.ts';

let dir: string;

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'encodefarm-infocache-'));
});

afterEach(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

/**
 * A FAKE ffmpeg/ffprobe pair that counts its runs in a file, so the test can tell whether the
 * cache asked the binaries again.
 */
function fakeTools(version: string): { ffmpeg: string; ffprobe: string; runs: () => number } {
  const counter = path.join(dir, 'runs');
  fs.writeFileSync(counter, '');
  const script = (name: string) => {
    const p = path.join(dir, name);
    fs.writeFileSync(
      p,
      `#!/bin/sh\necho x >> '${counter}'\ncase "$*" in\n  *-encoders*) printf ' V....D libx264              libx264 H.264\\n' ;;\n  *) echo '${name} version ${version} Copyright' ;;\nesac\n`,
      { mode: 0o755 },
    );
    return p;
  };
  return { ffmpeg: script('ffmpeg'), ffprobe: script('ffprobe'), runs: () => fs.readFileSync(counter, 'utf8').split('\n').filter(Boolean).length };
}

describe('cachedFfmpegInfoReader', () => {
  it('asks the binaries once, then answers from the cache until a binary changes', async () => {
    const tools = fakeTools('9.9');
    const read = cachedFfmpegInfoReader(path.join(dir, 'data', 'ffmpeg-info.json'));
    const first = await read(tools.ffmpeg, tools.ffprobe);
    const runsAfterFirst = tools.runs();
    const second = await read(tools.ffmpeg, tools.ffprobe);
    expect(tools.runs()).toBe(runsAfterFirst);
    expect(second).toEqual(first);
    expect(second.encoders.has('libx264')).toBe(true);
    expect(second.version).toBe('9.9');

    // An upgrade (new size and mtime) is asked again.
    fs.appendFileSync(tools.ffmpeg, '# upgraded\n');
    fs.utimesSync(tools.ffmpeg, new Date(), new Date(Date.now() + 5000));
    await read(tools.ffmpeg, tools.ffprobe);
    expect(tools.runs()).toBeGreaterThan(runsAfterFirst);
  });

  it('treats a corrupt cache file as empty', async () => {
    const tools = fakeTools('1.0');
    const file = path.join(dir, 'ffmpeg-info.json');
    fs.writeFileSync(file, '{not json');
    const info = await cachedFfmpegInfoReader(file)(tools.ffmpeg, tools.ffprobe);
    expect(info.version).toBe('1.0');
    expect(JSON.parse(fs.readFileSync(file, 'utf8'))).toHaveLength(1);
  });
});
