import type { JobStore } from '../../core/coordinator/ports.ts';

export interface MethodTiming {
  method: string;
  calls: number;
  totalMs: number;
}

/**
 * The store with every method timed (`--store-timing`): calls and wall time per method, which is
 * where a coordinator that does its SQLite work synchronously spends most of its event loop.
 */
export function timedStore(store: JobStore): { store: JobStore; timings: () => MethodTiming[] } {
  const stats = new Map<string, { calls: number; ns: bigint }>();
  const wrapped = { ...store } as Record<string, unknown>;
  for (const [name, fn] of Object.entries(store)) {
    if (typeof fn !== 'function') continue;
    const s = { calls: 0, ns: 0n };
    stats.set(name, s);
    wrapped[name] = (...args: unknown[]) => {
      const t0 = process.hrtime.bigint();
      try {
        return (fn as (...a: unknown[]) => unknown)(...args);
      } finally {
        s.calls++;
        s.ns += process.hrtime.bigint() - t0;
      }
    };
  }
  return {
    store: wrapped as unknown as JobStore,
    timings: () =>
      [...stats]
        .filter(([, s]) => s.calls > 0)
        .map(([method, s]) => ({ method, calls: s.calls, totalMs: Number(s.ns) / 1e6 }))
        .sort((a, b) => b.totalMs - a.totalMs),
  };
}

export function formatTimings(timings: readonly MethodTiming[], jobs: number, elapsedMs: number): string {
  const rows = timings.map(
    (t) =>
      `    ${t.method.padEnd(22)} ${String(t.calls).padStart(8)} calls ${(t.calls / jobs).toFixed(2).padStart(6)}/job ` +
      `${t.totalMs.toFixed(0).padStart(7)} ms ${((1000 * t.totalMs) / t.calls).toFixed(1).padStart(7)} µs/call ${((100 * t.totalMs) / elapsedMs).toFixed(1).padStart(5)}% of the run`,
  );
  return ['  store time by method (wall time inside each call, the whole process including submit):', ...rows].join('\n');
}
