/**
 * bench/telemetry: what one GPU telemetry poll costs through the NVML addon, against the
 * nvidia-smi fallback, both on stubs (no GPU needed), printed as ratios.
 *
 * - NVML: the real addon (native/build) over the STUB libnvidia-ml.so.1 (test/native/nvml-stub.c,
 *   compiled here), read through createNvmlSource: one `sample()` = one poll of both stub GPUs.
 * - nvidia-smi, spawn per poll: the FAKE nvidia-smi (test/fixtures/nvidia-smi-telemetry, a shell
 *   script) started once per poll with the telemetry query and its rows parsed, which is what
 *   tools that shell out to nvidia-smi do.
 * - nvidia-smi, long-lived: the same fake started once with `-lms`, a poll being a read of the
 *   latest rows (createNvidiaSmiSource); plus what keeping that process running costs per tick.
 *
 * Exits 0 whatever the figures; 1 when it cannot measure (no addon, no C compiler).
 *
 *   node --import tsx bench/telemetry.ts [--polls 20000] [--spawns 50] [--reads 20000] [--interval-ms 200] [--upkeep-s 3]
 */
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { loadNvml, type NvmlAddon } from '../native/index.ts';
import { createNvmlSource } from '../core/agent/telemetry/nvml-source.ts';
import { createNvidiaSmiSource } from '../core/agent/telemetry/nvidia-smi-source.ts';
import { parseTelemetryRow, startNvidiaSmiStream, telemetryQueryArgs } from '../core/agent/devices/nvidia-smi-stream.ts';
import { systemClock } from '../core/shared/clock.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const STUB_SOURCE = path.join(ROOT, 'test', 'native', 'nvml-stub.c');
const FAKE_SMI = path.join(ROOT, 'test', 'fixtures', 'nvidia-smi-telemetry', 'nvidia-smi');
/** Linux's USER_HZ: /proc reports CPU time in these ticks. */
const CLOCK_TICKS_PER_S = 100;

interface Timing {
  meanUs: number;
  p50Us: number;
  p99Us: number;
}

/** Runs `fn` `n` times (after a warm-up), timing each call. */
async function timeCalls(n: number, fn: () => unknown): Promise<Timing> {
  for (let i = 0; i < Math.min(500, n); i++) await fn();
  const samples = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const t0 = process.hrtime.bigint();
    await fn();
    samples[i] = Number(process.hrtime.bigint() - t0) / 1000;
  }
  const sorted = [...samples].sort((a, b) => a - b);
  const mean = samples.reduce((a, b) => a + b, 0) / n;
  return { meanUs: mean, p50Us: sorted[Math.floor(n * 0.5)]!, p99Us: sorted[Math.min(n - 1, Math.floor(n * 0.99))]! };
}

/** CPU seconds of this process and of its reaped children (Linux /proc; null elsewhere). */
function cpuWithChildren(pid: number | 'self' = 'self'): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // After the command: state is field 3, so utime/stime/cutime/cstime (14–17) sit at 11–14.
    return fields.slice(11, 15).reduce((sum, f) => sum + Number(f), 0) / CLOCK_TICKS_PER_S;
  } catch {
    return null;
  }
}

function spawnOnce(env: NodeJS.ProcessEnv): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(FAKE_SMI, telemetryQueryArgs(), { stdio: ['ignore', 'pipe', 'ignore'], env });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => (out += c));
    child.once('error', reject);
    child.once('close', (code) => {
      if (code !== 0) return reject(new Error(`fake nvidia-smi exited with code ${code}`));
      resolve(out.split('\n').map(parseTelemetryRow).filter(Boolean).length);
    });
  });
}

const fmtUs = (us: number) => (us >= 1000 ? `${(us / 1000).toFixed(2)} ms` : `${us.toFixed(2)} µs`);
/** a / b to three significant figures. */
const ratio = (a: number, b: number) => Number((a / b).toPrecision(3));

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      polls: { type: 'string', default: '20000' },
      spawns: { type: 'string', default: '50' },
      reads: { type: 'string', default: '20000' },
      'interval-ms': { type: 'string', default: '200' },
      'upkeep-s': { type: 'string', default: '3' },
    },
  });
  const polls = Number(values.polls);
  const spawns = Number(values.spawns);
  const reads = Number(values.reads);
  const intervalMs = Number(values['interval-ms']);
  const upkeepS = Number(values['upkeep-s']);

  const dir = await mkdtemp(path.join(os.tmpdir(), 'encodefarm-bench-telemetry-'));
  try {
    const library = path.join(dir, 'libnvidia-ml.so.1');
    try {
      execFileSync('cc', ['-shared', '-fPIC', '-O2', '-o', library, STUB_SOURCE], { stdio: 'pipe' });
    } catch (err) {
      console.error(`bench/telemetry: cannot build the stub libnvidia-ml.so.1 (${(err as Error).message.split('\n')[0]})`);
      return 1;
    }
    const load = loadNvml({ library });
    if (!load.ok) {
      console.error(`bench/telemetry: ${load.reason}`);
      return 1;
    }
    const nvml: NvmlAddon = load.nvml;

    // 1. NVML through the addon, the whole source (addon calls + zod check + mapping).
    const nvmlSource = createNvmlSource({ nvml, clock: systemClock });
    const gpuCount = (await nvmlSource.sample()).gpus.length;
    const addon = await timeCalls(polls, () => nvmlSource.sample());
    // The same poll as bare addon calls, to show what the TypeScript around them costs.
    const raw = await timeCalls(polls, () => {
      const n = nvml.deviceCount();
      for (let i = 0; i < n; i++) nvml.device(i);
      return nvml.driverVersion();
    });
    nvmlSource.close();

    // 2. nvidia-smi spawned once per poll.
    const env: NodeJS.ProcessEnv = { PATH: '/usr/bin:/bin' };
    if ((await spawnOnce(env)) !== gpuCount) throw new Error('the fake nvidia-smi does not list the same GPUs as the stub');
    const cpu0 = cpuWithChildren();
    const spawnTiming = await timeCalls(spawns, () => spawnOnce(env));
    const cpu1 = cpuWithChildren();
    // timeCalls also ran min(500, n) warm-up spawns.
    const spawnCpuUs = cpu0 !== null && cpu1 !== null ? ((cpu1 - cpu0) * 1e6) / (spawns + Math.min(500, spawns)) : null;

    // This process's idle CPU over the upkeep window (timers, GC of the runs above), subtracted below.
    const idle0 = process.cpuUsage();
    await new Promise((r) => setTimeout(r, upkeepS * 1000));
    const idle = process.cpuUsage(idle0);

    // 3. one long-lived nvidia-smi -lms: a poll reads the latest rows.
    const stateDir = path.join(dir, 'smi-state');
    execFileSync('mkdir', ['-p', stateDir]);
    const stream = startNvidiaSmiStream({ binary: FAKE_SMI, intervalMs, clock: systemClock, env: { ...env, FAKE_NVIDIA_SMI_STATE: stateDir } });
    const smiSource = createNvidiaSmiSource({ stream, clock: systemClock });
    let upkeep: { childUsPerTick: number; selfUsPerTick: number } | null = null;
    let readTiming: Timing;
    try {
      if ((await stream.firstRows(10_000)) !== 'rows') throw new Error(`the fake nvidia-smi stream printed no rows: ${stream.latest().reason}`);
      readTiming = await timeCalls(reads, () => smiSource.sample());
      // Upkeep: the process's own CPU (its sleeps included) and ours parsing its rows, per tick.
      const pid = Number(readFileSync(path.join(stateDir, 'pid'), 'utf8').trim());
      const [child0, self0] = [cpuWithChildren(pid), process.cpuUsage()];
      await new Promise((r) => setTimeout(r, upkeepS * 1000));
      const [child1, self1] = [cpuWithChildren(pid), process.cpuUsage(self0)];
      if (child0 !== null && child1 !== null) {
        const ticks = (upkeepS * 1000) / intervalMs;
        upkeep = { childUsPerTick: ((child1 - child0) * 1e6) / ticks, selfUsPerTick: Math.max(0, self1.user + self1.system - idle.user - idle.system) / ticks };
      }
    } finally {
      smiSource.close();
    }

    // Ratios of medians: on a busy machine the means carry other processes' noise.
    const spawnVsAddon = ratio(spawnTiming.p50Us, addon.p50Us);
    const readVsAddon = ratio(readTiming.p50Us, addon.p50Us);
    console.log(`bench/telemetry: ${gpuCount} GPUs — STUB libnvidia-ml.so.1 and FAKE nvidia-smi (a dash script), no GPU involved`);
    console.log(`  NVML addon, one poll (createNvmlSource.sample)    ${fmtUs(addon.meanUs)}  (p50 ${fmtUs(addon.p50Us)}, p99 ${fmtUs(addon.p99Us)}, ${polls} polls)`);
    console.log(`    of which the bare addon calls                    ${fmtUs(raw.meanUs)}  (p50 ${fmtUs(raw.p50Us)}, p99 ${fmtUs(raw.p99Us)})`);
    console.log(
      `  nvidia-smi spawned per poll                       ${fmtUs(spawnTiming.meanUs)}  (p50 ${fmtUs(spawnTiming.p50Us)}, p99 ${fmtUs(spawnTiming.p99Us)}, ${spawns} spawns)` +
        (spawnCpuUs === null ? '' : `, CPU ${fmtUs(spawnCpuUs)} per poll`),
    );
    console.log(`  nvidia-smi -lms ${intervalMs}, read the latest rows        ${fmtUs(readTiming.meanUs)}  (p50 ${fmtUs(readTiming.p50Us)}, p99 ${fmtUs(readTiming.p99Us)}, ${reads} reads)`);
    if (upkeep) {
      console.log(
        `    keeping it running, CPU per -lms tick            ${fmtUs(upkeep.childUsPerTick)} in the fake nvidia-smi, ${fmtUs(upkeep.selfUsPerTick)} in this process beyond its idle CPU (over ${upkeepS} s)`,
      );
    }
    console.log(`  ratios (p50): spawn per poll / addon = ${spawnVsAddon}×   long-lived read / addon = ${readVsAddon}×   spawn / long-lived read = ${ratio(spawnTiming.p50Us, readTiming.p50Us)}×`);
    console.log(
      JSON.stringify({
        bench: 'telemetry',
        gpus: gpuCount,
        addonUsPerPoll: round(addon.meanUs),
        addonP50UsPerPoll: round(addon.p50Us),
        addonRawUsPerPoll: round(raw.meanUs),
        spawnUsPerPoll: round(spawnTiming.meanUs),
        spawnP50UsPerPoll: round(spawnTiming.p50Us),
        spawnCpuUsPerPoll: spawnCpuUs === null ? null : round(spawnCpuUs),
        streamReadUsPerPoll: round(readTiming.meanUs),
        streamReadP50UsPerPoll: round(readTiming.p50Us),
        streamUpkeepChildCpuUsPerTick: upkeep ? round(upkeep.childUsPerTick) : null,
        streamUpkeepSelfCpuUsPerTick: upkeep ? round(upkeep.selfUsPerTick) : null,
        intervalMs,
        spawnVsAddon,
        streamReadVsAddon: readVsAddon,
      }),
    );
    return 0;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

const round = (n: number) => Math.round(n * 100) / 100;

if (!existsSync(FAKE_SMI)) {
  console.error(`bench/telemetry: ${FAKE_SMI} is missing`);
  process.exitCode = 1;
} else {
  process.exitCode = await main();
}
