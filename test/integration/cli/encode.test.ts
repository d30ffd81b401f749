import { execFileSync } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { makeClip } from '../../helpers/clips.ts';
import {
  Scratch,
  SYSTEM_PATH,
  expectEncodeOf,
  filesUnder,
  identity,
  linesStartingWith,
  partFilesUnder,
  runCli,
  show,
} from '../../helpers/cli.ts';

// End-to-end: `node bin/encodefarm.js …` as a user runs it, real ffmpeg on lavfi clips, a fresh
// data dir per test. No GPU here, so encodes run on the CPU device (or simulated GPUs).

const scratch = new Scratch();
afterEach(() => scratch.cleanup());

/** A temp root with `data/` (the queue) and `clips/` (sources) for one test. */
async function workspace() {
  const root = await scratch.dir('encode');
  const data = path.join(root, 'data');
  const clips = path.join(root, 'clips');
  await mkdir(data);
  await mkdir(clips);
  return { root, data, clips, out: path.join(root, 'out') };
}

const clip = (dir: string, name: string, seconds = 1) => makeClip(dir, name, { seconds, width: 320, height: 180 });

/** The results-table row of one file (first column), e.g. `a.mp4  CPU (…)  0.4s  …  done`. */
function tableRow(stdout: string, file: string): string | undefined {
  return stdout.split('\n').find((l) => l.startsWith(`${file} `));
}

/** The job id `encodefarm status` lists for `file` in its jobs table. */
function jobIdOf(statusOut: string, file: string): number {
  const row = statusOut.split('\n').find((l) => new RegExp(`^\\d+\\s+${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\s`).test(l));
  if (!row) throw new Error(`no job row for ${file} in:\n${statusOut}`);
  return Number(row.split(/\s+/)[0]);
}

const systemFfmpeg = (() => {
  try {
    return execFileSync('sh', ['-c', 'command -v ffmpeg'], { env: { PATH: SYSTEM_PATH }, encoding: 'utf8' }).trim();
  } catch {
    return '';
  }
})();
const hasNvidiaSmi = (() => {
  try {
    execFileSync('sh', ['-c', 'command -v nvidia-smi'], { env: { PATH: SYSTEM_PATH }, stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

describe('encodefarm encode', () => {
  it('encodes three clips into --out: verified h264 with audio, inputs untouched, no temp files left', async () => {
    const w = await workspace();
    const inputs = await Promise.all([clip(w.clips, 'a.mp4', 1), clip(w.clips, 'b.mp4', 1.5), clip(w.clips, 'c.mp4', 2)]);
    const before = await Promise.all(inputs.map(identity));

    const r = await runCli(['encode', ...inputs, '--out', w.out], { dataDir: w.data });

    expect(r.code, show(r)).toBe(0);
    for (const name of ['a.mp4', 'b.mp4', 'c.mp4']) expect(tableRow(r.stdout, name), show(r)).toMatch(/\bdone$/);
    expect(r.stdout).toContain('3/3 done and verified');
    expect(await filesUnder(w.out)).toEqual(['a.h264-fast.mp4', 'b.h264-fast.mp4', 'c.h264-fast.mp4']);
    for (const [i, name] of ['a', 'b', 'c'].entries()) {
      const out = await expectEncodeOf(path.join(w.out, `${name}.h264-fast.mp4`), inputs[i]!, 'h264');
      expect(out.audioStreams).toBe(1);
    }
    expect(await Promise.all(inputs.map(identity))).toEqual(before);
    expect(await filesUnder(w.clips)).toEqual(['a.mp4', 'b.mp4', 'c.mp4']);
    expect(await partFilesUnder(w.root)).toEqual([]);
  });

  it('scans a folder recursively and keeps its sub-folders under --out, ignoring non-videos', async () => {
    const w = await workspace();
    await mkdir(path.join(w.clips, 'sub', 'deeper'), { recursive: true });
    await clip(w.clips, 'top.mp4');
    await clip(path.join(w.clips, 'sub'), 'mid.mp4');
    await clip(path.join(w.clips, 'sub', 'deeper'), 'low.mkv');
    await writeFile(path.join(w.clips, 'readme.txt'), 'not a video\n');

    const r = await runCli(['encode', w.clips, '--out', w.out, '--cpu-slots', '2'], { dataDir: w.data });

    expect(r.code, show(r)).toBe(0);
    expect(await filesUnder(w.out)).toEqual(['sub/deeper/low.h264-fast.mp4', 'sub/mid.h264-fast.mp4', 'top.h264-fast.mp4']);
    await expectEncodeOf(path.join(w.out, 'sub/deeper/low.h264-fast.mp4'), path.join(w.clips, 'sub/deeper/low.mkv'), 'h264');
    expect(r.stdout).not.toContain('readme.txt');
  });

  it('expands a quoted glob itself (no shell involved)', async () => {
    const w = await workspace();
    await clip(w.clips, 'x.mp4');
    await clip(w.clips, 'y.mp4');
    await clip(w.clips, 'z.mkv');

    const r = await runCli(['encode', `${w.clips}/*.mp4`, '--out', w.out], { dataDir: w.data });

    expect(r.code, show(r)).toBe(0);
    expect(await filesUnder(w.out)).toEqual(['x.h264-fast.mp4', 'y.h264-fast.mp4']);
  });

  it('with --out inside the input folder, a re-run continues the batch and does not take its own outputs as inputs', async () => {
    const w = await workspace();
    await clip(w.clips, 'a.mp4');
    await clip(w.clips, 'b.mp4');
    const out = path.join(w.clips, 'out');
    const args = ['encode', w.clips, '--out', out];

    const first = await runCli(args, { dataDir: w.data });
    expect(first.code, show(first)).toBe(0);
    const outputs = await Promise.all(['a', 'b'].map((n) => identity(path.join(out, `${n}.h264-fast.mp4`))));

    const again = await runCli(args, { dataDir: w.data });

    expect(again.code, show(again)).toBe(0);
    expect(again.stderr).toMatch(/continuing batch/);
    expect(again.stdout).not.toMatch(/h264-fast\.mp4 /);
    expect(again.stdout).toContain('2/2 done and verified');
    expect(await filesUnder(w.clips)).toEqual(['a.mp4', 'b.mp4', 'out/a.h264-fast.mp4', 'out/b.h264-fast.mp4']);
    expect(await Promise.all(['a', 'b'].map((n) => identity(path.join(out, `${n}.h264-fast.mp4`))))).toEqual(outputs);
  });

  it('skips (by default) a job whose output exists, leaving that file byte-identical; --on-exists suffix keeps both', async () => {
    const w = await workspace();
    const a = await clip(w.clips, 'a.mp4');
    const b = await clip(w.clips, 'b.mp4');
    await mkdir(w.out);
    const existing = path.join(w.out, 'a.h264-fast.mp4');
    await writeFile(existing, 'precious bytes the user already had here\n');
    const kept = await identity(existing);

    const r = await runCli(['encode', a, b, '--out', w.out], { dataDir: w.data });

    expect(r.code, show(r)).not.toBe(0);
    expect(tableRow(r.stdout, 'a.mp4'), show(r)).toMatch(/\bskipped$/);
    expect(tableRow(r.stdout, 'b.mp4'), show(r)).toMatch(/\bdone$/);
    const problems = linesStartingWith(r.stdout, '✗');
    expect(problems, show(r)).toHaveLength(1);
    expect(problems[0]).toContain(existing);
    expect(problems[0]).toMatch(/already exists, left untouched/);
    expect(await identity(existing)).toEqual(kept);
    expect(await partFilesUnder(w.root)).toEqual([]);

    const s = await runCli(['encode', a, '--out', w.out, '--on-exists', 'suffix'], { dataDir: w.data });

    expect(s.code, show(s)).toBe(0);
    expect(tableRow(s.stdout, 'a.mp4'), show(s)).toMatch(/done → a\.h264-fast \(1\)\.mp4$/);
    await expectEncodeOf(path.join(w.out, 'a.h264-fast (1).mp4'), a, 'h264');
    expect(await identity(existing)).toEqual(kept);
    expect(await filesUnder(w.out)).toEqual(['a.h264-fast (1).mp4', 'a.h264-fast.mp4', 'b.h264-fast.mp4']);
  });

  it('spreads four clips over two simulated GPUs and labels them simulated', async () => {
    const w = await workspace();
    const inputs = await Promise.all(['1', '2', '3', '4'].map((n) => clip(w.clips, `clip${n}.mp4`)));

    const r = await runCli(['encode', ...inputs, '--out', w.out, '--simulate-gpus', '2', '--cpu-slots', '0'], { dataDir: w.data });

    expect(r.code, show(r)).toBe(0);
    const rows = inputs.map((p) => tableRow(r.stdout, path.basename(p)) ?? '');
    expect(rows.filter((l) => l.includes('simulated GPU 0')).length, show(r)).toBeGreaterThan(0);
    expect(rows.filter((l) => l.includes('simulated GPU 1')).length, show(r)).toBeGreaterThan(0);
    expect(rows.every((l) => /simulated GPU \d \(simulated\)/.test(l)), show(r)).toBe(true);
    expect(r.stderr).toMatch(/simulated GPUs? .*not real GPUs/i);
    expect(await filesUnder(w.out)).toHaveLength(4);
  });

  it('encodes with --preset hevc-fast into HEVC', async () => {
    const w = await workspace();
    const a = await clip(w.clips, 'a.mp4');

    const r = await runCli(['encode', a, '--out', w.out, '--preset', 'hevc-fast'], { dataDir: w.data });

    expect(r.code, show(r)).toBe(0);
    const out = await expectEncodeOf(path.join(w.out, 'a.hevc-fast.mp4'), a, 'hevc');
    expect(out.audioStreams).toBe(1);
  });
});

describe('encodefarm devices', () => {
  // This machine's own view: it only holds where there is no nvidia-smi (gpu-fakes.test.ts covers GPUs).
  const why = hasNvidiaSmi ? ' — SKIPPED: this machine has nvidia-smi' : systemFfmpeg ? '' : ' — SKIPPED: no ffmpeg on PATH';
  it.skipIf(hasNvidiaSmi || !systemFfmpeg)(
    `prints the ffmpeg path and version, says there is no working NVIDIA GPU and that the CPU is used${why}`,
    async () => {
      const w = await workspace();
      const version = /^ffmpeg version (\S+)/.exec(execFileSync(systemFfmpeg, ['-version'], { encoding: 'utf8' }))?.[1];

      const r = await runCli(['devices'], { dataDir: w.data });

      expect(r.code, show(r)).toBe(0);
      expect(r.stdout).toContain(`ffmpeg   ${systemFfmpeg} (${version}`);
      expect(r.stdout).toMatch(/libx264 yes/);
      expect(r.stdout).toMatch(/No working NVIDIA GPU found \(nvidia-smi not found\)/);
      expect(r.stdout).toMatch(/encoding on the CPU with libx264/);
      expect(r.stdout).toMatch(/^cpu\s+CPU \(libx264.*\)\s+cpu\s+1\s/m);
    },
  );
});

describe('encodefarm presets', () => {
  it('lists the built-in presets', async () => {
    const w = await workspace();
    const r = await runCli(['presets'], { dataDir: w.data });
    expect(r.code, show(r)).toBe(0);
    for (const id of ['h264-fast', 'hevc-archive', 'av1-fast']) expect(r.stdout).toMatch(new RegExp(`^${id}\\s+built-in`, 'm'));
  });

  it('refuses an invalid preset file with one line per bad field and exit code 2', async () => {
    const w = await workspace();
    const file = path.join(w.root, 'bad.json');
    const bad = { id: 'Bad ID!', name: 'bad', codec: 'vp9', quality: 99, speed: 'ludicrous', container: 'avi', color: 'red' };
    await writeFile(file, JSON.stringify(bad));

    const r = await runCli(['presets', 'add', file], { dataDir: w.data });

    expect(r.code, show(r)).toBe(2);
    const lines = r.stderr.split('\n');
    for (const field of ['id', 'codec', 'quality', 'speed', 'container']) {
      expect(lines.filter((l) => new RegExp(`^\\s*- ${field}: `).test(l)), `${field}\n${show(r)}`).toHaveLength(1);
    }
    expect(lines.filter((l) => /color/.test(l)), show(r)).toHaveLength(1);
    expect(r.stderr).toContain(file);

    const list = await runCli(['presets'], { dataDir: w.data });
    expect(list.stdout).not.toMatch(/bad/i);
  });
});

describe('encodefarm status, cancel and retry', () => {
  it('status lists the batch and its jobs; cancel of a job of that finished batch changes nothing and says why', async () => {
    const w = await workspace();
    const a = await clip(w.clips, 'a.mp4');
    const b = await clip(w.clips, 'b.mp4');
    expect((await runCli(['encode', a, b, '--out', w.out, '--cpu-slots', '2'], { dataDir: w.data })).code).toBe(0);
    const output = await identity(path.join(w.out, 'a.h264-fast.mp4'));

    const r = await runCli(['status'], { dataDir: w.data });

    expect(r.code, show(r)).toBe(0);
    expect(r.stdout).toMatch(/^1\s+\S+ \S+\s+active\s+h264-fast\s+2 inputs\s+2 done$/m);
    expect(r.stdout).toContain('Jobs of batch 1:');
    for (const n of ['a', 'b']) {
      expect(r.stdout).toMatch(new RegExp(`^\\d+\\s+${n}\\.mp4\\s+done\\s.*${path.join(w.out, `${n}.h264-fast.mp4`)}$`, 'm'));
    }
    const id = jobIdOf(r.stdout, 'a.mp4');

    const c = await runCli(['cancel', String(id)], { dataDir: w.data });

    expect(c.stdout + c.stderr, show(c)).toMatch(/0 job\(s\) changed|nothing/i);
    const after = await runCli(['status'], { dataDir: w.data });
    expect(after.stdout).toMatch(new RegExp(`^${id}\\s+a\\.mp4\\s+done\\s`, 'm'));
    expect(after.stdout).toMatch(/\s2 done$/m);
    expect(await identity(path.join(w.out, 'a.h264-fast.mp4'))).toEqual(output);
    // A user who typed an id needs to hear what happened to *that* job (it is already done), not
    // only a count, which reads the same for a typo'd id.
    const said = c.stdout + c.stderr;
    expect(said, show(c)).toMatch(new RegExp(`\\b${id}\\b`));
    expect(said, show(c)).toMatch(/already (done|finished)|is done|was done|finished/i);
  });

  it('retry <id> re-runs a failed job', async () => {
    const w = await workspace();
    const a = await clip(w.clips, 'a.mp4');
    const later = path.join(w.clips, 'later.mp4');

    const first = await runCli(['encode', a, later, '--out', w.out], { dataDir: w.data });
    expect(first.code, show(first)).not.toBe(0);
    expect(tableRow(first.stdout, 'later.mp4'), show(first)).toMatch(/FAILED$/);
    const id = jobIdOf((await runCli(['status'], { dataDir: w.data })).stdout, 'later.mp4');

    await clip(w.clips, 'later.mp4');
    const r = await runCli(['retry', String(id)], { dataDir: w.data });

    expect(r.code, show(r)).toBe(0);
    expect(r.stderr).toMatch(/retrying 1 job\(s\) of batch 1/);
    expect(tableRow(r.stdout, 'later.mp4'), show(r)).toMatch(/\bdone$/);
    await expectEncodeOf(path.join(w.out, 'later.h264-fast.mp4'), later, 'h264');
    // The table covers the whole batch: the job that was done before is still done, not redone.
    expect(tableRow(r.stdout, 'a.mp4'), show(r)).toMatch(/\bdone$/);
    expect(r.stderr).not.toMatch(/^started\s+a\.mp4 /m);
    expect(r.stdout).toContain('2/2 done and verified');
  });
});
