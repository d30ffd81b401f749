import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startNvidiaSmiStream, type NvidiaSmiStream } from '../../../core/agent/devices/nvidia-smi-stream.ts';
import { FakeClock } from '../../helpers/fake-clock.ts';
import { waitFor } from '../../helpers/cli.ts';

// The FAKE nvidia-smi (a shell script, not NVIDIA's tool) that prints scripted telemetry rows.
const FAKE_SMI = fileURLToPath(new URL('../../fixtures/nvidia-smi-telemetry/nvidia-smi', import.meta.url));

const row = (index: number, temp: number | string, sessions: number | string = 1) =>
  `${index}, GPU-${index}000000-0000-4000-8000-000000000000, NVIDIA GeForce RTX 40${index}0, 00000000:0${index + 1}:00.0, 1024, 24564, ${temp}, 10, 20, 5, ${sessions}, 60, 1500, 550.54.14`;

describe('nvidia-smi telemetry stream (fake nvidia-smi)', () => {
  let dir: string;
  let stream: NvidiaSmiStream | undefined;

  beforeEach(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'encodefarm-smi-stream-'));
  });
  afterEach(async () => {
    stream?.close();
    stream = undefined;
    await rm(dir, { recursive: true, force: true });
  });

  /** Writes the tick script (run-specific ones as `<script>.<run>`) and returns the env for the fake. */
  async function script(ticks: string[][], perRun: Record<number, string[][]> = {}): Promise<NodeJS.ProcessEnv> {
    const file = path.join(dir, 'script');
    await writeFile(file, ticks.map((t) => t.join('\n')).join('\n---\n') + '\n');
    for (const [run, t] of Object.entries(perRun)) await writeFile(`${file}.${run}`, t.map((x) => x.join('\n')).join('\n---\n') + '\n');
    return { PATH: '/usr/bin:/bin', FAKE_NVIDIA_SMI_SCRIPT: file, FAKE_NVIDIA_SMI_STATE: dir };
  }
  const runs = async () => Number((await readFile(path.join(dir, 'runs'), 'utf8').catch(() => '0')).trim());

  it('keeps the latest row per GPU as the long-lived process prints them; [N/A] is null', async () => {
    const env = await script([
      [row(0, 40), row(1, 30, '[N/A]')],
      [row(0, 41), row(1, 31, '[N/A]')],
      [row(0, 42), row(1, 32, '[Not Supported]')],
    ]);
    const clock = new FakeClock();
    stream = startNvidiaSmiStream({ binary: FAKE_SMI, intervalMs: 100, clock, env });
    expect(await stream.firstRows(60_000)).toBe('rows');
    const latest = await waitFor('the third tick', () => {
      const s = stream!.latest();
      return s.gpus[0]?.temperatureC === 42 && s.gpus[1]?.temperatureC === 32 ? s : undefined;
    }, 20_000);
    expect(latest.gpus.map((g) => g.index)).toEqual([0, 1]);
    expect(latest.gpus[1]!.encoderSessions).toBeNull();
    expect(latest).toMatchObject({ running: true, restarts: 0, reason: null, updatedAt: clock.now() });
    // One process for all of it: no spawn per poll.
    expect(await runs()).toBe(1);
  });

  it('restarts a process that died, after a backoff on the injected clock that grows with each failure and resets after rows', async () => {
    const died = ["NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver.", 'exit 9'];
    const env = await script([[row(0, 50)]], { 1: [died], 2: [died] });
    const clock = new FakeClock();
    stream = startNvidiaSmiStream({ binary: FAKE_SMI, intervalMs: 100, clock, env, random: () => 1 });
    expect(await stream.firstRows(60_000)).toBe('exited');
    let state = await waitFor('run 1 to end', () => (stream!.latest().running ? undefined : stream!.latest()), 20_000);
    expect(state.reason).toBe("nvidia-smi exited with code 9: NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver.; restarting in 1 s");
    expect(state.gpus).toEqual([]);

    clock.advance(999);
    expect(await runs()).toBe(1);
    clock.advance(1);
    await waitFor('run 2 to start and end', async () => (await runs()) === 2 && !stream!.latest().running && stream!.latest().restarts === 1, 20_000);
    expect(stream.latest().reason).toMatch(/restarting in 2 s$/);

    clock.advance(2000);
    state = await waitFor('rows from run 3', () => (stream!.latest().gpus[0]?.temperatureC === 50 ? stream!.latest() : undefined), 20_000);
    expect(state).toMatchObject({ running: true, restarts: 2, reason: null });
    expect(await runs()).toBe(3);
  });

  it('says why when nvidia-smi cannot be started at all', async () => {
    const clock = new FakeClock();
    stream = startNvidiaSmiStream({ binary: path.join(dir, 'no-such-nvidia-smi'), intervalMs: 100, clock, env: { PATH: '/usr/bin:/bin' } });
    expect(await stream.firstRows(60_000)).toBe('exited');
    expect(stream.latest().reason).toMatch(/^nvidia-smi could not be started \(spawn .*ENOENT\); restarting in \d/);
  });

  it('drops rows older than the stale limit when the process goes quiet', async () => {
    const env = await script([[row(0, 40)]]);
    const clock = new FakeClock();
    // -lms 60000: one tick, then a minute of silence.
    stream = startNvidiaSmiStream({ binary: FAKE_SMI, intervalMs: 60_000, clock, env, staleAfterMs: 5000 });
    expect(await stream.firstRows(60_000)).toBe('rows');
    expect(stream.latest().gpus).toHaveLength(1);
    clock.advance(5001);
    expect(stream.latest()).toMatchObject({ gpus: [], running: true, reason: 'nvidia-smi printed nothing for 5 s' });
  });

  it('close() kills the process and nothing restarts it', async () => {
    const env = await script([[row(0, 40)]]);
    const clock = new FakeClock();
    stream = startNvidiaSmiStream({ binary: FAKE_SMI, intervalMs: 100, clock, env });
    expect(await stream.firstRows(60_000)).toBe('rows');
    const pid = Number((await readFile(path.join(dir, 'pid'), 'utf8')).trim());
    stream.close();
    await waitFor('the fake nvidia-smi to exit', () => {
      try {
        process.kill(pid, 0);
        return false;
      } catch {
        return true;
      }
    }, 20_000);
    clock.advance(120_000);
    await new Promise((r) => setTimeout(r, 200));
    expect(await runs()).toBe(1);
    expect(clock.pending()).toBe(0);
  });
});
