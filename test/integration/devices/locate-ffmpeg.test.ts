import { existsSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FfmpegMissingError } from '../../../core/shared/errors.ts';
import { findOnPath, locateFfmpeg } from '../../../core/agent/devices/locate-ffmpeg.ts';

const SYSTEM_FFMPEG = '/usr/bin/ffmpeg';
const hasSystemFfmpeg = existsSync(SYSTEM_FFMPEG) && existsSync('/usr/bin/ffprobe');
const require = createRequire(import.meta.url);
const BUNDLED_FFMPEG = (require('@ffmpeg-installer/ffmpeg') as { path: string }).path;
const HINT = 'install ffmpeg (e.g. apt-get install ffmpeg) or set --ffmpeg /path/to/ffmpeg';

let dir: string;

beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'encodefarm-locate-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function script(name: string, body: string): Promise<string> {
  const file = path.join(dir, name);
  await writeFile(file, `#!/bin/sh\n${body}\n`);
  await chmod(file, 0o755);
  return file;
}

describe('locateFfmpeg', () => {
  it.skipIf(!hasSystemFfmpeg)('finds the system ffmpeg and ffprobe on PATH', async () => {
    const found = await locateFfmpeg({ env: { PATH: `${dir}:/usr/bin` }, useBundled: false });
    expect(found).toMatchObject({ source: 'path', ffmpegPath: SYSTEM_FFMPEG, ffprobePath: '/usr/bin/ffprobe' });
    expect(found.version).toMatch(/^\d+\.\d+/);
    expect(found.ffprobeVersion).toBe(found.version);
    expect(found.encoders.has('libx264')).toBe(true);
    expect(found.encoders.has('h264_nvenc')).toBe(true);
    expect(found.encoders.has('=')).toBe(false);
  });

  it('falls back to the bundled ffmpeg when PATH has none', async () => {
    const found = await locateFfmpeg({ env: { PATH: dir } });
    expect(found.source).toBe('bundled');
    expect(found.ffmpegPath).toBe(BUNDLED_FFMPEG);
    expect(found.ffprobePath).toContain('@ffprobe-installer');
    expect(found.version.length).toBeGreaterThan(0);
    expect(found.encoders.has('libx264')).toBe(true);
    expect(found.encoders.has('h264_nvenc')).toBe(false);
  });

  it('skips an ffmpeg on PATH that does not run and uses the bundled one', async () => {
    await script('ffmpeg', 'echo "ffmpeg: broken build" >&2; exit 1');
    await script('ffprobe', 'exit 1');
    const found = await locateFfmpeg({ env: { PATH: dir } });
    expect(found.source).toBe('bundled');
  });

  it.skipIf(!hasSystemFfmpeg)('honours a configured path over PATH, with the ffprobe beside it', async () => {
    await script('ffmpeg', 'exit 1');
    const found = await locateFfmpeg({ ffmpegPath: SYSTEM_FFMPEG, env: { PATH: dir } });
    expect(found).toMatchObject({ source: 'config', ffmpegPath: SYSTEM_FFMPEG, ffprobePath: '/usr/bin/ffprobe' });
  });

  it.skipIf(!hasSystemFfmpeg)('takes ENCODEFARM_FFMPEG and ENCODEFARM_FFPROBE from the environment', async () => {
    const found = await locateFfmpeg({
      env: { PATH: '/usr/bin', ENCODEFARM_FFMPEG: BUNDLED_FFMPEG, ENCODEFARM_FFPROBE: '/usr/bin/ffprobe' },
    });
    expect(found).toMatchObject({ source: 'config', ffmpegPath: BUNDLED_FFMPEG, ffprobePath: '/usr/bin/ffprobe' });
  });

  it('throws FfmpegMissingError naming a bogus configured path, with the fix', async () => {
    const bogus = path.join(dir, 'no', 'such', 'ffmpeg');
    const error = await locateFfmpeg({ ffmpegPath: bogus, env: { PATH: '/usr/bin' } }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(FfmpegMissingError);
    expect((error as Error).message).toContain(bogus);
    expect((error as Error).message).toContain(HINT);
  });

  it('rejects a configured binary that is not ffmpeg', async () => {
    const impostor = await script('not-ffmpeg', 'echo hello');
    const error = await locateFfmpeg({ ffmpegPath: impostor, ffprobePath: impostor, env: { PATH: dir } }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(FfmpegMissingError);
    expect((error as Error).message).toMatch(/does not look like ffmpeg/);
  });

  it('says what it tried and how to fix it when nothing works', async () => {
    await script('ffmpeg', 'exit 1');
    const error = await locateFfmpeg({ env: { PATH: dir }, useBundled: false }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(FfmpegMissingError);
    const message = (error as Error).message;
    expect(message).toContain(`ffmpeg is on PATH (${path.join(dir, 'ffmpeg')}) but ffprobe is not`);
    expect(message).toMatch(new RegExp(`; ${HINT.replace(/[().]/g, '\\$&')}\\.$`));
  });
});

describe('findOnPath', () => {
  it('finds executables only, in PATH order, ignoring relative entries', async () => {
    const first = path.join(dir, 'a');
    const second = path.join(dir, 'b');
    await Promise.all([mkdir(first), mkdir(second)]);
    await writeFile(path.join(first, 'tool'), 'not executable');
    await writeFile(path.join(second, 'tool'), '#!/bin/sh\n');
    await chmod(path.join(second, 'tool'), 0o755);
    await symlink(path.join(second, 'tool'), path.join(first, 'linked'));
    const env = { PATH: ['.', '', first, second].join(path.delimiter) };
    expect(await findOnPath('tool', env)).toBe(path.join(second, 'tool'));
    expect(await findOnPath('linked', env)).toBe(path.join(first, 'linked'));
    expect(await findOnPath('missing', env)).toBeUndefined();
  });
});
