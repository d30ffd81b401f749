// Run by nvml-addon.test.ts in a CHILD process, because dlopen reads LD_LIBRARY_PATH only at
// process start: loads the real addon through native/index.ts (and, in `sample` mode, the whole
// openTelemetry path of the CLI) and prints what it read as one JSON line.
//   print-telemetry.ts raw            loadNvml → init → deviceCount, device(i), driverVersion
//   print-telemetry.ts load           loadNvml's answer only
//   print-telemetry.ts sample <n>     openTelemetry → n samples
import { loadNvml } from '../../native/index.ts';
import { openTelemetry } from '../../core/cli/telemetry.ts';
import { systemClock } from '../../core/shared/clock.ts';

const [mode = 'raw', count = '1'] = process.argv.slice(2);

async function main(): Promise<unknown> {
  if (mode === 'load') {
    const load = loadNvml();
    return load.ok ? { ok: true, library: load.nvml.library } : load;
  }
  if (mode === 'raw') {
    const load = loadNvml();
    if (!load.ok) return load;
    const { nvml } = load;
    try {
      nvml.init();
    } catch (err) {
      return { ok: true, initError: { name: (err as Error).name, reason: (err as { reason?: string }).reason } };
    }
    const n = nvml.deviceCount();
    const devices = Array.from({ length: n }, (_, i) => nvml.device(i));
    const result = { ok: true, library: nvml.library, count: n, driverVersion: nvml.driverVersion(), devices };
    nvml.shutdown();
    return result;
  }
  const telemetry = await openTelemetry({ env: process.env, clock: systemClock });
  const samples = [];
  for (let i = 0; i < Number(count); i++) samples.push(await telemetry.sample());
  telemetry.close();
  return { kind: telemetry.kind, notes: telemetry.notes, samples };
}

process.stdout.write(`${JSON.stringify(await main())}\n`);
