/**
 * bench/ui: how the queue view copes with 100,000 jobs in real Chromium.
 *
 * Seeds `--jobs` jobs (one paused batch) into a fresh data dir, starts the real `encodefarm serve`
 * on it (its own process, no local agent) and, in Debian's Chromium driven by playwright-core,
 * opens the printed UI link `--rounds` times, each in a fresh browser context. Per round: time
 * from navigation start to the first queue row, then the list scrolled through its whole length
 * in `--steps` scrollTop steps one animation frame apart, with the longest main-thread task
 * (PerformanceObserver 'longtask', registered before navigation) and the most rows in the DOM.
 * Baseline in the same run: GET /api/v1/jobs?limit=200 fetched from the same page.
 * Exits 0 whatever the figures; non-zero when the page never showed rows or the end of the list.
 *
 * `--profile FILE` also takes a V8 CPU profile of the last round's scroll (written to FILE, for
 * DevTools) and prints the functions with the most self time; the profiler slows the page, so
 * that round's figures are not comparable.
 *
 *   node --import tsx bench/ui.ts [--jobs 100000] [--rounds 3] [--steps 40] [--fetches 5] [--timeout-s 60] [--profile FILE] [--keep]
 */
import { existsSync, promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { JobsPageSchema } from '../core/shared/protocol/index.ts';
import { chromiumMissing, launchChromium } from '../test/helpers/chromium.ts';
import { FarmProcesses } from '../test/helpers/farm.ts';
import { seedQueue, startUiServe } from '../test/helpers/serve-process.ts';
import { runRound, type RoundResult } from './ui/round.ts';

export const TARGETS = { firstRowsMs: 1500, longestTaskMs: 100, domRows: 200 } as const;

const { values: args } = parseArgs({
  options: {
    jobs: { type: 'string', default: '100000' },
    rounds: { type: 'string', default: '3' },
    steps: { type: 'string', default: '40' },
    fetches: { type: 'string', default: '5' },
    'timeout-s': { type: 'string', default: '60' },
    keep: { type: 'boolean', default: false },
    profile: { type: 'string' },
  },
});
const jobs = Number(args.jobs);
const rounds = Number(args.rounds);
const steps = Number(args.steps);
const fetches = Number(args.fetches);
const timeoutMs = Number(args['timeout-s']) * 1000;

const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
};
const ms = (x: number | null): string => (x === null ? 'n/a' : `${Math.round(x)} ms`);
const verdict = (ok: boolean): string => (ok ? 'PASS' : 'MISS');

async function main(): Promise<number> {
  const missing = chromiumMissing();
  if (missing) {
    console.error(`bench:ui needs Chromium: ${missing}`);
    return 2;
  }
  const uiIndex = fileURLToPath(new URL('../dist/renderer/index.html', import.meta.url));
  if (!existsSync(uiIndex)) {
    console.error(`bench:ui needs the built UI (${uiIndex}): run \`npm run build\` first`);
    return 2;
  }
  const tmp = await fsp.mkdtemp(path.join(os.tmpdir(), 'encodefarm-bench-ui-'));
  const dataDir = path.join(tmp, 'data');
  const procs = new FarmProcesses();
  let browser: Awaited<ReturnType<typeof launchChromium>> | undefined;
  try {
    const seedStart = performance.now();
    seedQueue(dataDir, jobs);
    const seedMs = performance.now() - seedStart;
    const serve = await startUiServe(procs, { dataDir, localAgent: false });
    browser = await launchChromium();
    const lastJob = (await serve.api.get(`/jobs?offset=${jobs - 1}&limit=1`, JobsPageSchema)).jobs[0];
    console.log(
      `ui bench: ${jobs.toLocaleString('en')} jobs seeded in ${ms(seedMs)}, serve at ${serve.url} (no local agent), Chromium ${browser.version()}, ` +
        `${rounds} round(s), ${steps} scroll steps, load average ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`,
    );

    const results: RoundResult[] = [];
    const problems: string[] = [];
    for (let i = 1; i <= rounds; i++) {
      const profile = args.profile !== undefined && i === rounds ? { file: path.resolve(args.profile) } : undefined;
      const r = await runRound(browser, { uiUrl: serve.uiUrl, token: serve.token, steps, fetches, timeoutMs, ...(profile && { profile }) });
      results.push(r);
      const api = r.fetches.map((f) => Math.round(f.firstByteMs)).join('/');
      console.log(
        `  round ${i}: first rows ${ms(r.firstRowMs)} (index.html first byte ${ms(r.indexFirstByteMs)}, DOMContentLoaded ${ms(r.domContentLoadedMs)}, longest load task ${ms(r.longestLoadTaskMs)}); ` +
          `scroll: longest task ${ms(r.longestTaskMs)} (${r.longTasksWhileScrolling} over 50 ms), DOM rows max ${r.rowsMax}, ${r.pageFetchesWhileScrolling} job pages fetched, end shown ${ms(r.settleMs)} after the last step; ` +
          `API first byte ${api} ms`,
      );
      if (r.profile) {
        console.log(`  round ${i} was profiled (${args.profile}); self time during the scroll (${ms(r.profile.totalMs)} profiled):`);
        for (const f of r.profile.top) console.log(`    ${f.selfMs.toFixed(1).padStart(7)} ms  ${f.name}`);
      }
      if (r.settleMs === null) problems.push(`round ${i}: the end of the list was never filled with rows`);
      else if (lastJob && r.lastShownId !== lastJob.id) problems.push(`round ${i}: the last row shown is job ${r.lastShownId}, the API's last job is ${lastJob.id}`);
    }

    const firstRows = median(results.map((r) => r.firstRowMs));
    const longest = Math.max(...results.map((r) => r.longestTaskMs));
    const rowsMax = Math.max(...results.map((r) => r.rowsMax));
    const apiFirstByte = median(results.flatMap((r) => r.fetches.map((f) => f.firstByteMs)));
    const apiTotal = median(results.flatMap((r) => r.fetches.map((f) => f.totalMs)));
    const indexFirstByte = median(results.map((r) => r.indexFirstByteMs ?? NaN).filter(Number.isFinite));
    const pass = { firstRows: firstRows < TARGETS.firstRowsMs, longestTask: longest < TARGETS.longestTaskMs, domRows: rowsMax < TARGETS.domRows };
    console.log(`first rows ${ms(firstRows)} (target < ${TARGETS.firstRowsMs}) ${verdict(pass.firstRows)}   [median of ${rounds}]`);
    console.log(
      `longest task while scrolling ${ms(longest)} (target < ${TARGETS.longestTaskMs}) ${verdict(pass.longestTask)}   [worst of ${rounds}; 0 = no task over 50 ms]`,
    );
    console.log(`DOM rows max ${rowsMax} (target < ${TARGETS.domRows}) ${verdict(pass.domRows)}`);
    console.log(
      `baseline: GET /api/v1/jobs?limit=200 from the page: first byte ${ms(apiFirstByte)}, parsed ${ms(apiTotal)} [median of ${results.length * fetches}]; ` +
        `index.html first byte ${ms(indexFirstByte)}`,
    );
    console.log(
      JSON.stringify({
        bench: 'ui',
        jobs,
        rounds,
        steps,
        firstRowsMs: Math.round(firstRows),
        longestTaskMs: Math.round(longest),
        domRowsMax: rowsMax,
        apiFirstByteMs: Math.round(apiFirstByte),
        apiParsedMs: Math.round(apiTotal),
        indexFirstByteMs: Math.round(indexFirstByte),
        perRound: results.map((r) => ({ firstRowMs: Math.round(r.firstRowMs), longestTaskMs: Math.round(r.longestTaskMs), rowsMax: r.rowsMax, pageFetches: r.pageFetchesWhileScrolling, settleMs: r.settleMs === null ? null : Math.round(r.settleMs) })),
        pass,
      }),
    );
    for (const p of problems) console.error(`problem: ${p}`);
    return problems.length ? 1 : 0;
  } finally {
    await browser?.close().catch(() => {});
    await procs.killAll();
    if (args.keep) console.log(`kept ${tmp}`);
    else await fsp.rm(tmp, { recursive: true, force: true });
  }
}

process.exitCode = await main().catch((err: unknown) => {
  console.error(`bench:ui failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
  return 1;
});
