import { execFile, execFileSync, type ChildProcess } from 'node:child_process';
import { copyFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { resolveTool, runCli, Scratch, show, spawnCli, SYSTEM_PATH, waitFor } from '../../helpers/cli.ts';

// `encodefarm devices --watch` and the telemetry line of plain `devices`, run as the real CLI:
//  - NVML: the real addon with a STUB libnvidia-ml.so.1 (test/native/nvml-stub.c, not NVIDIA's
//    library) compiled here and found through LD_LIBRARY_PATH;
//  - fallback: the FAKE nvidia-smi (test/fixtures/nvidia-smi-telemetry, a shell script);
//  - neither: NVML pointed at a file that does not exist, no nvidia-smi on PATH.

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const STUB_SOURCE = path.join(ROOT, 'test', 'native', 'nvml-stub.c');
const FAKE_SMI = path.join(ROOT, 'test', 'fixtures', 'nvidia-smi-telemetry', 'nvidia-smi');
const ADDON = path.join(ROOT, 'native', 'build', 'Release', 'encodefarm_nvml.node');
const NO_NVML = '/nonexistent/encodefarm-test/libnvidia-ml.so.1';

function hasCompiler(): boolean {
  try {
    execFileSync('cc', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}
const stubSkip = !existsSync(ADDON) ? 'native addon not built: run node scripts/build-native.mjs' : !hasCompiler() ? 'no C compiler (cc) for the stub libnvidia-ml.so.1' : undefined;

interface Block {
  source: string;
  rows: Record<string, string>[];
  note: string | undefined;
}

/** Splits non-TTY watch output into its blocks; a block's table rows become column → cell. */
function parseBlocks(out: string): Block[] {
  return out
    .split('\n\n')
    .filter((b) => b.startsWith('GPU telemetry (') && b.includes('\n'))
    .map((b) => {
      const lines = b.split('\n');
      const source = /^GPU telemetry \(([^)]+)\)/.exec(lines[0]!)![1]!;
      const header = lines[1]!.split(/\s{2,}/);
      const rows = lines
        .slice(3)
        .filter((l) => /^\d/.test(l))
        .map((l) => Object.fromEntries(l.split(/\s{2,}/).map((cell, i) => [header[i]!, cell])));
      return { source, rows, note: lines.find((l) => l.startsWith('note: '))?.slice(6) };
    });
}

/** Starts `devices --watch`, waits until the complete blocks on stdout satisfy `enough`, then sends SIGINT. */
async function watchBlocks(args: string[], dataDir: string, env: NodeJS.ProcessEnv, enough: (blocks: Block[]) => boolean) {
  const child: ChildProcess = spawnCli(['devices', '--watch', ...args], { dataDir, env });
  let stdout = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (c: string) => (stdout += c));
  child.stderr!.setEncoding('utf8').on('data', (c: string) => (stderr += c));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('close', (code, signal) => resolve({ code, signal })));
  try {
    // A block is complete once the blank line after it is out.
    await waitFor('the expected telemetry blocks', () => enough(parseBlocks(stdout.slice(0, stdout.lastIndexOf('\n\n') + 1))), 60_000);
  } catch (err) {
    child.kill('SIGKILL');
    throw new Error(`${(err as Error).message}\n--- stdout\n${stdout}\n--- stderr\n${stderr}`);
  }
  child.kill('SIGINT');
  const end = await exited;
  return { ...end, stdout, stderr, blocks: parseBlocks(stdout.slice(0, stdout.lastIndexOf('\n\n') + 1)) };
}

describe('encodefarm devices: GPU telemetry', () => {
  const scratch = new Scratch();
  afterEach(() => scratch.cleanup());

  describe.skipIf(stubSkip !== undefined)(`through NVML (real addon, stub library)${stubSkip ? ` — skipped: ${stubSkip}` : ''}`, () => {
    const libScratch = new Scratch();
    let libDir: string;
    afterAll(() => libScratch.cleanup());
    beforeAll(async () => {
      libDir = await libScratch.dir('nvml-stub-lib');
      await run('cc', ['-shared', '-fPIC', '-O1', '-o', path.join(libDir, 'libnvidia-ml.so.1'), STUB_SOURCE]);
    });

    it('--watch shows the stub GPUs\' live figures, one block per interval, and Ctrl-C exits 130', async () => {
      const dir = await scratch.dir('watch-nvml');
      const script = path.join(dir, 'nvml-script.txt');
      await writeFile(
        script,
        ['gpu0.temp=40,41,42,43,44,45,46,47,48,49', 'gpu0.enc_sessions=1,2,3,4,5,6,7,8,9,10', 'gpu0.util=10,20,30,40,50,60,70,80,90,100', 'gpu1.enc_util=0,5'].join('\n'),
      );
      const r = await watchBlocks(['--interval', '0.2'], path.join(dir, 'data'), { LD_LIBRARY_PATH: libDir, NVML_STUB_SCRIPT: script }, (b) => b.length >= 2);
      expect(r.code, `exit ${r.code ?? r.signal}\n${r.stdout}\n${r.stderr}`).toBe(130);
      expect(r.stderr).toBe('');
      const [first, second] = r.blocks;
      expect(first!.source).toBe('nvml');
      expect(first!.rows).toHaveLength(2);
      expect(first!.rows[0]).toMatchObject({
        gpu: '0',
        name: 'NVIDIA GeForce RTX 4090 (stub)',
        temp: '40C',
        'gpu%': '10%',
        'enc%': '20%',
        'dec%': '5%',
        sessions: '1',
        'enc fps': '60',
        latency: '1.5 ms',
        memory: '1.0 GiB / 24.0 GiB',
        source: 'nvml',
      });
      // GPU 1's encoder stats answer "Not Supported" in the stub: shown as missing, not as 0.
      expect(first!.rows[1]).toMatchObject({ gpu: '1', name: 'NVIDIA GeForce RTX 3080 (stub)', temp: '35C', sessions: '-', 'enc fps': '-', 'enc%': '0%' });
      // The next poll reads the script's next values.
      expect(second!.rows[0]).toMatchObject({ temp: '41C', sessions: '2', 'gpu%': '20%' });
      expect(second!.rows[1]).toMatchObject({ 'enc%': '5%' });
      expect(first!.note).toBeUndefined();
    });

    it('plain `devices` names the NVML source in its telemetry line', async () => {
      const dir = await scratch.dir('plain-nvml');
      const r = await runCli(['devices', '--ffmpeg', resolveTool('ffmpeg'), '--ffprobe', resolveTool('ffprobe')], {
        dataDir: path.join(dir, 'data'),
        env: { PATH: dir, LD_LIBRARY_PATH: libDir },
      });
      expect(r.code, show(r)).toBe(0);
      expect(r.stdout).toContain('telemetry nvml, 2 GPUs, driver 550.54.14-stub\n');
    });
  });

  it('--watch falls back to one long-lived nvidia-smi when NVML is absent, and stops it on Ctrl-C', async () => {
    const dir = await scratch.dir('watch-smi');
    const bin = path.join(dir, 'bin');
    const state = path.join(dir, 'state');
    await mkdir(bin);
    await mkdir(state);
    await copyFile(FAKE_SMI, path.join(bin, 'nvidia-smi'));
    await run('chmod', ['755', path.join(bin, 'nvidia-smi')]);
    const script = path.join(dir, 'smi-script.txt');
    const row = (temp: number, sessions: number) =>
      `0, GPU-6f2a1c4e-0d3b-4f51-9a0e-2b7c5d8e9f01, NVIDIA GeForce RTX 4090, 00000000:01:00.0, 2048, 24564, ${temp}, 55, 70, 0, ${sessions}, 240, 2100, 550.54.14`;
    await writeFile(script, [row(60, 3), '---', row(61, 4), '---', row(62, 5)].join('\n') + '\n');
    const r = await watchBlocks(['--interval', '0.3'], path.join(dir, 'data'), {
      PATH: `${bin}:${SYSTEM_PATH}`,
      ENCODEFARM_NVML_LIBRARY: NO_NVML,
      FAKE_NVIDIA_SMI_SCRIPT: script,
      FAKE_NVIDIA_SMI_STATE: state,
    }, (blocks) => blocks.length >= 2 && blocks.at(-1)!.rows[0]?.temp !== '60C');
    expect(r.code, `exit ${r.code ?? r.signal}\n${r.stdout}\n${r.stderr}`).toBe(130);
    expect(r.stderr).toContain(`NVML: ${NO_NVML}: cannot open shared object file`);
    expect(r.blocks[0]!.source).toBe('nvidia-smi');
    expect(r.blocks[0]!.rows[0]).toMatchObject({ gpu: '0', temp: '60C', 'enc%': '70%', sessions: '3', latency: '2.1 ms', memory: '2.0 GiB / 24.0 GiB', source: 'nvidia-smi' });
    // The figures move as the one process prints new rows (the blocks and nvidia-smi's ticks are
    // not in lock-step, so only the direction is certain).
    const temps = r.blocks.map((b) => Number(b.rows[0]!.temp!.replace('C', '')));
    expect(temps.at(-1)!).toBeGreaterThan(60);
    expect(temps).toEqual([...temps].sort((a, b) => a - b));
    expect(Number((await readFile(path.join(state, 'runs'), 'utf8')).trim())).toBe(1);
    const pid = Number((await readFile(path.join(state, 'pid'), 'utf8')).trim());
    await waitFor('the fake nvidia-smi to be stopped', () => {
      try {
        process.kill(pid, 0);
        return false;
      } catch {
        return true;
      }
    }, 10_000);
  });

  it('with neither NVML nor nvidia-smi: `devices` still works and says why telemetry is none; --watch exits 1', async () => {
    const dir = await scratch.dir('none');
    const env = { PATH: dir, ENCODEFARM_NVML_LIBRARY: NO_NVML };
    const tools = ['--ffmpeg', resolveTool('ffmpeg'), '--ffprobe', resolveTool('ffprobe')];
    const plain = await runCli(['devices', ...tools], { dataDir: path.join(dir, 'data'), env });
    expect(plain.code, show(plain)).toBe(0);
    expect(plain.stdout).toMatch(/^ffmpeg {3}/m);
    expect(plain.stdout).toContain('Devices the farm will use:');
    expect(plain.stdout).toContain(`telemetry none (NVML: ${NO_NVML}: cannot open shared object file: No such file or directory; nvidia-smi not found)\n`);

    const json = await runCli(['devices', '--json', ...tools], { dataDir: path.join(dir, 'data'), env });
    expect(json.code, show(json)).toBe(0);
    const parsed = JSON.parse(json.stdout) as { telemetry: { sample: { source: string; gpus: unknown[]; reason: string }; notes: string[] } };
    expect(parsed.telemetry.sample).toMatchObject({ source: 'none', gpus: [], reason: expect.stringContaining('nvidia-smi not found') });

    const watch = await runCli(['devices', '--watch'], { dataDir: path.join(dir, 'data'), env });
    expect(watch.code, show(watch)).toBe(1);
    expect(watch.stderr).toContain('encodefarm: no GPU telemetry to watch: NVML: ');
    expect(watch.stdout).toBe('');
  });

  it('rejects a bad --interval as a usage error', async () => {
    const dir = await scratch.dir('interval');
    const r = await runCli(['devices', '--watch', '--interval', '0'], { dataDir: path.join(dir, 'data'), env: { PATH: dir } });
    expect(r.code, show(r)).toBe(2);
    expect(r.stderr).toContain('--interval: expected seconds between 0.1 and 3600, got "0"');
  });
});
