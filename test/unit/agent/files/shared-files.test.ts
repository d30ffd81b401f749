import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parsePathMapping } from '../../../../core/agent/files/path-map.ts';
import { createSharedFileAccess } from '../../../../core/agent/files/shared-files.ts';
import { RootRefusedError } from '../../../../core/shared/errors.ts';
import { silentLogger, type Logger } from '../../../../core/shared/logger.ts';
import type { Assign } from '../../../../core/shared/protocol/index.ts';
import { tempPathFor } from '../../../../core/shared/temp-names.ts';

let dir: string;
let media: string;
let warnings: { msg: string; fields?: Record<string, unknown> }[];
const logger: Logger = { ...silentLogger, warn: (msg, fields) => warnings.push({ msg, fields }) };
const live = new AbortController().signal;

beforeEach(() => {
  dir = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'encodefarm-shared-')));
  media = path.join(dir, 'media');
  fs.mkdirSync(path.join(media, 'in'), { recursive: true });
  fs.writeFileSync(path.join(media, 'in', 'a.mp4'), 'source');
  warnings = [];
});

afterEach(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

function assign(input: string, output: string): Assign {
  return {
    v: 1, type: 'assign', jobId: 4, epoch: 2, deviceId: 'gpu0', input: { path: input }, transfer: false,
    presetId: 'p', output: { path: output }, leaseExpiresAt: 0, leaseTtlMs: 30_000,
  };
}

describe('createSharedFileAccess', () => {
  it('maps the coordinator\'s Windows paths into the agent\'s roots', async () => {
    const access = createSharedFileAccess({ roots: [media], mappings: [parsePathMapping(`D:\\Media=${media}`)], logger });
    const a = assign('D:\\Media\\in\\a.mp4', 'D:\\Media\\out\\a.mkv');
    const files = await access.open(a, tempPathFor(a.output.path, 4, 2), live);
    expect(files.inputPath).toBe(path.join(media, 'in', 'a.mp4'));
    expect(files.tempPath).toBe(path.join(media, 'out', '.a.mkv.ef-4-2.part'));
    await files.deliver(live);
    fs.mkdirSync(path.dirname(files.tempPath));
    fs.writeFileSync(files.tempPath, 'half an encode');
    await files.cleanup();
    expect(fs.existsSync(files.tempPath)).toBe(false);
    expect(fs.existsSync(files.inputPath)).toBe(true);
  });

  it('uses the coordinator\'s paths as they are without mappings', async () => {
    const access = createSharedFileAccess({ roots: [media], mappings: [], logger });
    const a = assign(path.join(media, 'in', 'a.mp4'), path.join(media, 'out', 'a.mkv'));
    const files = await access.open(a, tempPathFor(a.output.path, 4, 2), live);
    expect(files.inputPath).toBe(a.input.path);
  });

  it('refuses an output outside the roots and logs why with the job', async () => {
    const access = createSharedFileAccess({ roots: [media], mappings: [], logger });
    const a = assign(path.join(media, 'in', 'a.mp4'), path.join(dir, 'elsewhere', 'a.mkv'));
    await expect(access.open(a, tempPathFor(a.output.path, 4, 2), live)).rejects.toBeInstanceOf(RootRefusedError);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]!.fields).toMatchObject({ jobId: 4, epoch: 2 });
    expect(String(warnings[0]!.fields!.reason)).toContain(path.join(dir, 'elsewhere'));
  });

  it('refuses a path no mapping covers, naming it', async () => {
    const access = createSharedFileAccess({ roots: [media], mappings: [parsePathMapping(`D:\\Media=${media}`)], logger });
    const a = assign('E:\\Other\\a.mp4', 'D:\\Media\\out\\a.mkv');
    await expect(access.open(a, tempPathFor(a.output.path, 4, 2), live)).rejects.toThrow(/E:\\Other\\a\.mp4.*no --path-map/);
  });

  it('stops before looking at anything when already aborted', async () => {
    const access = createSharedFileAccess({ roots: [media], mappings: [], logger });
    const gone = AbortSignal.abort(new Error('canceled'));
    const a = assign(path.join(media, 'in', 'a.mp4'), path.join(media, 'a.mkv'));
    await expect(access.open(a, tempPathFor(a.output.path, 4, 2), gone)).rejects.toThrow('canceled');
  });
});
